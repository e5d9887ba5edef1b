//! Lab 15, a wrong solution: the tail policy keeps the failed and the slow
//! and nothing else, believing that the store is for the traces someone
//! will come looking for. But a failure is understood beside the requests
//! of its endpoint that went well at the same time: a store without them
//! cannot say what normal looks like. The head sampler and the recent
//! latencies are the reference's.

pub use reference::{budget, completed, head, keep, recent};
pub mod tail;
