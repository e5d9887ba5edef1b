//! Lab 10, the statistics sink: the reference solution.
//!
//! The same actions that write log records can feed statistics: how many
//! reservations succeeded, failed, or blew up; how long they took at the
//! median and at the 99th percentile. A sink that counts is a
//! `tracing_subscriber` layer that watches action spans close. Durations go
//! into an HDR histogram, which keeps quantiles to a stated precision in
//! fixed memory however many values it sees.
//!
//! Actions come from the workshop's `actions` crate (`actions::run`). What
//! is given: the layer sees each action begin (its name, and the time by
//! its clock) and learns its outcome. Yours: what happens when it ends, and
//! reading the quantiles back.
//!
//! This is the reference solution. Its given parts (what a running action
//! keeps, the fields it reads, the figures per action) are public for the
//! other designs the grader accepts (`alternatives/`), which reuse them.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use actions::{Clock, Outcome};
use hdrhistogram::Histogram;
use tracing::Subscriber;
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing_subscriber::Layer;
use tracing_subscriber::layer::Context;
use tracing_subscriber::registry::LookupSpan;

/// What the sink knows about one action, by name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Summary {
    pub action: String,
    pub success: u64,
    pub failure: u64,
    pub exception: u64,
    pub p50_us: u64,
    pub p90_us: u64,
    pub p99_us: u64,
    pub max_us: u64,
}

/// Counts and durations of one kind of action.
pub struct PerAction {
    pub success: u64,
    pub failure: u64,
    pub exception: u64,
    /// Microseconds, from 1 µs to an hour, to 3 significant digits: any
    /// quantile read back is within 0.1 % of the true value.
    pub durations: Histogram<u64>,
}

impl PerAction {
    pub fn new() -> Self {
        Self {
            success: 0,
            failure: 0,
            exception: 0,
            durations: Histogram::new_with_bounds(1, 3_600_000_000, 3).expect("valid bounds"),
        }
    }
}

impl Default for PerAction {
    fn default() -> Self {
        Self::new()
    }
}

/// Counts every action by outcome and keeps its durations.
pub struct StatsLayer<C> {
    clock: C,
    actions: Arc<Mutex<BTreeMap<String, PerAction>>>,
}

impl<C: Clock> StatsLayer<C> {
    pub fn new(clock: C) -> Self {
        Self {
            clock,
            actions: Arc::default(),
        }
    }

    /// A handle on the statistics, to read after the layer is installed.
    pub fn handle(&self) -> StatsHandle {
        StatsHandle {
            actions: self.actions.clone(),
        }
    }
}

/// Reads the statistics a [`StatsLayer`] collects.
pub struct StatsHandle {
    actions: Arc<Mutex<BTreeMap<String, PerAction>>>,
}

impl StatsHandle {
    /// Every action's summary, by name.
    pub fn summaries(&self) -> Vec<Summary> {
        let actions = self.actions.lock().unwrap_or_else(|p| p.into_inner());
        actions
            .iter()
            .map(|(name, action)| Summary {
                action: name.clone(),
                success: action.success,
                failure: action.failure,
                exception: action.exception,
                p50_us: action.durations.value_at_quantile(0.50),
                p90_us: action.durations.value_at_quantile(0.90),
                p99_us: action.durations.value_at_quantile(0.99),
                max_us: action.durations.max(),
            })
            .collect()
    }
}

/// What the layer remembers of a running action, in its span's extensions.
pub struct Running {
    pub name: String,
    pub started_ns: u64,
    pub outcome: Option<Outcome>,
}

impl<S, C> Layer<S> for StatsLayer<C>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    C: Clock,
{
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let mut fields = ActionFields::default();
        attrs.record(&mut fields);
        let (Some(name), Some(span)) = (fields.name, ctx.span(id)) else {
            return;
        };
        span.extensions_mut().insert(Running {
            name,
            started_ns: self.clock.now_ns(),
            outcome: None,
        });
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
        let mut fields = ActionFields::default();
        values.record(&mut fields);
        if let (Some(outcome), Some(span)) = (fields.outcome, ctx.span(id))
            && let Some(running) = span.extensions_mut().get_mut::<Running>()
        {
            running.outcome = Some(outcome);
        }
    }

    fn on_close(&self, id: Id, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(&id) else { return };
        let extensions = span.extensions();
        let Some(running) = extensions.get::<Running>() else {
            return; // not an action
        };
        let outcome = running.outcome.unwrap_or(Outcome::Success);
        let duration_us = self.clock.now_ns().saturating_sub(running.started_ns) / 1_000;
        let mut actions = self.actions.lock().unwrap_or_else(|p| p.into_inner());
        let action = actions.entry(running.name.clone()).or_default();
        match outcome {
            Outcome::Success => action.success += 1,
            Outcome::Failure => action.failure += 1,
            Outcome::Exception => action.exception += 1,
        }
        // The histogram's lowest value is 1 µs: a shorter action counts as 1.
        action
            .durations
            .record(duration_us.max(1))
            .expect("durations under an hour fit the histogram");
    }
}

/// The fields of an action span: `action.name` when it begins,
/// `action.outcome` when it ends.
#[derive(Default)]
pub struct ActionFields {
    pub name: Option<String>,
    pub outcome: Option<Outcome>,
}

impl Visit for ActionFields {
    fn record_str(&mut self, field: &Field, value: &str) {
        match field.name() {
            "action.name" => self.name = Some(value.to_owned()),
            "action.outcome" => {
                self.outcome = Outcome::ALL.into_iter().find(|o| o.as_str() == value)
            }
            _ => {}
        }
    }

    fn record_debug(&mut self, _field: &Field, _value: &dyn std::fmt::Debug) {}
}
