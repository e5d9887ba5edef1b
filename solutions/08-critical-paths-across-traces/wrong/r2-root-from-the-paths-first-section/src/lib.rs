//! Lab 08, critical paths across many traces: the walk starts at the root's
//! end, so the span of the path's first section is taken for the root. It is
//! the root's only while the root ends after its last child; when a child
//! ends with the root (or overflows it), the first section is the child's.

use std::collections::HashMap;

pub use lab08_given::{Operation, OperationTime};
pub use reference::{P99_OWNER, PLANTED_PROBLEM, exclusive_time_by_operation};
use trace_analysis::critical_path::critical_path;
use trace_analysis::jaeger::Trace;

/// Over the traces whose root span is `endpoint`, each operation's
/// critical-path time: its total, and its mean over all those traces,
/// counting zero where it is off the path. Largest first.
pub fn critical_path_by_operation(traces: &[Trace], endpoint: &Operation) -> Vec<OperationTime> {
    let rooted_at_endpoint = |trace: &&Trace| {
        // The path is walked from the root's end: its first section is the
        // root's.
        let path = critical_path(trace);
        let root = path.first().and_then(|section| {
            trace
                .spans
                .iter()
                .find(|span| span.span_id == section.span_id)
        });
        root.is_some_and(|root| {
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
