//! Lab 08, critical paths across many traces: another correct design. The
//! traces are split into one share per core; each share is added up on a
//! scoped thread (how many of its traces are the endpoint's, and each
//! operation's total over them), and the shares are merged before any mean
//! is taken, so the totals are whole microseconds added in any order and
//! each mean is one division by the endpoint's whole count. Step 1 and the
//! answers of step 3 are the reference's.

use std::collections::HashMap;
use std::thread;

pub use lab08_given::{Operation, OperationTime};
pub use reference::{P99_OWNER, PLANTED_PROBLEM, exclusive_time_by_operation};
use trace_analysis::jaeger::Trace;

/// One share of the traces, added up: how many of them are rooted at
/// `endpoint`, and each operation's critical-path time over those.
fn add_up(traces: &[Trace], endpoint: &Operation) -> (u64, HashMap<Operation, u64>) {
    let mut count = 0;
    let mut totals = HashMap::new();
    for trace in traces {
        let Some(root) = trace.root() else {
            continue;
        };
        if trace.service_of(root) != endpoint.service || root.operation_name != endpoint.name {
            continue;
        }
        count += 1;
        for (operation, time) in exclusive_time_by_operation(trace) {
            *totals.entry(operation).or_default() += time;
        }
    }
    (count, totals)
}

/// Over the traces whose root span is `endpoint`, each operation's
/// critical-path time: its total, and its mean over all those traces,
/// counting zero where it is off the path. Largest first.
pub fn critical_path_by_operation(traces: &[Trace], endpoint: &Operation) -> Vec<OperationTime> {
    let cores = thread::available_parallelism().map_or(1, usize::from);
    let share = traces.len().div_ceil(cores).max(1);
    let shares: Vec<(u64, HashMap<Operation, u64>)> = thread::scope(|scope| {
        let workers: Vec<_> = traces
            .chunks(share)
            .map(|chunk| scope.spawn(move || add_up(chunk, endpoint)))
            .collect();
        workers
            .into_iter()
            .map(|worker| {
                worker
                    .join()
                    .expect("adding up a share of the traces panicked")
            })
            .collect()
    });
    let mut count: u64 = 0;
    let mut totals: HashMap<Operation, u64> = HashMap::new();
    for (share_count, share_totals) in shares {
        count += share_count;
        for (operation, total) in share_totals {
            *totals.entry(operation).or_default() += total;
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
