//! `just grade`: grade every lab, print a table, write JSON and JUnit.

use anstream::println;
use anyhow::Result;

use crate::catalog::Workspace;
use crate::export::{self, Gradebook};
use crate::grade::{self, LabStatus, Options, Subject};
use crate::report::{BOLD, GREEN, RED, YELLOW};
use crate::store::Store;

/// Returns whether every lab passed.
/// `grading` is where the labs are built and graded: `ws` itself, or a
/// pristine copy of it (`--pristine`); results are stored in `ws`.
pub fn run(ws: &Workspace, grading: &Workspace, verbose: bool) -> Result<bool> {
    let labs = ws.labs()?;
    let store = Store::new(ws);
    let options = Options {
        verbose,
        ..Options::default()
    };
    println!(
        "{BOLD}{:<4}{:<38}{:<14}{:>8}{:>10}{BOLD:#}",
        "Lab", "Title", "Status", "Checks", "Points"
    );
    let mut reports = Vec::new();
    for lab in &labs {
        let report = grade::grade(grading, lab, Subject::Starter, &options)?;
        store.save_result(lab, &report)?;
        let (status, style) = match report.status {
            LabStatus::Passed => ("passed", GREEN),
            LabStatus::Failing => ("failing", YELLOW),
            LabStatus::Disturbed => ("disturbed", YELLOW),
            LabStatus::CompileError => ("compile error", RED),
            LabStatus::Tampered => ("tampered", RED),
        };
        println!(
            "{:<4}{:<38}{style}{:<14}{style:#}{:>8}{:>10}",
            format!("{:02}", lab.number),
            lab.meta.title,
            status,
            format!("{}/{}", report.checks_passed(), report.checks.len()),
            format!("{}/{}", report.points, report.max_points)
        );
        reports.push(report);
    }
    let gradebook = Gradebook::new(&reports);
    let dir = ws.reports_dir();
    std::fs::create_dir_all(&dir)?;
    let json = dir.join("grades.json");
    let junit = dir.join("junit.xml");
    export::write_json(&json, &gradebook)?;
    export::write_junit(&junit, &reports)?;
    println!();
    let style = if gradebook.passed { GREEN } else { YELLOW };
    println!(
        "{style}{}/{} points{style:#} · results in {} and {}",
        gradebook.points,
        gradebook.max_points,
        relative(ws, &json),
        relative(ws, &junit)
    );
    Ok(gradebook.passed)
}

fn relative(ws: &Workspace, path: &std::path::Path) -> String {
    path.strip_prefix(&ws.root)
        .unwrap_or(path)
        .display()
        .to_string()
}
