//! RED metrics (rate, errors, duration) from the instrumentation the
//! services already have, not from counters added at call sites: every
//! server span becomes an observation of `http_server_request_duration_seconds`
//! (OpenTelemetry's `http.server.request.duration`), and every action one of
//! `actions_duration_seconds`. A histogram's count is the rate; its
//! `http_response_status_code` or `outcome` label the errors.
//!
//! Labels stay few on purpose: the route template (`/talks/{talk_id}`,
//! never the path), the method (a known one or `_OTHER`, never a made-up
//! one), the status, the action's name and outcome. Each distinct label set
//! is a series kept in memory forever, here and in Prometheus, so a raw
//! path, an order id or a method a client invents as a label grows without
//! bound.
//!
//! Each bucket of the request histogram keeps an **exemplar**: the trace id
//! of the last request that fell in it, so that a slow bucket points at a
//! trace the collector can show. `GET /metrics` serves it all as
//! OpenMetrics text ([`encode`]).
//!
//! Only answered requests are observed: a request dropped before its
//! response (a server span with `error.type = "cancelled"` and no status)
//! is in the traces, not in the histogram.
//!
//! Beside them, in the same registry, the span export's own counters
//! ([`crate::export`]), named as OpenTelemetry's SDK self-observability
//! conventions name them: `otel_sdk_processor_span_processed_total` (spans
//! handed to the batch processor), `otel_sdk_exporter_span_exported_total`
//! (with `error_type` for the spans of batches that failed for good),
//! `otel_sdk_exporter_span_export_retries_total` and
//! `otel_sdk_processor_span_pending` (handed, and neither exported nor
//! failed yet); and `log_lines_dropped_total`, the log lines dropped
//! because their writer's queue was full ([`crate::log_writer`]).

use std::fmt::Write as _;
use std::sync::{Arc, OnceLock};
use std::time::Instant;

use actions::{Outcome, Record, RecordKind, Sink};
use opentelemetry::trace::{TraceContextExt, TraceId};
use prometheus_client::encoding::{EncodeLabelSet, EncodeLabelValue, LabelValueEncoder};
use prometheus_client::metrics::exemplar::HistogramWithExemplars;
use prometheus_client::metrics::family::{Family, MetricConstructor};
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use tracing::dispatcher::WeakDispatch;
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record as SpanRecord};
use tracing::{Dispatch, Subscriber};
use tracing_subscriber::Layer;
use tracing_subscriber::layer::Context;
use tracing_subscriber::registry::LookupSpan;

use crate::export::ExportCounters;

/// The content type of [`encode`]'s text, for the `/metrics` response.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// A request's series: OpenTelemetry's HTTP attribute names, with dots as
/// underscores, as Prometheus spells them.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    /// One of the methods the conventions know, or `_OTHER`.
    http_request_method: &'static str,
    /// The route template; empty when no route matched (a 404), so that
    /// unknown paths share one series.
    http_route: String,
    http_response_status_code: u16,
}

/// What an exemplar says: which trace.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct TraceLabels {
    trace_id: TraceIdLabel,
}

/// A trace id as a label value, written as hex only when scraped: every
/// request sets an exemplar, and this way none of them allocates.
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq)]
struct TraceIdLabel(TraceId);

impl EncodeLabelValue for TraceIdLabel {
    fn encode(&self, encoder: &mut LabelValueEncoder<'_>) -> Result<(), std::fmt::Error> {
        write!(encoder, "{}", self.0)
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ActionLabels {
    action: String,
    outcome: String,
}

/// 1 ms to about 8 s, doubling: the shop's requests and actions.
fn buckets() -> impl Iterator<Item = f64> {
    exponential_buckets(0.001, 2.0, 14)
}

#[derive(Clone)]
struct RequestHistogram;

impl MetricConstructor<HistogramWithExemplars<TraceLabels>> for RequestHistogram {
    fn new_metric(&self) -> HistogramWithExemplars<TraceLabels> {
        HistogramWithExemplars::new(buckets())
    }
}

/// The process's metrics, as `GET /metrics` serves them.
struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, HistogramWithExemplars<TraceLabels>, RequestHistogram>,
    actions: Family<ActionLabels, Histogram, fn() -> Histogram>,
    export: Arc<ExportCounters>,
}

fn metrics() -> &'static Metrics {
    static METRICS: OnceLock<Metrics> = OnceLock::new();
    METRICS.get_or_init(|| {
        let requests = Family::new_with_constructor(RequestHistogram);
        let actions: Family<ActionLabels, Histogram, fn() -> Histogram> =
            Family::new_with_constructor(|| Histogram::new(buckets()));
        let mut registry = Registry::default();
        registry.register(
            "http_server_request_duration_seconds",
            "How long each request took, by route, method and status",
            requests.clone(),
        );
        registry.register(
            "actions_duration_seconds",
            "How long each action took, by name and outcome",
            actions.clone(),
        );
        let export = Arc::new(ExportCounters::default());
        export.register(&mut registry);
        crate::profiling::register(&mut registry);
        crate::log_writer::register(&mut registry);
        Metrics {
            registry,
            requests,
            actions,
            export,
        }
    })
}

/// The process's span export counters, served here: what `init` counts
/// its export into.
pub(crate) fn export_counters() -> Arc<ExportCounters> {
    metrics().export.clone()
}

/// Every metric of this process, as OpenMetrics text.
pub fn encode() -> String {
    let metrics = metrics();
    metrics.export.refresh_pending();
    let mut text = String::new();
    prometheus_client::encoding::text::encode(&mut text, &metrics.registry)
        .expect("writing to a String cannot fail");
    text
}

/// The layer that turns every finished server span into an observation.
#[derive(Default)]
pub struct MetricsLayer {
    /// To read a span's trace id from the OpenTelemetry layer.
    dispatch: OnceLock<WeakDispatch>,
}

/// A server span's request, as it goes: kept in the span's extensions.
struct Request {
    started: Instant,
    method: &'static str,
    route: String,
    status: Option<u16>,
    trace_id: Option<TraceId>,
}

/// Reads the HTTP attributes of a server span.
#[derive(Default)]
struct HttpFields {
    method: Option<&'static str>,
    route: Option<String>,
    status: Option<u16>,
}

impl Visit for HttpFields {
    fn record_str(&mut self, field: &Field, value: &str) {
        match field.name() {
            // The server span already records a known method or `_OTHER`;
            // mapping again keeps the label bounded whoever made the span.
            "http.request.method" => self.method = Some(crate::http::known_method(value)),
            "http.route" => self.route = Some(value.to_owned()),
            _ => {}
        }
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        if field.name() == "http.response.status_code" {
            self.status = u16::try_from(value).ok();
        }
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        if let Ok(value) = u64::try_from(value) {
            self.record_u64(field, value);
        }
    }

    fn record_debug(&mut self, _field: &Field, _value: &dyn std::fmt::Debug) {
        // The server span records its HTTP fields as strings and numbers.
    }
}

/// The span the server layer makes ([`crate::http::ServerSpan`]).
fn is_server_span(metadata: &tracing::Metadata<'_>) -> bool {
    metadata.name() == crate::http::SERVER_SPAN
}

impl<S> Layer<S> for MetricsLayer
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_register_dispatch(&self, dispatch: &Dispatch) {
        let _ = self.dispatch.set(dispatch.downgrade());
    }

    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        if !is_server_span(attrs.metadata()) {
            return;
        }
        let mut fields = HttpFields::default();
        attrs.record(&mut fields);
        if let Some(span) = ctx.span(id) {
            span.extensions_mut().insert(Request {
                started: Instant::now(),
                method: fields.method.unwrap_or_default(),
                route: fields.route.unwrap_or_default(),
                status: None,
                trace_id: None,
            });
        }
    }

    fn on_record(&self, id: &Id, values: &SpanRecord<'_>, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(id) else { return };
        if !is_server_span(span.metadata()) {
            return;
        }
        let mut fields = HttpFields::default();
        values.record(&mut fields);
        let Some(status) = fields.status else { return };
        // The status is recorded as the response leaves, while the span is
        // still open: the time to read its trace id, which the caller's
        // context decided after the span was made. No extension lock may be
        // held here: the OpenTelemetry layer takes its own.
        let trace_id = self
            .dispatch
            .get()
            .and_then(WeakDispatch::upgrade)
            .and_then(|dispatch| tracing_opentelemetry::get_otel_context(id, &dispatch))
            .map(|cx| cx.span().span_context().clone())
            // A trace the sampler dropped is in no store: an exemplar
            // pointing at it would lead nowhere.
            .filter(|context| context.is_valid() && context.is_sampled())
            .map(|context| context.trace_id());
        if let Some(request) = span.extensions_mut().get_mut::<Request>() {
            request.status = Some(status);
            request.trace_id = trace_id;
        }
    }

    fn on_close(&self, id: Id, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(&id) else { return };
        let Some(request) = span.extensions_mut().remove::<Request>() else {
            return;
        };
        // A request dropped before it was answered (its span's `error.type`
        // is `cancelled`: the client went away) has no status, and none is
        // made up for it: it is no request the service answered, and a
        // status label it never sent would lie in every error rate. Its
        // span, in the traces, is where it shows.
        let Some(status) = request.status else { return };
        let labels = RequestLabels {
            http_request_method: request.method,
            http_route: request.route,
            http_response_status_code: status,
        };
        let exemplar = request.trace_id.map(|trace_id| TraceLabels {
            trace_id: TraceIdLabel(trace_id),
        });
        metrics().requests.get_or_create(&labels).observe(
            request.started.elapsed().as_secs_f64(),
            exemplar,
            None,
        );
    }
}

/// The actions' sink: every action's end is an observation of
/// `actions_duration_seconds`, whatever its level.
#[derive(Clone, Copy, Debug, Default)]
pub struct MetricsSink;

impl Sink for MetricsSink {
    fn wants(&self, _kind: RecordKind) -> bool {
        false
    }

    fn record(&self, _record: &Record) {}

    fn ended(&self, name: &'static str, outcome: Outcome, duration_us: u64, _now_ns: u64) {
        let labels = ActionLabels {
            action: name.to_owned(),
            outcome: outcome.as_str().to_owned(),
        };
        metrics()
            .actions
            .get_or_create(&labels)
            .observe(duration_us as f64 / 1e6);
    }
}
