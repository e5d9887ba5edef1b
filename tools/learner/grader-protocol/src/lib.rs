//! What a lab's grader and the `workshop` CLI say to each other.
//!
//! A grader is a test executable whose `main` is `grader_kit::checks!`. The
//! CLI runs it once per check, so that a learner's panic, abort or infinite
//! loop takes down that check only:
//!
//! - `GRADER --list` prints the grader's checks, one name a line, in order.
//! - `GRADER --check NAME --report FILE [--time-limit-ms MS]` runs the check
//!   `NAME` and writes how it ended to `FILE`, a [`CheckReport`] as JSON
//!   ([`write_report`], [`read_report`]). With a time limit, a check still
//!   running after `MS` milliseconds is reported
//!   [`stopped`](CheckReport::stopped) and the process ends.
//!
//! The exit status backs the report: success when the check passed,
//! [`EXIT_FAILED`] when it did not, [`EXIT_NO_SUCH_CHECK`] for a name the
//! grader does not have. No report (absent, empty, cut short), or one the
//! exit status contradicts, means the process died before or after the
//! check could say how it ended.
//!
//! Both sides build this one definition, so the report cannot mean one
//! thing to the grader and another to the CLI, and nothing depends on how
//! libtest words its output, which a new toolchain may change.

use std::io;
use std::path::Path;

use serde::{Deserialize, Serialize};

/// Asks a grader for the names of its checks.
pub const LIST_FLAG: &str = "--list";
/// Names the one check to run.
pub const CHECK_FLAG: &str = "--check";
/// Names the file the check's [`CheckReport`] is written to.
pub const REPORT_FLAG: &str = "--report";
/// How long the check may run, in milliseconds, before it is reported
/// stopped.
pub const TIME_LIMIT_FLAG: &str = "--time-limit-ms";

/// The exit status of a check that did not pass: libtest's, so that a
/// grader run under `cargo test` ends as any test suite does.
pub const EXIT_FAILED: u8 = 101;
/// The exit status when the grader has no check of the name asked for.
pub const EXIT_NO_SUCH_CHECK: u8 = 2;

/// How one check ended, as its grader process saw it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CheckReport {
    pub name: String,
    pub passed: bool,
    /// What failed it: the last panic before it ended. The last, because a
    /// check may cause a panic on purpose (to see that an action records
    /// it) before the one that failed it.
    pub panic: Option<Panic>,
    /// What the check measured, shown whether it passed or not: a lab that
    /// teaches measuring shows the figure.
    #[serde(default)]
    pub measurement: Option<Measurement>,
    /// What the check looked at, shown when it failed.
    #[serde(default)]
    pub evidence: Option<Evidence>,
    /// Why the check could not judge: its measurement stayed disturbed by
    /// the machine however often it was taken again. Neither a pass nor a
    /// fail.
    #[serde(default)]
    pub disturbed: Option<String>,
    /// Set when the check was still running at its time limit
    /// ([`TIME_LIMIT_FLAG`]): what was going on then.
    #[serde(default)]
    pub stopped: Option<Stopped>,
}

/// A panic during a check.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(from = "PanicAsWritten")]
pub struct Panic {
    pub message: String,
    /// `file:line:column` of the code that panicked.
    pub location: String,
    /// Whose code it was, which decides what the learner is told: decided
    /// by the grader process, where the panic happened.
    pub source: PanicSource,
}

/// A [`Panic`] as a grader wrote it. A grader built before panics carried
/// their source wrote none; pristine grading builds the graders of the
/// commit a learner started from, which may be older than the CLI reading
/// them, so the source is then taken from the location, by the rule those
/// graders' panics would have been judged by.
#[derive(Deserialize)]
struct PanicAsWritten {
    message: String,
    location: String,
    #[serde(default)]
    source: Option<PanicSource>,
}

impl From<PanicAsWritten> for Panic {
    fn from(written: PanicAsWritten) -> Self {
        let source = written
            .source
            .unwrap_or_else(|| PanicSource::of_location(&written.location));
        Self {
            message: written.message,
            location: written.location,
            source,
        }
    }
}

/// Whose code raised a panic.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PanicSource {
    /// The grader's own assertions or the kit's helpers: the check failed,
    /// and the message says what to do.
    Grader,
    /// Any other code: the learner's (a `todo!()`, an `unwrap()`…), or a
    /// library it called.
    Learner,
}

impl PanicSource {
    /// Whose code panicked at `location` (`file:line:column`, the file as
    /// the compiler named it): a file under a `tests/` folder (a grader's)
    /// or in the grader kit is the grader's, any other the learner's.
    pub fn of_location(location: &str) -> Self {
        let location = location.replace('\\', "/");
        let in_grader = location.starts_with("tests/")
            || location.contains("/tests/")
            || location.contains("grader-kit/");
        if in_grader {
            Self::Grader
        } else {
            Self::Learner
        }
    }
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

/// Writes `report` to `path`, replacing what was there.
pub fn write_report(path: &Path, report: &CheckReport) -> io::Result<()> {
    let json = serde_json::to_vec(report)?;
    std::fs::write(path, json)
}

/// The report at `path`, or `None` when there is none to believe: the file
/// is absent, empty or cut short (the process died before or while writing
/// it), or holds something else.
pub fn read_report(path: &Path) -> Option<CheckReport> {
    let json = std::fs::read(path).ok()?;
    serde_json::from_slice(&json).ok()
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;

    /// A file of this test's own in the temporary folder, removed when
    /// dropped: tests run in parallel, each on a file of its own name.
    struct ScratchFile(PathBuf);

    impl ScratchFile {
        fn new(test: &str) -> Self {
            Self(std::env::temp_dir().join(format!(
                "grader-protocol-{}-{test}.json",
                std::process::id()
            )))
        }
    }

    impl Drop for ScratchFile {
        fn drop(&mut self) {
            let _ = std::fs::remove_file(&self.0);
        }
    }

    fn everything_reported() -> CheckReport {
        CheckReport {
            name: "place_order_has_a_span".to_owned(),
            passed: false,
            panic: Some(Panic {
                message: "The span should have a field `order_id`.\n  \"quoted\" ✓".to_owned(),
                location: "labs/01-first-spans/tests/grader.rs:94:5".to_owned(),
                source: PanicSource::Grader,
            }),
            measurement: Some(Measurement {
                summary: "your pricer: 380.0x as fast".to_owned(),
                value: 380.0,
                target: 5.0,
            }),
            evidence: Some(Evidence {
                title: "The trace".to_owned(),
                text: "a waterfall\n  place_order".to_owned(),
            }),
            disturbed: Some("rounds disagreed".to_owned()),
            stopped: Some(Stopped {
                open_spans: vec![
                    "handle (lab01)".to_owned(),
                    "place_order (lab01)".to_owned(),
                ],
            }),
        }
    }

    #[test]
    fn a_report_reads_back_as_it_was_written() {
        let file = ScratchFile::new("round-trip");
        let learners_panic = CheckReport {
            name: "x".to_owned(),
            passed: false,
            panic: Some(Panic {
                message: "not yet implemented".to_owned(),
                location: "labs/01-first-spans/src/lib.rs:12:5".to_owned(),
                source: PanicSource::Learner,
            }),
            measurement: None,
            evidence: None,
            disturbed: None,
            stopped: None,
        };
        for report in [everything_reported(), learners_panic] {
            write_report(&file.0, &report).expect("the report is written");
            let read = read_report(&file.0);
            assert_eq!(
                read.as_ref(),
                Some(&report),
                "read back {read:#?} after writing {report:#?}"
            );
        }
    }

    #[test]
    fn panics_in_a_grader_or_in_the_kit_are_the_graders() {
        for location in [
            "labs/01-first-spans/tests/grader.rs:94:5",
            "tests/grader.rs:94:5",
            "labs\\01-first-spans\\tests\\grader.rs:94:5",
            "tools/learner/grader-kit/src/timing.rs:300:9",
        ] {
            let source = PanicSource::of_location(location);
            assert_eq!(
                source,
                PanicSource::Grader,
                "a panic at {location} was put down to {source:?}"
            );
        }
    }

    #[test]
    fn panics_anywhere_else_are_the_learners() {
        for location in [
            "labs/01-first-spans/src/lib.rs:12:5",
            "solutions/01-first-spans/src/lib.rs:12:5",
            "labs/03-context-propagation/given/src/lib.rs:40:9",
            "libs/telemetry/src/lib.rs:40:9",
            "",
        ] {
            let source = PanicSource::of_location(location);
            assert_eq!(
                source,
                PanicSource::Learner,
                "a panic at {location:?} was put down to {source:?}"
            );
        }
    }

    #[test]
    fn a_panic_from_a_grader_that_did_not_say_whose_it_was_is_judged_by_its_location() {
        let file = ScratchFile::new("sourceless");
        for (location, expected) in [
            (
                "labs/01-first-spans/tests/grader.rs:94:5",
                PanicSource::Grader,
            ),
            ("labs/01-first-spans/src/lib.rs:12:5", PanicSource::Learner),
        ] {
            let written = format!(
                r#"{{"name": "x", "passed": false,
                    "panic": {{"message": "m", "location": "{location}"}}}}"#
            );
            std::fs::write(&file.0, written).expect("the file is written");
            let source = read_report(&file.0).and_then(|r| r.panic).map(|p| p.source);
            assert_eq!(
                source,
                Some(expected),
                "a panic at {location} without a source was read as {source:?}"
            );
        }
        // What a grader says prevails over where the panic was.
        std::fs::write(
            &file.0,
            r#"{"name": "x", "passed": false, "panic": {"message": "m",
                "location": "labs/01-first-spans/src/lib.rs:12:5", "source": "grader"}}"#,
        )
        .expect("the file is written");
        let source = read_report(&file.0).and_then(|r| r.panic).map(|p| p.source);
        assert_eq!(
            source,
            Some(PanicSource::Grader),
            "a panic the grader said was its own was read as {source:?}"
        );
    }

    #[test]
    fn a_torn_or_empty_report_is_no_report() {
        let file = ScratchFile::new("torn");
        let whole = serde_json::to_vec(&everything_reported()).expect("a report serialises");
        for (what, written) in [
            ("cut in half", &whole[..whole.len() / 2]),
            ("cut before its last brace", &whole[..whole.len() - 1]),
            ("empty", &whole[..0]),
        ] {
            std::fs::write(&file.0, written).expect("the file is written");
            let read = read_report(&file.0);
            assert!(read.is_none(), "a report {what} was read as {read:#?}");
        }
        let absent = ScratchFile::new("absent");
        let read = read_report(&absent.0);
        assert!(read.is_none(), "no file was read as {read:#?}");
    }
}
