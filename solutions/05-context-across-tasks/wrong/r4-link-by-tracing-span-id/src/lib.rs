//! Lab 05, a wrong solution: the queued receipt carries the order's span
//! `Id` (`Span::id()`), believing it is the ids that name the span, and the
//! mailer's `send_receipt` span `follows_from` it, believing that is
//! tracing's word for a link. An `Id` is the subscriber's handle on a span
//! while it is open, not its trace context: by the time the mailer reads
//! the receipt the order's span has ended, and the `Id` names nothing, or
//! another span that has taken its place.

pub use lab05_given::*;
pub mod orders;
