//! Lab 05: context across tasks, another correct design. The receipt keeps
//! only what the mail needs; `Mailer::send` adds the context of the span
//! that queues it to what goes in the queue, as a message broker's client
//! adds trace headers, so no caller can forget it. The mailer links its
//! `send_receipt` span to that context.

pub use lab05_given::*;
pub mod orders;
