//! Running grader checks: one process per check, each with a time limit.
//!
//! One process per check is what makes the report trustworthy: a learner's
//! panic, abort or infinite loop takes down that check only, every other
//! check still runs and reports, and each gets its own duration. The cost is
//! a few milliseconds of process start per check.
//!
//! A grader's `main` is `grader_kit::checks!`: asked for one check with a
//! file to report to, it writes how the check ended there as a
//! `grader_protocol::CheckReport`. That report, and the process's exit
//! status, decide the [`Outcome`]; nothing is read from what the check
//! printed, which is kept only for `--verbose`.

use std::io::Read;
use std::path::Path;
use std::process::{Command, ExitStatus, Stdio};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use grader_protocol::{
    CHECK_FLAG, CheckReport, Evidence, LIST_FLAG, Measurement, PanicSource, REPORT_FLAG, Stopped,
    TIME_LIMIT_FLAG,
};

use crate::build::TestBinary;

/// How one check ended, all told: what its report says, checked against
/// the process's exit status, and what the CLI saw itself when there is no
/// report to read (the process was killed at the time limit, never
/// started, or died).
#[derive(Clone, Debug, PartialEq)]
pub enum Outcome {
    Passed,
    /// The grader's assertion failed: its message says what to do.
    Failed {
        message: String,
    },
    /// The learner's own code panicked (a `todo!()`, an `unwrap()`…).
    Panicked {
        message: String,
        location: String,
    },
    /// The check could not judge: the machine disturbed its measurement
    /// however often it measured again. Neither a pass nor a fail.
    Disturbed {
        reason: String,
    },
    /// Still running when the lab's time ran out: stopped. The spans open
    /// at that moment, innermost last, say where the code was; `None` when
    /// the grader could not say (it was killed before it reported).
    TimedOut {
        limit: Duration,
        open_spans: Option<Vec<String>>,
    },
    /// Never started: the lab's time had run out before its turn.
    NotStarted {
        limit: Duration,
    },
    /// The process died without a panic (a stack overflow, an abort).
    Crashed {
        status: String,
    },
}

/// One check, run.
#[derive(Clone, Debug)]
pub struct CheckRun {
    pub name: String,
    pub outcome: Outcome,
    pub duration: Duration,
    /// What the check measured, against its target, if it measures.
    pub measurement: Option<Measurement>,
    /// What the check inspected, for a failure to show.
    pub evidence: Option<Evidence>,
    /// Everything the test printed, for `--verbose`.
    pub output: String,
}

/// The checks of a grader executable, in its order.
pub fn list_checks(binary: &TestBinary) -> Result<Vec<String>> {
    let output = Command::new(&binary.path)
        .arg(LIST_FLAG)
        .current_dir(&binary.package_dir)
        .output()
        .with_context(|| format!("cannot run {}", binary.path.display()))?;
    if !output.status.success() {
        bail!(
            "{} {LIST_FLAG} failed: {}",
            binary.path.display(),
            String::from_utf8_lossy(&output.stderr)
        );
    }
    Ok(String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty())
        .map(str::to_owned)
        .collect())
}

/// Runs every `(binary, check)` pair, `jobs` at a time, all within one
/// `limit` for the whole lab: a learner's infinite loop stops the lab once,
/// not once per check in a row. A check whose turn comes after the limit is
/// not started. Results come back in the order given.
pub fn run_checks(
    checks: &[(TestBinary, String)],
    limit: Duration,
    jobs: usize,
    verbose: bool,
) -> Vec<CheckRun> {
    let deadline = Instant::now() + limit;
    // Set when a check was stopped at the limit: the lab's time has run
    // out, even though the grader reports a moment before the deadline.
    let ran_out = AtomicBool::new(false);
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<CheckRun>>> = Mutex::new(vec![None; checks.len()]);
    std::thread::scope(|scope| {
        for _ in 0..jobs.max(1) {
            scope.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some((binary, name)) = checks.get(i) else {
                        break;
                    };
                    let left = deadline.saturating_duration_since(Instant::now());
                    let run = if left.is_zero() || ran_out.load(Ordering::SeqCst) {
                        not_started(name, limit)
                    } else {
                        run_check(binary, name, left, limit, verbose)
                    };
                    if matches!(run.outcome, Outcome::TimedOut { .. }) {
                        ran_out.store(true, Ordering::SeqCst);
                    }
                    results.lock().expect("no panics while holding the lock")[i] = Some(run);
                }
            });
        }
    });
    results
        .into_inner()
        .expect("no panics while holding the lock")
        .into_iter()
        .map(|run| run.expect("every check was run"))
        .collect()
}

fn not_started(name: &str, limit: Duration) -> CheckRun {
    CheckRun {
        name: name.to_owned(),
        outcome: Outcome::NotStarted { limit },
        duration: Duration::ZERO,
        measurement: None,
        evidence: None,
        output: String::new(),
    }
}

/// How long before the CLI stops a check the grader reports it stopped,
/// with the spans open then: time for the report to be written.
const REPORT_GRACE: Duration = Duration::from_millis(1_500);

/// Runs one check with `left` of the lab's `limit` to go.
fn run_check(
    binary: &TestBinary,
    name: &str,
    left: Duration,
    limit: Duration,
    verbose: bool,
) -> CheckRun {
    static REPORTS: AtomicUsize = AtomicUsize::new(0);
    let report_file = std::env::temp_dir().join(format!(
        "workshop-check-{}-{}.json",
        std::process::id(),
        REPORTS.fetch_add(1, Ordering::Relaxed)
    ));
    let started = Instant::now();
    let finished = match check_command(binary, name, &report_file, left, verbose).spawn() {
        Ok(child) => wait_with_limit(child, left),
        Err(err) => {
            return CheckRun {
                name: name.to_owned(),
                outcome: Outcome::Crashed {
                    status: format!("could not start {}: {err}", binary.path.display()),
                },
                duration: started.elapsed(),
                measurement: None,
                evidence: None,
                output: String::new(),
            };
        }
    };
    let duration = started.elapsed();
    let report = grader_protocol::read_report(&report_file);
    let _ = std::fs::remove_file(&report_file);
    let (measurement, evidence) = report
        .as_ref()
        .map(|r| (r.measurement.clone(), r.evidence.clone()))
        .unwrap_or_default();
    let (outcome, output) = match finished {
        Finished::InTime { status, output } => (judge(status, limit, report), output),
        Finished::Killed { output } => (
            Outcome::TimedOut {
                limit,
                open_spans: None,
            },
            output,
        ),
    };
    CheckRun {
        name: name.to_owned(),
        outcome,
        duration,
        measurement,
        evidence,
        output,
    }
}

/// The grader asked to run the check `name`, report to `report_file`, and
/// stop itself within `left`.
fn check_command(
    binary: &TestBinary,
    name: &str,
    report_file: &Path,
    left: Duration,
    verbose: bool,
) -> Command {
    let mut command = Command::new(&binary.path);
    command
        .args([CHECK_FLAG, name, REPORT_FLAG])
        .arg(report_file)
        .arg(TIME_LIMIT_FLAG)
        .arg(graders_time_limit(left).as_millis().to_string())
        .current_dir(&binary.package_dir)
        .env("CARGO_MANIFEST_DIR", &binary.package_dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if !verbose {
        // A backtrace is noise to a learner reading a failed check.
        command.env("RUST_BACKTRACE", "0");
    }
    // The learner's code runs as a deployed program would: without the
    // variables cargo sets for the program it runs (`just` starts this CLI
    // with `cargo run`), so that a value cargo fixes at compile time
    // (`env!("CARGO_PKG_VERSION")`) cannot be read at run time instead.
    for (variable, _) in std::env::vars_os() {
        let variable = variable.to_string_lossy();
        if set_by_cargo_for_its_program(&variable) {
            command.env_remove(variable.as_ref());
        }
    }
    command
}

/// When the grader stops the check itself, with `left` to go: early enough
/// that its report is written before the CLI stops it (at most half of
/// what is left goes to that).
fn graders_time_limit(left: Duration) -> Duration {
    left.saturating_sub(REPORT_GRACE.min(left / 2))
}

/// Whether `variable` is one cargo sets for the program it runs.
fn set_by_cargo_for_its_program(variable: &str) -> bool {
    ["CARGO_PKG_", "CARGO_CRATE_", "CARGO_BIN_"]
        .iter()
        .any(|prefix| variable.starts_with(prefix))
}

enum Finished {
    InTime { status: ExitStatus, output: String },
    Killed { output: String },
}

fn wait_with_limit(mut child: std::process::Child, limit: Duration) -> Finished {
    let mut stdout = child.stdout.take().expect("stdout is piped");
    let mut stderr = child.stderr.take().expect("stderr is piped");
    let out_reader = std::thread::spawn(move || {
        let mut buf = String::new();
        let _ = stdout.read_to_string(&mut buf);
        buf
    });
    let err_reader = std::thread::spawn(move || {
        let mut buf = String::new();
        let _ = stderr.read_to_string(&mut buf);
        buf
    });
    let deadline = Instant::now() + limit;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break Some(status),
            Ok(None) if Instant::now() >= deadline => break None,
            Ok(None) => std::thread::sleep(Duration::from_millis(2)),
            Err(_) => break None,
        }
    };
    if status.is_none() {
        let _ = child.kill();
        let _ = child.wait();
    }
    // The readers end when the pipes close, which the exit or the kill ensures.
    let output = out_reader.join().unwrap_or_default() + &err_reader.join().unwrap_or_default();
    match status {
        Some(status) => Finished::InTime { status, output },
        None => Finished::Killed { output },
    }
}

/// The outcome of a check from its report and its process's exit status.
fn judge(status: ExitStatus, limit: Duration, report: Option<CheckReport>) -> Outcome {
    match report {
        Some(CheckReport {
            stopped: Some(Stopped { open_spans }),
            ..
        }) => Outcome::TimedOut {
            limit,
            open_spans: Some(open_spans),
        },
        Some(CheckReport {
            disturbed: Some(reason),
            panic: None,
            ..
        }) => Outcome::Disturbed { reason },
        Some(CheckReport { passed: true, .. }) if status.success() => Outcome::Passed,
        Some(CheckReport {
            passed: false,
            panic: Some(panic),
            ..
        }) => {
            let message = tidy_message(&panic.message);
            match panic.source {
                PanicSource::Grader => Outcome::Failed { message },
                PanicSource::Learner => Outcome::Panicked {
                    message,
                    location: panic.location,
                },
            }
        }
        // No report, or one the exit status contradicts: the process died
        // before it could report, or after.
        _ => Outcome::Crashed {
            status: describe_status(status),
        },
    }
}

/// Removes what only a Rust test expert reads: assert_eq's `left:`/`right:`
/// dump and its "assertion failed" prefix. The grader's message already says
/// what was expected and what was found.
fn tidy_message(message: &str) -> String {
    let message = message
        .strip_prefix("assertion `left == right` failed: ")
        .or_else(|| message.strip_prefix("assertion `left != right` failed: "))
        .unwrap_or(message);
    let kept: Vec<&str> = message
        .lines()
        .take_while(|line| !line.starts_with("  left: "))
        .collect();
    kept.join("\n").trim_end().to_owned()
}

fn describe_status(status: ExitStatus) -> String {
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        if let Some(signal) = status.signal() {
            let what = match signal {
                6 => "aborted (SIGABRT): a stack overflow, or a panic while panicking",
                9 => "killed (SIGKILL): out of memory?",
                11 => "crashed (SIGSEGV)",
                _ => "killed by a signal",
            };
            return format!("the check's process was {what} (signal {signal})");
        }
    }
    format!("the check's process exited with {status} without a test report")
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMIT: Duration = Duration::from_secs(20);

    fn report(json: &str) -> Option<CheckReport> {
        Some(serde_json::from_str(json).expect("a report"))
    }

    fn exit(code: i32) -> ExitStatus {
        use std::os::unix::process::ExitStatusExt;
        ExitStatus::from_raw(code << 8)
    }

    #[test]
    fn the_grader_stops_a_check_early_enough_to_report() {
        assert_eq!(
            graders_time_limit(Duration::from_secs(20)),
            Duration::from_millis(18_500)
        );
        // Little left: half of it still goes to the check.
        assert_eq!(
            graders_time_limit(Duration::from_secs(2)),
            Duration::from_secs(1)
        );
        assert_eq!(graders_time_limit(Duration::ZERO), Duration::ZERO);
    }

    #[test]
    fn only_what_cargo_sets_for_its_program_is_removed() {
        assert!(set_by_cargo_for_its_program("CARGO_PKG_VERSION"));
        assert!(set_by_cargo_for_its_program("CARGO_CRATE_NAME"));
        assert!(set_by_cargo_for_its_program("CARGO_BIN_NAME"));
        assert!(!set_by_cargo_for_its_program("CARGO_HOME"));
        assert!(!set_by_cargo_for_its_program("CARGO_MANIFEST_DIR"));
    }

    #[test]
    fn grader_assertions_are_failed_checks_with_a_clean_message() {
        let failed = report(
            r#"{"name": "span_records_order_id", "passed": false, "panic": {
                "message": "assertion `left == right` failed: The span should have a field `order_id`.\nWhat your code recorded:\n  span place_order [INFO]\n  left: None\n right: Some(42)",
                "location": "labs/01-first-spans/tests/grader.rs:94:5",
                "source": "grader"}}"#,
        );
        assert_eq!(
            judge(exit(101), LIMIT, failed),
            Outcome::Failed {
                message: "The span should have a field `order_id`.\nWhat your code recorded:\n  span place_order [INFO]".to_owned()
            }
        );
    }

    #[test]
    fn learner_panics_are_reported_with_their_location() {
        let panicked = report(
            r#"{"name": "x", "passed": false, "panic": {"message": "not yet implemented",
                "location": "labs/01-first-spans/src/lib.rs:12:5", "source": "learner"}}"#,
        );
        assert_eq!(
            judge(exit(101), LIMIT, panicked),
            Outcome::Panicked {
                message: "not yet implemented".to_owned(),
                location: "labs/01-first-spans/src/lib.rs:12:5".to_owned()
            }
        );
    }

    #[test]
    fn whose_panic_it_was_is_the_graders_word_not_the_location() {
        // Whose code panicked is decided where the panic happened; the CLI
        // does not second-guess it from the path.
        let grader_panic_elsewhere = report(
            r#"{"name": "x", "passed": false, "panic": {"message": "expected a span",
                "location": "labs/01-first-spans/src/lib.rs:12:5", "source": "grader"}}"#,
        );
        let outcome = judge(exit(101), LIMIT, grader_panic_elsewhere);
        assert_eq!(
            outcome,
            Outcome::Failed {
                message: "expected a span".to_owned()
            },
            "a panic the grader owned came out as {outcome:?}"
        );
    }

    #[test]
    fn a_pass_needs_the_report_and_the_exit_status_to_agree() {
        let passed = || report(r#"{"name": "x", "passed": true, "panic": null}"#);
        assert_eq!(judge(exit(0), LIMIT, passed()), Outcome::Passed);
        assert!(matches!(
            judge(exit(1), LIMIT, passed()),
            Outcome::Crashed { .. }
        ));
        assert!(matches!(
            judge(exit(0), LIMIT, None),
            Outcome::Crashed { .. }
        ));
    }

    #[test]
    fn a_torn_report_file_is_a_crash() {
        let file = std::env::temp_dir().join(format!(
            "workshop-runner-test-{}-torn.json",
            std::process::id()
        ));
        std::fs::write(&file, r#"{"name": "x", "passed": false, "panic": {"mess"#)
            .expect("the file is written");
        let report = grader_protocol::read_report(&file);
        let _ = std::fs::remove_file(&file);
        assert!(
            report.is_none(),
            "a report cut short was read as {report:?}"
        );
        let outcome = judge(exit(101), LIMIT, report);
        let Outcome::Crashed { status } = &outcome else {
            panic!("a report cut short came out as {outcome:?}");
        };
        assert!(
            status.contains("without a test report"),
            "the crash was described as {status:?}"
        );
    }

    #[test]
    fn measurements_and_evidence_come_with_the_report() {
        let measured = report(
            r#"{"name": "x", "passed": true, "panic": null,
                "measurement": {"summary": "your pricer: 380.0x as fast", "value": 380.0, "target": 5.0},
                "evidence": {"title": "The trace", "text": "a waterfall"}}"#,
        )
        .expect("a report");
        assert_eq!(
            measured.measurement.map(|m| (m.value, m.target)),
            Some((380.0, 5.0))
        );
        assert_eq!(
            measured.evidence.map(|e| e.title),
            Some("The trace".to_owned())
        );
        let disturbed = report(
            r#"{"name": "x", "passed": false, "panic": null, "disturbed": "rounds disagreed"}"#,
        );
        assert_eq!(
            judge(exit(101), LIMIT, disturbed),
            Outcome::Disturbed {
                reason: "rounds disagreed".to_owned()
            }
        );
        let stopped = report(
            r#"{"name": "x", "passed": false, "panic": null,
                "stopped": {"open_spans": ["place_order (lab01)"]}}"#,
        );
        assert_eq!(
            judge(exit(101), LIMIT, stopped),
            Outcome::TimedOut {
                limit: LIMIT,
                open_spans: Some(vec!["place_order (lab01)".to_owned()])
            }
        );
        // A grader built before measurements existed still reports.
        let plain = report(r#"{"name": "x", "passed": true, "panic": null}"#).expect("a report");
        assert!(plain.measurement.is_none() && plain.evidence.is_none());
    }
}
