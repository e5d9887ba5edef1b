//! Lab 15, a wrong solution: the head sampler is the budget's share of
//! trace ids alone, with no parent-based wrapper, believing that every span
//! of a trace, carrying the trace's id, takes the same decision. It does
//! when every service decides by the same share; but a request whose caller
//! sampled its trace (or did not) is decided again by trace id, so the
//! caller's spans are stored and this service's dropped, or the reverse:
//! broken traces. The tail policy is the reference's.

pub use reference::{allowance, budget, completed, keep, recent, tail};
pub mod head;
