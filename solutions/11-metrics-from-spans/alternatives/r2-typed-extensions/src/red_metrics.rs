//! RED metrics (rate, errors, duration) from the server spans the service
//! already makes: one layer, no counter at any call site. Each fact about a
//! request is kept in its span's extensions as a type of its own, as soon
//! as it is known, and the three are taken out together when the span
//! closes.

use std::sync::OnceLock;
use std::time::Instant;

use opentelemetry::trace::TraceContextExt;
use prometheus_client::metrics::exemplar::HistogramWithExemplars;
use prometheus_client::metrics::family::Family;
use prometheus_client::registry::{Registry, Unit};
use reference::red_metrics::RequestHistogram;
pub use reference::red_metrics::{RequestLabels, TraceLabels};
use tracing::dispatcher::WeakDispatch;
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Dispatch, Subscriber};
use tracing_subscriber::Layer;
use tracing_subscriber::layer::Context;
use tracing_subscriber::registry::LookupSpan;

/// The bucket bounds OpenTelemetry's semantic conventions advise for
/// `http.server.request.duration`, in seconds.
const BUCKETS: [f64; 14] = [
    0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0,
];

fn request_histogram() -> RequestHistogram {
    HistogramWithExemplars::new(BUCKETS.into_iter())
}

/// The layer: `tracing_subscriber::registry().with(RedMetrics::register(&mut registry))`.
pub struct RedMetrics {
    requests: Family<RequestLabels, RequestHistogram, fn() -> RequestHistogram>,
    dispatch: OnceLock<WeakDispatch>,
}

impl RedMetrics {
    /// Registers the request histogram in `registry`, and returns the layer
    /// that fills it.
    pub fn register(registry: &mut Registry) -> Self {
        let requests = Family::new_with_constructor(request_histogram as fn() -> RequestHistogram);
        registry.register_with_unit(
            "http_server_request_duration",
            "Duration of HTTP server requests",
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

/// When a server span was made.
struct Started(Instant);

/// What a server span says about its request when it is made.
struct Route {
    method: String,
    route: String,
}

/// The status a server span recorded as its response left.
struct Status(u16);

/// Reads a span's HTTP attributes and its kind.
#[derive(Default)]
struct HttpFields {
    kind: Option<String>,
    method: Option<String>,
    route: Option<String>,
    status: Option<u16>,
}

impl Visit for HttpFields {
    fn record_str(&mut self, field: &Field, value: &str) {
        let slot = match field.name() {
            "otel.kind" => &mut self.kind,
            "http.request.method" => &mut self.method,
            "http.route" => &mut self.route,
            _ => return,
        };
        *slot = Some(value.to_owned());
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

    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let mut fields = HttpFields::default();
        attrs.record(&mut fields);
        if fields.kind.as_deref() != Some("server") {
            return;
        }
        let Some(span) = ctx.span(id) else { return };
        let mut extensions = span.extensions_mut();
        extensions.insert(Started(Instant::now()));
        extensions.insert(Route {
            method: fields.method.unwrap_or_default(),
            route: fields.route.unwrap_or_default(),
        });
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
        let mut fields = HttpFields::default();
        values.record(&mut fields);
        let (Some(status), Some(span)) = (fields.status, ctx.span(id)) else {
            return;
        };
        let mut extensions = span.extensions_mut();
        if extensions.get_mut::<Started>().is_some() {
            extensions.replace(Status(status));
        }
    }

    fn on_close(&self, id: Id, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(&id) else { return };
        // All three out at once, and the extensions released before the
        // OpenTelemetry layer is asked for the trace id.
        let (started, route, status) = {
            let mut extensions = span.extensions_mut();
            (
                extensions.remove::<Started>(),
                extensions.remove::<Route>(),
                extensions.remove::<Status>(),
            )
        };
        // A span with no status: the client went away unanswered.
        let (Some(Started(started)), Some(route), Some(Status(status))) = (started, route, status)
        else {
            return;
        };
        let seconds = started.elapsed().as_secs_f64();
        let labels = RequestLabels {
            http_request_method: route.method,
            http_route: route.route,
            http_response_status_code: status,
        };
        let exemplar = self.trace_id(&id).map(|trace_id| TraceLabels { trace_id });
        self.requests
            .get_or_create(&labels)
            .observe(seconds, exemplar, None);
    }
}
