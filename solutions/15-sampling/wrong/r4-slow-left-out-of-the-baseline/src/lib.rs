//! Lab 15, a wrong solution: only the traces neither slow nor failed go
//! into an endpoint's last 1,000 durations, believing that an outlier or
//! an error would drag what the endpoint usually takes up, and that the
//! p99 should be that of the ordinary traces alone. But a trace above the
//! p99 is then never remembered: the window holds only durations at or
//! below the p99 of their time, its own p99 is lower still, and every
//! 1,000 traces it ratchets down another percentile. Within a few thousand
//! traces of an endpoint a third or more of them are judged slow and kept
//! whatever the budget says, and the store takes far more than its
//! budget. The head sampler, the recent latencies' window and the
//! budget's count are the reference's.

pub use reference::{allowance, budget, completed, head, keep, recent};
pub mod tail;
