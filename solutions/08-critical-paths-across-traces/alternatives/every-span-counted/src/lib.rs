//! Lab 08, another correct design: the collector's per-span totals of the
//! critical path (`time_by_span`), and every operation of the endpoint's
//! traces listed, with zero where it is never on the path.

use std::collections::{BTreeMap, HashMap};

pub use lab08_given::{Operation, OperationTime};
pub use reference::{P99_OWNER, PLANTED_PROBLEM};
use trace_analysis::critical_path::{critical_path, time_by_span};
use trace_analysis::jaeger::Trace;

pub fn exclusive_time_by_operation(trace: &Trace) -> HashMap<Operation, u64> {
    let path = critical_path(trace);
    let on_path = time_by_span(&path);
    trace
        .spans
        .iter()
        .map(|span| {
            let operation = Operation::new(trace.service_of(span), &span.operation_name);
            let time = on_path.get(span.span_id.as_str()).copied().unwrap_or(0);
            (operation, time)
        })
        .fold(HashMap::new(), |mut owned, (operation, time)| {
            *owned.entry(operation).or_insert(0) += time;
            owned
        })
}

pub fn critical_path_by_operation(traces: &[Trace], endpoint: &Operation) -> Vec<OperationTime> {
    let of_endpoint: Vec<&Trace> = traces
        .iter()
        .filter(|trace| {
            trace.root().is_some_and(|root| {
                Operation::new(trace.service_of(root), &root.operation_name) == *endpoint
            })
        })
        .collect();
    let totals = of_endpoint
        .iter()
        .flat_map(|trace| exclusive_time_by_operation(trace))
        .fold(
            BTreeMap::<Operation, u64>::new(),
            |mut totals, (op, time)| {
                *totals.entry(op).or_insert(0) += time;
                totals
            },
        );
    let traces = of_endpoint.len().max(1) as f64;
    totals
        .into_iter()
        .map(|(operation, total_us)| OperationTime {
            operation,
            total_us,
            mean_us: total_us as f64 / traces,
        })
        .collect()
}
