//! What the tail sampler decided and what it holds: its part of the
//! collector's `GET /metrics`.

use super::rules::Rule;
use crate::exposition::family;

/// The sampler's counters, from its start, and what it holds now.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    /// Traces kept, by the first rule that kept each, in [`Rule::ALL`]'s
    /// order.
    pub traces_kept: [u64; Rule::ALL.len()],
    /// Traces no rule kept.
    pub traces_dropped: u64,
    /// Spans of the traces kept, and late spans of them, sent to the store.
    pub spans_kept: u64,
    /// Spans of the traces dropped, and late spans of them.
    pub spans_dropped: u64,
    /// Spans that arrived after their trace was kept, stored with it.
    pub late_spans_kept: u64,
    /// Spans that arrived after their trace was dropped, dropped too.
    pub late_spans_dropped: u64,
    /// Traces decided before their wait was over, the oldest first, to
    /// keep what waits within its bounds.
    pub traces_decided_early: u64,
    /// Spans waiting for their trace's decision now.
    pub pending_spans: u64,
    /// Traces waiting now.
    pub pending_traces: u64,
    /// The estimated bytes of what waits now.
    pub pending_bytes: u64,
    /// The bounds on what waits.
    pub max_pending_spans: u64,
    pub max_pending_bytes: u64,
}

impl Counts {
    /// Traces kept by `rule`.
    pub fn kept_by(&self, rule: Rule) -> u64 {
        self.traces_kept[rule as usize]
    }

    /// Its metric families, as OpenMetrics text, without the exposition's
    /// end (see [`crate::store::Stats::write_openmetrics`]).
    pub fn write_openmetrics(&self, text: &mut String) {
        let by_rule: Vec<(String, u64)> = Rule::ALL
            .iter()
            .map(|&rule| {
                let labels = format!("{{decision=\"kept\",rule=\"{}\"}}", rule.label());
                (labels, self.kept_by(rule))
            })
            .collect();
        let mut traces: Vec<(&str, u64)> = by_rule
            .iter()
            .map(|(labels, count)| (labels.as_str(), *count))
            .collect();
        traces.push(("{decision=\"dropped\",rule=\"none\"}", self.traces_dropped));
        family(
            text,
            "collector_tail_sampling_traces",
            "counter",
            "Traces decided by tail sampling: kept, by the first rule that kept them (error, warming_up, slow, share), or dropped.",
            &traces,
        );
        family(
            text,
            "collector_tail_sampling_spans",
            "counter",
            "Spans of the traces decided, late ones included, by their trace's decision.",
            &[
                ("{decision=\"kept\"}", self.spans_kept),
                ("{decision=\"dropped\"}", self.spans_dropped),
            ],
        );
        family(
            text,
            "collector_tail_sampling_late_spans",
            "counter",
            "Spans that arrived after their trace was decided, and followed its decision.",
            &[
                ("{decision=\"kept\"}", self.late_spans_kept),
                ("{decision=\"dropped\"}", self.late_spans_dropped),
            ],
        );
        family(
            text,
            "collector_tail_sampling_traces_decided_early",
            "counter",
            "Traces decided before their decision wait was over, the oldest first, to keep the pending traces within their bounds.",
            &[("", self.traces_decided_early)],
        );
        let mut gauge = |name: &str, help: &str, value: u64| {
            family(text, name, "gauge", help, &[("", value)]);
        };
        gauge(
            "collector_tail_sampling_pending_spans",
            "Spans waiting for their trace's decision now.",
            self.pending_spans,
        );
        gauge(
            "collector_tail_sampling_pending_traces",
            "Traces waiting for their decision now.",
            self.pending_traces,
        );
        gauge(
            "collector_tail_sampling_pending_size_bytes",
            "The estimated bytes of the spans waiting for their trace's decision.",
            self.pending_bytes,
        );
        gauge(
            "collector_tail_sampling_pending_limit_spans",
            "The spans that wait at most; past them, the oldest traces are decided early.",
            self.max_pending_spans,
        );
        gauge(
            "collector_tail_sampling_pending_limit_bytes",
            "The estimated bytes that wait at most; past them, the oldest traces are decided early.",
            self.max_pending_bytes,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_counts_read_back_as_openmetrics() {
        let counts = Counts {
            traces_kept: [1, 2, 3, 4],
            traces_dropped: 90,
            spans_kept: 50,
            pending_spans: 7,
            ..Counts::default()
        };
        let mut text = String::new();
        counts.write_openmetrics(&mut text);
        crate::exposition::end(&mut text);
        let exposition = openmetrics::parse(&text)
            .unwrap_or_else(|err| panic!("not OpenMetrics: {err}\n{text}"));
        let value = |name: &str, labels: &[(&str, &str)]| {
            exposition
                .samples
                .iter()
                .find(|sample| {
                    sample.name == name
                        && labels.iter().all(|(key, value)| {
                            sample.labels.get(*key).map(String::as_str) == Some(*value)
                        })
                })
                .map(|sample| sample.value)
        };
        let traces = "collector_tail_sampling_traces_total";
        assert_eq!(
            value(traces, &[("decision", "kept"), ("rule", "slow")]),
            Some(3.0),
            "{text}"
        );
        assert_eq!(
            value(traces, &[("decision", "dropped")]),
            Some(90.0),
            "{text}"
        );
        assert_eq!(
            value(
                "collector_tail_sampling_spans_total",
                &[("decision", "kept")]
            ),
            Some(50.0),
            "{text}"
        );
        assert_eq!(
            value("collector_tail_sampling_pending_spans", &[]),
            Some(7.0),
            "{text}"
        );
        assert_eq!(
            exposition
                .units
                .get("collector_tail_sampling_pending_size_bytes")
                .map(String::as_str),
            Some("bytes"),
            "{text}"
        );
    }
}
