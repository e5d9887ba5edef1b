//! Lab 14, a wrong solution: the learner recorded the card on `charge`'s span
//! masked as receipts print it, its first six digits and its last four,
//! believing those ten digits are safe to keep; six in a row are not.

pub mod orders;
pub use lab14_given::shop;
