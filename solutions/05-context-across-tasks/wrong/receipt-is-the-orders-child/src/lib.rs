//! Lab 05, a wrong solution: the mailer gives its `send_receipt` span the
//! order's context as its *parent* (`set_parent`), believing that is how a
//! queued job stays in the order's trace. The receipt's span becomes the
//! order's child, in a trace that has already ended, instead of a link.

pub use lab05_given::*;
pub mod orders;
