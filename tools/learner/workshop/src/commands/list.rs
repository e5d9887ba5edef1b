//! `just list`: every lab with its status, and overall progress.

use anstream::println;
use anyhow::Result;

use crate::catalog::Workspace;
use crate::checksums;
use crate::grade::LabStatus;
use crate::report::{self, BOLD, DIM, GREEN, RED, YELLOW};
use crate::store::Store;

pub fn run(ws: &Workspace) -> Result<()> {
    let labs = ws.labs()?;
    let store = Store::new(ws);
    let manifest = checksums::load(ws)?;
    // The title column fits the longest title, with two spaces after it.
    let width = labs
        .iter()
        .map(|lab| lab.meta.title.chars().count())
        .max()
        .unwrap_or(0)
        .max("Title".len())
        + 2;
    println!(
        "{BOLD}{:<4}{:<width$}{:<14}{:>5}{:>10}{BOLD:#}",
        "Lab", "Title", "Status", "Min", "Points"
    );
    let (mut done, mut points, mut max_points) = (0, 0, 0);
    for lab in &labs {
        let result = store.last_result(lab);
        // Status comes from the last grading. A lab never graded whose code
        // was edited is "in progress"; untouched, "not started".
        let (status, style) = match &result {
            Some(r) if r.status == LabStatus::Passed => ("done", GREEN),
            Some(r) if r.status == LabStatus::Tampered => ("tampered", RED),
            Some(_) => ("failing", YELLOW),
            None if !checksums::is_untouched(ws, lab, &manifest)? => ("in progress", YELLOW),
            None => ("not started", DIM),
        };
        let earned = result.as_ref().map_or(0, |r| r.points);
        if result.as_ref().is_some_and(|r| r.passed()) {
            done += 1;
        }
        points += earned;
        max_points += lab.max_points();
        println!(
            "{:<4}{:<width$}{style}{:<14}{style:#}{:>5}{:>10}",
            format!("{:02}", lab.number),
            lab.meta.title,
            status,
            lab.meta.minutes,
            format!("{earned}/{}", lab.max_points())
        );
    }
    println!();
    println!(
        "{} {done}/{} labs done · {points}/{max_points} points",
        report::bar(done, labs.len() as u32, 24),
        labs.len()
    );
    let next = labs
        .iter()
        .find(|lab| !store.last_result(lab).is_some_and(|r| r.passed()));
    if let Some(next) = next {
        println!("Next: `just lab {}`: {}", next.number, next.meta.title);
    }
    Ok(())
}
