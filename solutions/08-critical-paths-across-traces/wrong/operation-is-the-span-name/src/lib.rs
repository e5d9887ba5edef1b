//! Lab 08, a wrong solution: the sections are added up by span name,
//! believing an operation is its span's name and the service only a label
//! (the one of the first span seen with that name). Two services' `GET
//! /health` become one operation.

use std::collections::HashMap;

pub use lab08_given::{Operation, OperationTime};
pub use reference::{P99_OWNER, PLANTED_PROBLEM};
use trace_analysis::critical_path::critical_path;
use trace_analysis::jaeger::{JaegerSpan, Trace};

/// The time each operation owns on `trace`'s critical path: for every span
/// on the path, the length of its sections, added up by the span's name.
pub fn exclusive_time_by_operation(trace: &Trace) -> HashMap<Operation, u64> {
    let spans: HashMap<&str, &JaegerSpan> = trace
        .spans
        .iter()
        .map(|span| (span.span_id.as_str(), span))
        .collect();
    let mut by_name: HashMap<&str, (Operation, u64)> = HashMap::new();
    for section in critical_path(trace) {
        let span = spans[section.span_id.as_str()];
        let (_, owned) = by_name
            .entry(span.operation_name.as_str())
            .or_insert_with(|| {
                (
                    Operation::new(trace.service_of(span), &span.operation_name),
                    0,
                )
            });
        *owned += section.end - section.start;
    }
    by_name.into_values().collect()
}

/// Over the traces whose root span is `endpoint`, each operation's
/// critical-path time: its total, and its mean over all those traces,
/// counting zero where it is off the path. Largest first.
pub fn critical_path_by_operation(traces: &[Trace], endpoint: &Operation) -> Vec<OperationTime> {
    let rooted_at_endpoint = |trace: &&Trace| {
        trace.root().is_some_and(|root| {
            trace.service_of(root) == endpoint.service && root.operation_name == endpoint.name
        })
    };
    // By span name: the first trace's service names the operation.
    let mut totals: HashMap<String, (Operation, u64)> = HashMap::new();
    let mut count = 0;
    for trace in traces.iter().filter(rooted_at_endpoint) {
        count += 1;
        for (operation, time) in exclusive_time_by_operation(trace) {
            let (_, total) = totals
                .entry(operation.name.clone())
                .or_insert_with(|| (operation, 0));
            *total += time;
        }
    }
    let mut times: Vec<OperationTime> = totals
        .into_values()
        .map(|(operation, total_us)| OperationTime {
            operation,
            total_us,
            mean_us: total_us as f64 / count as f64,
        })
        .collect();
    times.sort_by_key(|time| std::cmp::Reverse(time.total_us));
    times
}
