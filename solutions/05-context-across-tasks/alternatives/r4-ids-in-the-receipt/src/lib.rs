//! Lab 05, context across tasks: another correct design. The queued
//! receipt carries the order span's ids as plain fields of their own (its
//! trace id, span id and trace flags: what a `traceparent` header holds),
//! as a message schema stores them, rather than an OpenTelemetry
//! `SpanContext`. The mailer puts them back together as the context of a
//! remote span and links its `send_receipt` span to it. The tasks, the
//! invoice and `reserve` are the reference's.

pub use lab05_given::*;
pub mod orders;
