//! Lab 08, critical paths across many traces: another correct design. Each
//! section's span is found by a search of the trace's spans (no index is
//! built), totals are kept in a `BTreeMap`, the endpoint's traces are
//! collected before anything is added up, and the result is sorted by mean,
//! largest first.

use std::collections::{BTreeMap, HashMap};

pub use lab08_given::{Operation, OperationTime};
pub use reference::{P99_OWNER, PLANTED_PROBLEM};
use trace_analysis::critical_path::critical_path;
use trace_analysis::jaeger::Trace;

/// The time each operation owns on `trace`'s critical path: for every span
/// on the path, the length of its sections, added up by the span's
/// operation.
pub fn exclusive_time_by_operation(trace: &Trace) -> HashMap<Operation, u64> {
    let mut owned = HashMap::new();
    for section in critical_path(trace) {
        let Some(span) = trace
            .spans
            .iter()
            .find(|span| span.span_id == section.span_id)
        else {
            continue;
        };
        let operation = Operation::new(trace.service_of(span), &span.operation_name);
        *owned.entry(operation).or_insert(0) += section.end - section.start;
    }
    owned
}

/// Whether `trace`'s root span is `endpoint`.
fn is_rooted_at(trace: &Trace, endpoint: &Operation) -> bool {
    match trace.root() {
        Some(root) => {
            root.operation_name == endpoint.name && trace.service_of(root) == endpoint.service
        }
        None => false,
    }
}

/// Over the traces whose root span is `endpoint`, each operation's
/// critical-path time: its total, and its mean over all those traces,
/// counting zero where it is off the path. Largest mean first.
pub fn critical_path_by_operation(traces: &[Trace], endpoint: &Operation) -> Vec<OperationTime> {
    let of_endpoint: Vec<&Trace> = traces
        .iter()
        .filter(|trace| is_rooted_at(trace, endpoint))
        .collect();
    if of_endpoint.is_empty() {
        return Vec::new();
    }
    let mut totals: BTreeMap<Operation, u64> = BTreeMap::new();
    for trace in &of_endpoint {
        for (operation, time) in exclusive_time_by_operation(trace) {
            *totals.entry(operation).or_insert(0) += time;
        }
    }
    let count = of_endpoint.len() as f64;
    let mut times: Vec<OperationTime> = totals
        .into_iter()
        .map(|(operation, total_us)| OperationTime {
            operation,
            total_us,
            mean_us: total_us as f64 / count,
        })
        .collect();
    times.sort_by(|a, b| b.mean_us.total_cmp(&a.mean_us));
    times
}
