//! Lab 10, the statistics sink: another correct design. Every duration is
//! kept in a sorted list, and a quantile is read from it by nearest rank
//! (the value at rank ⌈q·n⌉): exact, where an HDR histogram is within
//! 0.1 %, at the price of memory that grows with the number of actions.
//! The summary, and what a running action keeps and the fields it reads,
//! are the reference solution's.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use actions::{Clock, Outcome};
use reference::{ActionFields, Running};
use tracing::Subscriber;
use tracing::span::{Attributes, Id, Record};
use tracing_subscriber::Layer;
use tracing_subscriber::layer::Context;
use tracing_subscriber::registry::LookupSpan;

pub use reference::Summary;

/// Counts and durations of one kind of action.
#[derive(Default)]
struct PerAction {
    success: u64,
    failure: u64,
    exception: u64,
    /// Every duration, in microseconds, in ascending order.
    durations: Vec<u64>,
}

impl PerAction {
    fn record(&mut self, duration_us: u64) {
        let at = self.durations.partition_point(|&d| d <= duration_us);
        self.durations.insert(at, duration_us);
    }

    /// The smallest duration with at least `q` of all durations at or below it.
    fn quantile(&self, q: f64) -> u64 {
        let n = self.durations.len();
        if n == 0 {
            return 0;
        }
        let rank = ((q * n as f64).ceil() as usize).clamp(1, n);
        self.durations[rank - 1]
    }

    fn max(&self) -> u64 {
        self.durations.last().copied().unwrap_or(0)
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
                p50_us: action.quantile(0.50),
                p90_us: action.quantile(0.90),
                p99_us: action.quantile(0.99),
                max_us: action.max(),
            })
            .collect()
    }
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
        let duration_us = self.clock.now_ns().saturating_sub(running.started_ns) / 1_000;
        let mut actions = self.actions.lock().unwrap_or_else(|p| p.into_inner());
        let action = actions.entry(running.name.clone()).or_default();
        match running.outcome.unwrap_or(Outcome::Success) {
            Outcome::Success => action.success += 1,
            Outcome::Failure => action.failure += 1,
            Outcome::Exception => action.exception += 1,
        }
        // Shorter than a microsecond counts as one, as in a histogram that starts there.
        action.record(duration_us.max(1));
    }
}
