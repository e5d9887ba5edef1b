//! Lab 08, critical paths across many traces: the reference solution.

use std::collections::HashMap;

pub use lab08_given::{Operation, OperationTime};
use trace_analysis::critical_path::critical_path;
use trace_analysis::jaeger::Trace;

/// The time each operation owns on `trace`'s critical path: for every span
/// on the path, the length of its sections, added up by the span's
/// operation.
pub fn exclusive_time_by_operation(trace: &Trace) -> HashMap<Operation, u64> {
    let operations: HashMap<&str, Operation> = trace
        .spans
        .iter()
        .map(|span| {
            let operation = Operation::new(trace.service_of(span), &span.operation_name);
            (span.span_id.as_str(), operation)
        })
        .collect();
    let mut owned = HashMap::new();
    for section in critical_path(trace) {
        let operation = operations[section.span_id.as_str()].clone();
        *owned.entry(operation).or_default() += section.end - section.start;
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

/// The operation that owns most of the p99 band's critical path in this
/// lab's `recording/`, as `just crisp` names it.
pub const P99_OWNER: &str = "inventory reserve";

/// Planted problem 2: the seat lock is held across the audit write's
/// `.await`, so reservations queue behind each other.
pub const PLANTED_PROBLEM: u8 = 2;
