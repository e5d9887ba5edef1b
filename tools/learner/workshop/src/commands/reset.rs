//! `just reset N`: back up the learner's work, then restore the starter;
//! `just reset N --restore`: bring the last backup back.
//!
//! Nothing a learner wrote is ever lost: whatever is replaced, by the
//! starter or by a backup, is backed up first.

use std::io::{BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};

use anstream::println;
use anyhow::{Context, Result, bail};

use crate::catalog::{Lab, Workspace};
use crate::checksums::{self, files_under};
use crate::starter;
use crate::store::Store;

pub fn run(ws: &Workspace, lab: &Lab, yes: bool) -> Result<()> {
    let manifest = checksums::load(ws)?;
    if checksums::is_untouched(ws, lab, &manifest)? {
        println!(
            "Lab {:02} is already the untouched starter: nothing to reset.",
            lab.number
        );
        return Ok(());
    }
    // Find the starter before touching anything: if it cannot be found, the
    // learner's files stay exactly as they are.
    let starter: Vec<(PathBuf, Vec<u8>)> = starter::pristine(ws, lab, &manifest)?
        .into_iter()
        .map(|file| (file.path, file.content))
        .collect();
    let question = format!(
        "Restore the starter of lab {:02} ({})? Your current files are backed up first.",
        lab.number, lab.meta.title
    );
    if !yes && !confirm(lab, &question)? {
        println!("Nothing changed.");
        return Ok(());
    }
    let store = Store::new(ws);
    let backup = back_up_sources(ws, &store, lab)?;
    write_sources(ws, &store, lab, &starter)?;
    println!(
        "Lab {:02} is back to its starter. Your work was saved in {} (outside \
         target/, so `cargo clean` keeps it); `just reset {} --restore` brings it back.",
        lab.number,
        shown(ws, &backup),
        lab.number
    );
    Ok(())
}

/// Brings the newest backup of the lab's sources back, after backing up
/// what is there now (unless it is the untouched starter).
pub fn restore(ws: &Workspace, lab: &Lab, yes: bool) -> Result<()> {
    let store = Store::new(ws);
    let Some(backup) = store.last_backup(lab) else {
        bail!(
            "lab {:02} has no backup to bring back: `just reset {}` makes one before it restores the starter",
            lab.number,
            lab.number
        );
    };
    let files: Vec<(PathBuf, Vec<u8>)> = files_under(&backup, Path::new("src"))?
        .into_iter()
        .map(|file| {
            let content = std::fs::read(backup.join(&file))
                .with_context(|| format!("cannot read {}", backup.join(&file).display()))?;
            Ok((lab.dir.join(file), content))
        })
        .collect::<Result<_>>()?;
    let question = format!(
        "Bring back lab {:02}'s files from {}? What is there now is backed up first.",
        lab.number,
        shown(ws, &backup)
    );
    if !yes && !confirm(lab, &question)? {
        println!("Nothing changed.");
        return Ok(());
    }
    // The untouched starter needs no backup: `just reset` brings it back.
    let manifest = checksums::load(ws)?;
    let saved = if checksums::is_untouched(ws, lab, &manifest)? {
        None
    } else {
        Some(back_up_sources(ws, &store, lab)?)
    };
    write_sources(ws, &store, lab, &files)?;
    print!(
        "Lab {:02} has your files from {} again",
        lab.number,
        shown(ws, &backup)
    );
    match saved {
        Some(saved) => println!("; what was there is saved in {}.", shown(ws, &saved)),
        None => println!("."),
    }
    println!("Run `just lab {}` to grade them.", lab.number);
    Ok(())
}

/// Copies the lab's `src/` into a fresh backup folder, and returns it.
fn back_up_sources(ws: &Workspace, store: &Store, lab: &Lab) -> Result<PathBuf> {
    let backup = store.backup_dir(lab);
    std::fs::create_dir_all(&backup)
        .with_context(|| format!("cannot create {}", backup.display()))?;
    for file in files_under(&ws.root, &lab.dir.join("src"))? {
        let to = backup.join(file.strip_prefix(&lab.dir).unwrap_or(&file));
        if let Some(parent) = to.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::copy(ws.root.join(&file), &to)
            .with_context(|| format!("cannot back up {}", file.display()))?;
    }
    Ok(backup)
}

/// Makes the lab's `src/` hold exactly `files` (backed up first by the
/// caller), and forgets the lab's last grade, which was of other code:
/// `just list` must not show it.
fn write_sources(
    ws: &Workspace,
    store: &Store,
    lab: &Lab,
    files: &[(PathBuf, Vec<u8>)],
) -> Result<()> {
    for file in files_under(&ws.root, &lab.dir.join("src"))? {
        if !files.iter().any(|(path, _)| *path == file) {
            std::fs::remove_file(ws.root.join(&file))?;
        }
    }
    for (file, content) in files {
        let path = ws.root.join(file);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(&path, content)
            .with_context(|| format!("cannot write {}", file.display()))?;
    }
    store.forget_result(lab)
}

fn shown(ws: &Workspace, path: &Path) -> String {
    path.strip_prefix(&ws.root)
        .unwrap_or(path)
        .display()
        .to_string()
}

fn confirm(lab: &Lab, question: &str) -> Result<bool> {
    if !std::io::stdin().is_terminal() {
        bail!(
            "changing lab {:02}'s files needs a confirmation; not on a terminal, so pass --yes",
            lab.number
        );
    }
    print!("{question} [y/N] ");
    std::io::stdout().flush()?;
    let mut answer = String::new();
    std::io::stdin().lock().read_line(&mut answer)?;
    Ok(matches!(answer.trim(), "y" | "Y" | "yes" | "Yes"))
}
