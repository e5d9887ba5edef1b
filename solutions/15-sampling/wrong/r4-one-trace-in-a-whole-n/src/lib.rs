//! Lab 15, a wrong solution: the head sampler keeps one trace in every N,
//! N the whole number of times the traffic's spans hold the budget,
//! believing that a share is "one in N", as a tenth is one in ten. It is
//! right when the budget is a tenth, a twentieth, any one over a whole
//! number; but N, cut to a whole number, is smaller than the ratio, and
//! one over it a larger share than the budget affords: a budget of 70 % of
//! the traffic makes N one, and every trace is sampled; one of 30 % makes
//! it three, and a third is. The tail policy is the reference's.

pub use reference::{allowance, budget, completed, keep, recent, tail};
pub mod head;
