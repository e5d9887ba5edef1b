//! Head sampling, as `OTEL_TRACES_SAMPLER=parentbased_traceidratio` sets
//! it up (the SDK reads the variable; `telemetry` leaves its sampler
//! alone): a span the sampler drops reaches none of the span processors
//! `init` builds, so it gets no CPU-time attribute, takes no place in the
//! export queue and is never exported; a trace its caller sampled is kept
//! whole, exactly as it would be without sampling.

use std::sync::Arc;

use http::{HeaderMap, HeaderValue};
use opentelemetry_sdk::trace::{
    InMemorySpanExporter, Sampler, SdkTracerProvider, SimpleSpanProcessor, SpanData,
};
use telemetry::Settings;
use telemetry::cpu_time::{self, WithCpuTime};
use telemetry::export::{CountingExporter, CountingProcessor, ExportCounters};

mod common;
use common::{Counted, SpanCounts};

/// A caller's sampled trace, as its `traceparent` says.
const SAMPLED_CALLER: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

/// The processors `init` builds (the CPU-time attribute around the counted
/// processor and exporter), exporting in memory, under a sampler that
/// starts no trace of its own: `parentbased_traceidratio` with a ratio of 0.
struct Pipeline {
    provider: SdkTracerProvider,
    exported: InMemorySpanExporter,
    counters: Arc<ExportCounters>,
    counts: SpanCounts,
}

impl Pipeline {
    fn new() -> Self {
        let exported = InMemorySpanExporter::default();
        let counters = Arc::new(ExportCounters::default());
        let (processors, counts) = Counted::new(WithCpuTime::new(CountingProcessor::new(
            SimpleSpanProcessor::new(CountingExporter::new(exported.clone(), counters.clone())),
            counters.clone(),
        )));
        let provider = SdkTracerProvider::builder()
            .with_sampler(Sampler::ParentBased(Box::new(Sampler::TraceIdRatioBased(
                0.0,
            ))))
            .with_span_processor(processors)
            .build();
        Self {
            provider,
            exported,
            counters,
            counts,
        }
    }

    /// A request's spans through the services' subscriber: its server span
    /// (continuing the caller's trace, if `headers` carry one), a child
    /// with a field, and a warning in the child.
    fn serve_one(&self, headers: &HeaderMap) -> Vec<SpanData> {
        let settings = Settings::quiet("test");
        let (subscriber, _log_writers) = telemetry::subscriber(&settings, &self.provider);
        tracing::subscriber::with_default(subscriber, || {
            let request = tracing::info_span!("handle", order_id = 42);
            telemetry::propagation::continue_from(&request, headers);
            request.in_scope(|| {
                tracing::info_span!("reserve", seats = 2)
                    .in_scope(|| tracing::warn!(left = 0, "the last seats"));
            });
        });
        self.provider.force_flush().expect("flushed");
        self.exported.get_finished_spans().expect("the spans")
    }
}

#[test]
fn a_span_sampled_out_reaches_no_processor_and_costs_no_export() {
    let pipeline = Pipeline::new();
    let spans = pipeline.serve_one(&HeaderMap::new());

    assert!(spans.is_empty(), "nothing exported: {spans:?}");
    assert_eq!(pipeline.counts.started(), 0, "no span started");
    assert_eq!(
        pipeline.counts.ended(),
        0,
        "no span ended: no CPU-time attribute added"
    );
    assert_eq!(pipeline.counters.handed(), 0, "nothing queued");
    assert_eq!(pipeline.counters.exported(), 0);
}

#[test]
fn a_trace_its_caller_sampled_is_kept_whole_with_its_cpu_time() {
    let pipeline = Pipeline::new();
    let mut headers = HeaderMap::new();
    headers.insert("traceparent", HeaderValue::from_static(SAMPLED_CALLER));
    let spans = pipeline.serve_one(&headers);

    let mut names: Vec<&str> = spans.iter().map(|span| &*span.name).collect();
    names.sort_unstable();
    assert_eq!(names, ["handle", "reserve"]);
    for span in &spans {
        assert_eq!(
            span.span_context.trace_id().to_string(),
            "4bf92f3577b34da6a3ce929d0e0e4736",
            "the caller's trace"
        );
        assert!(
            span.attributes
                .iter()
                .any(|kv| kv.key.as_str() == cpu_time::ATTRIBUTE),
            "{} has its CPU time: {:?}",
            span.name,
            span.attributes
        );
    }
    let reserve = spans.iter().find(|span| span.name == "reserve").unwrap();
    assert!(
        reserve
            .attributes
            .iter()
            .any(|kv| kv.key.as_str() == "seats"),
        "{:?}",
        reserve.attributes
    );
    assert_eq!(reserve.events.len(), 1, "the warning, on its span");
    assert_eq!(pipeline.counts.started(), 2);
    assert_eq!(pipeline.counts.ended(), 2);
    assert_eq!(pipeline.counters.handed(), 2);
    assert_eq!(pipeline.counters.exported(), 2);
}
