//! Lab 08, a wrong solution: every span that has a section on the critical
//! path is given its whole duration, believing a span on the path owns its
//! time. While a child on the path runs, that time is the child's: the
//! times count it twice and no longer add up to the root's duration.

use std::collections::{HashMap, HashSet};

pub use lab08_given::{Operation, OperationTime};
pub use reference::{P99_OWNER, PLANTED_PROBLEM};
use trace_analysis::critical_path::critical_path;
use trace_analysis::jaeger::Trace;

/// The time each operation owns on `trace`'s critical path: the duration
/// of each span on the path, added up by the span's operation.
pub fn exclusive_time_by_operation(trace: &Trace) -> HashMap<Operation, u64> {
    let on_path: HashSet<String> = critical_path(trace)
        .into_iter()
        .map(|section| section.span_id)
        .collect();
    let mut owned = HashMap::new();
    for span in trace
        .spans
        .iter()
        .filter(|span| on_path.contains(&span.span_id))
    {
        let operation = Operation::new(trace.service_of(span), &span.operation_name);
        *owned.entry(operation).or_default() += span.duration;
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
