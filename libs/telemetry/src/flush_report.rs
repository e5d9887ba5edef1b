//! What became of a service's spans by the time it shut down, as one line:
//! the service writes it on standard error ([`crate::Guard::shutdown`]), and
//! whoever stopped the service reads it back from its log with
//! [`FlushReport`]'s `FromStr`, so both sides share one type.
//!
//! ```text
//! telemetry: span export at shutdown: 5120 exported, 0 failed, 0 dropped
//! telemetry: span export at shutdown: 4800 exported, 256 failed (export_failed 256), 64 dropped (queue_full 64)
//! ```

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use opentelemetry_sdk::error::OTelSdkError;

/// How every line of a report begins: what finds it among a log's lines.
const LINE_PREFIX: &str = "telemetry: span export at shutdown: ";

/// Why a batch failed for good: the kind of the SDK's error
/// (`OTelSdkError`), as OpenTelemetry's `error.type` spells it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ExportFailure {
    /// The export did not finish in time.
    Timeout,
    /// The exporter gave up: its retries ran out of time on a collector
    /// that did not answer or kept refusing, or the collector refused the
    /// batch outright.
    ExportFailed,
    /// The exporter had been shut down already.
    AlreadyShutdown,
}

impl ExportFailure {
    /// Every reason, in the order the counters keep them.
    pub const ALL: [ExportFailure; 3] = [
        ExportFailure::Timeout,
        ExportFailure::ExportFailed,
        ExportFailure::AlreadyShutdown,
    ];

    /// The reason of an export's error.
    pub fn of(err: &OTelSdkError) -> Self {
        match err {
            OTelSdkError::Timeout(_) => ExportFailure::Timeout,
            OTelSdkError::InternalFailure(_) => ExportFailure::ExportFailed,
            OTelSdkError::AlreadyShutdown => ExportFailure::AlreadyShutdown,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            ExportFailure::Timeout => "timeout",
            ExportFailure::ExportFailed => "export_failed",
            ExportFailure::AlreadyShutdown => "already_shutdown",
        }
    }
}

impl FromStr for ExportFailure {
    type Err = ParseFlushReportError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|reason| reason.as_str() == text)
            .ok_or_else(|| {
                ParseFlushReportError(format!("{text:?} is no reason of a failed export"))
            })
    }
}

/// Why spans were never tried at all.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum DropReason {
    /// The batch processor's queue was full when the span ended (the SDK
    /// drops it and counts it only privately): what was handed to it and
    /// neither exported nor failed once its shutdown completed.
    QueueFull,
    /// The span ended after the shutdown had begun.
    AfterShutdown,
    /// The shutdown ran out of time: these spans were still queued or
    /// being exported (any the full queue dropped are among them, since
    /// the two cannot be told apart then).
    Unflushed,
}

impl DropReason {
    pub const ALL: [DropReason; 3] = [
        DropReason::QueueFull,
        DropReason::AfterShutdown,
        DropReason::Unflushed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            DropReason::QueueFull => "queue_full",
            DropReason::AfterShutdown => "after_shutdown",
            DropReason::Unflushed => "unflushed",
        }
    }
}

impl FromStr for DropReason {
    type Err = ParseFlushReportError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|reason| reason.as_str() == text)
            .ok_or_else(|| ParseFlushReportError(format!("{text:?} is no reason of a drop")))
    }
}

/// What became of every span a service ended with export on: exported,
/// failed for good (by reason), or dropped before any try (by reason).
/// Reasons with no span are left out.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[must_use = "`confirm()` turns a loss into an error that `main` can return"]
pub struct FlushReport {
    pub exported: u64,
    pub failed: BTreeMap<ExportFailure, u64>,
    pub dropped: BTreeMap<DropReason, u64>,
}

impl FlushReport {
    pub fn failed_total(&self) -> u64 {
        self.failed.values().sum()
    }

    pub fn dropped_total(&self) -> u64 {
        self.dropped.values().sum()
    }

    /// The spans that never reached the collector.
    pub fn lost(&self) -> u64 {
        self.failed_total() + self.dropped_total()
    }

    /// Every span the service ended with export on.
    pub fn total(&self) -> u64 {
        self.exported + self.lost()
    }

    pub fn lost_nothing(&self) -> bool {
        self.lost() == 0
    }

    /// Nothing, if nothing was lost; otherwise an error that says what
    /// was, for `main` to return (so that the process exits non-zero):
    /// `telemetry.shutdown().confirm()?;`.
    pub fn confirm(self) -> Result<(), SpansLost> {
        if self.lost_nothing() {
            Ok(())
        } else {
            Err(SpansLost(self))
        }
    }

    /// The counts without the prefix: `4800 exported, 256 failed
    /// (export_failed 256), 64 dropped (queue_full 64)`.
    pub fn counts(&self) -> String {
        format!(
            "{} exported, {}, {}",
            self.exported,
            with_reasons(
                self.failed_total(),
                "failed",
                &self.failed,
                ExportFailure::as_str
            ),
            with_reasons(
                self.dropped_total(),
                "dropped",
                &self.dropped,
                DropReason::as_str
            ),
        )
    }
}

/// `64 dropped (queue_full 60, after_shutdown 4)`, or `0 dropped`.
fn with_reasons<R: Copy>(
    total: u64,
    word: &str,
    by_reason: &BTreeMap<R, u64>,
    name: impl Fn(R) -> &'static str,
) -> String {
    let reasons: Vec<String> = by_reason
        .iter()
        .filter(|(_, count)| **count > 0)
        .map(|(reason, count)| format!("{} {count}", name(*reason)))
        .collect();
    if reasons.is_empty() {
        format!("{total} {word}")
    } else {
        format!("{total} {word} ({})", reasons.join(", "))
    }
}

impl fmt::Display for FlushReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{LINE_PREFIX}{}", self.counts())
    }
}

impl FromStr for FlushReport {
    type Err = ParseFlushReportError;

    /// Reads a line [`Display`](fmt::Display) wrote, whole: the prefix, the
    /// three counts, and reasons that add up to their count.
    fn from_str(line: &str) -> Result<Self, Self::Err> {
        let error = |why: &str| ParseFlushReportError(format!("{why}: {line:?}"));
        let rest = line
            .trim_end()
            .strip_prefix(LINE_PREFIX)
            .ok_or_else(|| error("not a flush report"))?;
        let (exported, rest) = rest
            .split_once(" exported, ")
            .ok_or_else(|| error("no count of exported spans"))?;
        let exported = exported
            .parse()
            .map_err(|_| error("the exported count is not a number"))?;
        let (failed, rest) = count_with_reasons(rest, "failed").map_err(|why| error(&why))?;
        let rest = rest
            .strip_prefix(", ")
            .ok_or_else(|| error("no count of dropped spans"))?;
        let (dropped, rest) = count_with_reasons(rest, "dropped").map_err(|why| error(&why))?;
        if !rest.is_empty() {
            return Err(error("more after the counts"));
        }
        Ok(Self {
            exported,
            failed,
            dropped,
        })
    }
}

/// `N WORD` or `N WORD (reason n, reason n)` at the start of `text`: the
/// count by reason, and what follows.
fn count_with_reasons<'a, R: FromStr<Err = ParseFlushReportError> + Ord>(
    text: &'a str,
    word: &str,
) -> Result<(BTreeMap<R, u64>, &'a str), String> {
    let (total, rest) = text
        .split_once(' ')
        .ok_or_else(|| format!("no count of {word} spans"))?;
    let total: u64 = total
        .parse()
        .map_err(|_| format!("the {word} count is not a number"))?;
    let rest = rest
        .strip_prefix(word)
        .ok_or_else(|| format!("no count of {word} spans"))?;
    let mut by_reason = BTreeMap::new();
    let Some(inside) = rest.strip_prefix(" (") else {
        return match total {
            0 => Ok((by_reason, rest)),
            _ => Err(format!("{total} {word} spans with no reason")),
        };
    };
    let (reasons, rest) = inside
        .split_once(')')
        .ok_or_else(|| format!("the {word} reasons are not closed"))?;
    for reason in reasons.split(", ") {
        let (name, count) = reason
            .split_once(' ')
            .ok_or_else(|| format!("{reason:?} is not a reason and a count"))?;
        let count: u64 = count
            .parse()
            .map_err(|_| format!("{reason:?} has no count"))?;
        let name: R = name.parse().map_err(|err: ParseFlushReportError| err.0)?;
        if by_reason.insert(name, count).is_some() {
            return Err(format!("a {word} reason given twice"));
        }
    }
    if by_reason.values().sum::<u64>() != total {
        return Err(format!("the {word} reasons do not add up to {total}"));
    }
    Ok((by_reason, rest))
}

/// A line that is not a [`FlushReport`], and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParseFlushReportError(String);

impl fmt::Display for ParseFlushReportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ParseFlushReportError {}

/// Spans were lost: the error a service's `main` returns, so that it exits
/// non-zero. Shown (as `main` shows an error, with `Debug`) as the report's
/// own line.
#[derive(Clone, PartialEq, Eq)]
pub struct SpansLost(pub FlushReport);

impl fmt::Display for SpansLost {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

impl fmt::Debug for SpansLost {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

impl std::error::Error for SpansLost {}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(
        exported: u64,
        failed: &[(ExportFailure, u64)],
        dropped: &[(DropReason, u64)],
    ) -> FlushReport {
        FlushReport {
            exported,
            failed: failed.iter().copied().collect(),
            dropped: dropped.iter().copied().collect(),
        }
    }

    #[test]
    fn a_report_reads_back_from_its_own_line() {
        let reports = [
            FlushReport::default(),
            report(5_120, &[], &[]),
            report(
                4_800,
                &[
                    (ExportFailure::ExportFailed, 256),
                    (ExportFailure::Timeout, 1),
                ],
                &[(DropReason::QueueFull, 60), (DropReason::AfterShutdown, 4)],
            ),
            report(0, &[], &[(DropReason::Unflushed, 7)]),
        ];
        for original in reports {
            let line = original.to_string();
            assert!(line.starts_with(LINE_PREFIX), "{line}");
            assert!(!line.contains('\n'), "one line: {line:?}");
            let read: FlushReport = line.parse().unwrap_or_else(|err| panic!("{err}"));
            assert_eq!(read, original, "read back from {line:?}");
        }
        assert_eq!(
            report(
                4_800,
                &[(ExportFailure::ExportFailed, 256)],
                &[(DropReason::QueueFull, 64)]
            )
            .to_string(),
            "telemetry: span export at shutdown: 4800 exported, 256 failed (export_failed 256), 64 dropped (queue_full 64)"
        );
    }

    #[test]
    fn lines_that_are_not_a_report_or_do_not_add_up_are_refused() {
        let prefix = LINE_PREFIX;
        for line in [
            "Error: the server stopped".to_owned(),
            prefix.to_owned(),
            format!("{prefix}12 exported"),
            format!("{prefix}12 exported, 3 failed, 0 dropped"),
            format!("{prefix}12 exported, 3 failed (timeout 2), 0 dropped"),
            format!("{prefix}12 exported, 0 failed, 1 dropped (lost_in_space 1)"),
            format!("{prefix}12 exported, 0 failed, 2 dropped (queue_full 1, queue_full 1)"),
            format!("{prefix}12 exported, 0 failed, 0 dropped and more"),
            format!("{prefix}-1 exported, 0 failed, 0 dropped"),
        ] {
            assert!(
                line.parse::<FlushReport>().is_err(),
                "{line:?} should not read as a report"
            );
        }
    }

    #[test]
    fn only_a_report_that_lost_nothing_confirms() {
        let clean = report(10, &[], &[]);
        assert_eq!(clean.confirm(), Ok(()));
        let lossy = report(
            10,
            &[(ExportFailure::Timeout, 2)],
            &[(DropReason::QueueFull, 3)],
        );
        assert_eq!((lossy.lost(), lossy.total()), (5, 15));
        let err = lossy.clone().confirm().expect_err("a loss is an error");
        assert_eq!(
            format!("{err:?}"),
            lossy.to_string(),
            "main shows the error (with Debug) as the report's line"
        );
    }
}
