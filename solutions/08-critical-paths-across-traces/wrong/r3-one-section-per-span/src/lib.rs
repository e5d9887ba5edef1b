//! Lab 08, critical paths across many traces: a wrong solution. Each span
//! on the critical path is taken to have one section, its stretch of the
//! path: `exclusive_time_by_operation` gathers the sections into a map by
//! span id, one length per span, then adds those up by operation.
//! `critical_path_by_operation` is the reference's, over this version of
//! step 1; the answers of step 3 are the reference's.

use std::collections::HashMap;

pub use lab08_given::{Operation, OperationTime};
pub use reference::{P99_OWNER, PLANTED_PROBLEM};
use trace_analysis::critical_path::critical_path;
use trace_analysis::jaeger::Trace;

/// The time each operation owns on `trace`'s critical path: each span on
/// the path has its stretch of it, added up by the span's operation.
pub fn exclusive_time_by_operation(trace: &Trace) -> HashMap<Operation, u64> {
    let path = critical_path(trace);
    let stretch: HashMap<&str, u64> = path
        .iter()
        .map(|section| (section.span_id.as_str(), section.end - section.start))
        .collect();
    let mut owned = HashMap::new();
    for span in &trace.spans {
        if let Some(&time) = stretch.get(span.span_id.as_str()) {
            let operation = Operation::new(trace.service_of(span), &span.operation_name);
            *owned.entry(operation).or_default() += time;
        }
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
