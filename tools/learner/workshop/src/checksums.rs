//! The checksum manifest, `labs/checksums.txt`: the SHA-256 of every file
//! in a lab's folder, its starter (`src/`) and the files beside it.
//!
//! What a learner could edit by mistake or on purpose while working on a
//! lab: its `lab.toml`, `Cargo.toml`, grader (`tests/`) and given code
//! (`given/`). A lab whose such files differ from the manifest is reported
//! as "tampered", never as "passed". The crates further away (the grader
//! kit, the libraries, the collector) are not listed: a grading robot
//! grades with `--pristine`, which builds the learner's `src/` inside a
//! pristine copy of everything else, so no edit anywhere else can change a
//! grade; listing them only made every change to them rewrite this file. Starter checksums
//! serve `just reset`, which finds the pristine starter in git history by
//! them, and `just list`, which tells an untouched lab from a started one.
//! The format is `sha256sum`'s, so `sha256sum -c labs/checksums.txt` works too.
//!
//! It goes by the files on disk and reads no manifest (`cargo metadata`
//! included): a learner's broken `Cargo.toml` is one of the files it must
//! report, and cargo could not read it.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use sha2::{Digest, Sha256};

use crate::catalog::{Lab, Workspace};

pub const MANIFEST: &str = "labs/checksums.txt";

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
    let mut files = BTreeSet::new();
    for lab in labs {
        files.extend(files_under(&ws.root, &lab.dir.join("src"))?);
        files.extend(grading_files(ws, lab)?);
    }
    files
        .into_iter()
        .map(|file| {
            let bytes = std::fs::read(ws.root.join(&file))
                .with_context(|| format!("cannot read {}", file.display()))?;
            Ok((slash_path(&file), sha256_hex(&bytes)))
        })
        .collect()
}

/// The files of `lab` that a learner could edit while working on it and
/// must not: everything in the lab's folder but its `src/` (its
/// `Cargo.toml`, `lab.toml`, grader and given code).
pub fn grading_files(ws: &Workspace, lab: &Lab) -> Result<Vec<PathBuf>> {
    let mut files = files_under(&ws.root, &lab.dir)?;
    let src = lab.dir.join("src");
    files.retain(|file| !file.starts_with(&src) && file.file_name() != Some("README.md".as_ref()));
    // The lab's own build output, if a tool left one there, is nobody's code.
    let target = lab.dir.join("target");
    files.retain(|file| !file.starts_with(&target));
    Ok(files)
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
    let now = grading_files(ws, lab)?;
    let guarded: BTreeSet<String> = now.iter().map(|file| slash_path(file)).collect();
    // A file of a guarded folder that the manifest has and the disk has not
    // (a deleted test file, a removed source of the grader kit).
    let folders: Vec<String> = now
        .iter()
        .filter_map(|file| file.parent().map(|dir| format!("{}/", slash_path(dir))))
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let mut tampered = Vec::new();
    for file in &now {
        let bytes = std::fs::read(ws.root.join(file)).ok();
        let hash = bytes.as_deref().map(sha256_hex);
        if manifest.get(&slash_path(file)) != hash.as_ref() {
            tampered.push(slash_path(file));
        }
    }
    tampered.extend(
        manifest
            .keys()
            .filter(|file| !is_starter_file(file) && !guarded.contains(*file))
            .filter(|file| {
                folders
                    .iter()
                    .any(|dir| file.starts_with(dir) && !file[dir.len()..].contains('/'))
            })
            .cloned(),
    );
    tampered.sort();
    tampered.dedup();
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
    fn only_lab_sources_are_starter_files() {
        assert!(is_starter_file("labs/01-first-spans/src/lib.rs"));
        assert!(is_starter_file("labs/01-first-spans/src/nested/mod.rs"));
        assert!(!is_starter_file("labs/01-first-spans/tests/grader.rs"));
        assert!(!is_starter_file("labs/01-first-spans/lab.toml"));
        assert!(!is_starter_file("tools/learner/grader-kit/src/lib.rs"));
    }

    #[test]
    fn a_lab_is_guarded_by_its_own_folder_but_the_learners_src() {
        let ws = Workspace::discover().unwrap();
        let lab = ws.lab("2").unwrap();
        let files: Vec<String> = grading_files(&ws, &lab)
            .unwrap()
            .iter()
            .map(|f| slash_path(f))
            .collect();
        for expected in [
            "labs/02-structured-output/Cargo.toml",
            "labs/02-structured-output/lab.toml",
            "labs/02-structured-output/tests/grader.rs",
            "labs/02-structured-output/given/src/lib.rs",
        ] {
            assert!(
                files.iter().any(|f| f == expected),
                "{expected} guards lab 02: {files:?}"
            );
        }
        assert!(
            files
                .iter()
                .all(|f| f.starts_with("labs/02-structured-output/")
                    && !f.starts_with("labs/02-structured-output/src/")),
            "only the lab's folder, and not the learner's own files: {files:?}"
        );
    }
}
