//! A trace as a waterfall in the terminal, with its critical path marked.
//!
//! ```text
//! gateway   POST /orders          ██████████████████████████████  23.4 ms (cpu 1.2 ms) ◆
//! gateway     look_up               ░░████░░░░                       9.1 ms (cpu 0.3 ms) ◆
//! ```
//!
//! Each row is a span, indented under its parent; `█` marks time the span
//! spends on the critical path, `░` time it does not. Beside its duration,
//! the span's own time on a CPU where it carries one
//! ([`crate::cpu_time`]); nothing where it does not. Colours (dropped when
//! the output is not a terminal) tell the services apart.

use std::collections::HashMap;
use std::fmt::Write as _;

use anstyle::{AnsiColor, Style};

use crate::critical_path::{Section, time_by_span};
use crate::jaeger::{JaegerSpan, Trace};

const PALETTE: [AnsiColor; 6] = [
    AnsiColor::Cyan,
    AnsiColor::Magenta,
    AnsiColor::Green,
    AnsiColor::Yellow,
    AnsiColor::Blue,
    AnsiColor::Red,
];

/// The spans in tree order: each parent followed by its children, by start.
pub fn rows(trace: &Trace) -> Vec<(usize, &JaegerSpan)> {
    let ids: HashMap<&str, usize> = trace
        .spans
        .iter()
        .enumerate()
        .map(|(i, s)| (s.span_id.as_str(), i))
        .collect();
    let mut children: HashMap<Option<usize>, Vec<usize>> = HashMap::new();
    for (i, span) in trace.spans.iter().enumerate() {
        let parent = span
            .references
            .iter()
            .find(|r| r.trace_id == span.trace_id)
            .and_then(|r| ids.get(r.span_id.as_str()).copied())
            .filter(|&p| p != i);
        children.entry(parent).or_default().push(i);
    }
    for list in children.values_mut() {
        list.sort_by_key(|&i| (trace.spans[i].start_time, i));
    }
    let mut out = Vec::with_capacity(trace.spans.len());
    let mut stack: Vec<(usize, usize)> = children
        .get(&None)
        .into_iter()
        .flatten()
        .rev()
        .map(|&i| (i, 0))
        .collect();
    while let Some((i, depth)) = stack.pop() {
        out.push((depth, &trace.spans[i]));
        if let Some(kids) = children.get(&Some(i)) {
            stack.extend(kids.iter().rev().map(|&k| (k, depth + 1)));
        }
    }
    out
}

/// Renders `trace` with `path` marked, the bars `width` columns wide.
pub fn waterfall(trace: &Trace, path: &[Section], width: usize) -> String {
    let start = trace.spans.iter().map(|s| s.start_time).min().unwrap_or(0);
    let total = trace.duration().max(1);
    let on_path = time_by_span(path);
    let mut colours: HashMap<&str, Style> = HashMap::new();
    let mut out = String::new();

    let root = trace.root();
    let path_total: u64 = path.iter().map(|s| s.end - s.start).sum();
    let _ = writeln!(
        out,
        "Trace {} · {} {} · {} · {} spans · {} errors",
        trace.trace_id,
        root.map_or("?", |r| trace.service_of(r)),
        root.map_or("?", |r| r.operation_name.as_str()),
        millis(total),
        trace.spans.len(),
        trace.errors()
    );
    let _ = writeln!(
        out,
        "Critical path: {} (█ on the path, ░ off it, ◆ spans on it)",
        millis(path_total)
    );

    let spans = rows(trace);
    // Each span's own CPU time, where it carries one, in a column as wide
    // as its widest text, so that the marks after it line up.
    let cpu: Vec<Option<String>> = spans
        .iter()
        .map(|(_, span)| {
            span.cpu_time_ns()
                .map(|nanos| format!(" ({})", on_cpu(nanos)))
        })
        .collect();
    let cpu_width = cpu
        .iter()
        .flatten()
        .map(|text| text.chars().count())
        .max()
        .unwrap_or(0);
    if cpu_width > 0 {
        let _ = writeln!(
            out,
            "cpu: a span's own time on a CPU, its children's not counted; \
             long on the path and short on a CPU, it waits"
        );
    }

    for ((depth, span), cpu) in spans.into_iter().zip(cpu) {
        let service = trace.service_of(span);
        let next = PALETTE[colours.len() % PALETTE.len()].on_default();
        let style = *colours.entry(service).or_insert(next);
        let mut bar = String::with_capacity(width);
        for column in 0..width {
            let from = start + total * column as u64 / width as u64;
            let to = start + total * (column as u64 + 1) / width as u64;
            let span_end = span.start_time + span.duration;
            let covers = span.start_time < to.max(from + 1) && span_end > from;
            let critical = path
                .iter()
                .any(|s| s.span_id == span.span_id && s.start < to.max(from + 1) && s.end > from);
            bar.push(
                match (
                    covers
                        || (span.duration == 0 && span.start_time >= from && span.start_time < to),
                    critical,
                ) {
                    (_, true) => '█',
                    (true, false) => '░',
                    (false, false) => ' ',
                },
            );
        }
        let label = format!("{}{}", "  ".repeat(depth), span.operation_name);
        let error = if span.tag("error") == Some(&serde_json::Value::Bool(true)) {
            " !"
        } else {
            ""
        };
        let mark = if on_path.contains_key(span.span_id.as_str()) {
            " ◆"
        } else {
            ""
        };
        let cpu = cpu.unwrap_or_default();
        // Padded only for a mark after it: no row ends in spaces.
        let cpu_column = if error.is_empty() && mark.is_empty() {
            0
        } else {
            cpu_width
        };
        let _ = writeln!(
            out,
            "{style}{service:<10}{style:#} {label:<34.34} {style}{bar}{style:#} {:>9}{cpu:<cpu_column$}{error}{mark}",
            millis(span.duration)
        );
    }
    out
}

fn millis(micros: u64) -> String {
    format!("{:.1} ms", micros as f64 / 1000.0)
}

/// A span's own CPU time, from its nanoseconds: `cpu 0.3 ms`.
fn on_cpu(nanos: u64) -> String {
    format!("cpu {:.1} ms", nanos as f64 / 1e6)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cpu_time::CPU_TIME_ATTRIBUTE;
    use crate::critical_path::critical_path;
    use crate::jaeger;
    use crate::model::{Kind, Span, Value};

    fn span(id: u8, parent: Option<u8>, start: u64, end: u64, service: &str) -> Span {
        Span {
            trace_id: "0af7651916cd43dd8448eb211c80319c".to_owned(),
            span_id: format!("{id:016x}"),
            parent_span_id: parent.map(|p| format!("{p:016x}")),
            service: service.to_owned(),
            name: format!("op{id}"),
            kind: Kind::Internal,
            start_us: start,
            duration_us: end - start,
            ..Span::default()
        }
    }

    #[test]
    fn a_spans_cpu_time_is_shown_beside_its_duration_where_it_carries_one() {
        let carrying = |mut span: Span, nanos: i64| {
            span.attributes
                .push((CPU_TIME_ATTRIBUTE.to_owned(), Value::Int(nanos)));
            span
        };
        let trace = jaeger::trace(&[
            carrying(span(1, None, 0, 100_000, "gateway"), 2_500_000),
            span(2, Some(1), 10_000, 50_000, "db"),
            carrying(span(3, Some(1), 60_000, 90_000, "pricing"), 300_000),
        ]);
        let picture = waterfall(&trace, &critical_path(&trace), 10);
        // The rows come last, in tree order.
        let lines: Vec<&str> = picture.lines().collect();
        let [.., op1, op2, op3] = lines.as_slice() else {
            panic!("three rows: {picture}");
        };
        assert!(
            op1.contains("op1") && op1.ends_with("100.0 ms (cpu 2.5 ms) ◆"),
            "{picture}"
        );
        assert!(
            op3.contains("op3") && op3.ends_with("30.0 ms (cpu 0.3 ms) ◆"),
            "{picture}"
        );
        let padding = " ".repeat(" (cpu 0.3 ms)".len());
        assert!(
            op2.contains("op2") && op2.ends_with(&format!("40.0 ms{padding} ◆")),
            "no CPU time, and the mark in line with the others: {picture}"
        );
        assert!(picture.contains("it waits"), "the column is explained");

        let without = jaeger::trace(&[span(1, None, 0, 100_000, "gateway")]);
        let picture = waterfall(&without, &critical_path(&without), 10);
        assert!(!picture.contains("cpu"), "{picture}");
    }

    #[test]
    fn rows_are_in_tree_order_and_the_path_is_marked() {
        let trace = jaeger::trace(&[
            span(1, None, 0, 100_000, "gateway"),
            span(3, Some(1), 60_000, 90_000, "pricing"),
            span(2, Some(1), 10_000, 50_000, "catalog"),
            span(4, Some(2), 20_000, 30_000, "catalog"),
        ]);
        let order: Vec<(usize, &str)> = rows(&trace)
            .iter()
            .map(|(d, s)| (*d, s.operation_name.as_str()))
            .collect();
        assert_eq!(order, [(0, "op1"), (1, "op2"), (2, "op4"), (1, "op3")]);

        let picture = waterfall(&trace, &critical_path(&trace), 10);
        let plain: String = picture.chars().filter(|c| !c.is_control()).collect();
        assert!(
            plain.contains("Trace 0af7651916cd43dd8448eb211c80319c"),
            "{picture}"
        );
        assert!(plain.contains("100.0 ms"), "{picture}");
        let op3 = picture.lines().find(|l| l.contains("op3")).unwrap();
        assert!(
            op3.contains("███") && op3.ends_with('◆'),
            "op3 is on the path: {op3}"
        );
    }
}
