//! Lab 10, the statistics sink: another correct design. The counts are an
//! array indexed by outcome, the actions a `HashMap` sorted by name when
//! read, and the three quantiles come from one pass over the histogram
//! (`value_at_quantiles`). The summary, and what a running action keeps and
//! the fields it reads, are the reference solution's.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use actions::{Clock, Outcome};
use hdrhistogram::Histogram;
use reference::{ActionFields, Running};
use tracing::Subscriber;
use tracing::span::{Attributes, Id, Record};
use tracing_subscriber::Layer;
use tracing_subscriber::layer::Context;
use tracing_subscriber::registry::LookupSpan;

pub use reference::Summary;

/// Counts (by `Outcome as usize`) and durations of one kind of action.
struct PerAction {
    counts: [u64; 3],
    /// Microseconds, from 1 µs to an hour, to 3 significant digits.
    durations: Histogram<u64>,
}

impl Default for PerAction {
    fn default() -> Self {
        Self {
            counts: [0; 3],
            durations: Histogram::new_with_bounds(1, 3_600_000_000, 3).expect("valid bounds"),
        }
    }
}

impl PerAction {
    fn summary(&self, action: &str) -> Summary {
        let quantiles: Vec<u64> = self
            .durations
            .value_at_quantiles([0.5, 0.9, 0.99])
            .collect();
        Summary {
            action: action.to_owned(),
            success: self.counts[Outcome::Success as usize],
            failure: self.counts[Outcome::Failure as usize],
            exception: self.counts[Outcome::Exception as usize],
            p50_us: quantiles[0],
            p90_us: quantiles[1],
            p99_us: quantiles[2],
            max_us: self.durations.max(),
        }
    }
}

type Actions = Arc<Mutex<HashMap<String, PerAction>>>;

/// Counts every action by outcome and keeps its durations.
pub struct StatsLayer<C> {
    clock: C,
    actions: Actions,
}

impl<C: Clock> StatsLayer<C> {
    pub fn new(clock: C) -> Self {
        Self {
            clock,
            actions: Actions::default(),
        }
    }

    /// A handle on the statistics, to read after the layer is installed.
    pub fn handle(&self) -> StatsHandle {
        StatsHandle {
            actions: Arc::clone(&self.actions),
        }
    }
}

/// Reads the statistics a [`StatsLayer`] collects.
pub struct StatsHandle {
    actions: Actions,
}

impl StatsHandle {
    /// Every action's summary, by name.
    pub fn summaries(&self) -> Vec<Summary> {
        let actions = self.actions.lock().unwrap_or_else(|p| p.into_inner());
        let mut summaries: Vec<Summary> = actions
            .iter()
            .map(|(name, action)| action.summary(name))
            .collect();
        summaries.sort_by(|a, b| a.action.cmp(&b.action));
        summaries
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
        let ended_ns = self.clock.now_ns();
        let Some(span) = ctx.span(&id) else { return };
        let Some((name, started_ns, outcome)) = span.extensions().get::<Running>().map(|r| {
            (
                r.name.clone(),
                r.started_ns,
                r.outcome.unwrap_or(Outcome::Success),
            )
        }) else {
            return; // not an action
        };
        let duration_us = ended_ns.saturating_sub(started_ns) / 1_000;
        let mut actions = self.actions.lock().unwrap_or_else(|p| p.into_inner());
        let action = actions.entry(name).or_default();
        action.counts[outcome as usize] += 1;
        // Below the histogram's 1 µs floor counts as 1; above its hour, as an hour.
        action.durations.saturating_record(duration_us.max(1));
    }
}
