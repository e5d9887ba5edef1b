//! Lab 08, critical paths across many traces: a wrong solution. A mean is
//! to be over all the traces, zero where the operation is absent; "all the
//! traces" is read as all those passed in, so each total, added up over the
//! endpoint's traces only, is divided by `traces.len()`. While every trace
//! given is the endpoint's, that is the right count; a trace of another
//! endpoint in the set makes every mean too small, and the means no longer
//! add up to the endpoint's mean duration. `exclusive_time_by_operation`
//! and the answers of step 3 are the reference's.

use std::collections::HashMap;

pub use lab08_given::{Operation, OperationTime};
pub use reference::{P99_OWNER, PLANTED_PROBLEM, exclusive_time_by_operation};
use trace_analysis::jaeger::Trace;

/// Over the traces whose root span is `endpoint`, each operation's
/// critical-path time: its total, and its mean over all the traces, counting
/// zero where it is off the path. Largest first.
pub fn critical_path_by_operation(traces: &[Trace], endpoint: &Operation) -> Vec<OperationTime> {
    let rooted_at_endpoint = |trace: &&Trace| {
        trace.root().is_some_and(|root| {
            trace.service_of(root) == endpoint.service && root.operation_name == endpoint.name
        })
    };
    let mut totals: HashMap<Operation, u64> = HashMap::new();
    for trace in traces.iter().filter(rooted_at_endpoint) {
        for (operation, time) in exclusive_time_by_operation(trace) {
            *totals.entry(operation).or_default() += time;
        }
    }
    // Over every trace, zero where the operation is absent.
    let every_trace = traces.len() as f64;
    let mut times: Vec<OperationTime> = totals
        .into_iter()
        .map(|(operation, total_us)| OperationTime {
            operation,
            total_us,
            mean_us: total_us as f64 / every_trace,
        })
        .collect();
    times.sort_by_key(|time| std::cmp::Reverse(time.total_us));
    times
}
