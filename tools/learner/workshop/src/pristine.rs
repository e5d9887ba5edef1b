//! Pristine grading, for a grading robot: the learner's `labs/NN-slug/src/`
//! graded inside a pristine copy of everything else.
//!
//! A learner's own files are their labs' `src/` folders, and nothing else
//! may change a grade: not an edited grader, given code, grader kit or
//! library, and not a rewritten `labs/checksums.txt`. Checksums make such an
//! edit visible; this makes it powerless. The pristine copy is taken from a
//! commit (the one the learner started from, recorded on the first `just
//! lab`, or any git ref) or from a folder (a clean checkout), the learner's
//! `src/` folders are laid over it, and it is built and graded there.
//!
//! The copy lives in `target/workshop/pristine/tree` and builds into a
//! target folder of its own beside it, so that nothing built from the
//! learner's checkout can be mistaken for its build (cargo names a
//! workspace's artifacts by workspace-relative paths, so two checkouts
//! sharing a target folder would take each other's builds as up to date).
//! Files are rewritten only where their contents changed, so a second
//! grading builds only what the learner changed since the first.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

use crate::catalog::Workspace;
use crate::checksums::files_under;

/// Where the pristine copy's commit is recorded, under the state folder.
const STARTED_FROM: &str = "started-from";

/// Remembers the commit the learner started from, once: the default
/// pristine source. Quietly does nothing outside a git checkout.
pub fn record_start(ws: &Workspace) {
    let file = ws.state_dir().join(STARTED_FROM);
    if file.exists() {
        return;
    }
    if let Ok(commit) = resolve_commit(&ws.root, "HEAD") {
        let _ = std::fs::create_dir_all(ws.state_dir());
        let _ = std::fs::write(&file, format!("{commit}\n"));
    }
}

/// Prepares the pristine copy with the learner's `src/` folders laid over
/// it, and returns it as a workspace to build and grade in. `source` is a
/// git ref or a folder; `None` means the commit recorded by
/// [`record_start`].
pub fn prepare(ws: &Workspace, source: Option<&str>) -> Result<Workspace> {
    let dir = ws.target_dir.join("workshop").join("pristine");
    let tree = dir.join("tree");
    let mut files = match source {
        Some(folder) if Path::new(folder).join("Cargo.toml").is_file() => {
            read_folder(Path::new(folder))?
        }
        Some(reference) => read_commit(&ws.root, &resolve_commit(&ws.root, reference)?, &dir)?,
        None => {
            let recorded = std::fs::read_to_string(ws.state_dir().join(STARTED_FROM))
                .ok()
                .map(|s| s.trim().to_owned())
                .filter(|s| !s.is_empty());
            let Some(commit) = recorded else {
                bail!(
                    "no commit is recorded as the one this workshop started from: \
                     name the pristine source, e.g. `--pristine origin/main` \
                     (a git ref) or `--pristine ../workshop-clean` (a folder)"
                );
            };
            read_commit(&ws.root, &commit, &dir)?
        }
    };
    lay_learner_sources(ws, &mut files)?;
    sync(&tree, &files)?;
    Ok(Workspace {
        root: tree,
        target_dir: dir.join("target"),
    })
}

/// Replaces every lab's `src/` in `files` with the learner's.
fn lay_learner_sources(ws: &Workspace, files: &mut BTreeMap<PathBuf, Vec<u8>>) -> Result<()> {
    let labs: Vec<PathBuf> = files
        .keys()
        .filter_map(|path| {
            let mut parts = path.components();
            match (parts.next(), parts.next(), parts.next()) {
                (Some(first), Some(lab), Some(last))
                    if first.as_os_str() == "labs" && last.as_os_str() == "lab.toml" =>
                {
                    parts
                        .next()
                        .is_none()
                        .then(|| Path::new("labs").join(lab.as_os_str()))
                }
                _ => None,
            }
        })
        .collect();
    for lab in labs {
        let src = lab.join("src");
        files.retain(|path, _| !path.starts_with(&src));
        for file in files_under(&ws.root, &src)? {
            let bytes = std::fs::read(ws.root.join(&file))
                .with_context(|| format!("cannot read {}", file.display()))?;
            files.insert(file, bytes);
        }
    }
    Ok(())
}

/// Makes `tree` hold exactly `files`: writes what differs, removes what is
/// not there (but never a target folder).
fn sync(tree: &Path, files: &BTreeMap<PathBuf, Vec<u8>>) -> Result<()> {
    for (path, bytes) in files {
        let at = tree.join(path);
        if std::fs::read(&at).is_ok_and(|old| old == *bytes) {
            continue;
        }
        if let Some(parent) = at.parent() {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("cannot create {}", parent.display()))?;
        }
        std::fs::write(&at, bytes).with_context(|| format!("cannot write {}", at.display()))?;
    }
    if tree.is_dir() {
        for old in source_files(tree)? {
            if !files.contains_key(&old) {
                std::fs::remove_file(tree.join(&old))
                    .with_context(|| format!("cannot remove {}", old.display()))?;
            }
        }
    }
    Ok(())
}

/// The files of a checkout, relative to it: all but its build output, git's
/// own folder and the learner's progress.
fn source_files(folder: &Path) -> Result<Vec<PathBuf>> {
    const SKIPPED: [&str; 3] = ["target", ".git", ".workshop"];
    let mut found = Vec::new();
    for entry in
        std::fs::read_dir(folder).with_context(|| format!("cannot read {}", folder.display()))?
    {
        let entry = entry?;
        let name = PathBuf::from(entry.file_name());
        if SKIPPED.iter().any(|s| name == Path::new(s)) {
            continue;
        }
        if entry.file_type()?.is_dir() {
            found.extend(files_under(folder, &name)?);
        } else {
            found.push(name);
        }
    }
    Ok(found)
}

/// Every file of a clean checkout (see [`source_files`]).
fn read_folder(folder: &Path) -> Result<BTreeMap<PathBuf, Vec<u8>>> {
    let mut files = BTreeMap::new();
    for file in source_files(folder)? {
        let bytes = std::fs::read(folder.join(&file))
            .with_context(|| format!("cannot read {}", file.display()))?;
        files.insert(file, bytes);
    }
    Ok(files)
}

/// Every file of `commit`, checked out through an index of its own (the
/// learner's index and working tree are never touched).
fn read_commit(root: &Path, commit: &str, scratch: &Path) -> Result<BTreeMap<PathBuf, Vec<u8>>> {
    let export = scratch.join("export");
    if export.exists() {
        std::fs::remove_dir_all(&export)
            .with_context(|| format!("cannot clear {}", export.display()))?;
    }
    std::fs::create_dir_all(scratch)?;
    let index = scratch.join("index");
    git(root, &index, &["read-tree", commit])?;
    let prefix = format!("--prefix={}/", export.display());
    git(
        root,
        &index,
        &["checkout-index", "--all", "--force", &prefix],
    )?;
    let files = read_folder(&export)?;
    std::fs::remove_dir_all(&export).ok();
    Ok(files)
}

fn git(root: &Path, index: &Path, args: &[&str]) -> Result<()> {
    let output = Command::new("git")
        .current_dir(root)
        .env("GIT_INDEX_FILE", index)
        .args(args)
        .output()
        .context("cannot run git: pristine grading reads the pristine commit with it")?;
    if !output.status.success() {
        bail!(
            "git {} failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    Ok(())
}

fn resolve_commit(root: &Path, reference: &str) -> Result<String> {
    let output = Command::new("git")
        .current_dir(root)
        .args(["rev-parse", "--verify", "--quiet"])
        .arg(format!("{reference}^{{commit}}"))
        .output()
        .context("cannot run git")?;
    if !output.status.success() {
        bail!("`{reference}` is neither a folder with a Cargo.toml nor a commit of this checkout");
    }
    Ok(String::from_utf8_lossy(&output.stdout).trim().to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sync_writes_what_differs_and_removes_the_rest_but_the_target() {
        let dir = std::env::temp_dir().join(format!("pristine-sync-{}", std::process::id()));
        let tree = dir.join("tree");
        std::fs::create_dir_all(tree.join("target/debug")).unwrap();
        std::fs::create_dir_all(tree.join("labs/01-x/tests")).unwrap();
        std::fs::write(tree.join("target/debug/kept"), "built").unwrap();
        std::fs::write(tree.join("labs/01-x/tests/extra.rs"), "added by a learner").unwrap();
        std::fs::write(tree.join("same.txt"), "same").unwrap();
        let unchanged_since = std::fs::metadata(tree.join("same.txt"))
            .unwrap()
            .modified()
            .unwrap();
        let files = BTreeMap::from([
            (PathBuf::from("same.txt"), b"same".to_vec()),
            (PathBuf::from("labs/01-x/lab.toml"), b"title = 'x'".to_vec()),
        ]);
        sync(&tree, &files).unwrap();
        assert!(
            tree.join("target/debug/kept").is_file(),
            "build output stays"
        );
        assert!(
            !tree.join("labs/01-x/tests/extra.rs").exists(),
            "foreign files go"
        );
        assert_eq!(
            std::fs::read_to_string(tree.join("labs/01-x/lab.toml")).unwrap(),
            "title = 'x'"
        );
        let modified = std::fs::metadata(tree.join("same.txt"))
            .unwrap()
            .modified()
            .unwrap();
        assert_eq!(
            modified, unchanged_since,
            "an unchanged file is not rewritten"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn the_learners_src_replaces_the_pristine_one_and_nothing_else() {
        let dir = std::env::temp_dir().join(format!("pristine-lay-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("labs/01-x/src")).unwrap();
        std::fs::create_dir_all(dir.join("labs/01-x/tests")).unwrap();
        std::fs::write(dir.join("labs/01-x/src/lib.rs"), "learner").unwrap();
        std::fs::write(dir.join("labs/01-x/src/new.rs"), "learner's new file").unwrap();
        std::fs::write(dir.join("labs/01-x/tests/grader.rs"), "tampered").unwrap();
        let ws = Workspace {
            root: dir.clone(),
            target_dir: dir.join("target"),
        };
        let mut files = BTreeMap::from([
            (PathBuf::from("labs/01-x/lab.toml"), b"meta".to_vec()),
            (PathBuf::from("labs/01-x/src/lib.rs"), b"starter".to_vec()),
            (PathBuf::from("labs/01-x/src/gone.rs"), b"starter".to_vec()),
            (
                PathBuf::from("labs/01-x/tests/grader.rs"),
                b"pristine".to_vec(),
            ),
        ]);
        lay_learner_sources(&ws, &mut files).unwrap();
        let text = |p: &str| String::from_utf8(files[Path::new(p)].clone()).unwrap();
        assert_eq!(text("labs/01-x/src/lib.rs"), "learner");
        assert_eq!(text("labs/01-x/src/new.rs"), "learner's new file");
        assert!(!files.contains_key(Path::new("labs/01-x/src/gone.rs")));
        assert_eq!(text("labs/01-x/tests/grader.rs"), "pristine");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
