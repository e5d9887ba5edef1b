//! Lab 08's given code: the names the starter, the solution and the grader
//! share. Not yours to edit (the grader checks it has not changed).

use std::fmt;

/// An operation, as `just crisp` names it: the service and the span's name
/// (`inventory reserve`). Two services may both have a `GET /health`: they
/// are two operations.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Operation {
    pub service: String,
    pub name: String,
}

impl Operation {
    pub fn new(service: &str, name: &str) -> Self {
        Self {
            service: service.to_owned(),
            name: name.to_owned(),
        }
    }
}

impl fmt::Display for Operation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.service, self.name)
    }
}

/// How much of an endpoint's critical path one operation owns, over a set
/// of traces.
#[derive(Clone, Debug, PartialEq)]
pub struct OperationTime {
    pub operation: Operation,
    /// Microseconds, added up over the traces.
    pub total_us: u64,
    /// `total_us` over the number of the endpoint's traces: every one of
    /// them, including those where the operation is not on the path.
    pub mean_us: f64,
}
