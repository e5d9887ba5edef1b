//! Lab 08, critical paths across many traces.
//!
//! Run `just lab 8` to check your work, `just hint 8` when stuck.

use std::collections::HashMap;

pub use lab08_given::{Operation, OperationTime};
use trace_analysis::jaeger::Trace;

/// The time each operation owns on `trace`'s critical path, its exclusive
/// critical-path time (README, Background). An operation off the path may
/// be left out.
#[expect(unused_variables, reason = "step 1 reads the trace")]
pub fn exclusive_time_by_operation(trace: &Trace) -> HashMap<Operation, u64> {
    // TODO(step 1): decide whose each stretch of the trace's critical path
    // is, and add them up per operation; work a small trace by hand first
    // (README step 1). Where to look: `trace_analysis::critical_path::critical_path`
    // and its `Section` type, and `Trace::service_of`.
    HashMap::new()
}

/// Over the traces of `endpoint` (the others are left out), each
/// operation's critical-path time: its total and its mean, such that the
/// means add up to the mean trace duration (see [`OperationTime`]).
#[expect(unused_variables, reason = "step 2 adds the traces up")]
pub fn critical_path_by_operation(traces: &[Trace], endpoint: &Operation) -> Vec<OperationTime> {
    // TODO(step 2): decide which traces are the endpoint's, and what each
    // operation's total is divided by, so that the means add up to the mean
    // trace duration; check your choice on three small traces by hand
    // (README step 2). Where to look: `Trace::root`, and the doc of
    // `OperationTime::mean_us`.
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
