//! Lab 05, a wrong solution: `reserve` releases the lock before the audit
//! write, and writes an audit record for every attempt, refused or not. The
//! learner believed an audit log records every attempt; a refused
//! reservation took no seat and must leave no record.

pub use lab05_given::*;
pub mod orders;
