//! Semantic logging on `tracing`, in the spirit of Python's lithoxyl.
//!
//! Instrumentation records **actions**, units of work with an outcome, not
//! free-form messages; and the same records feed the human log, the JSON
//! log and the statistics.
//!
//! ```
//! # fn charge(amount: u64) -> Result<u64, std::io::Error> { Ok(amount) }
//! let receipt = actions::run("charge", |act| {
//!     act.set("amount_cents", 9_000);
//!     charge(9_000) // Ok: success; Err: exception, with the error
//! });
//! ```
//!
//! - An [`Action`] is a span (so it nests, crosses `.await`, and is exported
//!   with the trace) with a data map, comments and warnings, and an
//!   [`Outcome`]: success, failure (expected and handled, with a reason) or
//!   exception (an error that escaped with `?`, or a panic).
//! - [`ActionLayer`] is a `tracing_subscriber` layer that turns each finished
//!   action into a [`Record`] and hands it to a [`Sink`]: [`LineSink`] (one
//!   parseable line per action, or one JSON object), [`StatsSink`] (counts,
//!   duration quantiles, rates). Each sink decides the level of a record from
//!   its outcome ([`Levels`]), so a quiet service logs only what went wrong.
//!
//! The README maps each lithoxyl concept to its counterpart here.

mod action;
mod clock;
mod format;
mod layer;
mod levels;
mod sinks;
mod stats;

pub use action::{Action, ActionGuard, begin, run, run_async};
pub use clock::{Clock, ManualClock, SystemClock};
pub use format::{Record, RecordKind};
pub use layer::{ActionLayer, Sink};
pub use levels::{Levels, Outcome};
pub use sinks::LineSink;
pub use stats::{ActionStats, Stats, StatsSink};

/// The target of every action span and event: `RUST_LOG=actions=info`
/// keeps actions on whatever else is filtered.
pub const TARGET: &str = "actions";
