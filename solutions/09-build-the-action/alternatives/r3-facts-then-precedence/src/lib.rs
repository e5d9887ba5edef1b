//! Lab 09, build the Action: another correct design.
//!
//! Nothing decides the outcome while the action runs. `fail` and `finish`
//! only note what happened (every reason the action was failed for, the
//! result it was finished with), and the drop, which runs once however the
//! action ends, derives the outcome from those notes by precedence: a handled
//! failure (its first reason) comes first, then the result `finish` saw,
//! then a panic unwinding, and a quiet end last.

pub use reference::{Levels, Outcome, sink};

use std::cell::RefCell;
use std::fmt::Display;

use reference::format_data;
use tracing::Span;

/// A running action: a span, a data map, and what happened to it so far.
pub struct Action {
    name: &'static str,
    span: Span,
    levels: Levels,
    data: RefCell<Vec<(&'static str, String)>>,
    /// Every reason the action was marked failed for, in order.
    failures: RefCell<Vec<String>>,
    /// The result `finish` was given: `Ok`, or the error's text.
    finished: RefCell<Option<Result<(), String>>>,
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
        failures: RefCell::new(Vec::new()),
        finished: RefCell::new(None),
    }
}

impl Action {
    /// Adds `key = value` to the data written with the end record.
    pub fn set(&self, key: &'static str, value: impl Display) {
        self.data.borrow_mut().push((key, value.to_string()));
    }

    /// Marks the action failed, for `reason`: an expected, handled failure.
    pub fn fail(&self, reason: impl Display) {
        self.failures.borrow_mut().push(reason.to_string());
    }

    /// Ends the action by `result`, which the drop weighs against what else
    /// happened.
    pub fn finish<T, E: Display>(self, result: &Result<T, E>) {
        let seen = result.as_ref().map(|_| ()).map_err(ToString::to_string);
        *self.finished.borrow_mut() = Some(seen);
        // Dropping `self` here writes the end record.
    }

    /// How the action ended, and why: the first handled failure, else the
    /// result it was finished with, else an exception if a panic is
    /// unwinding through it, else a success.
    fn outcome(&mut self) -> (Outcome, Option<String>) {
        if let Some(reason) = self.failures.get_mut().first() {
            return (Outcome::Failure, Some(reason.clone()));
        }
        match self.finished.get_mut().take() {
            Some(Ok(())) => (Outcome::Success, None),
            Some(Err(error)) => (Outcome::Exception, Some(error)),
            None if std::thread::panicking() => (Outcome::Exception, Some("panicked".to_owned())),
            None => (Outcome::Success, None),
        }
    }

    pub fn span(&self) -> &Span {
        &self.span
    }
}

impl Drop for Action {
    /// The end record: written once, however the action ends.
    fn drop(&mut self) {
        let (outcome, reason) = self.outcome();
        let data = format_data(self.data.get_mut());
        sink::end(
            &self.span,
            self.name,
            outcome.as_str(),
            reason.as_deref(),
            &data,
            self.levels.level(outcome),
        );
    }
}

/// Runs `f` as the action `name`, inside its span, and ends it by the
/// result.
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
