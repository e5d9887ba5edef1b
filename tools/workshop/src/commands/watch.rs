//! `just watch N`: grade once, then again after every save.

use std::io::IsTerminal;
use std::sync::mpsc;
use std::time::Duration;

use anstream::println;
use anyhow::{Context, Result};
use notify_debouncer_mini::new_debouncer;
use notify_debouncer_mini::notify::RecursiveMode;

use crate::catalog::{Lab, Workspace};
use crate::commands;
use crate::grade::Subject;
use crate::report::DIM;

/// Editors save in bursts (a temp file, a rename, a metadata change): wait
/// for the burst to settle before grading.
const DEBOUNCE: Duration = Duration::from_millis(300);

pub fn run(ws: &Workspace, lab: &Lab, verbose: bool) -> Result<()> {
    let (tx, rx) = mpsc::channel();
    let mut debouncer = new_debouncer(DEBOUNCE, tx).context("cannot watch files")?;
    let src = ws.root.join(&lab.dir).join("src");
    debouncer
        .watcher()
        .watch(&src, RecursiveMode::Recursive)
        .with_context(|| format!("cannot watch {}", src.display()))?;

    loop {
        if std::io::stdout().is_terminal() {
            // Clear the screen so the newest report is the only one in view.
            print!("\x1b[2J\x1b[H");
        }
        commands::lab::run(ws, lab, Subject::Starter, verbose)?;
        println!();
        println!(
            "{DIM}Watching {} for changes. Ctrl-C to stop.{DIM:#}",
            lab.dir.join("src").display()
        );
        // Wait for a batch of changes that touches a source file; the
        // grading itself may touch nothing under src, but be safe and drain.
        loop {
            match rx.recv() {
                Ok(Ok(events)) if !events.is_empty() => break,
                Ok(Ok(_)) => continue,
                Ok(Err(err)) => {
                    println!("{DIM}watch error: {err}{DIM:#}");
                    continue;
                }
                Err(_) => return Ok(()),
            }
        }
        while rx.try_recv().is_ok() {}
    }
}
