//! Lab 05, context across tasks: a wrong solution. The invoice's blocking
//! task is handled like the reservation tasks: its `JoinHandle` is a future
//! too, so it is given the order's span with `in_current_span`, on the view
//! that the span then goes with the closure to the blocking pool. The
//! reservations, the receipt and `reserve` are the reference's.

pub use lab05_given::*;
pub mod orders;
