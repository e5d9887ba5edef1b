//! Lab 08, critical paths across many traces: another correct design. The
//! crate's index-based functions do the walk: `Trace::views` gives each
//! span's service and name, `critical_path::timings` its parent by index,
//! `critical_path::root` the root's index and `critical_path::sections` the
//! path as `(index, start, end)`, so each section's operation is read from
//! the view at its index, with no map from span id to span. Step 2 works out
//! each trace's timings once, for its root and for its path. The answers of
//! step 3 are the reference's.

use std::collections::HashMap;

pub use lab08_given::{Operation, OperationTime};
pub use reference::{P99_OWNER, PLANTED_PROBLEM};
use trace_analysis::critical_path::{self, Timing};
use trace_analysis::jaeger::Trace;
use trace_analysis::span_view::SpanView;

/// The time each operation owns on the critical path of the trace whose
/// spans are `views` (and `timings`, in the same order): each section's
/// length, added up under the operation of the span at its index.
fn owned_by_operation(views: &[SpanView<'_>], timings: &[Timing]) -> HashMap<Operation, u64> {
    let mut owned = HashMap::new();
    for (span, start, end) in critical_path::sections(timings) {
        let view = &views[span];
        *owned
            .entry(Operation::new(view.service, view.operation))
            .or_default() += end - start;
    }
    owned
}

/// The time each operation owns on `trace`'s critical path: for every span
/// on the path, the length of its sections, added up by the span's
/// operation.
pub fn exclusive_time_by_operation(trace: &Trace) -> HashMap<Operation, u64> {
    let views = trace.views();
    owned_by_operation(&views, &critical_path::timings(&views))
}

/// Over the traces whose root span is `endpoint`, each operation's
/// critical-path time: its total, and its mean over all those traces,
/// counting zero where it is off the path. Largest first.
pub fn critical_path_by_operation(traces: &[Trace], endpoint: &Operation) -> Vec<OperationTime> {
    let mut totals: HashMap<Operation, u64> = HashMap::new();
    let mut count: u64 = 0;
    for trace in traces {
        let views = trace.views();
        let timings = critical_path::timings(&views);
        let Some(root) = critical_path::root(&timings) else {
            continue;
        };
        let root = &views[root];
        if root.service != endpoint.service || root.operation != endpoint.name {
            continue;
        }
        count += 1;
        for (operation, time) in owned_by_operation(&views, &timings) {
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
    times.sort_by(|a, b| {
        b.total_us
            .cmp(&a.total_us)
            .then_with(|| a.operation.cmp(&b.operation))
    });
    times
}
