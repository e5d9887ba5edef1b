//! An error and its causes on one line, for a log or a failure's message.

use std::error::Error;

/// `err` and each of its causes, outermost first, joined by ": ": a
/// client's own message names the request, its causes say what went wrong
/// ("error sending request: connection refused", not just the outer layer).
pub fn with_causes(err: &dyn Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
