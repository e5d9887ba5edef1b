//! Lab 05, context across tasks: another correct design. `handle_order`
//! makes the order's span itself with `info_span!` instead of
//! `#[instrument]`, and hands that span by name to every move: each
//! reservation's call to `reserve` is instrumented with it inside its task,
//! the blocking closure enters it, and the receipt's link is read from it.
//! Nothing asks for the current span. `reserve`, the receipt and the mailer
//! are the reference's.

pub use lab05_given::*;
pub mod orders;
