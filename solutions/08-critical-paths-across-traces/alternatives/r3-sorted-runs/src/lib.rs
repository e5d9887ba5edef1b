//! Lab 08, critical paths across many traces: another correct design.
//! Step 1 finds each section's span through a map of the trace's spans by
//! id and adds its time under the span's borrowed service and name, making
//! each `Operation` once, at the end. Step 2 keeps the traces whose root's
//! `Operation` is the endpoint, puts every (operation, time) of theirs in
//! one list, sorts it, and totals each run of one operation with
//! `chunk_by`; no map is kept across traces. The answers of step 3 are the
//! reference's.

use std::collections::HashMap;

pub use lab08_given::{Operation, OperationTime};
pub use reference::{P99_OWNER, PLANTED_PROBLEM};
use trace_analysis::critical_path::critical_path;
use trace_analysis::jaeger::{JaegerSpan, Trace};

/// The time each operation owns on `trace`'s critical path: each section's
/// length, added up under its span's service and name.
pub fn exclusive_time_by_operation(trace: &Trace) -> HashMap<Operation, u64> {
    let spans: HashMap<&str, &JaegerSpan> = trace
        .spans
        .iter()
        .map(|span| (span.span_id.as_str(), span))
        .collect();
    let mut owned: HashMap<(&str, &str), u64> = HashMap::new();
    for section in critical_path(trace) {
        let span = spans[section.span_id.as_str()];
        let key = (trace.service_of(span), span.operation_name.as_str());
        *owned.entry(key).or_default() += section.end - section.start;
    }
    owned
        .into_iter()
        .map(|((service, name), time)| (Operation::new(service, name), time))
        .collect()
}

/// Over the traces whose root span is `endpoint`, each operation's
/// critical-path time: its total, and its mean over all those traces,
/// counting zero where it is off the path. In operation order.
pub fn critical_path_by_operation(traces: &[Trace], endpoint: &Operation) -> Vec<OperationTime> {
    let of_endpoint: Vec<&Trace> = traces
        .iter()
        .filter(|trace| {
            trace.root().is_some_and(|root| {
                Operation::new(trace.service_of(root), &root.operation_name) == *endpoint
            })
        })
        .collect();
    let mut times: Vec<(Operation, u64)> = of_endpoint
        .iter()
        .copied()
        .flat_map(exclusive_time_by_operation)
        .collect();
    times.sort_unstable();
    let count = of_endpoint.len() as f64;
    times
        .chunk_by(|(one, _), (other, _)| one == other)
        .map(|run| {
            let operation = run[0].0.clone();
            let total_us: u64 = run.iter().map(|(_, time)| time).sum();
            OperationTime {
                operation,
                total_us,
                mean_us: total_us as f64 / count,
            }
        })
        .collect()
}
