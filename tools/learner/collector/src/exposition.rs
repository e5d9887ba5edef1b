//! The collector's `GET /metrics` as OpenMetrics text, written one family
//! at a time: the store's ([`crate::store::Stats`]) and, when it samples at
//! the tail, the sampler's ([`crate::tail_sampling::Counts`]), then the
//! exposition's end.

use std::fmt::Write as _;

/// One metric family and its samples, each its labels (`{reason="x"}`, or
/// empty) and its value. As OpenMetrics asks, a counter's samples are named
/// `…_total`, and a family named `…_bytes` says its unit.
pub(crate) fn family(
    text: &mut String,
    name: &str,
    kind: &str,
    help: &str,
    samples: &[(&str, u64)],
) {
    let _ = writeln!(text, "# TYPE {name} {kind}");
    if name.ends_with("_bytes") {
        let _ = writeln!(text, "# UNIT {name} bytes");
    }
    let _ = writeln!(text, "# HELP {name} {help}");
    let suffix = if kind == "counter" { "_total" } else { "" };
    for (labels, value) in samples {
        let _ = writeln!(text, "{name}{suffix}{labels} {value}");
    }
}

/// Ends an exposition: a scraper reads nothing after it.
pub(crate) fn end(text: &mut String) {
    text.push_str("# EOF\n");
}
