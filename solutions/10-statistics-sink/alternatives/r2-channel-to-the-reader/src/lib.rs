//! Lab 10, the statistics sink: another correct design. `on_close` takes no
//! lock: it only sends each ended action (name, outcome, duration) down a
//! channel. The handles share the receiving end with the figures, and add up
//! whatever has arrived each time the summaries are read. The summary, the
//! figures per action, and what a running action keeps and the fields it
//! reads, are the reference solution's.

use std::collections::BTreeMap;
use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Arc, Mutex};

use actions::{Clock, Outcome};
use reference::{ActionFields, PerAction, Running};
use tracing::Subscriber;
use tracing::span::{Attributes, Id, Record};
use tracing_subscriber::Layer;
use tracing_subscriber::layer::Context;
use tracing_subscriber::registry::LookupSpan;

pub use reference::Summary;

/// An action that ended: what the layer sends, and the figures add up.
struct Ended {
    name: String,
    outcome: Outcome,
    duration_us: u64,
}

/// The figures so far, and the ended actions not yet added to them.
struct Figures {
    incoming: Receiver<Ended>,
    actions: BTreeMap<String, PerAction>,
}

impl Figures {
    /// Adds up every action that ended since the last time.
    fn catch_up(&mut self) {
        for ended in self.incoming.try_iter() {
            let action = self.actions.entry(ended.name).or_default();
            match ended.outcome {
                Outcome::Success => action.success += 1,
                Outcome::Failure => action.failure += 1,
                Outcome::Exception => action.exception += 1,
            }
            // The histogram's lowest value is 1 µs: a shorter action counts as 1.
            action
                .durations
                .record(ended.duration_us.max(1))
                .expect("durations under an hour fit the histogram");
        }
    }
}

/// Counts every action by outcome and keeps its durations.
pub struct StatsLayer<C> {
    clock: C,
    ended: Sender<Ended>,
    figures: Arc<Mutex<Figures>>,
}

impl<C: Clock> StatsLayer<C> {
    pub fn new(clock: C) -> Self {
        let (ended, incoming) = channel();
        Self {
            clock,
            ended,
            figures: Arc::new(Mutex::new(Figures {
                incoming,
                actions: BTreeMap::new(),
            })),
        }
    }

    /// A handle on the statistics, to read after the layer is installed.
    pub fn handle(&self) -> StatsHandle {
        StatsHandle {
            figures: self.figures.clone(),
        }
    }
}

/// Reads the statistics a [`StatsLayer`] collects.
pub struct StatsHandle {
    figures: Arc<Mutex<Figures>>,
}

impl StatsHandle {
    /// Every action's summary, by name.
    pub fn summaries(&self) -> Vec<Summary> {
        let mut figures = self.figures.lock().unwrap_or_else(|p| p.into_inner());
        figures.catch_up();
        figures
            .actions
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
        self.ended
            .send(Ended {
                name: running.name.clone(),
                outcome,
                duration_us,
            })
            .expect("the figures live as long as the layer");
    }
}
