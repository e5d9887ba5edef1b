//! Lab 05, a wrong solution: the reservations are not spawned at all but
//! awaited one after another on the order's own task, where its span is
//! current. The learner believed that work which never leaves the order's
//! task cannot lose its span, and that this settles step 1; each `reserve`
//! span is the order's child, but the order's audit writes now wait for one
//! another, as a lock held across them would make them.

pub use lab05_given::*;
pub mod orders;
