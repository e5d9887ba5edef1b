//! `just reset N`: back up the learner's work, then restore the starter.

use std::io::{BufRead, IsTerminal, Write};

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
    let starter = starter::pristine(ws, lab, &manifest)?;
    if !yes && !confirm(lab)? {
        println!("Nothing changed.");
        return Ok(());
    }

    let src = lab.dir.join("src");
    let backup = Store::new(ws).backup_dir(lab);
    let current = files_under(&ws.root, &src)?;
    for file in &current {
        let to = backup.join(file.strip_prefix(&lab.dir).unwrap_or(file));
        if let Some(parent) = to.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::copy(ws.root.join(file), &to)
            .with_context(|| format!("cannot back up {}", file.display()))?;
    }
    // Only once everything is backed up: remove what the starter does not
    // have, and write what it does.
    for file in &current {
        if !starter.iter().any(|s| &s.path == file) {
            std::fs::remove_file(ws.root.join(file))?;
        }
    }
    for file in &starter {
        let path = ws.root.join(&file.path);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(&path, &file.content)
            .with_context(|| format!("cannot restore {}", file.path.display()))?;
    }
    println!(
        "Lab {:02} is back to its starter. Your work was saved in {} \
         (outside target/, so `cargo clean` keeps it).",
        lab.number,
        backup.strip_prefix(&ws.root).unwrap_or(&backup).display()
    );
    Ok(())
}

fn confirm(lab: &Lab) -> Result<bool> {
    if !std::io::stdin().is_terminal() {
        bail!(
            "resetting lab {:02} needs a confirmation; not on a terminal, so pass --yes",
            lab.number
        );
    }
    print!(
        "Restore the starter of lab {:02} ({})? Your current files are backed up first. [y/N] ",
        lab.number, lab.meta.title
    );
    std::io::stdout().flush()?;
    let mut answer = String::new();
    std::io::stdin().lock().read_line(&mut answer)?;
    Ok(matches!(answer.trim(), "y" | "Y" | "yes" | "Yes"))
}
