//! Lab 08, critical paths across many traces: a wrong solution. An endpoint
//! is taken to be a route (`POST /orders`), so a trace counts when its root
//! span has the endpoint's name, whichever service served it. The root is
//! found as the reference finds it; the service is never compared, so a
//! trace rooted at the same name in another service is added in too.
//! `exclusive_time_by_operation` and the answers of step 3 are the
//! reference's.

use std::collections::HashMap;

pub use lab08_given::{Operation, OperationTime};
pub use reference::{P99_OWNER, PLANTED_PROBLEM, exclusive_time_by_operation};
use trace_analysis::jaeger::Trace;

/// Over the traces whose root span has `endpoint`'s name, each operation's
/// critical-path time: its total, and its mean over all those traces,
/// counting zero where it is off the path. Largest first.
pub fn critical_path_by_operation(traces: &[Trace], endpoint: &Operation) -> Vec<OperationTime> {
    // The endpoint is its route: the root's name says which it is.
    let rooted_at_endpoint = |trace: &&Trace| {
        trace
            .root()
            .is_some_and(|root| root.operation_name == endpoint.name)
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
