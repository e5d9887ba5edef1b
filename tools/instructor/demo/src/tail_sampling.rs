//! The collector's tail sampling (`collector --tail-sampling`, which
//! `just demo --tail` starts), as the report tells it: what it kept, by
//! rule, and what it dropped, read from the collector's `GET /metrics`.
//!
//! A tail sampler holds each trace for its decision wait (2 s by default)
//! after its last span: the report waits until none is held, so that its
//! figures from the traces count every trace kept.

use std::time::{Duration, Instant};

use openmetrics::Exposition;

/// The collector's family of trace decisions, by `decision` and `rule`.
const TRACES: &str = "collector_tail_sampling_traces_total";
const SPANS: &str = "collector_tail_sampling_spans_total";
const LATE_SPANS: &str = "collector_tail_sampling_late_spans_total";
const DECIDED_EARLY: &str = "collector_tail_sampling_traces_decided_early_total";
const PENDING_SPANS: &str = "collector_tail_sampling_pending_spans";

/// The rules that keep a trace, as the collector labels them, and as the
/// report says them, in the order the collector tries them.
const RULES: [(&str, &str); 4] = [
    ("error", "with an error"),
    ("warming_up", "while their endpoint warmed up"),
    ("slow", "slower than their endpoint's recent p99"),
    ("share", "of the rest, by trace id"),
];

/// What the collector's tail sampler has decided so far.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TailCounts {
    /// Traces kept, by rule, in the order the collector tries them:
    /// error, warming up, slow, share.
    pub kept: [u64; RULES.len()],
    pub dropped: u64,
    pub spans_kept: u64,
    pub spans_dropped: u64,
    /// Spans that arrived once their trace was dropped, dropped too.
    pub late_spans_dropped: u64,
    /// Traces decided before their wait was over, the collector's buffer
    /// full.
    pub decided_early: u64,
    /// Spans still waiting for their trace's decision.
    pub pending_spans: u64,
}

impl TailCounts {
    /// The counts in a scrape of the collector's `/metrics`; `None` when
    /// it has none: the collector does not sample at the tail.
    pub fn of(exposition: &Exposition) -> Option<Self> {
        let sum = |name: &str, labels: &[(&str, &str)]| exposition.sum(name, labels) as u64;
        if !exposition
            .samples
            .iter()
            .any(|sample| sample.name == TRACES)
        {
            return None;
        }
        Some(Self {
            kept: RULES.map(|(rule, _)| sum(TRACES, &[("decision", "kept"), ("rule", rule)])),
            dropped: sum(TRACES, &[("decision", "dropped")]),
            spans_kept: sum(SPANS, &[("decision", "kept")]),
            spans_dropped: sum(SPANS, &[("decision", "dropped")]),
            late_spans_dropped: sum(LATE_SPANS, &[("decision", "dropped")]),
            decided_early: sum(DECIDED_EARLY, &[]),
            pending_spans: sum(PENDING_SPANS, &[]),
        })
    }

    /// The report's lines.
    pub fn lines(&self) -> Vec<String> {
        let kept: u64 = self.kept.iter().sum();
        let decided = kept + self.dropped;
        let spans = self.spans_kept + self.spans_dropped;
        let by_rule: Vec<String> = RULES
            .iter()
            .zip(self.kept)
            .map(|((_, said), count)| format!("{count} {said}"))
            .collect();
        let mut lines = vec![
            format!(
                "Tail sampling at the collector: {kept} of {decided} traces kept ({}), {} dropped.",
                percent(kept, decided),
                self.dropped
            ),
            format!("  kept: {}", by_rule.join(", ")),
            format!(
                "  spans kept: {} of {spans} ({}); the figures from the traces below are of these.",
                self.spans_kept,
                percent(self.spans_kept, spans)
            ),
        ];
        if self.late_spans_dropped > 0 {
            lines.push(format!(
                "  {} spans arrived after their trace was dropped, and were dropped too.",
                self.late_spans_dropped
            ));
        }
        if self.decided_early > 0 {
            lines.push(format!(
                "  {} traces were decided early, before their last spans may have come: the collector's buffer was full.",
                self.decided_early
            ));
        }
        if self.pending_spans > 0 {
            lines.push(format!(
                "  {} spans still wait for their trace's decision.",
                self.pending_spans
            ));
        }
        lines
    }
}

/// `part` of `whole` as a percentage, `-` of nothing.
fn percent(part: u64, whole: u64) -> String {
    if whole == 0 {
        "-".to_owned()
    } else {
        format!("{:.1} %", 100.0 * part as f64 / whole as f64)
    }
}

/// The tail sampler's counts at the collector whose query API answers at
/// `ui`, once no span waits for its trace's decision, or at `within`;
/// `None` when the collector does not sample at the tail, or does not
/// answer.
pub async fn settled(ui: &str, within: Duration) -> Option<TailCounts> {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(2))
        .build()
        .ok()?;
    let deadline = Instant::now() + within;
    loop {
        let counts = TailCounts::of(&crate::scrape(&client, ui).await?)?;
        if counts.pending_spans == 0 || Instant::now() >= deadline {
            return Some(counts);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_counts_are_read_from_the_collectors_metrics() {
        let text = "\
collector_spans_received_total 100
collector_tail_sampling_traces_total{decision=\"kept\",rule=\"error\"} 2
collector_tail_sampling_traces_total{decision=\"kept\",rule=\"warming_up\"} 3
collector_tail_sampling_traces_total{decision=\"kept\",rule=\"slow\"} 1
collector_tail_sampling_traces_total{decision=\"kept\",rule=\"share\"} 4
collector_tail_sampling_traces_total{decision=\"dropped\",rule=\"none\"} 90
collector_tail_sampling_spans_total{decision=\"kept\"} 50
collector_tail_sampling_spans_total{decision=\"dropped\"} 450
collector_tail_sampling_late_spans_total{decision=\"kept\"} 1
collector_tail_sampling_late_spans_total{decision=\"dropped\"} 0
collector_tail_sampling_traces_decided_early_total 0
collector_tail_sampling_pending_spans 0
# EOF
";
        let counts = TailCounts::of(&openmetrics::parse(text).unwrap()).expect("tail sampling");
        assert_eq!(counts.kept, [2, 3, 1, 4]);
        assert_eq!((counts.dropped, counts.spans_kept), (90, 50));
        let lines = counts.lines();
        assert_eq!(
            lines[0],
            "Tail sampling at the collector: 10 of 100 traces kept (10.0 %), 90 dropped."
        );
        assert!(lines[2].contains("50 of 500 (10.0 %)"), "{lines:?}");
        assert_eq!(lines.len(), 3, "nothing late, early or waiting: {lines:?}");

        let without = openmetrics::parse("collector_spans_received_total 100\n# EOF\n").unwrap();
        assert_eq!(TailCounts::of(&without), None, "no tail sampling");
    }
}
