//! RED metrics from server spans: each request's labels are built as its
//! span is made and completed by its status. The label sets, the histogram's
//! type and the reading of a server span's fields are the reference's.

use std::sync::OnceLock;
use std::time::Instant;

use lab11_given::SERVER_SPAN;
use opentelemetry::trace::TraceContextExt;
use prometheus_client::metrics::exemplar::HistogramWithExemplars;
use prometheus_client::metrics::family::Family;
use prometheus_client::registry::{Registry, Unit};
use reference::red_metrics::{HttpFields, RequestHistogram};
use tracing::dispatcher::WeakDispatch;
use tracing::span::{Attributes, Id, Record};
use tracing::{Dispatch, Subscriber};
use tracing_subscriber::Layer;
use tracing_subscriber::layer::Context;
use tracing_subscriber::registry::LookupSpan;

pub use reference::red_metrics::{RequestLabels, TraceLabels};

/// Prometheus's default buckets, in seconds: 5 ms to 10 s.
const BUCKETS: [f64; 11] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
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

    fn trace_id(&self, span: &Id) -> Option<String> {
        let dispatch = self.dispatch.get()?.upgrade()?;
        let context = tracing_opentelemetry::get_otel_context(span, &dispatch)?;
        let span_context = context.span().span_context().clone();
        if !span_context.is_valid() {
            return None;
        }
        Some(format!("{}", span_context.trace_id()))
    }
}

/// A request in flight: its series, once the status completes it.
struct Pending {
    started: Instant,
    labels: RequestLabels,
    answered: bool,
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
        let Some(span) = ctx.span(id) else { return };
        let mut fields = HttpFields::default();
        attrs.record(&mut fields);
        let labels = RequestLabels {
            http_request_method: fields.method.unwrap_or_default(),
            http_route: fields.route.unwrap_or_default(),
            http_response_status_code: 0,
        };
        span.extensions_mut().insert(Pending {
            started: Instant::now(),
            labels,
            answered: false,
        });
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
        let mut fields = HttpFields::default();
        values.record(&mut fields);
        let Some(status) = fields.status else { return };
        let Some(span) = ctx.span(id) else { return };
        let mut extensions = span.extensions_mut();
        if let Some(pending) = extensions.get_mut::<Pending>() {
            pending.labels.http_response_status_code = status;
            pending.answered = true;
        }
    }

    fn on_close(&self, id: Id, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(&id) else { return };
        // Out of the extensions before the trace id is asked for: the
        // OpenTelemetry layer locks them too.
        let Some(pending) = span.extensions_mut().remove::<Pending>() else {
            return;
        };
        if !pending.answered {
            return; // the client went away: no answer to count
        }
        let seconds = pending.started.elapsed().as_secs_f64();
        let exemplar = self.trace_id(&id).map(|trace_id| TraceLabels { trace_id });
        self.requests
            .get_or_create(&pending.labels)
            .observe(seconds, exemplar, None);
    }
}
