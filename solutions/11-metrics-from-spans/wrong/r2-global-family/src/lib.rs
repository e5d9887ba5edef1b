//! Lab 11, a wrong solution: the learner kept the histogram in a process-wide
//! `static`, like a global counter, believing metrics belong to the process;
//! a second service (a second registry) counts the first one's requests too.

pub use lab11_given::*;

pub mod red_metrics;

pub use red_metrics::RedMetrics;
