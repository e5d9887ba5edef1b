//! Lab 09, build the Action.
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
//! Run `just lab 9` to check your work, `just hint 9` when stuck.

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
    #[expect(unused_variables, reason = "step 1 uses `outcome`")]
    pub fn level(&self, outcome: Outcome) -> Level {
        // TODO(step 1): the level of an end record with `outcome`; other
        // `Levels` must give other levels (README step 1).
        Level::INFO
    }
}

/// A running action: a span, a data map, and (once known) an outcome.
pub struct Action {
    name: &'static str,
    span: Span,
    #[expect(dead_code, reason = "step 4 uses it")]
    levels: Levels,
    data: RefCell<Vec<(&'static str, String)>>,
    /// The outcome and its reason, once decided.
    #[expect(dead_code, reason = "steps 2 to 4 use it")]
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
    #[expect(unused_variables, reason = "step 2 uses `reason`")]
    pub fn fail(&self, reason: impl Display) {
        // TODO(step 2): keep, in the `outcome` field, what the end must
        // know of this handled failure, so that whatever the body does next
        // (return `Err` or `Ok`, call `fail` again, panic) the end record
        // carries the right outcome and reason (README step 2).
    }

    /// Ends the action by `result`: `Ok` a success, `Err` an exception
    /// whose reason is the error's text.
    #[expect(unused_variables, reason = "step 3 uses `result`")]
    pub fn finish<T, E: Display>(self, result: &Result<T, E>) {
        // TODO(step 3): the outcome `result` calls for. A handled failure
        // returns `Err` too: what must an `Err` not undo? Which rendering of
        // the error does a reader want, and what runs when this returns
        // (README step 3)?
    }

    pub fn span(&self) -> &Span {
        &self.span
    }
}

impl Drop for Action {
    /// The end record: written once, however the action ends.
    fn drop(&mut self) {
        // TODO(step 4): the record must say the outcome that was decided,
        // at that outcome's level. With none decided, the action is a
        // success, unless a panic is unwinding: then an exception whose
        // reason is "panicked". How does a drop tell the two apart (README
        // step 4: `std::thread::panicking`)? The panic goes on unwinding.
        let data = format_data(&self.data.borrow());
        sink::end(
            &self.span,
            self.name,
            Outcome::Success.as_str(),
            None,
            &data,
            Level::INFO,
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
