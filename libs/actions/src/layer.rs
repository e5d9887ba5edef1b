//! The layer that turns finished actions into records for a sink.

use std::marker::PhantomData;

use serde_json::Value;
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id};
use tracing::{Event, Subscriber};
use tracing_subscriber::Layer;
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::time::{FormatTime, SystemTime};
use tracing_subscriber::layer::Context;
use tracing_subscriber::registry::LookupSpan;

use crate::action::{ActionState, lock};
use crate::clock::{Clock, SystemClock};
use crate::format::{Record, RecordKind};
use crate::levels::Outcome;

/// Where records go. A sink says which records it wants in full (building
/// one costs a timestamp and a copy of the action's data), and may take
/// every action's end cheaply through [`Sink::ended`].
pub trait Sink: Send + Sync + 'static {
    /// Whether to build a full record of this kind.
    fn wants(&self, kind: RecordKind) -> bool;
    /// A record this sink wanted.
    fn record(&self, record: &Record);
    /// Every action's end: name, outcome, duration, and the time it ended
    /// by the layer's clock, whatever [`Sink::wants`] said.
    fn ended(&self, _name: &'static str, _outcome: Outcome, _duration_us: u64, _now_ns: u64) {}
}

/// Two sinks behind one layer: one timing of each action, for both.
impl<A: Sink, B: Sink> Sink for (A, B) {
    fn wants(&self, kind: RecordKind) -> bool {
        self.0.wants(kind) || self.1.wants(kind)
    }
    fn record(&self, record: &Record) {
        if self.0.wants(record.kind) {
            self.0.record(record);
        }
        if self.1.wants(record.kind) {
            self.1.record(record);
        }
    }
    fn ended(&self, name: &'static str, outcome: Outcome, duration_us: u64, now_ns: u64) {
        self.0.ended(name, outcome, duration_us, now_ns);
        self.1.ended(name, outcome, duration_us, now_ns);
    }
}

impl Sink for Box<dyn Sink> {
    fn wants(&self, kind: RecordKind) -> bool {
        (**self).wants(kind)
    }
    fn record(&self, record: &Record) {
        (**self).record(record);
    }
    fn ended(&self, name: &'static str, outcome: Outcome, duration_us: u64, now_ns: u64) {
        (**self).ended(name, outcome, duration_us, now_ns);
    }
}

/// No sink, or one: for sinks chosen at run time.
impl<K: Sink> Sink for Option<K> {
    fn wants(&self, kind: RecordKind) -> bool {
        self.as_ref().is_some_and(|sink| sink.wants(kind))
    }
    fn record(&self, record: &Record) {
        if let Some(sink) = self {
            sink.record(record);
        }
    }
    fn ended(&self, name: &'static str, outcome: Outcome, duration_us: u64, now_ns: u64) {
        if let Some(sink) = self {
            sink.ended(name, outcome, duration_us, now_ns);
        }
    }
}

/// A `tracing_subscriber` layer feeding one sink (or a pair of sinks),
/// next to any other layer on a `tracing_subscriber::Registry`. Durations
/// are measured with its clock.
pub struct ActionLayer<K, C = SystemClock> {
    sink: K,
    clock: C,
}

impl<K: Sink> ActionLayer<K> {
    pub fn new(sink: K) -> Self {
        Self {
            sink,
            clock: SystemClock,
        }
    }
}

/// When an action began, by a clock of type `C`: a span's extension. Layers
/// whose clocks are of one type share it, which is right because such
/// clocks count alike (every [`SystemClock`] from one origin; the
/// [`crate::ManualClock`]s a test hands its layers are clones of one).
struct Started<C> {
    at_ns: u64,
    clock: PhantomData<fn() -> C>,
}

impl<K: Sink, C: Clock> ActionLayer<K, C> {
    /// The same layer, measuring with `clock` (a [`crate::ManualClock`] in tests).
    pub fn with_clock<C2: Clock>(self, clock: C2) -> ActionLayer<K, C2> {
        ActionLayer {
            sink: self.sink,
            clock,
        }
    }
}

fn is_action(meta: &tracing::Metadata<'_>) -> bool {
    meta.target() == crate::TARGET && meta.name() == "action"
}

fn now_rfc3339() -> String {
    let mut timestamp = String::with_capacity(32);
    let _ = SystemTime.format_time(&mut Writer::new(&mut timestamp));
    timestamp
}

impl<S, K, C> Layer<S> for ActionLayer<K, C>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    K: Sink,
    C: Clock,
{
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        if !is_action(attrs.metadata()) {
            return;
        }
        let Some(span) = ctx.span(id) else { return };
        let mut extensions = span.extensions_mut();
        if extensions.get_mut::<Started<C>>().is_none() {
            extensions.insert(Started::<C> {
                at_ns: self.clock.now_ns(),
                clock: PhantomData,
            });
        }
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        if event.metadata().target() != crate::TARGET {
            return;
        }
        let mut text = TextVisitor::default();
        event.record(&mut text);
        let Some((kind, text)) = text.found else {
            return;
        };
        if !self.sink.wants(kind) {
            return;
        }
        let name = ctx
            .event_span(event)
            .and_then(|s| {
                s.extensions()
                    .get::<ActionState>()
                    .map(|state| lock(&state.0).name)
            })
            .unwrap_or("unknown");
        self.sink.record(&Record {
            timestamp: now_rfc3339(),
            kind,
            name: name.to_owned(),
            duration_us: None,
            fields: vec![("text".to_owned(), Value::String(text))],
        });
    }

    fn on_close(&self, id: Id, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(&id) else { return };
        if !is_action(span.metadata()) {
            return;
        }
        let now = self.clock.now_ns();
        let (state, started) = {
            let extensions = span.extensions();
            match (
                extensions.get::<ActionState>(),
                extensions.get::<Started<C>>(),
            ) {
                (Some(state), Some(started)) => (state.0.clone(), started.at_ns),
                _ => return,
            }
        };
        let data = lock(&state);
        let outcome = data.outcome.unwrap_or(Outcome::Success);
        let duration_us = now.saturating_sub(started) / 1_000;
        self.sink.ended(data.name, outcome, duration_us, now);
        if !self.sink.wants(RecordKind::End(outcome)) {
            return;
        }
        let mut fields: Vec<(String, Value)> = data
            .data
            .iter()
            .map(|(k, v)| ((*k).to_owned(), v.clone()))
            .collect();
        if let Some(reason) = &data.reason {
            fields.push(("reason".to_owned(), Value::String(reason.clone())));
        }
        let record = Record {
            timestamp: now_rfc3339(),
            kind: RecordKind::End(outcome),
            name: data.name.to_owned(),
            duration_us: Some(duration_us),
            fields,
        };
        drop(data);
        self.sink.record(&record);
    }
}

/// Finds an action's comment or warning text in an event.
#[derive(Default)]
struct TextVisitor {
    found: Option<(RecordKind, String)>,
}

impl Visit for TextVisitor {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        let kind = match field.name() {
            "comment" => RecordKind::Comment,
            "warning" => RecordKind::Warning,
            _ => return,
        };
        self.found = Some((kind, format!("{value:?}")));
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        self.record_debug(field, &format_args!("{value}"));
    }
}
