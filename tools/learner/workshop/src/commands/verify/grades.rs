//! What a lab's grades must show: the starter fails every check but those
//! declared to pass, and `lab.toml` lists the grader's checks; the
//! reference and every alternative pass; every wrong solution compiles and
//! fails the checks its manifest says catch it; no text a learner reads
//! before solving the lab, the starter's failure messages included, shows
//! the answer's code.

use std::time::Instant;

use anyhow::Result;

use crate::answers::Answer;
use crate::build::BuildOutput;
use crate::catalog::{Lab, Workspace};
use crate::checksums::Checksums;
use crate::grade::{self, CheckStatus, LabReport, LabStatus, Options};
use crate::report::indent;
use workshop::members::{Member, Members, Role};

/// The crates of a lab that the grader grades besides the starter and the
/// reference.
pub struct Fixtures<'a> {
    /// Other correct designs, which it must accept.
    pub alternatives: Vec<&'a Member>,
    /// Wrong solutions, which it must refuse.
    pub wrong: Vec<&'a Member>,
}

impl<'a> Fixtures<'a> {
    pub fn of(lab: &Lab, members: &'a Members) -> Self {
        let mut fixtures = Self {
            alternatives: Vec::new(),
            wrong: Vec::new(),
        };
        for (member, role) in members.of_lab(&lab.id()) {
            match role {
                Role::Alternative(_) => fixtures.alternatives.push(member),
                Role::Wrong(_) => fixtures.wrong.push(member),
                _ => {}
            }
        }
        fixtures
    }

    /// Every package of the lab to build: the starter, the reference and
    /// the fixtures.
    pub fn packages(&self, lab: &Lab) -> Vec<String> {
        [lab.package(), lab.solution_package()]
            .into_iter()
            .chain(self.alternatives.iter().map(|member| member.name.clone()))
            .chain(self.wrong.iter().map(|member| member.name.clone()))
            .collect()
    }
}

/// A lab's grades, and what they show is wrong.
pub struct Verdict {
    pub starter: LabReport,
    pub solution: LabReport,
    pub problems: Vec<String>,
    /// Subjects that must pass and were graded again, each with why: not
    /// problems, but said, so that a busy machine shows in the log.
    pub regraded: Vec<String>,
}

/// How often a subject that must pass is graded again when a check of it
/// was stopped at the lab's time limit, or never started before it. Code
/// that passes does not loop forever: on the reference and its
/// alternatives, running out of time is the machine (another program on
/// the cores, a build's gigabytes still being written out), so it is
/// measured again rather than failed on noise.
const REGRADES: usize = 2;

/// Whether the lab's time ran out on `report`: a check stopped at the
/// limit, or not started before it.
fn ran_out_of_time(report: &LabReport) -> bool {
    report.status == LabStatus::Failing
        && report
            .checks
            .iter()
            .any(|c| matches!(c.status, CheckStatus::TimedOut | CheckStatus::NotRun))
}

/// Grades every package of `lab` from the one `build`, and judges the grades.
pub fn judge(
    ws: &Workspace,
    lab: &Lab,
    fixtures: &Fixtures,
    build: &BuildOutput,
    manifest: &Checksums,
    options: &Options,
) -> Result<Verdict> {
    let grade = |package: &str| {
        grade::grade_built(ws, lab, package, build, manifest, options, Instant::now())
    };
    let mut regraded = Vec::new();
    // A subject that must pass, graded until it passes or fails on its own
    // merits, at most `REGRADES` more times.
    let mut grade_to_pass = |package: &str, what: &str| {
        let mut report = grade(package);
        for _ in 0..REGRADES {
            if !ran_out_of_time(&report) {
                break;
            }
            regraded.push(format!(
                "{what} graded again: the lab's time ({} s) ran out after {:.1} s of grading",
                lab.meta.timeout_secs,
                report.duration_ms as f64 / 1000.0
            ));
            report = grade(package);
        }
        report
    };
    let starter = grade(&lab.package());
    let solution = grade_to_pass(&lab.solution_package(), "the solution");
    let readme =
        std::fs::read_to_string(ws.root.join(&lab.dir).join("README.md")).unwrap_or_default();
    // The lab makes the learner decide: no text read before it is solved
    // shows the answer's code.
    let answer = Answer::of(ws, lab)?;
    let mut problems = answer.text_problems(lab, &readme);
    problems.extend(starter_problems(lab, &starter, &answer));
    if !solution.passed() {
        problems.push(format!(
            "the solution does not pass:\n{}",
            indent(&why_not_passed(&solution), "  ")
        ));
    }
    for alternative in &fixtures.alternatives {
        let what = format!("the alternative {}", alternative.dir.display());
        let graded = grade_to_pass(&alternative.name, &what);
        if !graded.passed() {
            problems.push(format!(
                "the alternative {} does not pass:\n{}",
                alternative.dir.display(),
                indent(&why_not_passed(&graded), "  ")
            ));
        }
    }
    // Every wrong solution kept as a fixture stays caught, by the checks
    // that caught it.
    for wrong in &fixtures.wrong {
        let graded = grade(&wrong.name);
        problems.extend(
            wrong_solution_problems(wrong, &graded)
                .into_iter()
                .map(|p| format!("the wrong solution {}: {p}", wrong.dir.display())),
        );
    }
    Ok(Verdict {
        starter,
        solution,
        problems,
        regraded,
    })
}

/// What is wrong with the starter's grade: it must compile, fail, fail each
/// check not declared to pass, and run the checks `lab.toml` lists; its
/// failure messages must not show the answer's code.
fn starter_problems(lab: &Lab, starter: &LabReport, answer: &Answer) -> Vec<String> {
    let mut problems = Vec::new();
    match starter.status {
        LabStatus::CompileError => problems.push(format!(
            "the starter does not compile:\n{}",
            indent(starter.compile_error.as_deref().unwrap_or(""), "  ")
        )),
        LabStatus::Tampered => problems.push(format!(
            "grading files differ from the checksums: {}",
            starter.tampered.join(", ")
        )),
        LabStatus::Passed => {
            problems.push("the starter passes its grader: it must fail".to_owned())
        }
        LabStatus::Failing | LabStatus::Disturbed => {}
    }
    for check in &starter.checks {
        if let Some(message) = &check.message {
            problems.extend(answer.message_problems(&check.name, message));
        }
        let declared = lab.meta.checks.iter().find(|c| c.name == check.name);
        match declared {
            None => problems.push(format!(
                "the grader has a check `{}` that lab.toml does not list",
                check.name
            )),
            Some(meta) if check.status == CheckStatus::Passed && !meta.starter_passes => {
                problems.push(format!(
                    "the starter passes `{}`; a check must fail on the starter \
                     (or be declared `starter_passes = true`)",
                    check.name
                ));
            }
            Some(_) => {}
        }
        if check.status == CheckStatus::Missing {
            problems.push(format!(
                "lab.toml lists `{}`, which the grader lacks",
                check.name
            ));
        }
    }
    problems
}

/// What is wrong with a wrong solution's grade: it must compile (a compile
/// error proves nothing about the grader), name the checks that catch it,
/// and fail each of them.
fn wrong_solution_problems(wrong: &Member, graded: &LabReport) -> Vec<String> {
    if let Some(error) = &graded.compile_error {
        return vec![format!(
            "it does not compile, so it tests nothing:\n{}",
            indent(error, "  ")
        )];
    }
    if graded.status == LabStatus::Tampered {
        return vec![format!(
            "its grading files are not the manifest's: {}",
            graded.tampered.join(", ")
        )];
    }
    let failed: Vec<&str> = graded
        .checks
        .iter()
        .filter(|c| c.status != CheckStatus::Passed && c.status != CheckStatus::Disturbed)
        .map(|c| c.name.as_str())
        .collect();
    if failed.is_empty() {
        // The manifest's description is what the learner believed.
        return vec![format!(
            "the grader accepts it, though {}",
            wrong.description.trim_end_matches('.')
        )];
    }
    if wrong.caught_by.is_empty() {
        return vec![format!(
            "its Cargo.toml names no checks that catch it; today these fail: \
             [package.metadata.workshop] caught-by = [{}]",
            failed
                .iter()
                .map(|n| format!("\"{n}\""))
                .collect::<Vec<_>>()
                .join(", ")
        )];
    }
    wrong
        .caught_by
        .iter()
        .filter(|name| !failed.contains(&name.as_str()))
        .map(|name| {
            format!(
                "`{name}` should catch it but passes (failing now: {})",
                failed.join(", ")
            )
        })
        .collect()
}

/// Why a subject that must pass did not: its compile error, or each
/// failing check with the first line of its message.
fn why_not_passed(report: &LabReport) -> String {
    report.compile_error.clone().unwrap_or_else(|| {
        report
            .checks
            .iter()
            .filter(|c| c.status != CheckStatus::Passed)
            .map(|c| {
                let message = c.message.as_deref().unwrap_or("");
                format!("{} ({})", c.name, message.lines().next().unwrap_or(""))
            })
            .collect::<Vec<_>>()
            .join("\n")
    })
}
