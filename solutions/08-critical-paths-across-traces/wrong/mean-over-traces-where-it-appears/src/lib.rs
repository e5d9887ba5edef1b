//! Lab 08, a wrong solution: each operation's mean is taken over the traces
//! where it is on the critical path, believing an absent operation should
//! not pull its mean down. The README asks for all the endpoint's traces,
//! zero where it is absent, so that the means add up to the mean duration.

use std::collections::HashMap;

pub use lab08_given::{Operation, OperationTime};
pub use reference::{P99_OWNER, PLANTED_PROBLEM, exclusive_time_by_operation};
use trace_analysis::jaeger::Trace;

/// Over the traces whose root span is `endpoint`, each operation's
/// critical-path time: its total, and its mean over the traces where it is
/// on the path. Largest first.
pub fn critical_path_by_operation(traces: &[Trace], endpoint: &Operation) -> Vec<OperationTime> {
    let rooted_at_endpoint = |trace: &&Trace| {
        trace.root().is_some_and(|root| {
            trace.service_of(root) == endpoint.service && root.operation_name == endpoint.name
        })
    };
    // Each operation's total, and the number of traces it was found in.
    let mut totals: HashMap<Operation, (u64, u64)> = HashMap::new();
    for trace in traces.iter().filter(rooted_at_endpoint) {
        for (operation, time) in exclusive_time_by_operation(trace) {
            let (total, traces) = totals.entry(operation).or_default();
            *total += time;
            *traces += 1;
        }
    }
    let mut times: Vec<OperationTime> = totals
        .into_iter()
        .map(|(operation, (total_us, traces))| OperationTime {
            operation,
            total_us,
            mean_us: total_us as f64 / traces as f64,
        })
        .collect();
    times.sort_by_key(|time| std::cmp::Reverse(time.total_us));
    times
}
