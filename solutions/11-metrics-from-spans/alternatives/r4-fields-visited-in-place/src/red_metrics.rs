//! RED metrics (rate, errors, duration) from the server spans the service
//! already makes: one layer, no counter at any call site. Each finished
//! request is one observation of `http_server_request_duration_seconds`
//! (OpenTelemetry's `http.server.request.duration`): the histogram's count
//! is the rate, its status label the errors, its buckets the duration.
//!
//! This version keeps a server span's `HttpFields` themselves with the
//! request: the visitor that read the span's attributes when it was made
//! reads each later record too, so the status lands where the method and
//! route already are. And the family is registered as `request_duration`
//! in a sub-registry prefixed `http_server`: prefix, name and unit make the
//! same `http_server_request_duration_seconds`. The label sets, the
//! histogram and the reading of a server span's fields are the reference
//! solution's.

pub use reference::red_metrics::{RequestLabels, TraceLabels};

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
        // The prefix, the name and the unit, joined by `_`:
        // `http_server_request_duration_seconds`.
        registry
            .sub_registry_with_prefix("http_server")
            .register_with_unit(
                "request_duration",
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

/// A request in flight, kept in its span's extensions until the span
/// closes: when it began, and its span's HTTP fields as recorded so far.
struct InFlight {
    started: Instant,
    fields: HttpFields,
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
        if let Some(span) = ctx.span(id) {
            span.extensions_mut().insert(InFlight {
                started: Instant::now(),
                fields,
            });
        }
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(id) else { return };
        // Only a server span has an `InFlight`; its fields take the record
        // as they took the span's attributes (the status, as the response
        // leaves).
        if let Some(request) = span.extensions_mut().get_mut::<InFlight>() {
            values.record(&mut request.fields);
        }
    }

    fn on_close(&self, id: Id, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(&id) else { return };
        // Taken out, and the extensions released, before the trace id is
        // asked for: the OpenTelemetry layer reads the same extensions.
        let Some(InFlight { started, fields }) = span.extensions_mut().remove::<InFlight>() else {
            return;
        };
        let HttpFields {
            method,
            route,
            status,
        } = fields;
        // No status: the client went away before an answer. Not a request
        // the service answered, so not counted.
        let Some(status) = status else { return };
        let labels = RequestLabels {
            http_request_method: method.unwrap_or_default(),
            http_route: route.unwrap_or_default(),
            http_response_status_code: status,
        };
        let exemplar = self.trace_id(&id).map(|trace_id| TraceLabels { trace_id });
        self.requests.get_or_create(&labels).observe(
            started.elapsed().as_secs_f64(),
            exemplar,
            None,
        );
    }
}
