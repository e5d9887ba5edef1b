//! Lab 08, critical paths across many traces: another correct design. Each
//! section's operation is found through a map from span id to span; the
//! endpoint's traces are folded into an accumulator (how many traces, and a
//! `BTreeMap` of totals), which hands the times out in operation order.

use std::collections::{BTreeMap, HashMap};

pub use lab08_given::{Operation, OperationTime};
pub use reference::{P99_OWNER, PLANTED_PROBLEM};
use trace_analysis::critical_path::critical_path;
use trace_analysis::jaeger::{JaegerSpan, Trace};

/// The time each operation owns on `trace`'s critical path: for every span
/// on the path, the length of its sections, added up by the span's
/// operation.
pub fn exclusive_time_by_operation(trace: &Trace) -> HashMap<Operation, u64> {
    let spans: HashMap<&str, &JaegerSpan> = trace
        .spans
        .iter()
        .map(|span| (span.span_id.as_str(), span))
        .collect();
    critical_path(trace)
        .into_iter()
        .fold(HashMap::new(), |mut owned, section| {
            let span = spans[section.span_id.as_str()];
            let operation = Operation::new(trace.service_of(span), &span.operation_name);
            *owned.entry(operation).or_insert(0) += section.end - section.start;
            owned
        })
}

/// One endpoint's traces, added up as they come.
#[derive(Default)]
struct Endpoint {
    traces: u64,
    totals: BTreeMap<Operation, u64>,
}

impl Endpoint {
    fn add(mut self, trace: &Trace) -> Self {
        self.traces += 1;
        for (operation, time) in exclusive_time_by_operation(trace) {
            *self.totals.entry(operation).or_insert(0) += time;
        }
        self
    }

    /// Each operation's total and its mean over every trace added.
    fn times(self) -> Vec<OperationTime> {
        let traces = self.traces as f64;
        self.totals
            .into_iter()
            .map(|(operation, total_us)| OperationTime {
                operation,
                total_us,
                mean_us: total_us as f64 / traces,
            })
            .collect()
    }
}

/// Whether the trace's root span, the earliest without a parent in it, is
/// the endpoint.
fn is_rooted_at(trace: &Trace, endpoint: &Operation) -> bool {
    let Some(root) = trace.root() else {
        return false;
    };
    Operation::new(trace.service_of(root), &root.operation_name) == *endpoint
}

/// Over the traces whose root span is `endpoint`, each operation's
/// critical-path time: its total, and its mean over all those traces,
/// counting zero where it is off the path. In operation order.
pub fn critical_path_by_operation(traces: &[Trace], endpoint: &Operation) -> Vec<OperationTime> {
    traces
        .iter()
        .filter(|trace| is_rooted_at(trace, endpoint))
        .fold(Endpoint::default(), |endpoint, trace| endpoint.add(trace))
        .times()
}
