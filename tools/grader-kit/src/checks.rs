//! A grader's checks, and how their results reach the workshop CLI.
//!
//! A grader is a test target with `harness = false` whose `main` is the
//! [`checks!`](crate::checks!) list: each check a plain function that
//! panics when the check fails. Under `cargo test` it behaves like a test
//! suite (every check, or those whose names hold the filter, `test NAME ...
//! ok` lines, a `test result:` summary, a non-zero exit on a failure). The
//! CLI runs one check per process with `--check NAME --report FILE` and
//! reads the result from FILE as a [`CheckReport`]: a format this crate
//! owns, so that nothing depends on how libtest words its output, which a
//! new toolchain may change.

use std::panic::{self, PanicHookInfo};
use std::path::Path;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, Once};
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// Declares a grader's checks, in the order they are reported, and makes
/// the grader's `main`.
///
/// ```ignore
/// grader_kit::checks![place_order_has_a_span, card_number_never_recorded];
/// ```
#[macro_export]
macro_rules! checks {
    ($($check:ident),+ $(,)?) => {
        fn main() -> ::std::process::ExitCode {
            $crate::checks::main(&[
                $($crate::checks::Check { name: stringify!($check), run: $check }),+
            ])
        }
    };
}

/// One check: its name (the function's) and the function.
pub struct Check {
    pub name: &'static str,
    pub run: fn(),
}

/// How one check ended, as the CLI reads it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CheckReport {
    pub name: String,
    pub passed: bool,
    /// What failed it: the last panic before it ended. The last, because a
    /// check may cause a panic on purpose (to see that an action records
    /// it) before the one that failed it.
    pub panic: Option<PanicReport>,
    /// What the check measured ([`measured`]), shown whether it passed or
    /// not: a lab that teaches measuring shows the figure.
    #[serde(default)]
    pub measurement: Option<Measurement>,
    /// What the check looked at ([`evidence`]), shown when it failed.
    #[serde(default)]
    pub evidence: Option<Evidence>,
    /// Why the check could not judge ([`disturbed`]): its measurement stayed
    /// disturbed by the machine however often it was taken again. Neither a
    /// pass nor a fail.
    #[serde(default)]
    pub disturbed: Option<String>,
    /// Set when the check was still running at the time limit the CLI gave
    /// it (`--time-limit-ms`): what was going on then.
    #[serde(default)]
    pub stopped: Option<Stopped>,
}

/// A check stopped at its time limit, most likely by an infinite loop.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Stopped {
    /// The spans entered and not left at that moment, innermost last, as
    /// `name (target)`: where the code was.
    pub open_spans: Vec<String>,
}

/// A figure a check measured, against its target.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Measurement {
    /// The sentence a learner reads: "your pricer: 380x the original; target 5x".
    pub summary: String,
    pub value: f64,
    pub target: f64,
}

/// What a check inspected, for a failure to show: a trace drawn as a
/// waterfall, say. Several checks often look at the same thing; the CLI
/// shows evidence of one title once, however many checks fail with it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Evidence {
    pub title: String,
    pub text: String,
}

/// Reports what the running check measured (the last call wins).
pub fn measured(summary: impl Into<String>, value: f64, target: f64) {
    extras().measurement = Some(Measurement {
        summary: summary.into(),
        value,
        target,
    });
}

/// Reports what the running check inspected, shown if it fails (the last
/// call wins). Call it before the assertions that may fail.
pub fn evidence(title: impl Into<String>, text: impl Into<String>) {
    extras().evidence = Some(Evidence {
        title: title.into(),
        text: text.into(),
    });
}

/// Reports that the running check cannot judge: what it measures stayed
/// disturbed by the machine (another program took the cores) however often
/// it measured again. The check then returns without asserting; the CLI
/// shows it as disturbed, neither passed nor failed, with this reason.
pub fn disturbed(reason: impl Into<String>) {
    extras().disturbed = Some(reason.into());
}

/// What a check reports besides passing or not.
#[derive(Default)]
struct Extras {
    measurement: Option<Measurement>,
    evidence: Option<Evidence>,
    disturbed: Option<String>,
}

static EXTRAS: Mutex<Extras> = Mutex::new(Extras {
    measurement: None,
    evidence: None,
    disturbed: None,
});

fn extras() -> std::sync::MutexGuard<'static, Extras> {
    EXTRAS
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PanicReport {
    pub message: String,
    /// `file:line:column` of the code that panicked.
    pub location: String,
}

/// The grader's `main` (see [`checks!`](crate::checks!)).
pub fn main(checks: &[Check]) -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let value_of = |flag: &str| {
        let at = args.iter().position(|a| a == flag)?;
        args.get(at + 1).map(String::as_str)
    };
    if args.iter().any(|a| a == "--list") {
        for check in checks {
            println!("{}", check.name);
        }
        return ExitCode::SUCCESS;
    }
    if let Some(name) = value_of("--check") {
        let Some(check) = checks.iter().find(|c| c.name == name) else {
            eprintln!("this grader has no check named {name:?}");
            return ExitCode::from(2);
        };
        let report_file = value_of("--report").map(Path::new);
        if let (Some(limit), Some(path)) = (value_of("--time-limit-ms"), report_file) {
            let limit = limit.parse().unwrap_or(u64::MAX);
            stop_at(check.name, Duration::from_millis(limit), path.to_owned());
        }
        let report = run(check);
        if REPORTED.swap(true, Ordering::SeqCst) {
            // The time limit came first: its report stands, and the process
            // is ending.
            loop {
                std::thread::park();
            }
        }
        if let Some(path) = report_file {
            write_report(path, &report);
        }
        return if report.passed {
            ExitCode::SUCCESS
        } else {
            ExitCode::from(101)
        };
    }
    run_as_test_suite(checks, &args)
}

/// Runs one check in this process, recording the panic that failed it.
pub fn run(check: &Check) -> CheckReport {
    record_panics();
    *last_panic() = None;
    *extras() = Extras::default();
    crate::scenario::reset();
    let passed = panic::catch_unwind(check.run).is_ok();
    let mut panic = if passed { None } else { last_panic().take() };
    // A failure in a randomised scenario says how to see it again.
    if let (Some(panic), Some(seed)) = (panic.as_mut(), crate::scenario::drawn()) {
        panic.message.push_str(&format!(
            "\n(scenario seed {seed}: `{}={seed}` before the command replays it)",
            crate::scenario::SEED_VARIABLE
        ));
    }
    let Extras {
        measurement,
        evidence,
        disturbed,
    } = std::mem::take(&mut *extras());
    // A check that could not judge has not passed, whatever it asserted.
    let passed = passed && disturbed.is_none();
    CheckReport {
        name: check.name.to_owned(),
        passed,
        panic,
        measurement,
        evidence,
        disturbed,
        stopped: None,
    }
}

/// Whether the check's report is written (or being written): by the check
/// when it ends, or by [`stop_at`] at the time limit, whichever comes first.
static REPORTED: AtomicBool = AtomicBool::new(false);

/// After `limit`, reports the check as stopped, with the spans open at
/// that moment, and ends the process: the CLI stops it a little later in
/// any case, but could not say where it was. A timer, not a
/// synchronisation: the check is being given up on.
fn stop_at(name: &'static str, limit: Duration, report_file: std::path::PathBuf) {
    std::thread::spawn(move || {
        std::thread::sleep(limit);
        if REPORTED.swap(true, Ordering::SeqCst) {
            return; // the check finished first
        }
        let report = CheckReport {
            name: name.to_owned(),
            passed: false,
            panic: None,
            measurement: None,
            evidence: None,
            disturbed: None,
            stopped: Some(Stopped {
                open_spans: crate::capture::open_spans(),
            }),
        };
        write_report(&report_file, &report);
        std::process::exit(101);
    });
}

fn write_report(path: &Path, report: &CheckReport) {
    let json = serde_json::to_string(report).expect("a report serialises");
    if let Err(err) = std::fs::write(path, json) {
        eprintln!(
            "cannot write the check's report to {}: {err}",
            path.display()
        );
    }
}

static LAST_PANIC: Mutex<Option<PanicReport>> = Mutex::new(None);

fn last_panic() -> std::sync::MutexGuard<'static, Option<PanicReport>> {
    LAST_PANIC
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Keeps every panic's message and place, then lets the usual hook print it
/// (what a check printed is shown with `--verbose`).
fn record_panics() {
    static INSTALLED: Once = Once::new();
    INSTALLED.call_once(|| {
        let print = panic::take_hook();
        panic::set_hook(Box::new(move |info: &PanicHookInfo<'_>| {
            let payload = info.payload();
            let message = payload
                .downcast_ref::<&str>()
                .copied()
                .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
                .unwrap_or("(a panic with a value that is not text)");
            *last_panic() = Some(PanicReport {
                message: message.to_owned(),
                location: info
                    .location()
                    .map(|l| format!("{}:{}:{}", l.file(), l.line(), l.column()))
                    .unwrap_or_default(),
            });
            print(info);
        }));
    });
}

/// Under `cargo test`: every check whose name holds the filter (the first
/// argument that is not a flag), one after another, reported as libtest
/// would. Flags libtest knows are accepted and ignored.
fn run_as_test_suite(checks: &[Check], args: &[String]) -> ExitCode {
    const TAKES_A_VALUE: [&str; 5] = ["--test-threads", "--skip", "--format", "--color", "-Z"];
    let mut filter = None;
    let mut exact = false;
    let mut rest = args.iter();
    while let Some(arg) = rest.next() {
        if TAKES_A_VALUE.contains(&arg.as_str()) {
            rest.next();
        } else if arg == "--exact" {
            exact = true;
        } else if !arg.starts_with('-') {
            filter = Some(arg.as_str());
        }
    }
    let chosen: Vec<&Check> = checks
        .iter()
        .filter(|c| match filter {
            Some(f) if exact => c.name == f,
            Some(f) => c.name.contains(f),
            None => true,
        })
        .collect();
    println!("\nrunning {} tests", chosen.len());
    let mut failed = Vec::new();
    for check in &chosen {
        let report = run(check);
        println!(
            "test {} ... {}",
            check.name,
            match (&report.disturbed, report.passed) {
                (Some(_), _) => "DISTURBED",
                (None, true) => "ok",
                (None, false) => "FAILED",
            }
        );
        if let Some(measurement) = &report.measurement {
            println!("    {}", measurement.summary);
        }
        if !report.passed {
            failed.push(report);
        }
    }
    for report in &failed {
        let panic = report.panic.as_ref();
        if let Some(reason) = &report.disturbed {
            println!("\n---- {} ----\ndisturbed: {reason}", report.name);
            continue;
        }
        println!(
            "\n---- {} ----\n{}\n  at {}",
            report.name,
            panic.map_or("(no panic recorded)", |p| p.message.as_str()),
            panic.map_or("", |p| p.location.as_str())
        );
        if let Some(evidence) = &report.evidence {
            println!("{}:\n{}", evidence.title, evidence.text);
        }
    }
    println!(
        "\ntest result: {}. {} passed; {} failed; 0 ignored; 0 measured; {} filtered out\n",
        if failed.is_empty() { "ok" } else { "FAILED" },
        chosen.len() - failed.len(),
        failed.len(),
        checks.len() - chosen.len()
    );
    if failed.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(101)
    }
}
