//! Head sampling decided at a trace's first span (`telemetry::sampling`),
//! through the services' subscriber and the real SDK: a trace is exported
//! whole or not at all, whatever thread or task its spans run on; a trace
//! that is dropped still propagates its trace id, with the flag `00`; the
//! caller's decision is followed; and OpenTelemetry does no work for the
//! spans of a dropped trace after its first.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use http::{HeaderMap, HeaderValue};
use opentelemetry::Context;
use opentelemetry::trace::SpanId;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{
    InMemorySpanExporter, Sampler, SdkTracerProvider, SimpleSpanProcessor, Span, SpanData,
    SpanProcessor,
};
use telemetry::Settings;
use telemetry::cpu_time::WithCpuTime;
use telemetry::log_writer::LogWriters;
use telemetry::sampling::WithoutDetached;
use tracing::{Dispatch, Instrument, info_span};

/// Counts what the SDK hands the processors it wraps: spans started,
/// spans ended.
#[derive(Debug)]
struct Counted<P> {
    inner: P,
    started: Arc<AtomicUsize>,
    ended: Arc<AtomicUsize>,
}

impl<P: SpanProcessor> SpanProcessor for Counted<P> {
    fn on_start(&self, span: &mut Span, cx: &Context) {
        self.started.fetch_add(1, Ordering::SeqCst);
        self.inner.on_start(span, cx);
    }

    fn on_end(&self, span: SpanData) {
        self.ended.fetch_add(1, Ordering::SeqCst);
        self.inner.on_end(span);
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.inner.force_flush()
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.inner.shutdown_with_timeout(timeout)
    }

    fn set_resource(&mut self, resource: &Resource) {
        self.inner.set_resource(resource);
    }
}

/// The services' subscriber over the processors `init` builds, exporting
/// in memory, under `sampler`.
struct Pipeline {
    provider: SdkTracerProvider,
    exported: InMemorySpanExporter,
    started: Arc<AtomicUsize>,
    ended: Arc<AtomicUsize>,
    dispatch: Dispatch,
    _log_writers: LogWriters,
}

impl Pipeline {
    fn new(sampler: Sampler) -> Self {
        let exported = InMemorySpanExporter::default();
        let started = Arc::new(AtomicUsize::new(0));
        let ended = Arc::new(AtomicUsize::new(0));
        let processors = Counted {
            inner: WithCpuTime::new(WithoutDetached::new(SimpleSpanProcessor::new(
                exported.clone(),
            ))),
            started: Arc::clone(&started),
            ended: Arc::clone(&ended),
        };
        let provider = SdkTracerProvider::builder()
            .with_sampler(sampler)
            .with_span_processor(processors)
            .build();
        let (subscriber, log_writers) = telemetry::subscriber(&Settings::quiet("test"), &provider);
        Self {
            provider,
            exported,
            started,
            ended,
            dispatch: Dispatch::new(subscriber),
            _log_writers: log_writers,
        }
    }

    fn run<T>(&self, work: impl FnOnce() -> T) -> T {
        tracing::dispatcher::with_default(&self.dispatch, work)
    }

    fn spans(&self) -> Vec<SpanData> {
        self.provider.force_flush().expect("flushed");
        self.exported.get_finished_spans().expect("the spans")
    }
}

/// What `inject` writes for a span.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Traceparent {
    trace_id: String,
    parent_id: String,
    flags: String,
}

fn traceparent(span: &tracing::Span) -> Traceparent {
    let mut headers = HeaderMap::new();
    telemetry::propagation::inject(span, &mut headers);
    let value = headers
        .get("traceparent")
        .expect("a traceparent, sampled or not")
        .to_str()
        .expect("ASCII");
    let fields: Vec<&str> = value.split('-').collect();
    let [_version, trace_id, parent_id, flags] = fields.as_slice() else {
        panic!("not a traceparent: {value}");
    };
    Traceparent {
        trace_id: (*trace_id).to_owned(),
        parent_id: (*parent_id).to_owned(),
        flags: (*flags).to_owned(),
    }
}

/// Whether OpenTelemetry holds anything for `span`: a span it never saw
/// has no builder and no context there.
fn seen_by_opentelemetry(span: &tracing::Span) -> bool {
    span.with_subscriber(|(id, dispatch)| tracing_opentelemetry::get_otel_context(id, dispatch))
        .flatten()
        .is_some()
}

/// Every span of [`one_trace`], with its parent's name.
const TREE: [(&str, Option<&str>); 9] = [
    ("root", None),
    ("nested", Some("root")),
    ("leaf", Some("nested")),
    ("explicit", Some("nested")),
    ("moved", Some("root")),
    ("on_thread", Some("moved")),
    ("explicit_on_thread", Some("moved")),
    ("task", Some("root")),
    ("in_task", Some("task")),
];

/// One trace, with a span of each kind [`TREE`] names: nested, with an
/// explicit parent that is not current, moved to another thread and
/// entered there, with an explicit parent on a thread where no span is
/// current, and an instrumented future. Returns what the root propagates.
fn one_trace(runtime: &tokio::runtime::Runtime, dispatch: &Dispatch) -> Traceparent {
    let root = info_span!("root");
    root.in_scope(|| {
        let nested = info_span!("nested");
        nested.in_scope(|| {
            info_span!("leaf", n = 1)
                .in_scope(|| tracing::warn!("a warning, exported on its span"));
        });
        info_span!(parent: &nested, "explicit").in_scope(|| {});
        let moved = info_span!("moved");
        let on_other_thread = dispatch.clone();
        std::thread::spawn(move || {
            // `moved` is closed inside: the registry closes a span's
            // parent through the thread's dispatcher, so a span dropped
            // outside it would leave the root open for ever.
            tracing::dispatcher::with_default(&on_other_thread, move || {
                moved.in_scope(|| info_span!("on_thread").in_scope(|| {}));
                info_span!(parent: &moved, "explicit_on_thread").in_scope(|| {});
            });
        })
        .join()
        .expect("the other thread");
        runtime.block_on(
            async {
                info_span!("in_task").in_scope(|| {});
                tokio::task::yield_now().await;
            }
            .instrument(info_span!("task")),
        );
        traceparent(&tracing::Span::current())
    })
}

#[test]
fn every_trace_is_exported_whole_or_not_at_all() {
    const ROUNDS: usize = 200;
    let pipeline = Pipeline::new(Sampler::ParentBased(Box::new(Sampler::TraceIdRatioBased(
        0.5,
    ))));
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("a runtime");
    let decided: Vec<Traceparent> = (0..ROUNDS)
        .map(|_| pipeline.run(|| one_trace(&runtime, &pipeline.dispatch)))
        .collect();
    let spans = pipeline.spans();

    let mut by_trace: BTreeMap<String, Vec<&SpanData>> = BTreeMap::new();
    for span in &spans {
        by_trace
            .entry(span.span_context.trace_id().to_string())
            .or_default()
            .push(span);
    }
    let sampled = decided.iter().filter(|root| root.flags == "01").count();
    assert!(
        (1..ROUNDS).contains(&sampled),
        "at ratio 0.5, some traces kept and some dropped: {sampled} of {ROUNDS} kept"
    );
    for root in &decided {
        let exported = by_trace.remove(&root.trace_id).unwrap_or_default();
        if root.flags != "01" {
            assert!(
                exported.is_empty(),
                "a dropped trace exported {:?}",
                exported.iter().map(|span| &span.name).collect::<Vec<_>>()
            );
            continue;
        }
        let by_name: BTreeMap<&str, &SpanData> =
            exported.iter().map(|span| (&*span.name, *span)).collect();
        assert_eq!(
            by_name.len(),
            TREE.len(),
            "every span of a kept trace, once: {:?}",
            exported.iter().map(|span| &span.name).collect::<Vec<_>>()
        );
        for (name, parent) in TREE {
            let span = by_name
                .get(name)
                .unwrap_or_else(|| panic!("{name} missing from a kept trace"));
            let expected_parent = parent.map_or(SpanId::INVALID, |parent| {
                by_name
                    .get(parent)
                    .map_or(SpanId::INVALID, |p| p.span_context.span_id())
            });
            assert_eq!(span.parent_span_id, expected_parent, "{name}'s parent");
        }
        assert_eq!(by_name["leaf"].events.len(), 1, "the warning, on its span");
    }
    assert!(
        by_trace.is_empty(),
        "traces no root started: {:?}",
        by_trace.keys().collect::<Vec<_>>()
    );
}

#[test]
fn a_dropped_trace_propagates_its_trace_id_with_the_flag_00() {
    let pipeline = Pipeline::new(Sampler::ParentBased(Box::new(Sampler::AlwaysOff)));
    let (root, call, seen) = pipeline.run(|| {
        let root = info_span!("root");
        root.in_scope(|| {
            let call = info_span!("call");
            let seen = (seen_by_opentelemetry(&root), seen_by_opentelemetry(&call));
            (traceparent(&root), traceparent(&call), seen)
        })
    });
    assert_eq!(seen, (true, false), "the root is seen, its child is not");
    assert_eq!(root.flags, "00");
    assert_eq!(call.trace_id, root.trace_id, "the root's trace");
    assert_eq!(call.flags, "00", "dropped downstream too");
    assert_eq!(
        call.parent_id, root.parent_id,
        "the root's span id: the nearest span OpenTelemetry saw"
    );
    assert!(pipeline.spans().is_empty());
}

#[test]
fn a_kept_trace_propagates_each_spans_own_id_with_the_flag_01() {
    let pipeline = Pipeline::new(Sampler::ParentBased(Box::new(Sampler::AlwaysOn)));
    let (root, call) = pipeline.run(|| {
        let root = info_span!("root");
        root.in_scope(|| {
            let call = info_span!("call");
            (traceparent(&root), traceparent(&call))
        })
    });
    assert_eq!(call.trace_id, root.trace_id);
    assert_eq!(call.flags, "01");
    let spans = pipeline.spans();
    let exported = spans
        .iter()
        .find(|span| span.name == "call")
        .expect("the call's span");
    assert_eq!(
        call.parent_id,
        exported.span_context.span_id().to_string(),
        "the call's own span: the next service's span is its child"
    );
}

/// A caller's trace, sampled or not, as its `traceparent` says.
const CALLER_TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const CALLER_SPAN: &str = "00f067aa0ba902b7";

/// A request continuing the caller's trace (`flags`), with a child that
/// makes an outgoing call: what the call carries, and whether
/// OpenTelemetry saw the request's span and its child.
fn serve(pipeline: &Pipeline, flags: &str) -> (Traceparent, bool, bool) {
    let mut headers = HeaderMap::new();
    let incoming = format!("00-{CALLER_TRACE}-{CALLER_SPAN}-{flags}");
    headers.insert(
        "traceparent",
        HeaderValue::from_str(&incoming).expect("a header"),
    );
    pipeline.run(|| {
        let request = info_span!("handle", order_id = 42);
        telemetry::propagation::continue_from(&request, &headers);
        request.in_scope(|| {
            let work = info_span!("work");
            work.in_scope(|| {
                let call = info_span!("call");
                let outgoing = traceparent(&call);
                (
                    outgoing,
                    seen_by_opentelemetry(&request),
                    seen_by_opentelemetry(&work),
                )
            })
        })
    })
}

#[test]
fn a_request_its_caller_sampled_is_exported_whole() {
    // A root here would be kept: the caller's decision is what is followed.
    let pipeline = Pipeline::new(Sampler::ParentBased(Box::new(Sampler::AlwaysOn)));
    let (outgoing, _, _) = serve(&pipeline, "01");
    assert_eq!(outgoing.trace_id, CALLER_TRACE);
    assert_eq!(outgoing.flags, "01");
    let spans = pipeline.spans();
    let mut names: Vec<&str> = spans.iter().map(|span| &*span.name).collect();
    names.sort_unstable();
    assert_eq!(names, ["call", "handle", "work"]);
    for span in &spans {
        assert_eq!(span.span_context.trace_id().to_string(), CALLER_TRACE);
    }
    let handle = spans.iter().find(|span| span.name == "handle").unwrap();
    assert_eq!(handle.parent_span_id.to_string(), CALLER_SPAN);
}

#[test]
fn a_request_its_caller_dropped_costs_opentelemetry_nothing_below_its_server_span() {
    let pipeline = Pipeline::new(Sampler::ParentBased(Box::new(Sampler::AlwaysOn)));
    let (outgoing, request_seen, work_seen) = serve(&pipeline, "00");
    assert_eq!(outgoing.trace_id, CALLER_TRACE, "the caller's trace");
    assert_eq!(outgoing.flags, "00", "and its decision, passed on");
    assert!(request_seen, "the request's span decides, so it is seen");
    assert!(!work_seen, "no builder, no context for the spans below it");
    assert!(pipeline.spans().is_empty());
    assert_eq!(
        pipeline.started.load(Ordering::SeqCst),
        0,
        "no span started"
    );
    assert_eq!(pipeline.ended.load(Ordering::SeqCst), 0, "no span ended");
}
