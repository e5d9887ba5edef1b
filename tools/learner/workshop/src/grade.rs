//! Grading one lab: check integrity, build, run every check, score.

use std::time::{Duration, Instant};

use anyhow::Result;
use grader_protocol::{Evidence, Measurement};
use serde::{Deserialize, Serialize};

use crate::build::{self, BuildOutput, CompileError, Progress, TestBinary};
use crate::catalog::{Lab, Workspace};
use crate::checksums::{self, Checksums};
use crate::runner::{self, Outcome};
use workshop::paths::lexically_normal;

/// Which code the lab's grader is run against.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Subject {
    /// The learner's work in `labs/NN-slug`.
    Starter,
    /// The reference solution in `solutions/NN-slug`.
    Solution,
}

impl Subject {
    pub fn package(self, lab: &Lab) -> String {
        match self {
            Subject::Starter => lab.package(),
            Subject::Solution => lab.solution_package(),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LabStatus {
    Passed,
    Failing,
    /// Every check passed but one or more that measure, which the machine
    /// disturbed: not graded either way.
    Disturbed,
    CompileError,
    Tampered,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CheckStatus {
    Passed,
    Failed,
    Panicked,
    TimedOut,
    Crashed,
    /// Could not judge: its measurement stayed disturbed by the machine.
    Disturbed,
    /// Listed in `lab.toml` but not found in the grader.
    Missing,
    /// Not run: the code did not compile, or the grader was tampered with.
    NotRun,
}

/// The result of grading one lab, as shown, stored and exported.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct LabReport {
    pub number: u32,
    pub slug: String,
    pub title: String,
    pub status: LabStatus,
    pub points: u32,
    pub max_points: u32,
    pub duration_ms: u64,
    pub checks: Vec<CheckGrade>,
    /// The first compiler error, when the code did not compile.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub compile_error: Option<String>,
    /// Grading files that differ from the committed checksums.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tampered: Vec<String>,
}

/// One check's grade: how it ended in the learner's terms, and its points.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct CheckGrade {
    pub name: String,
    pub status: CheckStatus,
    pub points: u32,
    pub max_points: u32,
    pub duration_ms: u64,
    /// What went wrong and what to do next; absent when the check passed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// What the check measured, against its target (labs that grade speed
    /// or cost), passed or not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub measurement: Option<Measurement>,
    /// What the check inspected, when it failed (a trace, say).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evidence: Option<Evidence>,
    /// What the check printed, kept only with `--verbose`.
    #[serde(skip)]
    pub output: String,
}

impl LabReport {
    pub fn passed(&self) -> bool {
        self.status == LabStatus::Passed
    }

    pub fn checks_passed(&self) -> usize {
        self.checks
            .iter()
            .filter(|c| c.status == CheckStatus::Passed)
            .count()
    }
}

pub struct Options {
    pub verbose: bool,
    /// Checks run at once; one per core by default.
    pub jobs: usize,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            verbose: false,
            jobs: std::thread::available_parallelism().map_or(2, |n| n.get()),
        }
    }
}

/// Grades `subject` of `lab`, building it first.
pub fn grade(ws: &Workspace, lab: &Lab, subject: Subject, options: &Options) -> Result<LabReport> {
    let started = Instant::now();
    let manifest = checksums::load(ws)?;
    let tampered = checksums::tampered_files(ws, lab, &manifest)?;
    if !tampered.is_empty() {
        return Ok(not_run(lab, LabStatus::Tampered, None, tampered, started));
    }
    let package = subject.package(lab);
    let build = build::build_tests(
        ws,
        std::slice::from_ref(&package),
        Progress {
            label: format!("Compiling {package}"),
            total: None,
        },
    )?;
    Ok(grade_built(
        ws, lab, &package, &build, &manifest, options, started,
    ))
}

/// Grades an already built package: used by [`grade`], and by `verify`,
/// which builds every lab in one cargo invocation.
pub fn grade_built(
    ws: &Workspace,
    lab: &Lab,
    package: &str,
    build: &BuildOutput,
    manifest: &Checksums,
    options: &Options,
    started: Instant,
) -> LabReport {
    if let Some(summary) = compile_failure(package, build, options.verbose) {
        let status = LabStatus::CompileError;
        return not_run(lab, status, Some(summary), Vec::new(), started);
    }
    let binaries: Vec<&TestBinary> = build
        .binaries
        .iter()
        .filter(|b| b.package == package)
        .collect();
    let foreign = foreign_graders(ws, &binaries, manifest);
    if !foreign.is_empty() {
        return not_run(lab, LabStatus::Tampered, None, foreign, started);
    }

    let mut to_run: Vec<(TestBinary, String)> = Vec::new();
    let mut list_errors = Vec::new();
    for binary in &binaries {
        match runner::list_checks(binary) {
            Ok(names) => to_run.extend(names.into_iter().map(|n| ((*binary).clone(), n))),
            Err(err) => list_errors.push(err.to_string()),
        }
    }
    let limit = Duration::from_secs(lab.meta.timeout_secs);
    let runs = runner::run_checks(&to_run, limit, options.jobs, options.verbose);
    let checks = check_grades(lab, &runs, &list_errors, options.verbose);
    LabReport {
        number: lab.number,
        slug: lab.slug.clone(),
        title: lab.meta.title.clone(),
        status: lab_status(&checks),
        points: checks.iter().map(|c| c.points).sum(),
        max_points: lab.max_points(),
        duration_ms: millis(started.elapsed()),
        checks,
        compile_error: None,
        tampered: Vec::new(),
    }
}

/// Why `package` did not build, if it did not: its first compiler error,
/// or what cargo said.
fn compile_failure(package: &str, build: &BuildOutput, verbose: bool) -> Option<String> {
    match (build.errors.get(package), &build.cargo_failure) {
        (Some(error), _) => Some(describe_compile_error(error, verbose)),
        (None, Some(failure)) => Some(format!("cargo could not build {package}:\n{failure}")),
        (None, None) => None,
    }
}

/// The graders among `binaries` that the manifest does not vouch for. Only
/// grader files the manifest vouches for may grade: a test file added next
/// to them, or a `[[test]]` pointed elsewhere, is tampering.
fn foreign_graders(ws: &Workspace, binaries: &[&TestBinary], manifest: &Checksums) -> Vec<String> {
    binaries
        .iter()
        .map(|b| b.src_path.strip_prefix(&ws.root).unwrap_or(&b.src_path))
        .map(|path| checksums::slash_path(&lexically_normal(path)))
        .filter(|path| !manifest.contains_key(path))
        .collect()
}

/// Every check `lab.toml` lists, graded from its run (missing if the grader
/// has none of that name), then the checks the grader has but `lab.toml`
/// does not list, worth no points: `just verify` flags them for the
/// maintainer.
fn check_grades(
    lab: &Lab,
    runs: &[runner::CheckRun],
    list_errors: &[String],
    verbose: bool,
) -> Vec<CheckGrade> {
    let mut checks: Vec<CheckGrade> = lab
        .meta
        .checks
        .iter()
        .map(|meta| match runs.iter().find(|r| r.name == meta.name) {
            Some(run) => check_grade(run, meta.points, verbose),
            None => missing_check(&meta.name, meta.points, list_errors),
        })
        .collect();
    for run in runs {
        if !lab.meta.checks.iter().any(|c| c.name == run.name) {
            checks.push(check_grade(run, 0, verbose));
        }
    }
    checks
}

/// A check `lab.toml` lists that the grader does not have.
fn missing_check(name: &str, max_points: u32, list_errors: &[String]) -> CheckGrade {
    CheckGrade {
        name: name.to_owned(),
        status: CheckStatus::Missing,
        points: 0,
        max_points,
        duration_ms: 0,
        message: Some(format!(
            "The grader has no check named `{name}`{}.",
            if list_errors.is_empty() {
                String::new()
            } else {
                format!(" ({})", list_errors.join("; "))
            }
        )),
        measurement: None,
        evidence: None,
        output: String::new(),
    }
}

/// The lab's status from its checks': failing if a check it judged did not
/// pass; else disturbed if a check could not judge; else passed.
fn lab_status(checks: &[CheckGrade]) -> LabStatus {
    let judged = |c: &&CheckGrade| c.status != CheckStatus::Disturbed;
    if !checks
        .iter()
        .filter(judged)
        .all(|c| c.status == CheckStatus::Passed)
    {
        LabStatus::Failing
    } else if checks.iter().any(|c| c.status == CheckStatus::Disturbed) {
        LabStatus::Disturbed
    } else {
        LabStatus::Passed
    }
}

/// The spans a stopped check had open, innermost last, as a sentence.
fn where_it_was(open_spans: &[String]) -> String {
    match open_spans {
        [] => " No span the grader follows was open at that moment.".to_owned(),
        [only] => format!(" The span open at that moment: `{only}`."),
        [outer @ .., inner] => format!(
            " The spans open at that moment: `{inner}`, inside {}.",
            outer
                .iter()
                .rev()
                .map(|span| format!("`{span}`"))
                .collect::<Vec<_>>()
                .join(" inside ")
        ),
    }
}

fn check_grade(run: &runner::CheckRun, points: u32, verbose: bool) -> CheckGrade {
    let (status, message) = match &run.outcome {
        Outcome::Passed => (CheckStatus::Passed, None),
        Outcome::Failed { message } => (CheckStatus::Failed, Some(message.clone())),
        Outcome::Panicked { message, location } => {
            let what = if let Some(rest) = message.strip_prefix("not yet implemented") {
                format!("Your code reached a `todo!()`{rest}")
            } else {
                format!("Your code panicked: {message}")
            };
            (
                CheckStatus::Panicked,
                Some(format!("{what}\n  at {location}")),
            )
        }
        Outcome::Disturbed { reason } => (
            CheckStatus::Disturbed,
            Some(format!(
                "Not graded: the machine disturbed this measurement every time it was \
                 taken ({reason}). Grade again when nothing else is running."
            )),
        ),
        Outcome::TimedOut { limit, open_spans } => (
            CheckStatus::TimedOut,
            Some(format!(
                "Still running when the lab's time limit ({} s) ran out, so it was stopped: \
                 an infinite loop, or a lock or channel waited on forever.{}",
                limit.as_secs(),
                open_spans.as_deref().map_or_else(String::new, where_it_was)
            )),
        ),
        Outcome::NotStarted { limit } => (
            CheckStatus::NotRun,
            Some(format!(
                "Not run: the lab's time limit ({} s) ran out before its turn.",
                limit.as_secs()
            )),
        ),
        Outcome::Crashed { status } => (CheckStatus::Crashed, Some(status.clone())),
    };
    CheckGrade {
        name: run.name.clone(),
        points: if status == CheckStatus::Passed {
            points
        } else {
            0
        },
        status,
        max_points: points,
        duration_ms: millis(run.duration),
        measurement: run.measurement.clone(),
        evidence: if status == CheckStatus::Passed {
            None
        } else {
            run.evidence.clone()
        },
        message,
        output: if verbose {
            run.output.clone()
        } else {
            String::new()
        },
    }
}

fn not_run(
    lab: &Lab,
    status: LabStatus,
    compile_error: Option<String>,
    tampered: Vec<String>,
    started: Instant,
) -> LabReport {
    let reason = match status {
        LabStatus::Tampered => "not run: the grader was edited",
        _ => "not run: the code does not compile",
    };
    LabReport {
        number: lab.number,
        slug: lab.slug.clone(),
        title: lab.meta.title.clone(),
        status,
        points: 0,
        max_points: lab.max_points(),
        duration_ms: millis(started.elapsed()),
        checks: lab
            .meta
            .checks
            .iter()
            .map(|c| CheckGrade {
                name: c.name.clone(),
                status: CheckStatus::NotRun,
                points: 0,
                max_points: c.points,
                duration_ms: 0,
                message: Some(reason.to_owned()),
                measurement: None,
                evidence: None,
                output: String::new(),
            })
            .collect(),
        compile_error,
        tampered,
    }
}

fn describe_compile_error(error: &CompileError, verbose: bool) -> String {
    let location = error
        .location
        .as_deref()
        .map(|l| format!(" at {l}"))
        .unwrap_or_default();
    let more = match error.count {
        0 | 1 => String::new(),
        n => format!(
            "\n({} more error{} after this one: fix this first, it often causes the rest)",
            n - 1,
            if n == 2 { "" } else { "s" }
        ),
    };
    if verbose {
        format!("{}{more}", error.rendered.trim_end())
    } else {
        // The rendered error, cut to its first block: the compiler's own
        // explanation with the code it points at is the most useful thing to
        // read, and its later notes rarely are.
        let first_block: Vec<&str> = error
            .rendered
            .lines()
            .take_while(|line| !line.trim().is_empty())
            .take(15)
            .collect();
        if first_block.is_empty() {
            format!("{}{location}{more}", error.headline)
        } else {
            format!("{}{more}", first_block.join("\n"))
        }
    }
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::CheckStatus::{Disturbed, Failed, Missing, Passed};
    use super::*;

    fn status_of(statuses: &[CheckStatus]) -> LabStatus {
        let checks: Vec<CheckGrade> = statuses
            .iter()
            .map(|&status| CheckGrade {
                status,
                ..missing_check("x", 1, &[])
            })
            .collect();
        lab_status(&checks)
    }

    #[test]
    fn a_lab_passes_when_every_check_it_judged_passed_and_none_was_disturbed() {
        assert_eq!(status_of(&[Passed, Passed]), LabStatus::Passed);
        assert_eq!(status_of(&[Passed, Disturbed]), LabStatus::Disturbed);
        assert_eq!(status_of(&[Disturbed, Failed]), LabStatus::Failing);
        assert_eq!(status_of(&[Passed, Missing]), LabStatus::Failing);
    }

    #[test]
    fn a_missing_check_says_why_the_grader_could_not_list_its_checks() {
        assert_eq!(
            missing_check("span_named", 2, &[]).message.as_deref(),
            Some("The grader has no check named `span_named`.")
        );
        let errors = ["a".to_owned(), "b".to_owned()];
        assert_eq!(
            missing_check("span_named", 2, &errors).message.as_deref(),
            Some("The grader has no check named `span_named` (a; b).")
        );
    }
}
