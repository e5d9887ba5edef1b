//! What the lab graders share.
//!
//! A grader runs a learner's code under [`capture`], which installs a
//! subscriber for the duration of one closure only (tracing's scoped
//! `with_default`). Nothing global is touched, so checks can run in parallel
//! threads, or in parallel processes, without seeing each other's spans.
//!
//! A grader's `main` is [`checks!`]: its checks, each a plain function,
//! whose results reach the workshop CLI as JSON ([`checks`]).
//!
//! For labs with services, [`services`] runs each on its own port, thread
//! and tracer, spans in memory. For labs that grade speed, [`timing`]
//! compares the learner's code with a baseline as a ratio, never a time.
//! Checks draw their scenario's values from [`scenario::rng`], fresh on
//! every run, with the seed printed on failure.
//! For labs about metrics, [`openmetrics`] reads what `/metrics` served.
//!
//! The records keep what a learner controls (names, levels, fields, nesting)
//! and nothing they don't (ids, timestamps), so a check can compare them with
//! plain equality and print them in a failure message that a person can read.

mod capture;
pub mod checks;
mod record;
pub mod scenario;
pub mod services;
pub mod timing;

pub use capture::{CaptureLayer, Captured, capture};
/// A service's `GET /metrics`, read as a scraper reads it.
pub use openmetrics;
pub use record::{EventRecord, SpanRecord, Value};
