//! Lab 05, a wrong solution: each reservation task is handed the order's
//! span, taken on the order's task before the spawn, and enters it around
//! the call to `reserve` with `Span::in_scope`, as the blocking closure
//! does around `render_invoice`. The learner believed the call makes the
//! `reserve` span; an `async fn` makes it when its future is first polled,
//! after `in_scope` has returned, where no span is current, so each
//! `reserve` span still starts a trace of its own.

pub use lab05_given::*;
pub mod orders;
