//! Lab 08, critical paths across many traces: the time a span owns on the
//! path is taken to be its own duration less the durations of its children on
//! the path, read from the spans rather than from the path's sections. That
//! holds while every child lies within its parent; a child that overflows its
//! parent is clamped by the walk, and its whole duration is still subtracted.

use std::collections::{HashMap, HashSet};

pub use lab08_given::{Operation, OperationTime};
pub use reference::{P99_OWNER, PLANTED_PROBLEM};
use trace_analysis::critical_path::critical_path;
use trace_analysis::jaeger::Trace;

/// The time each operation owns on `trace`'s critical path: for every span
/// on the path, its duration less that of its children on the path, added
/// up by the span's operation.
pub fn exclusive_time_by_operation(trace: &Trace) -> HashMap<Operation, u64> {
    let path = critical_path(trace);
    let on_path: HashSet<&str> = path
        .iter()
        .map(|section| section.span_id.as_str())
        .collect();
    let mut owned = HashMap::new();
    for span in trace
        .spans
        .iter()
        .filter(|span| on_path.contains(span.span_id.as_str()))
    {
        let children: u64 = trace
            .spans
            .iter()
            .filter(|child| on_path.contains(child.span_id.as_str()))
            .filter(|child| {
                child
                    .references
                    .first()
                    .is_some_and(|parent| parent.span_id == span.span_id)
            })
            .map(|child| child.duration)
            .sum();
        let operation = Operation::new(trace.service_of(span), &span.operation_name);
        *owned.entry(operation).or_default() += span.duration.saturating_sub(children);
    }
    owned
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
    let mut totals: HashMap<Operation, u64> = HashMap::new();
    let mut count = 0;
    for trace in traces.iter().filter(rooted_at_endpoint) {
        count += 1;
        for (operation, time) in exclusive_time_by_operation(trace) {
            *totals.entry(operation).or_default() += time;
        }
    }
    let mut times: Vec<OperationTime> = totals
        .into_iter()
        .map(|(operation, total_us)| OperationTime {
            operation,
            total_us,
            mean_us: total_us as f64 / count as f64,
        })
        .collect();
    times.sort_by_key(|time| std::cmp::Reverse(time.total_us));
    times
}
