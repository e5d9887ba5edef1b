//! RED metrics (rate, errors, duration) from the server spans the service
//! already makes: one layer, no counter at any call site. Each finished
//! request is one observation of `http_server_request_duration_seconds`
//! (OpenTelemetry's `http.server.request.duration`): the histogram's count
//! is the rate, its status label the errors, its buckets the duration.
//!
//! This version takes an exemplar for an example of its series: each
//! series' trace id is asked for once, with the series' first request, and
//! given again with every later observation of the series, which spares the
//! OpenTelemetry layer a question per request. The label sets, the
//! histogram and the reading of a server span's fields are the reference
//! solution's.

pub use reference::red_metrics::{RequestLabels, TraceLabels};

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock, PoisonError};
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
    /// Each series' exemplar: the trace of its first request.
    exemplars: Mutex<HashMap<RequestLabels, TraceLabels>>,
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
            exemplars: Mutex::default(),
        }
    }

    /// The exemplar of the series `labels`: asked for with its first
    /// request (`span`), and the same for all the series' requests after it.
    fn series_exemplar(&self, labels: &RequestLabels, span: &Id) -> Option<TraceLabels> {
        let known = self
            .exemplars
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(labels)
            .cloned();
        if known.is_some() {
            return known;
        }
        // Asked with the map released: the OpenTelemetry layer may take a
        // while, and other requests are closing meanwhile.
        let exemplar = TraceLabels {
            trace_id: self.trace_id(span)?,
        };
        let mut exemplars = self
            .exemplars
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        Some(exemplars.entry(labels.clone()).or_insert(exemplar).clone())
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

/// A request in flight: kept in its span's extensions until the span closes.
struct InFlight {
    started: Instant,
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
        if let Some(span) = ctx.span(id) {
            span.extensions_mut().insert(InFlight {
                started: Instant::now(),
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
        let exemplar = self.series_exemplar(&labels, &id);
        self.requests.get_or_create(&labels).observe(
            request.started.elapsed().as_secs_f64(),
            exemplar,
            None,
        );
    }
}
