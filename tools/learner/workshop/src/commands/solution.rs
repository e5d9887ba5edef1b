//! `just solution N`: the diff from the starter to the reference solution.

use anstream::println;
use anyhow::{Context, Result};
use similar::{ChangeTag, TextDiff};

use crate::catalog::{Lab, Workspace};
use crate::checksums::{self, files_under};
use crate::report::{BOLD, CYAN, DIM, GREEN, RED};
use crate::starter;

pub fn run(ws: &Workspace, lab: &Lab) -> Result<()> {
    let manifest = checksums::load(ws)?;
    let starter = starter::pristine(ws, lab, &manifest)?;
    let solution_src = lab.solution_dir.join("src");
    let solution_files = files_under(&ws.root, &solution_src)?;

    println!(
        "{BOLD}{}: from the starter to the solution{BOLD:#}",
        lab.heading()
    );
    let mut any = false;
    for file in &solution_files {
        let relative = file.strip_prefix(&lab.solution_dir).unwrap_or(file);
        let starter_path = lab.dir.join(relative);
        let old = starter
            .iter()
            .find(|s| s.path == starter_path)
            .map(|s| String::from_utf8_lossy(&s.content).into_owned())
            .unwrap_or_default();
        let new = std::fs::read_to_string(ws.root.join(file))
            .with_context(|| format!("cannot read {}", file.display()))?;
        any |= print_diff(&relative.display().to_string(), &old, &new);
    }
    if !any {
        println!("The solution's sources are the same as the starter's.");
    }
    println!(
        "{DIM}The whole solution is in {}/.{DIM:#}",
        lab.solution_dir.display()
    );
    Ok(())
}

/// Prints a unified diff; returns whether there was any difference.
fn print_diff(name: &str, old: &str, new: &str) -> bool {
    let diff = TextDiff::from_lines(old, new);
    let mut any = false;
    for group in diff.grouped_ops(3) {
        if !any {
            println!("{BOLD}--- starter/{name}\n+++ solution/{name}{BOLD:#}");
            any = true;
        }
        let (first, last) = (&group[0], &group[group.len() - 1]);
        println!(
            "{CYAN}@@ -{},{} +{},{} @@{CYAN:#}",
            first.old_range().start + 1,
            last.old_range().end - first.old_range().start,
            first.new_range().start + 1,
            last.new_range().end - first.new_range().start
        );
        for op in &group {
            for change in diff.iter_changes(op) {
                let line = change.value().trim_end_matches('\n');
                match change.tag() {
                    ChangeTag::Delete => println!("{RED}-{line}{RED:#}"),
                    ChangeTag::Insert => println!("{GREEN}+{line}{GREEN:#}"),
                    ChangeTag::Equal => println!(" {line}"),
                }
            }
        }
    }
    any
}
