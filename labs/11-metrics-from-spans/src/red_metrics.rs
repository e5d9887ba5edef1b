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
    // TODO(step 1): a first draft labels each request by its path. A
    // request's labels must take few values, whatever the traffic: how many
    // series would a day of traffic make with this one? The labels a
    // dashboard needs are named in the README's Background; for each, decide
    // where its value comes from, how many values it can take, and which
    // type keeps it what the conventions say (README step 1).
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
        // TODO(step 1): register in `registry` the family this layer
        // observes into, so that `GET /metrics` shows it as
        // `http_server_request_duration_seconds`. In `prometheus_client` the
        // unit is part of the name (README step 1:
        // `Registry::register_with_unit`, `Unit`).
        Self {
            requests,
            dispatch: OnceLock::new(),
        }
    }

    /// The trace `span` belongs to, as 32 hex digits, from the OpenTelemetry layer.
    #[expect(dead_code, unused_variables, reason = "step 4 uses it")]
    fn trace_id(&self, span: &Id) -> Option<String> {
        // TODO(step 4): ask the OpenTelemetry layer, through the dispatch
        // this layer kept (`self.dispatch`), for the trace `span` belongs
        // to. Where to look: `tracing_opentelemetry::get_otel_context`, and
        // `TraceContextExt` for the span context in what it gives. Mind
        // *when* you ask (README step 4).
        None
    }
}

/// Reads the HTTP attributes of a server span, as a visitor: of its
/// `Attributes` when it is made, of a `Record` when a field is recorded
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
        // TODO(step 2): for a server span (`SERVER_SPAN`), keep what is known
        // now and needed when the span closes, where requests in flight at
        // the same time never mix. Which clock measures a duration (README
        // step 2)? Where to look: the span's extensions (README, Background),
        // and `HttpFields`.
    }

    fn on_record(&self, _id: &Id, _values: &Record<'_>, _ctx: Context<'_, S>) {
        // TODO(step 3): the status is recorded as the response leaves; keep
        // it with the rest. What does a span that closes without one mean
        // (README step 3)?
    }

    fn on_close(&self, _id: Id, _ctx: Context<'_, S>) {
        // TODO(step 4): the request is over: its duration, in the family's
        // unit, goes in the series of its labels, with its trace id as the
        // exemplar's `trace_id`. When is that id right, and what may you
        // still hold while you ask for it (README step 4)? Where to look:
        // `Family::get_or_create`, `HistogramWithExemplars::observe`.
    }
}
