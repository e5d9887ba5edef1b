//! Actions: spans with a data map and an outcome.

use std::fmt::Display;

use serde_json::Value;
use tracing::Span;
use tracing::field::Empty;
use tracing_opentelemetry::OpenTelemetrySpanExt;
use tracing_subscriber::Registry;
use tracing_subscriber::registry::LookupSpan;

use crate::levels::Outcome;

/// What an action knows about itself, kept in its span's extensions, where
/// every layer can read it when the span closes.
#[derive(Debug)]
pub(crate) struct ActionData {
    pub name: &'static str,
    pub data: Vec<(&'static str, Value)>,
    pub outcome: Option<Outcome>,
    pub reason: Option<String>,
}

/// Runs `f` on the action's data, if a subscriber records this span.
fn with_data<R>(span: &Span, f: impl FnOnce(&mut ActionData) -> R) -> Option<R> {
    span.with_subscriber(|(id, dispatch)| {
        let registry = dispatch.downcast_ref::<Registry>()?;
        let span = registry.span(id)?;
        let mut extensions = span.extensions_mut();
        let data = extensions.get_mut::<ActionData>()?;
        Some(f(data))
    })
    .flatten()
}

/// A handle on a running action: add data, comments and warnings, or mark
/// it failed. Cheap to clone; every clone is the same action.
#[derive(Clone, Debug)]
pub struct Action {
    span: Span,
}

impl Action {
    /// The span behind the action: enter it, or instrument a future with it.
    pub fn span(&self) -> &Span {
        &self.span
    }

    /// Adds `key = value` to the action's data: written in its record and
    /// set as an attribute of its exported span.
    pub fn set(&self, key: &'static str, value: impl Into<Value>) {
        let value = value.into();
        self.span.set_attribute(key, value.to_string());
        with_data(&self.span, |data| {
            match data.data.iter_mut().find(|(k, _)| *k == key) {
                Some((_, old)) => *old = value,
                None => data.data.push((key, value)),
            }
        });
    }

    /// A remark about the action as it runs (lithoxyl's comment).
    pub fn comment(&self, text: impl Display) {
        self.span
            .in_scope(|| tracing::info!(target: "actions", comment = %text));
    }

    /// Something worth attention that did not stop the action.
    pub fn warn(&self, text: impl Display) {
        self.span
            .in_scope(|| tracing::warn!(target: "actions", warning = %text));
    }

    /// Marks the action failed: an expected, handled failure, with its
    /// reason. It keeps that outcome whatever the code returns after.
    pub fn fail(&self, reason: impl Display) {
        self.mark(Outcome::Failure, Some(reason.to_string()));
    }

    fn outcome(&self) -> Option<Outcome> {
        with_data(&self.span, |data| data.outcome).flatten()
    }

    /// Sets the outcome, unless one was set already.
    fn mark(&self, outcome: Outcome, reason: Option<String>) {
        let set = with_data(&self.span, |data| {
            if data.outcome.is_some() {
                return false;
            }
            data.outcome = Some(outcome);
            data.reason = reason;
            true
        });
        if set == Some(true) {
            self.span.record("action.outcome", outcome.as_str());
            if outcome == Outcome::Exception {
                self.span.record("otel.status_code", "ERROR");
            }
        }
    }
}

/// The action's end: whoever holds the guard decides the outcome, and a
/// guard dropped without one ends the action a success, or an exception
/// when the thread is panicking.
#[derive(Debug)]
pub struct ActionGuard {
    action: Action,
}

impl std::ops::Deref for ActionGuard {
    type Target = Action;
    fn deref(&self) -> &Action {
        &self.action
    }
}

impl ActionGuard {
    /// Ends the action by `result`: `Ok` a success, `Err` an exception
    /// carrying the error, unless it was already marked failed.
    pub fn finish<T, E: Display>(self, result: &Result<T, E>) {
        match result {
            Ok(_) => self.action.mark(Outcome::Success, None),
            Err(err) => self.action.mark(Outcome::Exception, Some(err.to_string())),
        }
    }
}

impl Drop for ActionGuard {
    fn drop(&mut self) {
        if self.action.outcome().is_none() {
            if std::thread::panicking() {
                self.action
                    .mark(Outcome::Exception, Some("panicked".to_owned()));
            } else {
                self.action.mark(Outcome::Success, None);
            }
        }
    }
}

/// Begins an action named `name`; it ends when the guard is dropped or
/// finished. Prefer [`run`] and [`run_async`], which end it by the result.
pub fn begin(name: &'static str) -> ActionGuard {
    let span = tracing::info_span!(
        target: "actions",
        "action",
        action.name = name,
        otel.name = name,
        action.outcome = Empty,
        otel.status_code = Empty,
    );
    span.with_subscriber(|(id, dispatch)| {
        if let Some(span) = dispatch.downcast_ref::<Registry>().and_then(|r| r.span(id)) {
            span.extensions_mut().insert(ActionData {
                name,
                data: Vec::new(),
                outcome: None,
                reason: None,
            });
        }
    });
    ActionGuard {
        action: Action { span },
    }
}

/// Runs `f` as the action `name`, inside its span: `Ok` ends it a success,
/// `Err` an exception, a panic an exception too (and goes on unwinding),
/// unless `f` marked it failed with [`Action::fail`].
pub fn run<T, E: Display>(
    name: &'static str,
    f: impl FnOnce(&Action) -> Result<T, E>,
) -> Result<T, E> {
    let guard = begin(name);
    let result = guard.span.in_scope(|| f(&guard));
    guard.finish(&result);
    result
}

/// [`run`] for async work: the action's span is entered at every poll, so
/// the action spans every `.await` of `f`'s future.
pub async fn run_async<T, E, F, Fut>(name: &'static str, f: F) -> Result<T, E>
where
    E: Display,
    F: FnOnce(Action) -> Fut,
    Fut: Future<Output = Result<T, E>>,
{
    use tracing::Instrument;
    let guard = begin(name);
    let future = f(guard.action.clone()).instrument(guard.span.clone());
    let result = future.await;
    guard.finish(&result);
    result
}
