//! Trace and span ids on log lines.
//!
//! OpenTelemetry assigns a span its ids when the span starts, but a server
//! span only learns its parent (from the `traceparent` header) just after it
//! is created. So the ids are looked up lazily, at the first event inside a
//! span, and kept in the span's extensions where the JSON formatter reads
//! them. Looking them up needs the dispatcher, which a layer is handed once
//! when it is registered.

use std::sync::OnceLock;

use opentelemetry::trace::TraceContextExt;
use tracing::dispatcher::WeakDispatch;
use tracing::{Dispatch, Event, Subscriber};
use tracing_subscriber::Layer;
use tracing_subscriber::layer::Context;
use tracing_subscriber::registry::LookupSpan;

/// The OpenTelemetry ids of a span, as lowercase hex.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TraceIds {
    pub trace_id: String,
    pub span_id: String,
}

pub(crate) struct TraceIdLayer {
    enabled: bool,
    dispatch: OnceLock<WeakDispatch>,
}

impl TraceIdLayer {
    /// A layer that does nothing unless `enabled`. (An `Option` of a layer
    /// would be simpler, but is not handed the dispatcher at registration.)
    pub(crate) fn new(enabled: bool) -> Self {
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
        // its own while it reads the span's context.
        let Some(cx) = tracing_opentelemetry::get_otel_context(&span.id(), &dispatch) else {
            return;
        };
        let otel_span = cx.span();
        let span_context = otel_span.span_context();
        if span_context.is_valid() {
            span.extensions_mut().insert(TraceIds {
                trace_id: span_context.trace_id().to_string(),
                span_id: span_context.span_id().to_string(),
            });
        }
    }
}
