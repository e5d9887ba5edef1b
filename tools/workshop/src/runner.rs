//! Running grader checks: one process per check, each with a time limit.
//!
//! One process per check is what makes the report trustworthy: a learner's
//! panic, abort or infinite loop takes down that check only, every other
//! check still runs and reports, and each gets its own duration. The cost is
//! a few milliseconds of process start per check.
//!
//! A grader's `main` is `grader_kit::checks!`: asked for one check with a
//! file to report to, it writes how the check ended there as JSON
//! (`grader_kit::checks::CheckReport`). That report, and the process's exit
//! status, decide the outcome; nothing is read from what the check printed,
//! which is kept only for `--verbose`.

use std::io::Read;
use std::process::{Command, ExitStatus, Stdio};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use crate::build::TestBinary;

/// How one check ended.
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
    /// Stopped after the lab's time limit.
    TimedOut {
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

/// A figure a check measured: `grader_kit::checks::Measurement`, read back.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Measurement {
    pub summary: String,
    pub value: f64,
    pub target: f64,
}

/// What a check inspected: `grader_kit::checks::Evidence`, read back.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Evidence {
    pub title: String,
    pub text: String,
}

/// The checks of a grader executable, in its order.
pub fn list_checks(binary: &TestBinary) -> Result<Vec<String>> {
    let output = Command::new(&binary.path)
        .arg("--list")
        .current_dir(&binary.package_dir)
        .output()
        .with_context(|| format!("cannot run {}", binary.path.display()))?;
    if !output.status.success() {
        bail!(
            "{} --list failed: {}",
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

/// Runs every `(binary, check)` pair, `jobs` at a time, each within `limit`.
/// Results come back in the order given.
pub fn run_checks(
    checks: &[(TestBinary, String)],
    limit: Duration,
    jobs: usize,
    verbose: bool,
) -> Vec<CheckRun> {
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
                    let run = run_check(binary, name, limit, verbose);
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

fn run_check(binary: &TestBinary, name: &str, limit: Duration, verbose: bool) -> CheckRun {
    static REPORTS: AtomicUsize = AtomicUsize::new(0);
    let report_file = std::env::temp_dir().join(format!(
        "workshop-check-{}-{}.json",
        std::process::id(),
        REPORTS.fetch_add(1, Ordering::Relaxed)
    ));
    let started = Instant::now();
    let mut command = Command::new(&binary.path);
    command
        .args(["--check", name, "--report"])
        .arg(&report_file)
        .current_dir(&binary.package_dir)
        .env("CARGO_MANIFEST_DIR", &binary.package_dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if !verbose {
        // A backtrace is noise to a learner reading a failed check.
        command.env("RUST_BACKTRACE", "0");
    }
    let finished = match command.spawn() {
        Ok(child) => wait_with_limit(child, limit),
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
    let report = std::fs::read_to_string(&report_file)
        .ok()
        .and_then(|text| serde_json::from_str::<Report>(&text).ok());
    let _ = std::fs::remove_file(&report_file);
    let (measurement, evidence) = report
        .as_ref()
        .map(|r| (r.measurement.clone(), r.evidence.clone()))
        .unwrap_or_default();
    let (outcome, output) = match finished {
        Finished::InTime { status, output } => (judge(status, report), output),
        Finished::Killed { output } => (Outcome::TimedOut { limit }, output),
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

/// What a grader reports of one check: `grader_kit::checks::CheckReport`,
/// read back.
#[derive(Debug, serde::Deserialize)]
struct Report {
    passed: bool,
    panic: Option<Panic>,
    #[serde(default)]
    measurement: Option<Measurement>,
    #[serde(default)]
    evidence: Option<Evidence>,
}

#[derive(Debug, serde::Deserialize)]
struct Panic {
    message: String,
    location: String,
}

/// The outcome of a check from its report and its process's exit status.
fn judge(status: ExitStatus, report: Option<Report>) -> Outcome {
    match report {
        Some(Report { passed: true, .. }) if status.success() => Outcome::Passed,
        Some(Report {
            passed: false,
            panic: Some(panic),
            ..
        }) => {
            let message = tidy_message(&panic.message);
            if is_in_grader(&panic.location) {
                Outcome::Failed { message }
            } else {
                Outcome::Panicked {
                    message,
                    location: panic.location,
                }
            }
        }
        // No report, or one the exit status contradicts: the process died
        // before it could report, or after.
        _ => Outcome::Crashed {
            status: describe_status(status),
        },
    }
}

/// A panic raised by the grader's own assertions (or its shared helpers) is
/// a failed check; any other panic is the learner's code crashing.
fn is_in_grader(location: &str) -> bool {
    let location = location.replace('\\', "/");
    location.starts_with("tests/")
        || location.contains("/tests/")
        || location.contains("grader-kit/")
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

    fn report(json: &str) -> Option<Report> {
        Some(serde_json::from_str(json).expect("a report"))
    }

    fn exit(code: i32) -> ExitStatus {
        use std::os::unix::process::ExitStatusExt;
        ExitStatus::from_raw(code << 8)
    }

    #[test]
    fn grader_assertions_are_failed_checks_with_a_clean_message() {
        let failed = report(
            r#"{"name": "span_records_order_id", "passed": false, "panic": {
                "message": "assertion `left == right` failed: The span should have a field `order_id`.\nWhat your code recorded:\n  span place_order [INFO]\n  left: None\n right: Some(42)",
                "location": "labs/01-first-spans/tests/grader.rs:94:5"}}"#,
        );
        assert_eq!(
            judge(exit(101), failed),
            Outcome::Failed {
                message: "The span should have a field `order_id`.\nWhat your code recorded:\n  span place_order [INFO]".to_owned()
            }
        );
    }

    #[test]
    fn learner_panics_are_reported_with_their_location() {
        let panicked = report(
            r#"{"name": "x", "passed": false, "panic": {"message": "not yet implemented", "location": "labs/01-first-spans/src/lib.rs:12:5"}}"#,
        );
        assert_eq!(
            judge(exit(101), panicked),
            Outcome::Panicked {
                message: "not yet implemented".to_owned(),
                location: "labs/01-first-spans/src/lib.rs:12:5".to_owned()
            }
        );
    }

    #[test]
    fn a_pass_needs_the_report_and_the_exit_status_to_agree() {
        let passed = || report(r#"{"name": "x", "passed": true, "panic": null}"#);
        assert_eq!(judge(exit(0), passed()), Outcome::Passed);
        assert!(matches!(judge(exit(1), passed()), Outcome::Crashed { .. }));
        assert!(matches!(judge(exit(0), None), Outcome::Crashed { .. }));
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
        // A grader built before measurements existed still reports.
        let plain = report(r#"{"name": "x", "passed": true, "panic": null}"#).expect("a report");
        assert!(plain.measurement.is_none() && plain.evidence.is_none());
    }
}
