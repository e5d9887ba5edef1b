//! Lab 08, critical paths across many traces.
//!
//! Run `just lab 8` to check your work, `just hint 8` when stuck.

use std::collections::HashMap;

use collector::jaeger::Trace;
pub use lab08_given::{Operation, OperationTime};

/// The time each operation owns on `trace`'s critical path: for every span
/// on the path, the length of its sections, added up by the span's
/// operation. An operation off the path may be left out.
#[expect(unused_variables, reason = "step 1 reads the trace")]
pub fn exclusive_time_by_operation(trace: &Trace) -> HashMap<Operation, u64> {
    // TODO(step 1): walk `collector::critical_path::critical_path(trace)`:
    // each section names its span (`span_id`) and a stretch of time.
    HashMap::new()
}

/// Over the traces whose root span is `endpoint` (the others are left
/// out), each operation's critical-path time: its total, and its mean over
/// all those traces, counting zero where it is off the path.
#[expect(unused_variables, reason = "step 2 adds the traces up")]
pub fn critical_path_by_operation(traces: &[Trace], endpoint: &Operation) -> Vec<OperationTime> {
    // TODO(step 2): keep the endpoint's traces (`Trace::root`,
    // `Trace::service_of`), add their step-1 times up per operation, and
    // divide by how many traces were kept.
    Vec::new()
}

/// The operation that owns most of the p99 band's critical path in this
/// lab's `recording/`, as `just crisp` names it (`"service operation"`).
// TODO(step 3): run `just crisp labs/08-critical-paths-across-traces/recording`.
pub const P99_OWNER: &str = "";

/// The number of the planted problem behind it (the table in
/// `demo-services/README.md`).
// TODO(step 3): which planted problem makes that operation slow?
pub const PLANTED_PROBLEM: u8 = 0;
