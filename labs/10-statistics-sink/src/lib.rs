//! Lab 10, the statistics sink.
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
//! Run `just lab 10` to check your work, `just hint 10` when stuck.

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
#[expect(dead_code, reason = "step 2 counts into it, step 3 reads it")]
struct PerAction {
    success: u64,
    failure: u64,
    exception: u64,
    /// Microseconds, from 1 µs to an hour, to 3 significant digits: any
    /// quantile read back is within 0.1 % of the true value.
    durations: Histogram<u64>,
}

impl PerAction {
    #[expect(dead_code, reason = "step 2 makes one per kind of action")]
    fn new() -> Self {
        Self {
            success: 0,
            failure: 0,
            exception: 0,
            durations: Histogram::new_with_bounds(1, 3_600_000_000, 3).expect("valid bounds"),
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
    #[expect(unused_variables, reason = "step 3 reads `actions`")]
    pub fn summaries(&self) -> Vec<Summary> {
        let actions = self.actions.lock().unwrap_or_else(|p| p.into_inner());
        // TODO(step 3): one `Summary` per action: its counts, and the 50th,
        // 90th and 99th percentiles and the maximum of its durations. Which
        // of `Histogram`'s methods give them, and may reading them change
        // them (README step 3)?
        Vec::new()
    }
}

/// What the layer remembers of a running action, in its span's extensions.
#[expect(dead_code, reason = "steps 1 and 2 read `name` and `started_ns`")]
struct Running {
    name: String,
    started_ns: u64,
    outcome: Option<Outcome>,
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

    #[expect(
        unused_variables,
        reason = "step 2 counts the action under its `outcome`"
    )]
    fn on_close(&self, id: Id, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(&id) else { return };
        let extensions = span.extensions();
        let Some(running) = extensions.get::<Running>() else {
            return; // not an action
        };
        let outcome = running.outcome.unwrap_or(Outcome::Success);
        // TODO(step 1): how long the action took, in microseconds, by this
        // layer's clock. From when, and to which moment: is the action over
        // now, or was it over earlier (README step 1)?
        // TODO(step 2): count the action once and keep its duration, in the
        // `PerAction` of its name. Under which outcome does it count, and
        // what does a duration below the histogram's lowest value count as
        // (README step 2, and `Histogram::record`)?
    }
}

/// The fields of an action span: `action.name` when it begins,
/// `action.outcome` when it ends.
#[derive(Default)]
struct ActionFields {
    name: Option<String>,
    outcome: Option<Outcome>,
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
