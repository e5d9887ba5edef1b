//! RED metrics (rate, errors, duration) from the server spans the service
//! already makes: one layer, no counter at any call site. Each finished
//! request is one observation of `http_server_request_duration_seconds`
//! (OpenTelemetry's `http.server.request.duration`): the histogram's count
//! is the rate, its status label the errors, its buckets the duration.

use std::sync::OnceLock;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::exemplar::HistogramWithExemplars;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::exponential_buckets;
use prometheus_client::registry::Registry;
use tracing::dispatcher::WeakDispatch;
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Dispatch, Subscriber};
use tracing_subscriber::Layer;
use tracing_subscriber::layer::Context;
use tracing_subscriber::registry::LookupSpan;

/// A request's series: each distinct set of label values is one.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    pub http_request_method: String,
    // TODO(step 1): a first draft labelled each request by its path. Every
    // distinct path (`/talks/17`, `/orders/90412`, any mistyped URL) would
    // be a series of its own, kept in memory here and in Prometheus for
    // good. Label by the route template (`http_route`) and the status
    // (`http_response_status_code`) instead.
    pub url_path: String,
}

/// An exemplar's labels: the trace of one request in the bucket.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct TraceLabels {
    pub trace_id: String,
}

type RequestHistogram = HistogramWithExemplars<TraceLabels>;

/// 1 ms to about 8 s, doubling: where a web request's time falls.
fn request_histogram() -> RequestHistogram {
    HistogramWithExemplars::new(exponential_buckets(0.001, 2.0, 14))
}

/// The layer: `tracing_subscriber::registry().with(RedMetrics::register(&mut registry))`.
pub struct RedMetrics {
    #[expect(dead_code, reason = "step 4 observes each request in it")]
    requests: Family<RequestLabels, RequestHistogram, fn() -> RequestHistogram>,
    /// The subscriber this layer is part of, to ask the OpenTelemetry layer
    /// for a span's trace id.
    dispatch: OnceLock<WeakDispatch>,
}

impl RedMetrics {
    /// Registers the request histogram in `registry`, and returns the layer
    /// that fills it.
    #[expect(unused_variables, reason = "step 1 registers the histogram in it")]
    pub fn register(registry: &mut Registry) -> Self {
        let requests = Family::new_with_constructor(request_histogram as fn() -> RequestHistogram);
        // TODO(step 1): register `requests` (a clone: the family is shared)
        // in `registry`, named `http_server_request_duration` with the unit
        // seconds (`register_with_unit`), which makes its name
        // `http_server_request_duration_seconds`.
        Self {
            requests,
            dispatch: OnceLock::new(),
        }
    }

    /// The trace `span` belongs to, as 32 hex digits, from the OpenTelemetry layer.
    #[expect(dead_code, unused_variables, reason = "step 4 uses it")]
    fn trace_id(&self, span: &Id) -> Option<String> {
        // TODO(step 4): upgrade `self.dispatch` and ask
        // `tracing_opentelemetry::get_otel_context(span, &dispatch)`; the
        // context's span (`TraceContextExt::span`) has the span context,
        // with the trace id. Mind *when* you ask (README, step 4).
        None
    }
}

/// Reads the HTTP attributes of a server span: `attrs.record(&mut fields)`
/// when it is made, `values.record(&mut fields)` when a field is recorded
/// later.
#[derive(Debug, Default)]
pub struct HttpFields {
    pub method: Option<String>,
    pub route: Option<String>,
    pub path: Option<String>,
    pub status: Option<u16>,
}

impl Visit for HttpFields {
    fn record_str(&mut self, field: &Field, value: &str) {
        match field.name() {
            "http.request.method" => self.method = Some(value.to_owned()),
            "http.route" => self.route = Some(value.to_owned()),
            "url.path" => self.path = Some(value.to_owned()),
            _ => {}
        }
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        if field.name() == "http.response.status_code" {
            self.status = u16::try_from(value).ok();
        }
    }

    fn record_debug(&mut self, _field: &Field, _value: &dyn std::fmt::Debug) {}
}

impl<S> Layer<S> for RedMetrics
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_register_dispatch(&self, dispatch: &Dispatch) {
        let _ = self.dispatch.set(dispatch.downgrade());
    }

    fn on_new_span(&self, _attrs: &Attributes<'_>, _id: &Id, _ctx: Context<'_, S>) {
        // TODO(step 2): for a server span (its name is `SERVER_SPAN`), keep
        // when it started, its method and its route in the span's
        // extensions (`ctx.span(id)`, then `extensions_mut().insert(…)`),
        // in a struct of your own.
    }

    fn on_record(&self, _id: &Id, _values: &Record<'_>, _ctx: Context<'_, S>) {
        // TODO(step 3): the status is recorded as the response leaves; keep
        // it with the rest.
    }

    fn on_close(&self, _id: Id, _ctx: Context<'_, S>) {
        // TODO(step 4): take the request out of the extensions, and observe
        // its duration in its series (`self.requests.get_or_create(&labels)`)
        // with its trace id as the exemplar.
    }
}
