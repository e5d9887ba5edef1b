//! Running grader checks: one process per check, each with a time limit.
//!
//! One process per check is what makes the report trustworthy: a learner's
//! panic, abort or infinite loop takes down that check only, every other
//! check still runs and reports, and each gets its own duration. The cost is
//! a few milliseconds of process start per check.

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
    /// Everything the test printed, for `--verbose`.
    pub output: String,
}

/// The test functions in a grader executable.
pub fn list_checks(binary: &TestBinary) -> Result<Vec<String>> {
    let output = Command::new(&binary.path)
        .args(["--list", "--format", "terse"])
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
        .filter_map(|line| line.strip_suffix(": test"))
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
    let started = Instant::now();
    let mut command = Command::new(&binary.path);
    command
        .args(["--exact", name, "--test-threads=1"])
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
                output: String::new(),
            };
        }
    };
    let duration = started.elapsed();
    let (outcome, output) = match finished {
        Finished::InTime { status, output } => (judge(name, status, &output), output),
        Finished::Killed { output } => (Outcome::TimedOut { limit }, output),
    };
    CheckRun {
        name: name.to_owned(),
        outcome,
        duration,
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

/// Reads libtest's report of a single test.
fn judge(name: &str, status: ExitStatus, output: &str) -> Outcome {
    if status.success() {
        return if output.contains(&format!("test {name} ... ok")) {
            Outcome::Passed
        } else {
            // Exit 0 without running the test: it was filtered out or ignored.
            Outcome::Crashed {
                status: "the check did not run (is it marked #[ignore]?)".to_owned(),
            }
        };
    }
    match parse_panic(output) {
        Some(panic) if panic.is_in_grader() => Outcome::Failed {
            message: panic.message,
        },
        Some(panic) => Outcome::Panicked {
            message: panic.message,
            location: panic.location,
        },
        None => Outcome::Crashed {
            status: describe_status(status),
        },
    }
}

struct Panic {
    location: String,
    message: String,
}

impl Panic {
    /// A panic raised by the grader's own assertions (or its shared helpers)
    /// is a failed check; any other panic is the learner's code crashing.
    fn is_in_grader(&self) -> bool {
        let location = self.location.replace('\\', "/");
        location.starts_with("tests/")
            || location.contains("/tests/")
            || location.contains("grader-kit/")
    }
}

/// Finds the last `thread '…' panicked at FILE:LINE:COL:` and the message
/// after it. The last, because a check may cause a panic on purpose (to see
/// that an action records it) before the one that failed it.
fn parse_panic(output: &str) -> Option<Panic> {
    let lines: Vec<&str> = output.lines().collect();
    let (at, location) = lines.iter().enumerate().rev().find_map(|(i, line)| {
        let (_, rest) = line.split_once("' panicked at ").or_else(|| {
            // Newer toolchains print the thread id: `thread 'x' (123) panicked at`.
            line.split_once(") panicked at ")
        })?;
        Some((i, rest.trim_end_matches(':').to_owned()))
    })?;
    let message_lines: Vec<&str> = lines[at + 1..]
        .iter()
        .copied()
        .take_while(|line| {
            !line.starts_with("note: run with `RUST_BACKTRACE")
                && !line.starts_with("stack backtrace:")
                && !line.starts_with("failures:")
                && !line.starts_with("---- ")
                && !line.starts_with("thread '")
        })
        .collect();
    Some(Panic {
        location,
        message: tidy_message(&message_lines.join("\n")),
    })
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

    const GRADER_FAILURE: &str = "\nrunning 1 test\ntest span_records_order_id ... FAILED\n\n\
failures:\n\n---- span_records_order_id stdout ----\n\n\
thread 'span_records_order_id' (5695) panicked at labs/01-first-spans/tests/grader.rs:94:5:\n\
assertion `left == right` failed: The span should have a field `order_id`.\n\
What your code recorded:\n  span place_order [INFO]\n\n  left: None\n right: Some(42)\n\
note: run with `RUST_BACKTRACE=1` environment variable to display a backtrace\n\n\
failures:\n    span_records_order_id\n";

    #[test]
    fn grader_assertions_are_failed_checks_with_a_clean_message() {
        let panic = parse_panic(GRADER_FAILURE).expect("a panic is found");
        assert_eq!(panic.location, "labs/01-first-spans/tests/grader.rs:94:5");
        assert!(panic.is_in_grader());
        assert_eq!(
            panic.message,
            "The span should have a field `order_id`.\nWhat your code recorded:\n  span place_order [INFO]"
        );
    }

    #[test]
    fn learner_panics_are_reported_with_their_location() {
        let output = "thread 'place_order_has_a_span' panicked at src/lib.rs:12:5:\n\
                      not yet implemented\nnote: run with `RUST_BACKTRACE=1` …\n";
        let panic = parse_panic(output).expect("a panic is found");
        assert_eq!(panic.location, "src/lib.rs:12:5");
        assert!(!panic.is_in_grader());
        assert_eq!(panic.message, "not yet implemented");
    }

    #[test]
    fn the_last_panic_is_the_one_that_failed_the_check() {
        let output = "thread 'x' panicked at tests/grader.rs:3:5:\non purpose\n\
                      thread 'x' panicked at tests/grader.rs:9:5:\nthe real failure\n";
        let panic = parse_panic(output).expect("a panic is found");
        assert_eq!(panic.location, "tests/grader.rs:9:5");
        assert_eq!(panic.message, "the real failure");
    }

    #[test]
    fn output_without_a_panic_has_none() {
        assert!(parse_panic("running 1 test\nerror: test failed\n").is_none());
    }
}
