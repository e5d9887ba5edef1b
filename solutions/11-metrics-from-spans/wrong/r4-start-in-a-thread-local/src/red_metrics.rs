//! RED metrics (rate, errors, duration) from the server spans the service
//! already makes: one layer, no counter at any call site. Each finished
//! request is one observation of `http_server_request_duration_seconds`
//! (OpenTelemetry's `http.server.request.duration`): the histogram's count
//! is the rate, its status label the errors, its buckets the duration.
//!
//! This version keeps a request's start in a thread-local: a request is
//! taken to be served by one thread from its start to its end, so each
//! thread's slot holds the start of the request it is serving, out of reach
//! of the requests in flight on the other threads. The label sets, the
//! histogram and the reading of a server span's fields are the reference
//! solution's.

pub use reference::red_metrics::{RequestLabels, TraceLabels};

use std::cell::Cell;
use std::sync::OnceLock;
use std::time::Instant;

use lab11_given::SERVER_SPAN;
use opentelemetry::trace::TraceContextExt;
use prometheus_client::metrics::family::Family;
use prometheus_client::registry::{Registry, Unit};
use reference::red_metrics::{HttpFields, RequestHistogram, request_histogram};
use tracing::dispatcher::WeakDispatch;
use tracing::span::{Attributes, Id, Record};
use tracing::{Dispatch, Subscriber};
use tracing_subscriber::Layer;
use tracing_subscriber::layer::Context;
use tracing_subscriber::registry::LookupSpan;

/// The layer: `tracing_subscriber::registry().with(RedMetrics::register(&mut registry))`.
pub struct RedMetrics {
    requests: Family<RequestLabels, RequestHistogram, fn() -> RequestHistogram>,
    /// The subscriber this layer is part of, to ask the OpenTelemetry layer
    /// for a span's trace id.
    dispatch: OnceLock<WeakDispatch>,
}

impl RedMetrics {
    /// Registers the request histogram in `registry`, and returns the layer
    /// that fills it.
    pub fn register(registry: &mut Registry) -> Self {
        let requests = Family::new_with_constructor(request_histogram as fn() -> RequestHistogram);
        // The unit makes the name `http_server_request_duration_seconds`.
        registry.register_with_unit(
            "http_server_request_duration",
            "How long each request took, by route, method and status",
            Unit::Seconds,
            requests.clone(),
        );
        Self {
            requests,
            dispatch: OnceLock::new(),
        }
    }

    /// The trace `span` belongs to, from the OpenTelemetry layer.
    fn trace_id(&self, span: &Id) -> Option<String> {
        let dispatch = self.dispatch.get()?.upgrade()?;
        let context = tracing_opentelemetry::get_otel_context(span, &dispatch)?;
        let span_context = context.span().span_context().clone();
        span_context
            .is_valid()
            .then(|| span_context.trace_id().to_string())
    }
}

thread_local! {
    /// When the request this thread serves began.
    static STARTED: Cell<Option<Instant>> = const { Cell::new(None) };
}

/// A request in flight: kept in its span's extensions until the span closes.
/// Its start is in `STARTED`, the slot of the thread that serves it.
struct InFlight {
    method: String,
    route: String,
    status: Option<u16>,
}

impl<S> Layer<S> for RedMetrics
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_register_dispatch(&self, dispatch: &Dispatch) {
        let _ = self.dispatch.set(dispatch.downgrade());
    }

    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        if attrs.metadata().name() != SERVER_SPAN {
            return;
        }
        let mut fields = HttpFields::default();
        attrs.record(&mut fields);
        STARTED.set(Some(Instant::now()));
        if let Some(span) = ctx.span(id) {
            span.extensions_mut().insert(InFlight {
                method: fields.method.unwrap_or_default(),
                route: fields.route.unwrap_or_default(),
                status: None,
            });
        }
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
        let mut fields = HttpFields::default();
        values.record(&mut fields);
        let (Some(status), Some(span)) = (fields.status, ctx.span(id)) else {
            return;
        };
        if let Some(request) = span.extensions_mut().get_mut::<InFlight>() {
            request.status = Some(status);
        }
    }

    fn on_close(&self, id: Id, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(&id) else { return };
        // Taken out, and the extensions released, before the trace id is
        // asked for: the OpenTelemetry layer reads the same extensions.
        let Some(request) = span.extensions_mut().remove::<InFlight>() else {
            return;
        };
        // No status: the client went away before an answer. Not a request
        // the service answered, so not counted.
        let Some(status) = request.status else { return };
        let labels = RequestLabels {
            http_request_method: request.method,
            http_route: request.route,
            http_response_status_code: status,
        };
        // The start this thread noted for the request it serves.
        let seconds = STARTED
            .get()
            .map_or(0.0, |started| started.elapsed().as_secs_f64());
        let exemplar = self.trace_id(&id).map(|trace_id| TraceLabels { trace_id });
        self.requests
            .get_or_create(&labels)
            .observe(seconds, exemplar, None);
    }
}
