//! Actions: spans with a data map and an outcome.

use std::fmt::{self, Display};
use std::sync::{Arc, Mutex, MutexGuard};

use serde_json::Value;
use tracing::Span;
use tracing::field::Empty;
use tracing_subscriber::Registry;
use tracing_subscriber::registry::LookupSpan;

use crate::levels::Outcome;

/// What an action knows about itself: the handle writes it as the action
/// runs, and every action layer reads it when the span closes, from the
/// span's extensions. The handle keeps its own reference, so that adding
/// data costs a lock, not a lookup.
#[derive(Debug)]
pub(crate) struct ActionData {
    pub name: &'static str,
    pub data: Vec<(&'static str, Value)>,
    pub outcome: Option<Outcome>,
    pub reason: Option<String>,
}

impl ActionData {
    fn new(name: &'static str) -> Self {
        Self {
            name,
            data: Vec::new(),
            outcome: None,
            reason: None,
        }
    }
}

/// The extension through which action layers find an action's data.
pub(crate) struct ActionState(pub Arc<Mutex<ActionData>>);

/// Puts the action's data in its span's extensions. The span's own
/// dispatcher leads to the registry behind every layer (the way
/// tracing-opentelemetry's `set_parent` reaches its data): with no
/// `tracing_subscriber::Registry` there, no action layer is installed
/// either, and the handle alone keeps the data.
fn attach(span: &Span, state: &Arc<Mutex<ActionData>>) {
    span.with_subscriber(|(id, dispatch)| {
        let span = dispatch
            .downcast_ref::<Registry>()
            .and_then(|registry| registry.span(id));
        if let Some(span) = span {
            span.extensions_mut().insert(ActionState(state.clone()));
        }
    });
}

pub(crate) fn lock(state: &Mutex<ActionData>) -> MutexGuard<'_, ActionData> {
    state.lock().unwrap_or_else(|p| p.into_inner())
}

/// A handle on a running action: add data, comments and warnings, or mark
/// it failed. Cheap to clone; every clone is the same action.
#[derive(Clone, Debug)]
pub struct Action {
    span: Span,
    /// `None` when no action layer records this action.
    state: Option<Arc<Mutex<ActionData>>>,
}

impl Action {
    /// The span behind the action: enter it, or instrument a future with it.
    pub fn span(&self) -> &Span {
        &self.span
    }

    /// Adds `key = value` to the action's data: written in its record, and
    /// exported with its span as the attribute `action.data`.
    pub fn set(&self, key: &'static str, value: impl Into<Value>) {
        if let Some(state) = &self.state {
            let value = value.into();
            let mut data = lock(state);
            match data.data.iter_mut().find(|(k, _)| *k == key) {
                Some((_, old)) => *old = value,
                None => data.data.push((key, value)),
            }
        }
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
        self.mark(Outcome::Failure, || Some(reason.to_string()));
    }

    fn outcome(&self) -> Option<Outcome> {
        self.state.as_ref().and_then(|s| lock(s).outcome)
    }

    /// Sets the outcome, unless one was set already, and puts it (and the
    /// data) on the span for export.
    fn mark(&self, outcome: Outcome, reason: impl FnOnce() -> Option<String>) {
        let Some(state) = &self.state else { return };
        let has_data = {
            let mut data = lock(state);
            if data.outcome.is_some() {
                return;
            }
            data.outcome = Some(outcome);
            data.reason = reason();
            !data.data.is_empty()
        };
        self.span.record("action.outcome", outcome.as_str());
        if outcome == Outcome::Exception {
            self.span.record("otel.status_code", "ERROR");
        }
        if has_data {
            // Formatted only if a layer reads it (the OpenTelemetry layer
            // does, to export it): free when nothing exports.
            self.span.record(
                "action.data",
                tracing::field::display(DataText(state.clone())),
            );
        }
    }
}

/// The data as `key=value` pairs, formatted on demand.
struct DataText(Arc<Mutex<ActionData>>);

impl Display for DataText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, (key, value)) in lock(&self.0).data.iter().enumerate() {
            let separator = if i == 0 { "" } else { " " };
            write!(f, "{separator}{key}={value}")?;
        }
        Ok(())
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
            Ok(_) => self.action.mark(Outcome::Success, || None),
            Err(err) => self
                .action
                .mark(Outcome::Exception, || Some(err.to_string())),
        }
    }
}

impl Drop for ActionGuard {
    fn drop(&mut self) {
        if self.action.outcome().is_none() {
            if std::thread::panicking() {
                self.action
                    .mark(Outcome::Exception, || Some("panicked".to_owned()));
            } else {
                self.action.mark(Outcome::Success, || None);
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
        action.data = Empty,
        otel.status_code = Empty,
    );
    // A disabled span has no subscriber to tell anything to: no state. An
    // enabled one keeps its state even with no action layer installed, so
    // that its outcome is still decided once and recorded on the span.
    let state = (!span.is_disabled()).then(|| {
        let state = Arc::new(Mutex::new(ActionData::new(name)));
        attach(&span, &state);
        state
    });
    ActionGuard {
        action: Action { span, state },
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
