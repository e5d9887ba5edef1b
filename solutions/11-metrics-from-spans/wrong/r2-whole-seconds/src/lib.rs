//! Lab 11, a wrong solution: the learner observed `elapsed().as_secs()`,
//! believing it gives the seconds the unit asks for; it gives whole seconds,
//! so every request shorter than a second is observed as 0.

pub use lab11_given::*;

pub mod red_metrics;

pub use red_metrics::RedMetrics;
