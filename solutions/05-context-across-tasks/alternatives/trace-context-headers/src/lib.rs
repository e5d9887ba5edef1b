//! Lab 05, context across tasks: another correct design. The queued receipt
//! carries the order's span context as W3C trace-context headers
//! (`traceparent`), as a message on a broker would, and the mailer extracts
//! them to link its `send_receipt` span, made by `#[instrument]`. The
//! reservation tasks are collected into the `JoinSet`, the blocking closure
//! enters the span with `Span::entered`, and the seat is taken in a function
//! of its own, whose lock guard ends with it.

pub use lab05_given::*;
pub mod orders;
