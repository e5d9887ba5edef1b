//! Lab 08, a wrong solution: the aggregation is right, but the p99's owner
//! is named as the slow write the seat lock is held across (the span that
//! takes the time), not the operation whose critical-path time `just crisp`
//! ranks first, the one that waits for the lock.

pub use lab08_given::{Operation, OperationTime};
pub use reference::{critical_path_by_operation, exclusive_time_by_operation};

/// The operation that owns most of the p99 band's critical path in this
/// lab's `recording/`, as `just crisp` names it.
pub const P99_OWNER: &str = "inventory write_audit_record";

/// Planted problem 2: the seat lock is held across the audit write's
/// `.await`, so reservations queue behind each other.
pub const PLANTED_PROBLEM: u8 = 2;
