//! Lab 08, critical paths across many traces: a wrong solution. Every span
//! below the root owns its sections of the critical path, and the root is
//! given what is left of the trace's duration (`Trace::duration`, from the
//! first start to the last end), so that the times add up by construction.
//! That is the root's own time only while every span lies within the root;
//! a job that outlives the request, or a child that overflows the root,
//! lengthens the trace and the root is given that time too.
//! `critical_path_by_operation` is the reference's, over this version of
//! step 1; the answers of step 3 are the reference's.

use std::collections::HashMap;

pub use lab08_given::{Operation, OperationTime};
pub use reference::{P99_OWNER, PLANTED_PROBLEM};
use trace_analysis::critical_path::critical_path;
use trace_analysis::jaeger::Trace;

/// The time each operation owns on `trace`'s critical path: each section
/// below the root, added up by its span's operation, and the rest of the
/// trace's duration for the root's operation.
pub fn exclusive_time_by_operation(trace: &Trace) -> HashMap<Operation, u64> {
    let Some(root) = trace.root() else {
        return HashMap::new();
    };
    let operations: HashMap<&str, Operation> = trace
        .spans
        .iter()
        .map(|span| {
            let operation = Operation::new(trace.service_of(span), &span.operation_name);
            (span.span_id.as_str(), operation)
        })
        .collect();
    let mut owned: HashMap<Operation, u64> = HashMap::new();
    let mut below_root: u64 = 0;
    for section in critical_path(trace) {
        if section.span_id == root.span_id {
            continue;
        }
        let time = section.end - section.start;
        below_root += time;
        *owned
            .entry(operations[section.span_id.as_str()].clone())
            .or_default() += time;
    }
    // The root owns whatever of the request its calls did not.
    let root_operation = Operation::new(trace.service_of(root), &root.operation_name);
    *owned.entry(root_operation).or_default() += trace.duration().saturating_sub(below_root);
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
