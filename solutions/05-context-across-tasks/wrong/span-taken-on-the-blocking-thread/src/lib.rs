//! Lab 05, a wrong solution: the blocking closure calls `Span::current()`
//! itself, believing the current span follows the work to the blocking
//! pool. On that thread no span is current, so `render_invoice` starts a
//! trace of its own.

pub use lab05_given::*;
pub mod orders;
