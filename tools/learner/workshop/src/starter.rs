//! The pristine starter of a lab, whatever the learner did to it.
//!
//! The checksum manifest says what each starter file must hash to; git
//! history holds that content. A learner may have edited the files and even
//! committed their work, so we look in the working tree, then `HEAD`, then
//! every commit that touched the file, and take the first version whose hash
//! matches. No second copy of the starters is kept in the repository.

use std::path::PathBuf;
use std::process::Command;

use anyhow::{Context, Result, bail};

use crate::catalog::{Lab, Workspace};
use crate::checksums::{self, Checksums};

/// A starter file: its path relative to the workspace and its content.
pub struct StarterFile {
    pub path: PathBuf,
    pub content: Vec<u8>,
}

pub fn pristine(ws: &Workspace, lab: &Lab, manifest: &Checksums) -> Result<Vec<StarterFile>> {
    let files = checksums::starter_files(lab, manifest);
    if files.is_empty() {
        bail!(
            "{} lists no starter files for lab {:02}",
            checksums::MANIFEST,
            lab.number
        );
    }
    files
        .into_iter()
        .map(|(path, hash)| {
            Ok(StarterFile {
                path: PathBuf::from(path),
                content: find_version(ws, path, hash)?,
            })
        })
        .collect()
}

fn find_version(ws: &Workspace, path: &str, hash: &str) -> Result<Vec<u8>> {
    if let Ok(bytes) = std::fs::read(ws.root.join(path))
        && checksums::sha256_hex(&bytes) == hash
    {
        return Ok(bytes);
    }
    let history = git(ws, &["log", "--format=%H", "--", path]).with_context(|| {
        format!("cannot read the git history of {path}: the starter is restored from git")
    })?;
    let candidates = std::iter::once("HEAD").chain(history.lines());
    for commit in candidates {
        let Ok(bytes) = git_bytes(ws, &["show", &format!("{commit}:{path}")]) else {
            continue;
        };
        if checksums::sha256_hex(&bytes) == hash {
            return Ok(bytes);
        }
    }
    bail!("no version of {path} in git history matches the starter's checksum")
}

fn git(ws: &Workspace, args: &[&str]) -> Result<String> {
    Ok(String::from_utf8(git_bytes(ws, args)?)?)
}

fn git_bytes(ws: &Workspace, args: &[&str]) -> Result<Vec<u8>> {
    let output = Command::new("git")
        .args(args)
        .current_dir(&ws.root)
        .output()
        .context("cannot run git: is it installed?")?;
    if !output.status.success() {
        bail!(
            "git {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    Ok(output.stdout)
}
