//! Whether the shop's spans were all flushed when it stopped.
//!
//! As it shuts down, each service writes what became of its spans on one
//! line, a [`FlushReport`], which its log keeps; its exit says whether it
//! shut down at all. [`verdict`] decides from both, and [`closing_lines`]
//! says it: the spans are flushed only when every service exited 0 and
//! confirmed that it lost nothing. Otherwise each service is named with
//! what it lost and why, or with why it did not confirm (killed, crashed).

use std::path::Path;

use telemetry::FlushReport;

use crate::process::{Ended, last_lines};

/// How many of a log's last lines are searched for the report: it is
/// among the last a service writes (after it, at most the error `main`
/// returns, which repeats it).
const REPORT_WITHIN_LAST_LINES: usize = 20;

/// The flush report a service wrote at shutdown, from its log: the last
/// line that reads as one.
pub fn report_in_log(log: &Path) -> Option<FlushReport> {
    last_lines(log, REPORT_WITHIN_LAST_LINES)
        .iter()
        .rev()
        .find_map(|line| line.parse().ok())
}

/// How a service ended when the shop was stopped, and what it said of its
/// spans.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServiceStop {
    pub name: &'static str,
    pub ended: Ended,
    /// Its flush report, if its log has one.
    pub flush: Option<FlushReport>,
}

impl ServiceStop {
    /// How `name` ended, with the report its `log` holds.
    pub fn read(name: &'static str, ended: Ended, log: &Path) -> Self {
        Self {
            name,
            ended,
            flush: report_in_log(log),
        }
    }
}

/// What one service's stop says about its spans.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// It exited 0 and confirmed that it lost nothing.
    Flushed(FlushReport),
    /// It said it lost spans: how many, and why.
    Lost(FlushReport),
    /// It did not confirm its flush: why (killed, crashed, exited
    /// non-zero).
    Unconfirmed(String),
}

/// Every service's [`Outcome`], in the order they were stopped.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verdict {
    pub services: Vec<(&'static str, Outcome)>,
}

impl Verdict {
    /// Whether every service exited 0 and confirmed it lost nothing.
    pub fn all_flushed(&self) -> bool {
        self.services
            .iter()
            .all(|(_, outcome)| matches!(outcome, Outcome::Flushed(_)))
    }

    /// The spans exported, by the services that said.
    pub fn exported(&self) -> u64 {
        self.services
            .iter()
            .map(|(_, outcome)| match outcome {
                Outcome::Flushed(report) | Outcome::Lost(report) => report.exported,
                Outcome::Unconfirmed(_) => 0,
            })
            .sum()
    }

    /// The services whose spans were not all flushed, or not confirmed.
    pub fn not_flushed(&self) -> Vec<&'static str> {
        self.services
            .iter()
            .filter(|(_, outcome)| !matches!(outcome, Outcome::Flushed(_)))
            .map(|(name, _)| *name)
            .collect()
    }
}

/// Decides, from each service's exit and report, whether its spans were
/// flushed.
pub fn verdict(stops: &[ServiceStop]) -> Verdict {
    Verdict {
        services: stops
            .iter()
            .map(|stop| (stop.name, outcome(stop)))
            .collect(),
    }
}

fn outcome(stop: &ServiceStop) -> Outcome {
    match &stop.flush {
        Some(report) if !report.lost_nothing() => Outcome::Lost(report.clone()),
        Some(report) if stop.ended.is_success() => Outcome::Flushed(report.clone()),
        Some(report) => Outcome::Unconfirmed(format!(
            "it {} (its flush report: {})",
            stop.ended,
            report.counts()
        )),
        None => Outcome::Unconfirmed(format!(
            "it {}, and its log has no flush report",
            stop.ended
        )),
    }
}

/// The demo's last words: the shop is stopped, and whether its spans were
/// flushed; if not, a line per service. `collector_stopped` when the demo
/// stopped the collector too (it started it).
pub fn closing_lines(verdict: &Verdict, collector_stopped: bool) -> Vec<String> {
    let stopped = match collector_stopped {
        true => "the shop's services and the collector are",
        false => "the shop's services are",
    };
    if verdict.all_flushed() {
        return vec![format!(
            "Stopped: {stopped} shut down, their spans flushed: {} exported, none lost.",
            verdict.exported()
        )];
    }
    let mut lines = vec![format!(
        "Stopped: {stopped} shut down, but their spans were not all flushed:"
    )];
    for (name, outcome) in &verdict.services {
        let said = match outcome {
            Outcome::Flushed(report) => format!("flushed: {} exported, none lost", report.exported),
            Outcome::Lost(report) => format!(
                "lost {} of {} spans: {}",
                report.lost(),
                report.total(),
                report.counts()
            ),
            Outcome::Unconfirmed(why) => format!("did not confirm its flush: {why}"),
        };
        lines.push(format!("  {name:<10} {said}"));
    }
    lines
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::os::unix::process::ExitStatusExt;
    use std::process::ExitStatus;
    use std::time::Duration;

    use telemetry::{DropReason, ExportFailure};

    use super::*;

    fn exit(code: i32) -> ExitStatus {
        ExitStatus::from_raw(code << 8)
    }

    fn clean(exported: u64) -> FlushReport {
        FlushReport {
            exported,
            ..FlushReport::default()
        }
    }

    fn stop(name: &'static str, ended: Ended, flush: Option<FlushReport>) -> ServiceStop {
        ServiceStop { name, ended, flush }
    }

    #[test]
    fn flushed_only_when_every_service_exited_0_and_lost_nothing() {
        let all_clean = [
            stop("gateway", Ended::Exited(exit(0)), Some(clean(400))),
            stop("catalog", Ended::Exited(exit(0)), Some(clean(100))),
        ];
        let decided = verdict(&all_clean);
        assert!(decided.all_flushed(), "{decided:?}");
        assert_eq!(
            closing_lines(&decided, true),
            [
                "Stopped: the shop's services and the collector are shut down, their spans flushed: 500 exported, none lost."
            ]
        );

        let cases = [
            (
                Ended::Exited(exit(1)),
                Some(clean(100)),
                "exited with exit status: 1",
            ),
            (Ended::Exited(exit(0)), None, "no flush report"),
            (
                Ended::Before(ExitStatus::from_raw(9)),
                None,
                "had already ended when it was to be stopped (signal: 9 (SIGKILL))",
            ),
            (
                Ended::Killed {
                    grace: Duration::from_secs(55),
                },
                None,
                "did not stop within 55 s and was killed",
            ),
        ];
        for (ended, flush, why) in cases {
            let stops = [
                stop("gateway", Ended::Exited(exit(0)), Some(clean(400))),
                stop("pricing", ended, flush),
            ];
            let decided = verdict(&stops);
            assert!(!decided.all_flushed(), "{decided:?}");
            assert_eq!(decided.not_flushed(), ["pricing"]);
            let lines = closing_lines(&decided, false).join("\n");
            assert!(
                lines.starts_with("Stopped: the shop's services are shut down, but their spans were not all flushed:"),
                "{lines}"
            );
            assert!(
                !lines.contains("their spans flushed"),
                "no flush claimed:\n{lines}"
            );
            let pricing = lines
                .lines()
                .find(|line| line.trim_start().starts_with("pricing"))
                .unwrap_or_else(|| panic!("pricing is named:\n{lines}"));
            assert!(
                pricing.contains("did not confirm its flush") && pricing.contains(why),
                "{pricing:?} should say that it did not confirm, and why ({why})"
            );
            assert!(
                lines.contains("gateway    flushed: 400 exported, none lost"),
                "{lines}"
            );
        }
    }

    #[test]
    fn a_loss_is_told_per_service_with_its_reasons_and_adds_up() {
        let lossy = FlushReport {
            exported: 900,
            failed: BTreeMap::from([(ExportFailure::ExportFailed, 64)]),
            dropped: BTreeMap::from([(DropReason::QueueFull, 36)]),
        };
        // A service that lost spans exits non-zero: the loss is what is told.
        let stops = [stop("gateway", Ended::Exited(exit(1)), Some(lossy.clone()))];
        let decided = verdict(&stops);
        assert_eq!(decided.services, [("gateway", Outcome::Lost(lossy))]);
        assert_eq!(decided.exported(), 900);
        let lines = closing_lines(&decided, true);
        assert_eq!(
            lines[1],
            "  gateway    lost 100 of 1000 spans: 900 exported, 64 failed (export_failed 64), 36 dropped (queue_full 36)"
        );
    }

    #[test]
    fn the_report_is_the_last_line_of_the_log_that_reads_as_one() {
        let log = std::env::temp_dir().join(format!("demo-flush-test-{}.log", std::process::id()));
        let report = FlushReport {
            exported: 12,
            dropped: BTreeMap::from([(DropReason::QueueFull, 3)]),
            ..FlushReport::default()
        };
        std::fs::write(
            &log,
            format!(
                "INFO gateway has drained its requests and stopped\n{report}\nError: {report}\n"
            ),
        )
        .expect("a temporary log");
        let found = report_in_log(&log);
        std::fs::write(&log, "INFO starting\nkilled\n").expect("a temporary log");
        let none = report_in_log(&log);
        let _ = std::fs::remove_file(&log);
        assert_eq!(found, Some(report), "the report is read back");
        assert_eq!(none, None, "a log without one has none");
    }
}
