//! The checksum manifest, `labs/checksums.txt`: the SHA-256 of every file
//! that decides a grade (each lab's `lab.toml` and `tests/`, and the shared
//! `grader-kit`) and of every starter file (each lab's `src/`).
//!
//! Graders are tamper-evident: a lab whose grading files differ from the
//! manifest is reported as "tampered", never as "passed". Starter checksums
//! serve `just reset`, which finds the pristine starter in git history by
//! them, and `just list`, which tells an untouched lab from a started one.
//! The format is `sha256sum`'s, so `sha256sum -c labs/checksums.txt` works too.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use sha2::{Digest, Sha256};

use crate::catalog::{Lab, Workspace};

pub const MANIFEST: &str = "labs/checksums.txt";
const GRADER_KIT: &str = "tools/grader-kit";

/// Relative path (with `/`) → hex SHA-256.
pub type Checksums = BTreeMap<String, String>;

pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The files the manifest covers, as they are on disk now.
pub fn compute(ws: &Workspace, labs: &[Lab]) -> Result<Checksums> {
    let mut files = Vec::new();
    for lab in labs {
        files.push(lab.dir.join("lab.toml"));
        files.extend(files_under(&ws.root, &lab.dir.join("tests"))?);
        files.extend(files_under(&ws.root, &lab.dir.join("src"))?);
    }
    files.push(PathBuf::from(GRADER_KIT).join("Cargo.toml"));
    files.extend(files_under(&ws.root, &Path::new(GRADER_KIT).join("src"))?);
    files
        .into_iter()
        .map(|file| {
            let bytes = std::fs::read(ws.root.join(&file))
                .with_context(|| format!("cannot read {}", file.display()))?;
            Ok((slash_path(&file), sha256_hex(&bytes)))
        })
        .collect()
}

/// The committed manifest.
pub fn load(ws: &Workspace) -> Result<Checksums> {
    let path = ws.root.join(MANIFEST);
    let text = std::fs::read_to_string(&path).with_context(|| {
        format!("cannot read {MANIFEST}: it is part of the workshop and must not be deleted")
    })?;
    Ok(text
        .lines()
        .filter_map(|line| line.split_once("  "))
        .map(|(hash, file)| (file.to_owned(), hash.to_owned()))
        .collect())
}

pub fn write(ws: &Workspace, checksums: &Checksums) -> Result<()> {
    let text: String = checksums
        .iter()
        .map(|(file, hash)| format!("{hash}  {file}\n"))
        .collect();
    std::fs::write(ws.root.join(MANIFEST), text).with_context(|| format!("cannot write {MANIFEST}"))
}

/// Whether a manifest entry is a starter file (which learners edit) rather
/// than a grading file (which they must not).
pub fn is_starter_file(file: &str) -> bool {
    file.starts_with("labs/") && file.split('/').nth(2) == Some("src")
}

/// The grading files of `lab` that differ from the manifest: edited, deleted,
/// or added without being in it. Empty when the lab is intact.
pub fn tampered_files(ws: &Workspace, lab: &Lab, manifest: &Checksums) -> Result<Vec<String>> {
    let lab_prefix = format!("{}/", slash_path(&lab.dir));
    let guarded = |file: &str| {
        (file.starts_with(&lab_prefix) || file.starts_with(GRADER_KIT)) && !is_starter_file(file)
    };
    let now = compute(ws, std::slice::from_ref(lab))?;
    let mut tampered: Vec<String> = now
        .iter()
        .filter(|(file, _)| guarded(file))
        .filter(|(file, hash)| manifest.get(*file) != Some(*hash))
        .map(|(file, _)| file.clone())
        .collect();
    tampered.extend(
        manifest
            .keys()
            .filter(|file| guarded(file) && !now.contains_key(*file))
            .cloned(),
    );
    tampered.sort();
    Ok(tampered)
}

/// The starter files of `lab` recorded in the manifest.
pub fn starter_files<'a>(lab: &Lab, manifest: &'a Checksums) -> Vec<(&'a str, &'a str)> {
    let prefix = format!("{}/src/", slash_path(&lab.dir));
    manifest
        .iter()
        .filter(|(file, _)| file.starts_with(&prefix))
        .map(|(file, hash)| (file.as_str(), hash.as_str()))
        .collect()
}

/// Whether the lab's `src/` is exactly the starter.
pub fn is_untouched(ws: &Workspace, lab: &Lab, manifest: &Checksums) -> Result<bool> {
    let now = compute(ws, std::slice::from_ref(lab))?;
    let prefix = format!("{}/src/", slash_path(&lab.dir));
    let current: Checksums = now
        .into_iter()
        .filter(|(file, _)| file.starts_with(&prefix))
        .collect();
    let starter: Checksums = starter_files(lab, manifest)
        .into_iter()
        .map(|(f, h)| (f.to_owned(), h.to_owned()))
        .collect();
    Ok(current == starter)
}

/// Every file below `dir` (relative to `root`), sorted, skipping editor
/// backups and hidden files that are nobody's code.
pub fn files_under(root: &Path, dir: &Path) -> Result<Vec<PathBuf>> {
    let mut found = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(current) = pending.pop() {
        let absolute = root.join(&current);
        if !absolute.is_dir() {
            continue;
        }
        for entry in std::fs::read_dir(&absolute)
            .with_context(|| format!("cannot read {}", absolute.display()))?
        {
            let entry = entry?;
            let name = entry.file_name();
            let name = name.to_string_lossy();
            if name.starts_with('.') || name.ends_with('~') {
                continue;
            }
            let relative = current.join(&*name);
            if entry.file_type()?.is_dir() {
                pending.push(relative);
            } else {
                found.push(relative);
            }
        }
    }
    found.sort();
    Ok(found)
}

/// `solutions/x/../../labs/x/tests/grader.rs` → `labs/x/tests/grader.rs`,
/// without touching the file system (the path may not exist).
pub fn lexically_normal(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            std::path::Component::ParentDir => {
                out.pop();
            }
            std::path::Component::CurDir => {}
            other => out.push(other),
        }
    }
    out
}

pub fn slash_path(path: &Path) -> String {
    path.to_string_lossy().replace('\\', "/")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha256_matches_the_standard_test_vector() {
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn lexically_normal_resolves_parent_folders() {
        assert_eq!(
            lexically_normal(Path::new(
                "solutions/01-x/../../labs/01-x/./tests/grader.rs"
            )),
            Path::new("labs/01-x/tests/grader.rs")
        );
    }

    #[test]
    fn only_lab_sources_are_starter_files() {
        assert!(is_starter_file("labs/01-first-spans/src/lib.rs"));
        assert!(is_starter_file("labs/01-first-spans/src/nested/mod.rs"));
        assert!(!is_starter_file("labs/01-first-spans/tests/grader.rs"));
        assert!(!is_starter_file("labs/01-first-spans/lab.toml"));
        assert!(!is_starter_file("tools/grader-kit/src/lib.rs"));
    }
}
