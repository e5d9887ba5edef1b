//! Lab 13, the cost of observability: another correct design. The batch's
//! one span is at DEBUG, so a service at INFO does not even make it; the
//! reading goes to TRACE as lazy fields; progress is sampled, one DEBUG
//! event per thousand readings; the summary is written with `event!`.

pub use reference::readings;
pub mod summarize;
