//! Lab 10, the statistics sink: another correct design.
//!
//! No counters: each action name keeps one HDR histogram per outcome, and
//! an outcome's count is how many durations its histogram holds. Reading
//! the summaries adds the three histograms of a name into a fresh one
//! (histograms with the same bounds and precision add exactly) and reads the
//! quantiles from that sum, leaving the kept histograms as they were.

pub use reference::Summary;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use actions::{Clock, Outcome};
use hdrhistogram::Histogram;
use reference::{ActionFields, Running};
use tracing::Subscriber;
use tracing::span::{Attributes, Id, Record};
use tracing_subscriber::Layer;
use tracing_subscriber::layer::Context;
use tracing_subscriber::registry::LookupSpan;

/// Microseconds, from 1 µs to an hour, to 3 significant digits: any
/// quantile read back is within 0.1 % of the true value.
fn durations() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 3_600_000_000, 3).expect("valid bounds")
}

/// The durations of one kind of action, a histogram per outcome.
struct PerAction {
    success: Histogram<u64>,
    failure: Histogram<u64>,
    exception: Histogram<u64>,
}

impl PerAction {
    fn new() -> Self {
        Self {
            success: durations(),
            failure: durations(),
            exception: durations(),
        }
    }

    fn of(&mut self, outcome: Outcome) -> &mut Histogram<u64> {
        match outcome {
            Outcome::Success => &mut self.success,
            Outcome::Failure => &mut self.failure,
            Outcome::Exception => &mut self.exception,
        }
    }

    /// Every duration of this kind of action, whatever its outcome.
    fn all(&self) -> Histogram<u64> {
        let mut all = durations();
        for histogram in [&self.success, &self.failure, &self.exception] {
            all.add(histogram)
                .expect("histograms with the same bounds add");
        }
        all
    }

    fn summary(&self, action: &str) -> Summary {
        let all = self.all();
        Summary {
            action: action.to_owned(),
            success: self.success.len(),
            failure: self.failure.len(),
            exception: self.exception.len(),
            p50_us: all.value_at_quantile(0.50),
            p90_us: all.value_at_quantile(0.90),
            p99_us: all.value_at_quantile(0.99),
            max_us: all.max(),
        }
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
            .map(|(name, action)| action.summary(name))
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
        let outcome = running.outcome.unwrap_or(Outcome::Success);
        let duration_us = self.clock.now_ns().saturating_sub(running.started_ns) / 1_000;
        let mut actions = self.actions.lock().unwrap_or_else(|p| p.into_inner());
        // The histogram's lowest value is 1 µs: a shorter action counts as 1.
        actions
            .entry(running.name.clone())
            .or_insert_with(PerAction::new)
            .of(outcome)
            .record(duration_us.max(1))
            .expect("durations under an hour fit the histogram");
    }
}
