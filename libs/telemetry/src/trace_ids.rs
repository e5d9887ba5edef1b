//! The project's one addition to tracing-subscriber's JSON lines: the
//! OpenTelemetry `trace_id` and `span_id` of the span an event happens in,
//! so that a log line leads to its trace. Two pieces, because looking the
//! ids up needs the dispatcher, which a layer is handed when it is
//! registered and an event formatter never is:
//!
//! - [`TraceIdLayer`], a layer of the same subscriber as the OpenTelemetry
//!   layer, looks up the ids that layer gave the event's span;
//! - [`WithTraceIds`] wraps the event format of a JSON `fmt` layer (see
//!   `fmt::Layer::map_event_format` in tracing-subscriber) and writes the
//!   ids [`TraceIdLayer`] found into the line.
//!
//! Everything else in the line is tracing-subscriber's own JSON format
//! (`timestamp`, `level`, `fields`, `target`, `span`, `spans`).

use std::fmt;
use std::sync::OnceLock;

use opentelemetry::trace::TraceContextExt;
use tracing::dispatcher::WeakDispatch;
use tracing::{Dispatch, Event, Subscriber};
use tracing_subscriber::Layer;
use tracing_subscriber::fmt::FmtContext;
use tracing_subscriber::fmt::format::{FormatEvent, FormatFields, Writer};
use tracing_subscriber::layer::Context;
use tracing_subscriber::registry::LookupSpan;

/// The OpenTelemetry ids of a span, as lowercase hex, kept in the span's
/// extensions by [`TraceIdLayer`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TraceIds {
    pub trace_id: String,
    pub span_id: String,
}

/// Looks up a span's OpenTelemetry ids at the first event inside it, not
/// when it is created: a server span learns its parent (from the
/// `traceparent` header) just after it is made.
pub struct TraceIdLayer {
    enabled: bool,
    dispatch: OnceLock<WeakDispatch>,
}

impl Default for TraceIdLayer {
    fn default() -> Self {
        Self::enabled(true)
    }
}

impl TraceIdLayer {
    /// A layer that does nothing unless `enabled`. (An `Option` of a layer
    /// would be simpler, but is not handed the dispatcher at registration.)
    pub fn enabled(enabled: bool) -> Self {
        Self {
            enabled,
            dispatch: OnceLock::new(),
        }
    }
}

impl<S> Layer<S> for TraceIdLayer
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_register_dispatch(&self, dispatch: &Dispatch) {
        let _ = self.dispatch.set(dispatch.downgrade());
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        if !self.enabled {
            return;
        }
        let Some(span) = ctx.event_span(event) else {
            return;
        };
        if span.extensions().get::<TraceIds>().is_some() {
            return;
        }
        let Some(dispatch) = self.dispatch.get().and_then(WeakDispatch::upgrade) else {
            return;
        };
        // No extension lock may be held here: the OpenTelemetry layer takes
        // its own while it reads the span's context. A span of a trace not
        // sampled that the layer never saw has the trace id of its trace
        // and the span id of its nearest ancestor the layer saw
        // (`crate::sampling`): neither is ever exported.
        let Some(cx) = crate::sampling::nearest_seen_context(&span, &dispatch) else {
            return;
        };
        let otel_span = cx.span();
        let context = otel_span.span_context();
        if context.is_valid() {
            span.extensions_mut().insert(TraceIds {
                trace_id: context.trace_id().to_string(),
                span_id: context.span_id().to_string(),
            });
        }
    }
}

/// Wraps an event format that writes one JSON object per line (such as
/// tracing-subscriber's `.json()`) and adds the [`TraceIds`] that
/// [`TraceIdLayer`] found for the event's span. Outside any span, or with
/// no ids found, the line is left as it was.
#[derive(Clone, Debug, Default)]
pub struct WithTraceIds<F>(pub F);

impl<S, N, F> FormatEvent<S, N> for WithTraceIds<F>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'w> FormatFields<'w> + 'static,
    F: FormatEvent<S, N>,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let mut line = String::new();
        self.0.format_event(ctx, Writer::new(&mut line), event)?;
        let ids = ctx
            .parent_span()
            .and_then(|span| span.extensions().get::<TraceIds>().cloned());
        // The ids are hex: they go in before the object's closing brace as
        // they are, with no need to parse the line and write it again.
        let object = line.trim_end();
        match (ids, object.strip_suffix('}')) {
            (Some(ids), Some(open)) if object.starts_with('{') => {
                let separator = if open.trim_end() == "{" { "" } else { "," };
                writeln!(
                    writer,
                    r#"{open}{separator}"trace_id":"{}","span_id":"{}"}}"#,
                    ids.trace_id, ids.span_id
                )
            }
            _ => writer.write_str(&line),
        }
    }
}
