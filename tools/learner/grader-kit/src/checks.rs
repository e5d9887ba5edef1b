//! A grader's checks, and how their results reach the workshop CLI.
//!
//! A grader is a test target with `harness = false` whose `main` is the
//! [`checks!`](crate::checks!) list: each check a plain function that
//! panics when the check fails. Under `cargo test` it behaves like a test
//! suite (every check, or those whose names hold the filter, `test NAME ...
//! ok` lines, a `test result:` summary, a non-zero exit on a failure). The
//! CLI runs one check per process with `--check NAME --report FILE` and
//! reads the result from FILE as a [`CheckReport`]: the format both sides
//! take from `grader_protocol`.

use std::panic::{self, PanicHookInfo};
use std::path::Path;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, Once};
use std::time::Duration;

use grader_protocol::{
    CHECK_FLAG, CheckReport, EXIT_FAILED, EXIT_NO_SUCH_CHECK, Evidence, LIST_FLAG, Measurement,
    Panic, PanicSource, REPORT_FLAG, Stopped, TIME_LIMIT_FLAG,
};

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

/// The grader's `main` (see [`checks!`](crate::checks!)).
pub fn main(checks: &[Check]) -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let value_of = |flag: &str| {
        let at = args.iter().position(|a| a == flag)?;
        args.get(at + 1).map(String::as_str)
    };
    if args.iter().any(|a| a == LIST_FLAG) {
        for check in checks {
            println!("{}", check.name);
        }
        return ExitCode::SUCCESS;
    }
    if let Some(name) = value_of(CHECK_FLAG) {
        let Some(check) = checks.iter().find(|c| c.name == name) else {
            eprintln!("this grader has no check named {name:?}");
            return ExitCode::from(EXIT_NO_SUCH_CHECK);
        };
        let report_file = value_of(REPORT_FLAG).map(Path::new);
        if let (Some(limit), Some(path)) = (value_of(TIME_LIMIT_FLAG), report_file) {
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
            ExitCode::from(EXIT_FAILED)
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
        std::process::exit(i32::from(EXIT_FAILED));
    });
}

fn write_report(path: &Path, report: &CheckReport) {
    if let Err(err) = grader_protocol::write_report(path, report) {
        eprintln!(
            "cannot write the check's report to {}: {err}",
            path.display()
        );
    }
}

static LAST_PANIC: Mutex<Option<Panic>> = Mutex::new(None);

fn last_panic() -> std::sync::MutexGuard<'static, Option<Panic>> {
    LAST_PANIC
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Keeps every panic's message, place and source, then lets the usual hook
/// print it (what a check printed is shown with `--verbose`).
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
            let location = info
                .location()
                .map(|l| format!("{}:{}:{}", l.file(), l.line(), l.column()))
                .unwrap_or_default();
            // Whose code panicked is decided here, where the panic happens,
            // and written into the report: the graders are a lab's `tests/`
            // built on this kit, so what counts as grader code is known on
            // this side. The CLI only reads the verdict.
            *last_panic() = Some(Panic {
                message: message.to_owned(),
                source: PanicSource::of_location(&location),
                location,
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
        ExitCode::from(EXIT_FAILED)
    }
}
