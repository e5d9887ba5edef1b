//! Where an action's records go: two `tracing` events, one when it begins
//! and one when it ends, at the level its outcome calls for. Given.

use tracing::{Level, Span, debug, error, info, trace, warn};

/// The begin record: `begin` at DEBUG, inside the action's span.
pub fn begin(span: &Span, name: &'static str) {
    span.in_scope(|| debug!(target: "lab09", action = name, "begin"));
}

/// The end record, at `level`, with the outcome, the reason (failure,
/// exception) and the data, inside the action's span.
pub fn end(
    span: &Span,
    name: &'static str,
    outcome: &str,
    reason: Option<&str>,
    data: &str,
    level: Level,
) {
    // A level is fixed where an event is written: one call per level.
    span.in_scope(|| match level {
        Level::ERROR => error!(target: "lab09", action = name, outcome, reason, data, "end"),
        Level::WARN => warn!(target: "lab09", action = name, outcome, reason, data, "end"),
        Level::INFO => info!(target: "lab09", action = name, outcome, reason, data, "end"),
        Level::DEBUG => debug!(target: "lab09", action = name, outcome, reason, data, "end"),
        Level::TRACE => trace!(target: "lab09", action = name, outcome, reason, data, "end"),
    });
}
