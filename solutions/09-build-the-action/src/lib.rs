//! Lab 09, build the Action: the reference solution.
//!
//! Semantic logging records *actions*, units of work with an outcome, not
//! free-form messages: did the reservation succeed, fail for a reason we
//! expected (sold out), or blow up (an error escaping with `?`, a panic)?
//! And the level of the record follows from the outcome, so that a quiet
//! service logs only what went wrong.
//!
//! The skeleton is given: an action is a span with a name and a data map,
//! and `sink` (in `given/src/sink.rs`) writes its begin and end records.
//! You make it track its outcome and pick the level of its end record.
//!
//! This is the reference solution: the skeleton and `sink.rs` are the lab's.
//! `format_data` is public for the other designs the grader accepts
//! (`alternatives/`), which reuse it.

pub use lab09_given::sink;

use std::cell::RefCell;
use std::fmt::Display;

use tracing::{Level, Span};

/// How an action ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// It did what it was for.
    Success,
    /// It could not, for a reason it expected and handled.
    Failure,
    /// It could not, for a reason it did not handle: an error it returned,
    /// or a panic.
    Exception,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Success => "success",
            Outcome::Failure => "failure",
            Outcome::Exception => "exception",
        }
    }
}

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
        match outcome {
            Outcome::Success => self.success,
            Outcome::Failure => self.failure,
            Outcome::Exception => self.exception,
        }
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
        self.decide(Outcome::Failure, Some(reason.to_string()));
    }

    /// Ends the action by `result`: `Ok` a success, `Err` an exception
    /// whose reason is the error, unless it was already marked failed.
    pub fn finish<T, E: Display>(self, result: &Result<T, E>) {
        match result {
            Ok(_) => self.decide(Outcome::Success, None),
            Err(err) => self.decide(Outcome::Exception, Some(err.to_string())),
        }
        // Dropping `self` here writes the end record.
    }

    /// The first outcome decided is the one that stands: a failure marked
    /// inside the action is not undone by the error it then returns.
    fn decide(&self, outcome: Outcome, reason: Option<String>) {
        let mut decided = self.outcome.borrow_mut();
        if decided.is_none() {
            *decided = Some((outcome, reason));
        }
    }

    pub fn span(&self) -> &Span {
        &self.span
    }
}

impl Drop for Action {
    /// The end record: written once, however the action ends.
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.decide(Outcome::Exception, Some("panicked".to_owned()));
        } else {
            self.decide(Outcome::Success, None);
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
pub fn format_data(data: &[(&'static str, String)]) -> String {
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
