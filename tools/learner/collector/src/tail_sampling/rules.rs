//! The rules that keep a complete trace, tried in order: the first that
//! keeps it names it. A trace no rule keeps is dropped.

use trace_analysis::model::Span;

/// The name of an event that records an exception, in OpenTelemetry's
/// semantic conventions: a span that caught and recorded one failed, even
/// when its status was left unset.
pub const EXCEPTION_EVENT: &str = "exception";

/// Why a trace was kept.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rule {
    /// A span failed: its status is ERROR, or it recorded an exception.
    Error,
    /// Its endpoint has too few recent durations to tell what is slow for
    /// it, so nothing of it is dropped yet.
    WarmingUp,
    /// Its root took longer than its endpoint's recent p99.
    Slow,
    /// Its trace id falls in the share kept of the rest.
    Share,
}

impl Rule {
    /// Every rule, in the order they are tried.
    pub const ALL: [Rule; 4] = [Rule::Error, Rule::WarmingUp, Rule::Slow, Rule::Share];

    /// Its name in the metrics' `rule` label.
    pub fn label(self) -> &'static str {
        match self {
            Rule::Error => "error",
            Rule::WarmingUp => "warming_up",
            Rule::Slow => "slow",
            Rule::Share => "share",
        }
    }
}

/// Whether a span of the trace failed, as the rest of the collector marks
/// a failure (its status, which the UI and the `error` tag show), or
/// recorded an exception.
pub fn has_error(spans: &[Span]) -> bool {
    spans.iter().any(|span| {
        span.is_error()
            || span
                .events
                .iter()
                .any(|event| event.name == EXCEPTION_EVENT)
    })
}

/// The span a trace is judged by: its root, the span with no parent (the
/// longest, should there be several); when the root never arrived (or the
/// trace was decided before it did), the longest span, the nearest to what
/// the whole request took.
pub fn root(spans: &[Span]) -> Option<&Span> {
    spans
        .iter()
        .filter(|span| span.parent_span_id.is_none())
        .max_by_key(|span| span.duration_us)
        .or_else(|| spans.iter().max_by_key(|span| span.duration_us))
}

/// Whether a trace id (32 hex digits) falls in `share` of all trace ids:
/// its low 8 bytes as a number, shifted right once, below `share` of 2^63.
/// The id alone decides, so two collectors agree on every trace; and it is
/// the OpenTelemetry SDK's own ratio rule (`TraceIdRatioBased`), so a
/// share of 0.1 keeps the very traces a service's head sampler at 0.1
/// would have started.
pub fn in_share(trace_id: &str, share: f64) -> bool {
    if share >= 1.0 {
        return true;
    }
    let low = trace_id
        .len()
        .checked_sub(16)
        .and_then(|start| trace_id.get(start..))
        .and_then(|hex| u64::from_str_radix(hex, 16).ok());
    let bound = (share.max(0.0) * (1u64 << 63) as f64) as u64;
    low.is_some_and(|low| (low >> 1) < bound)
}

#[cfg(test)]
mod tests {
    use super::*;
    use trace_analysis::model::{Event, Status};

    fn span(id: &str, parent: Option<&str>, duration_us: u64) -> Span {
        Span {
            span_id: id.to_owned(),
            parent_span_id: parent.map(str::to_owned),
            duration_us,
            ..Span::default()
        }
    }

    #[test]
    fn a_trace_fails_by_a_status_or_a_recorded_exception() {
        let mut spans = vec![span("a", None, 10), span("b", Some("a"), 5)];
        assert!(!has_error(&spans));
        spans[1].status = Status::Error;
        assert!(has_error(&spans), "a child's status");
        spans[1].status = Status::Unset;
        spans[1].events.push(Event {
            time_us: 7,
            name: EXCEPTION_EVENT.to_owned(),
            attributes: Vec::new(),
        });
        assert!(has_error(&spans), "an exception event");
    }

    #[test]
    fn the_root_is_the_parentless_span_else_the_longest() {
        let whole = [span("b", Some("a"), 50), span("a", None, 10)];
        assert_eq!(root(&whole).map(|s| s.span_id.as_str()), Some("a"));
        let rootless = [span("b", Some("a"), 5), span("c", Some("a"), 50)];
        assert_eq!(root(&rootless).map(|s| s.span_id.as_str()), Some("c"));
        assert!(root(&[]).is_none());
    }

    #[test]
    fn the_share_is_the_sdks_ratio_rule_on_the_ids_low_bytes() {
        let id = |low: u64| format!("{:016x}{low:016x}", u64::MAX);
        assert!(in_share(&id(0), 0.05));
        assert!(!in_share(&id(0), 0.0), "a share of 0 keeps none");
        assert!(in_share(&id(u64::MAX), 1.0), "a share of 1 keeps all");
        // 0.5 of 2^63 is 2^62: the low bytes shifted right once below it.
        assert!(in_share(&id((1 << 63) - 2), 0.5));
        assert!(!in_share(&id(1 << 63), 0.5));
        assert!(!in_share("not hex", 0.5));
    }
}
