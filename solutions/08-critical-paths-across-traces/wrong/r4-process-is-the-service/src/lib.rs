//! Lab 08, critical paths across many traces: a wrong solution. Each
//! process is taken to be one service's, so `exclusive_time_by_operation`
//! keys the sections' times by process id and span name, and names each key
//! after its process's service only at the end. When one service runs as
//! two processes, two keys get the same `Operation`, and collecting them
//! into the map keeps one of the two times. `critical_path_by_operation`
//! is the reference's, over this version of step 1; the answers of step 3
//! are the reference's.

use std::collections::HashMap;

pub use lab08_given::{Operation, OperationTime};
pub use reference::{P99_OWNER, PLANTED_PROBLEM};
use trace_analysis::critical_path::critical_path;
use trace_analysis::jaeger::{JaegerSpan, Trace};

/// The time each operation owns on `trace`'s critical path: each section's
/// length, added up under its span's process and name.
pub fn exclusive_time_by_operation(trace: &Trace) -> HashMap<Operation, u64> {
    let spans: HashMap<&str, &JaegerSpan> = trace
        .spans
        .iter()
        .map(|span| (span.span_id.as_str(), span))
        .collect();
    // A process is a service: its id is as good a key as the service's name.
    let mut by_process: HashMap<(&str, &str), u64> = HashMap::new();
    for section in critical_path(trace) {
        let span = spans[section.span_id.as_str()];
        let key = (span.process_id.as_str(), span.operation_name.as_str());
        *by_process.entry(key).or_default() += section.end - section.start;
    }
    by_process
        .into_iter()
        .map(|((process, name), time)| {
            let service = trace
                .processes
                .get(process)
                .map_or("unknown", |found| found.service_name.as_str());
            (Operation::new(service, name), time)
        })
        .collect()
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
