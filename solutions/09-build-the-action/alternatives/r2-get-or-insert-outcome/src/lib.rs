//! Lab 09, build the Action: another correct design. The first outcome is
//! kept with `Option::get_or_insert_with`, `Levels::level` looks the level up
//! by the outcome's index, and the drop, which has the action to itself,
//! takes the outcome through `RefCell::get_mut` and picks the default only
//! when none was decided.
//!
//! The outcomes, the given sink and the data's format are the reference
//! solution's.

pub use reference::{Outcome, sink};

use std::cell::RefCell;
use std::fmt::Display;

use reference::format_data;
use tracing::{Level, Span};

/// The level of an end record, by outcome.
#[derive(Clone, Copy, Debug)]
pub struct Levels {
    pub success: Level,
    pub failure: Level,
    pub exception: Level,
}

impl Default for Levels {
    /// Quiet when all goes well, loud when it does not.
    fn default() -> Self {
        Self {
            success: Level::DEBUG,
            failure: Level::INFO,
            exception: Level::ERROR,
        }
    }
}

impl Levels {
    /// The level of an action's end record with this outcome.
    pub fn level(&self, outcome: Outcome) -> Level {
        // In the order `Outcome` declares them.
        [self.success, self.failure, self.exception][outcome as usize]
    }
}

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
        self.outcome
            .borrow_mut()
            .get_or_insert_with(|| (Outcome::Failure, Some(reason.to_string())));
    }

    /// Ends the action by `result`: `Ok` a success, `Err` an exception
    /// whose reason is the error, unless it was already marked failed.
    pub fn finish<T, E: Display>(self, result: &Result<T, E>) {
        // A failure marked inside the action stands: it is not undone by
        // the error the action then returns.
        self.outcome
            .borrow_mut()
            .get_or_insert_with(|| match result {
                Ok(_) => (Outcome::Success, None),
                Err(err) => (Outcome::Exception, Some(err.to_string())),
            });
        // Dropping `self` here writes the end record.
    }

    pub fn span(&self) -> &Span {
        &self.span
    }
}

impl Drop for Action {
    /// The end record: written once, however the action ends.
    fn drop(&mut self) {
        let (outcome, reason) = self.outcome.get_mut().take().unwrap_or_else(|| {
            if std::thread::panicking() {
                (Outcome::Exception, Some("panicked".to_owned()))
            } else {
                (Outcome::Success, None)
            }
        });
        let data = format_data(self.data.get_mut());
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
