//! Lab 09, a wrong solution: each of `fail` and `finish` records the outcome
//! it sees, the last one standing, believing the result an action ends with
//! says best how it ended. A handled failure that then returns `Err` ends
//! as an exception, at ERROR, with the error's text as its reason.

pub use lab09_given::sink;
pub use reference::{Levels, Outcome};

use std::cell::RefCell;
use std::fmt::Display;

use tracing::Span;

/// A running action: a span, a data map, and (once known) an outcome.
pub struct Action {
    name: &'static str,
    span: Span,
    levels: Levels,
    data: RefCell<Vec<(&'static str, String)>>,
    /// The outcome and its reason, once decided.
    outcome: RefCell<Option<(Outcome, Option<String>)>>,
}

/// Begins an action named `name`: its span, and its begin record.
pub fn begin(name: &'static str, levels: Levels) -> Action {
    let span = tracing::info_span!(target: "lab09", "action", action = name);
    sink::begin(&span, name);
    Action {
        name,
        span,
        levels,
        data: RefCell::new(Vec::new()),
        outcome: RefCell::new(None),
    }
}

impl Action {
    /// Adds `key = value` to the data written with the end record.
    pub fn set(&self, key: &'static str, value: impl Display) {
        self.data.borrow_mut().push((key, value.to_string()));
    }

    /// Marks the action failed, for `reason`: an expected, handled failure.
    pub fn fail(&self, reason: impl Display) {
        self.decide(Outcome::Failure, Some(reason.to_string()));
    }

    /// Ends the action by `result`: `Ok` a success, `Err` an exception
    /// whose reason is the error.
    pub fn finish<T, E: Display>(self, result: &Result<T, E>) {
        match result {
            Ok(_) => self.decide(Outcome::Success, None),
            Err(err) => self.decide(Outcome::Exception, Some(err.to_string())),
        }
        // Dropping `self` here writes the end record.
    }

    /// Records the outcome: the latest word on how the action went.
    fn decide(&self, outcome: Outcome, reason: Option<String>) {
        *self.outcome.borrow_mut() = Some((outcome, reason));
    }

    pub fn span(&self) -> &Span {
        &self.span
    }
}

impl Drop for Action {
    /// The end record: written once, however the action ends.
    fn drop(&mut self) {
        if self.outcome.borrow().is_none() {
            if std::thread::panicking() {
                self.decide(Outcome::Exception, Some("panicked".to_owned()));
            } else {
                self.decide(Outcome::Success, None);
            }
        }
        let (outcome, reason) = self.outcome.borrow_mut().take().expect("decided above");
        let data = format_data(&self.data.borrow());
        let level = self.levels.level(outcome);
        sink::end(
            &self.span,
            self.name,
            outcome.as_str(),
            reason.as_deref(),
            &data,
            level,
        );
    }
}

/// `key=value` pairs, space-separated.
fn format_data(data: &[(&'static str, String)]) -> String {
    data.iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Runs `f` as the action `name`, inside its span, and ends it by the
/// result. Given: it works once the steps above are done.
pub fn run<T, E: Display>(
    name: &'static str,
    levels: Levels,
    f: impl FnOnce(&Action) -> Result<T, E>,
) -> Result<T, E> {
    let action = begin(name, levels);
    let result = action.span.in_scope(|| f(&action));
    action.finish(&result);
    result
}
