//! `just verify`, for maintainers and CI: every lab keeps its contract.
//!
//! The workspace's crates are read once, with `cargo metadata`. Then, for
//! every lab: its texts (`texts`); each of its crates' shape, by kind
//! (`manifests`); its alternatives, thin overlays on the reference
//! (`overlay`); and its grades (`grades`): the starter compiles and fails
//! its grader, every check it passes is one declared to pass, the solution
//! and every alternative pass, every wrong solution compiles and fails the
//! checks that catch it, and no text read before the lab is solved shows
//! the answer's code. Across the workspace: the checksums are current, and
//! every member's dependencies are the workspace's pins, unified by
//! `workspace-hack` (`dependencies`). This file decides in that order and
//! prints what it found.

mod dependencies;
mod grades;
mod manifests;
mod overlay;
mod texts;

use std::collections::BTreeSet;
use std::time::Instant;

use anstream::println;
use anyhow::Result;

use crate::build::{self, Progress};
use crate::catalog::{Lab, Workspace};
use crate::checksums;
use crate::grade::Options;
use crate::report::{GREEN, RED, indent};
use grades::{Fixtures, Verdict};
use workshop::members::Members;

/// Returns whether everything holds for `labs` (every lab, for CI).
pub fn run(ws: &Workspace, labs: &[Lab], verbose: bool) -> Result<bool> {
    let started = Instant::now();
    let members = Members::read(&ws.root)?;
    let mut problems = check_checksums(ws, &ws.labs()?)?;
    problems.extend(dependencies::problems(ws, &members)?);
    for lab in labs {
        let found = [
            texts::problems(ws, lab, &members),
            manifests::problems(ws, lab, &members),
            overlay::problems(ws, lab, &members),
        ]
        .concat();
        problems.extend(in_lab(lab, found));
    }
    for problem in &problems {
        println!("{RED}✗{RED:#} {problem}");
    }

    let fixtures: Vec<Fixtures> = labs.iter().map(|lab| Fixtures::of(lab, &members)).collect();
    let packages: Vec<String> = labs
        .iter()
        .zip(&fixtures)
        .flat_map(|(lab, fixtures)| fixtures.packages(lab))
        .collect();
    let progress = Progress {
        label: "Building every lab and solution".to_owned(),
        total: None,
    };
    let build = build::build_tests(ws, &packages, progress)?;
    // A failure of cargo itself (a full disk, a killed compiler, a broken
    // manifest) is no verdict on any lab: say it once, not as every check
    // of every lab failing.
    if let Some(failure) = &build.cargo_failure {
        println!(
            "{RED}verify: cargo could not build the labs, so nothing was graded:{RED:#}\n{}",
            indent(failure, "  ")
        );
        return Ok(false);
    }
    let manifest = checksums::load(ws)?;
    let options = Options {
        verbose,
        ..Options::default()
    };
    for (lab, fixtures) in labs.iter().zip(&fixtures) {
        let verdict = grades::judge(ws, lab, fixtures, &build, &manifest, &options)?;
        print_verdict(lab, fixtures, &verdict);
        problems.extend(in_lab(lab, verdict.problems));
    }
    print_summary(labs.len(), &problems, started);
    Ok(problems.is_empty())
}

/// `problems` of `lab`, each saying which lab it is about.
fn in_lab(lab: &Lab, problems: Vec<String>) -> impl Iterator<Item = String> {
    let number = lab.number;
    problems
        .into_iter()
        .map(move |problem| format!("lab {number:02}: {problem}"))
}

/// The lab's line, and under it each problem its grades show, at once, so
/// that the first problem is near the top of a long log.
fn print_verdict(lab: &Lab, fixtures: &Fixtures, verdict: &Verdict) {
    let (mark, style) = if verdict.problems.is_empty() {
        ("✓", GREEN)
    } else {
        ("✗", RED)
    };
    let others = match fixtures.alternatives.len() {
        0 => String::new(),
        1 => ", and so does 1 alternative".to_owned(),
        n => format!(", and so do {n} alternatives"),
    };
    let wrong = match fixtures.wrong.len() {
        0 => String::new(),
        n => format!("; {n} wrong solution{} kept", if n == 1 { "" } else { "s" }),
    };
    let (starter, solution) = (&verdict.starter, &verdict.solution);
    println!(
        "{style}{mark}{style:#} {}: starter fails {}/{} checks, solution passes {}/{}{others}{wrong}",
        lab.heading(),
        starter.checks.len() - starter.checks_passed(),
        starter.checks.len(),
        solution.checks_passed(),
        solution.checks.len()
    );
    for problem in &verdict.problems {
        println!("{}", indent(&format!("- {problem}"), "  "));
    }
    for regraded in &verdict.regraded {
        println!("  ({regraded})");
    }
}

/// The last word: all is well, or a line for each problem (each was printed
/// in full where it was found).
fn print_summary(labs: usize, problems: &[String], started: Instant) {
    println!();
    if problems.is_empty() {
        println!(
            "{GREEN}verify: {}{GREEN:#} ({:.1} s)",
            match labs {
                1 => "1 lab keeps its contract".to_owned(),
                n => format!("{n} labs keep their contract"),
            },
            started.elapsed().as_secs_f64()
        );
    } else {
        println!("{RED}verify found {} problem(s):{RED:#}", problems.len());
        for problem in problems {
            println!("  - {}", problem.lines().next().unwrap_or_default());
        }
    }
}

fn check_checksums(ws: &Workspace, labs: &[Lab]) -> Result<Vec<String>> {
    let committed = checksums::load(ws)?;
    let now = checksums::compute(ws, labs)?;
    let mut stale: BTreeSet<&String> = BTreeSet::new();
    stale.extend(
        now.iter()
            .filter(|(f, h)| committed.get(*f) != Some(*h))
            .map(|(f, _)| f),
    );
    stale.extend(committed.keys().filter(|f| !now.contains_key(*f)));
    if stale.is_empty() {
        return Ok(Vec::new());
    }
    let files: Vec<&str> = stale.iter().map(|s| s.as_str()).collect();
    Ok(vec![format!(
        "{} is not current for: {}. After changing a grader or a starter on purpose, \
         run `just checksums --update` and commit the result.",
        checksums::MANIFEST,
        files.join(", ")
    )])
}
