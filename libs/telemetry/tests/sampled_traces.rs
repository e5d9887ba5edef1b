//! Head sampling decided at a trace's first span (`telemetry::sampling`),
//! through the services' subscriber and the real SDK: a trace is exported
//! whole or not at all, whatever thread, task or runtime worker its spans
//! run on; a trace that is dropped still propagates its trace id, with the
//! flag `00`, from any of its spans; the caller's decision is followed; a
//! warning of a dropped trace lands on no span of another trace; and
//! OpenTelemetry does no work for the spans of a dropped trace after its
//! first.
//!
//! What is exported does not show all of it: a parent-based sampler drops
//! a span of a dropped trace whether or not the OpenTelemetry layer saw
//! it. So the tests also count the sampler's answers (the SDK asks it once
//! for each span it starts, and the layer starts every span it sees, at
//! the latest as it closes) and ask whether OpenTelemetry holds a span.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use http::{HeaderMap, HeaderValue};
use opentelemetry::trace::{Link, SpanId, SpanKind, TraceId};
use opentelemetry::{Context, KeyValue};
use opentelemetry_sdk::trace::{
    InMemorySpanExporter, Sampler, SamplingResult, SdkTracerProvider, ShouldSample,
    SimpleSpanProcessor, SpanData,
};
use telemetry::Settings;
use telemetry::cpu_time::WithCpuTime;
use telemetry::log_writer::LogWriters;
use telemetry::sampling::WithoutDetached;
use tracing::instrument::WithSubscriber;
use tracing::{Dispatch, Instrument, info_span};

mod common;
use common::{Counted, SpanCounts};

/// Counts the sampler's answers: the SDK asks it once for each span it
/// starts, sampled or not, so the count is the number of spans
/// OpenTelemetry built.
#[derive(Clone, Debug)]
struct CountedSampler {
    inner: Sampler,
    asked: Arc<AtomicUsize>,
}

impl ShouldSample for CountedSampler {
    fn should_sample(
        &self,
        parent_context: Option<&Context>,
        trace_id: TraceId,
        name: &str,
        span_kind: &SpanKind,
        attributes: &[KeyValue],
        links: &[Link],
    ) -> SamplingResult {
        self.asked.fetch_add(1, Ordering::SeqCst);
        self.inner
            .should_sample(parent_context, trace_id, name, span_kind, attributes, links)
    }
}

/// The services' subscriber over the processors `init` builds, exporting
/// in memory, under `sampler`, counting what the sampler is asked.
struct Pipeline {
    provider: SdkTracerProvider,
    exported: InMemorySpanExporter,
    /// Spans the sampler kept: a span it drops reaches no processor.
    counts: SpanCounts,
    /// Spans OpenTelemetry started, kept or dropped ([`CountedSampler`]).
    asked: Arc<AtomicUsize>,
    dispatch: Dispatch,
    _log_writers: LogWriters,
}

impl Pipeline {
    fn new(sampler: Sampler) -> Self {
        let exported = InMemorySpanExporter::default();
        let asked = Arc::new(AtomicUsize::new(0));
        let (processors, counts) = Counted::new(WithCpuTime::new(WithoutDetached::new(
            SimpleSpanProcessor::new(exported.clone()),
        )));
        let provider = SdkTracerProvider::builder()
            .with_sampler(CountedSampler {
                inner: sampler,
                asked: Arc::clone(&asked),
            })
            .with_span_processor(processors)
            .build();
        let (subscriber, log_writers) = telemetry::subscriber(&Settings::quiet("test"), &provider);
        Self {
            provider,
            exported,
            counts,
            asked,
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

    /// How many spans OpenTelemetry has started so far.
    fn asked(&self) -> usize {
        self.asked.load(Ordering::SeqCst)
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

/// The names of the events exported on `span`: a warning's is its
/// message.
fn event_names(span: &SpanData) -> Vec<&str> {
    span.events.iter().map(|event| &*event.name).collect()
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
            let expected_events: &[&str] = if name == "leaf" {
                &["a warning, exported on its span"]
            } else {
                &[]
            };
            assert_eq!(
                event_names(span),
                expected_events,
                "{name}'s events: a warning is exported on the span it was made in, and no other"
            );
        }
    }
    assert!(
        by_trace.is_empty(),
        "traces no root started: {:?}",
        by_trace.keys().collect::<Vec<_>>()
    );
}

/// The spans of a dropped [`one_trace`] that OpenTelemetry starts: its
/// root, which the sampler drops, and `explicit_on_thread`, made with an
/// explicit parent on a thread where no span is current, which the layer
/// sees and makes a root (marked detached, and dropped at its end if the
/// sampler kept it). Every other span is its trace's: the layer never sees
/// it, and OpenTelemetry builds nothing for it.
const STARTED_IN_A_DROPPED_TRACE: usize = 2;

#[test]
fn a_dropped_trace_starts_only_its_root_and_detached_span_a_kept_one_every_span() {
    const ROUNDS: usize = 100;
    let pipeline = Pipeline::new(Sampler::ParentBased(Box::new(Sampler::TraceIdRatioBased(
        0.5,
    ))));
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("a runtime");
    let mut kept = 0;
    for round in 0..ROUNDS {
        let before = pipeline.asked();
        let root = pipeline.run(|| one_trace(&runtime, &pipeline.dispatch));
        // Every span of the round is closed by now: the layer starts a span
        // at the latest as it closes it.
        let started = pipeline.asked() - before;
        if root.flags == "01" {
            kept += 1;
            assert_eq!(
                started,
                TREE.len(),
                "round {round}: a kept trace of {} spans had {started} started, not each once",
                TREE.len()
            );
        } else {
            assert_eq!(
                started, STARTED_IN_A_DROPPED_TRACE,
                "round {round}: a dropped trace had {started} spans started, not its root and \
                 its detached span alone: its other spans (nested, on another thread, in a \
                 task) reached OpenTelemetry"
            );
        }
    }
    assert!(
        (1..ROUNDS).contains(&kept),
        "at ratio 0.5, some traces kept and some dropped: {kept} of {ROUNDS} kept"
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

/// The headers of a request continuing the caller's trace, with the
/// caller's decision (`flags`).
fn from_caller(flags: &str) -> HeaderMap {
    let mut headers = HeaderMap::new();
    let incoming = format!("00-{CALLER_TRACE}-{CALLER_SPAN}-{flags}");
    headers.insert(
        "traceparent",
        HeaderValue::from_str(&incoming).expect("a header"),
    );
    headers
}

/// A request continuing the caller's trace (`flags`), with a child that
/// makes an outgoing call: what the call carries, and whether
/// OpenTelemetry saw the request's span and its child.
fn serve(pipeline: &Pipeline, flags: &str) -> (Traceparent, bool, bool) {
    let headers = from_caller(flags);
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
    // A root here would be dropped: only the caller's `01` keeps the trace.
    let pipeline = Pipeline::new(Sampler::ParentBased(Box::new(Sampler::AlwaysOff)));
    let (outgoing, request_seen, work_seen) = serve(&pipeline, "01");
    assert_eq!(outgoing.trace_id, CALLER_TRACE);
    assert_eq!(outgoing.flags, "01", "the caller's decision, passed on");
    assert!(
        request_seen && work_seen,
        "every span of a kept trace reaches OpenTelemetry: request seen {request_seen}, \
         its child seen {work_seen}"
    );
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
    assert_eq!(pipeline.counts.started(), 0, "no span started");
    assert_eq!(pipeline.counts.ended(), 0, "no span ended");
}

#[test]
fn a_grandchild_on_another_thread_propagates_the_dropped_trace_with_the_flag_00() {
    // A root here would be kept: only the caller's `00` drops the trace, so
    // a span wrongly made the root of a trace of its own would propagate
    // another trace id, with `01`.
    let pipeline = Pipeline::new(Sampler::ParentBased(Box::new(Sampler::AlwaysOn)));
    let headers = from_caller("00");
    let (request, (entered, entered_seen), explicit) = pipeline.run(|| {
        let request = info_span!("handle");
        telemetry::propagation::continue_from(&request, &headers);
        let work = request.in_scope(|| info_span!("work"));
        let on_other_thread = pipeline.dispatch.clone();
        let from_thread = std::thread::spawn(move || {
            // `work` is closed inside, under the test's dispatcher (see
            // `one_trace`).
            tracing::dispatcher::with_default(&on_other_thread, move || {
                let entered = work.in_scope(|| {
                    let grandchild = info_span!("grandchild");
                    (traceparent(&grandchild), seen_by_opentelemetry(&grandchild))
                });
                // No span is current here: the layer sees this one, and
                // makes it a root that must propagate its parent's trace.
                let explicit = traceparent(&info_span!(parent: &work, "explicit_grandchild"));
                (entered, explicit)
            })
        })
        .join()
        .expect("the other thread");
        (traceparent(&request), from_thread.0, from_thread.1)
    });
    assert_eq!(
        request.trace_id, CALLER_TRACE,
        "the request continues its caller"
    );
    assert_eq!(
        request.flags, "00",
        "and drops the trace, as its caller did"
    );
    assert!(
        !entered_seen,
        "OpenTelemetry holds a grandchild of a dropped request"
    );
    for (grandchild, propagated) in [("grandchild", &entered), ("explicit_grandchild", &explicit)] {
        assert_eq!(
            propagated.trace_id, request.trace_id,
            "{grandchild}, on another thread, propagates trace {} rather than its request's",
            propagated.trace_id
        );
        assert_eq!(
            propagated.flags, "00",
            "{grandchild}, on another thread, passes on a kept trace"
        );
        assert_eq!(
            propagated.parent_id, request.parent_id,
            "{grandchild}: the request's span is the nearest OpenTelemetry saw"
        );
    }
    let spans = pipeline.spans();
    assert!(
        spans.is_empty(),
        "a dropped request exported {:?}",
        spans.iter().map(|span| &span.name).collect::<Vec<_>>()
    );
}

/// What a spawned task of a trace sent and left with OpenTelemetry.
struct FromTheTask {
    /// What its outgoing call, made in its child span, carries.
    outgoing: Traceparent,
    /// Whether OpenTelemetry holds the task's span.
    task_seen: bool,
    /// Whether OpenTelemetry holds the child span made in the task.
    child_seen: bool,
}

/// The body of a spawned task: a child span, an outgoing call from it,
/// and a yield between each step, so that each step may run on another
/// worker than the one before.
async fn in_task() -> FromTheTask {
    tokio::task::yield_now().await;
    let child = info_span!("child");
    tokio::task::yield_now().await;
    let outgoing = child.in_scope(|| traceparent(&tracing::Span::current()));
    tokio::task::yield_now().await;
    FromTheTask {
        outgoing,
        task_seen: seen_by_opentelemetry(&tracing::Span::current()),
        child_seen: seen_by_opentelemetry(&child),
    }
}

/// A trace of [`spawned_traces`]: what its root propagates, and what its
/// task did.
struct SpawnedTrace {
    root: Traceparent,
    task: FromTheTask,
}

/// Traces that run at once on a runtime with two workers: each a root on
/// this thread and, inside it, [`in_task`] spawned in its own span
/// ("task") with the test's dispatcher. The tasks share the workers, so
/// spans of different traces are entered in turn on each, and a task may
/// resume on another worker than the one it started on.
fn spawned_traces(pipeline: &Pipeline, traces: usize) -> Vec<SpawnedTrace> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .expect("a runtime");
    pipeline.run(|| {
        let spawned: Vec<_> = (0..traces)
            .map(|_| {
                let root = info_span!("root");
                let task = root.in_scope(|| info_span!("task"));
                // The runtime drops a finished task's future after
                // `WithDispatch` has polled it, where the worker has no
                // dispatcher: the registry would close the task's span,
                // were that its last handle, and then its parent through
                // no dispatcher, leaving the root open. This handle leaves
                // the last close to this thread.
                let running =
                    runtime.spawn(in_task().instrument(task.clone()).with_current_subscriber());
                (root, task, running)
            })
            .collect();
        spawned
            .into_iter()
            .map(|(root, _task, running)| SpawnedTrace {
                task: runtime.block_on(running).expect("the task"),
                root: traceparent(&root),
            })
            .collect()
    })
}

/// Traces spawned at once, enough for tasks to move between the workers.
const SPAWNED: usize = 16;

#[test]
fn a_task_of_a_kept_trace_on_two_workers_is_exported_whole_and_propagates_its_own_span() {
    let pipeline = Pipeline::new(Sampler::ParentBased(Box::new(Sampler::AlwaysOn)));
    let traces = spawned_traces(&pipeline, SPAWNED);
    let spans = pipeline.spans();
    assert_eq!(
        spans.len(),
        3 * SPAWNED,
        "three spans a trace, each once: {:?}",
        spans.iter().map(|span| &span.name).collect::<Vec<_>>()
    );
    for trace in &traces {
        assert_eq!(trace.root.flags, "01", "the root is kept");
        let exported: BTreeMap<&str, &SpanData> = spans
            .iter()
            .filter(|span| span.span_context.trace_id().to_string() == trace.root.trace_id)
            .map(|span| (&*span.name, span))
            .collect();
        assert_eq!(
            exported.keys().copied().collect::<Vec<_>>(),
            ["child", "root", "task"],
            "the spans exported in the root's trace"
        );
        assert_eq!(
            exported["root"].parent_span_id,
            SpanId::INVALID,
            "the root's parent"
        );
        assert_eq!(
            exported["task"].parent_span_id,
            exported["root"].span_context.span_id(),
            "the task's span is the root's child"
        );
        assert_eq!(
            exported["child"].parent_span_id,
            exported["task"].span_context.span_id(),
            "the span made in the task is the task span's child"
        );
        assert!(
            trace.task.task_seen && trace.task.child_seen,
            "OpenTelemetry holds the task's spans: task {}, child {}",
            trace.task.task_seen,
            trace.task.child_seen
        );
        let outgoing = &trace.task.outgoing;
        assert_eq!(
            outgoing.trace_id, trace.root.trace_id,
            "the task's call continues its root's trace"
        );
        assert_eq!(
            outgoing.flags, "01",
            "the task's call passes on a kept trace"
        );
        assert_eq!(
            outgoing.parent_id,
            exported["child"].span_context.span_id().to_string(),
            "the task's call carries its own span: the next service's span is its child"
        );
    }
    assert_eq!(
        pipeline.asked(),
        3 * SPAWNED,
        "each span of a kept trace started once"
    );
}

#[test]
fn a_task_of_a_dropped_trace_on_two_workers_reaches_no_opentelemetry_and_propagates_00() {
    let pipeline = Pipeline::new(Sampler::ParentBased(Box::new(Sampler::AlwaysOff)));
    let traces = spawned_traces(&pipeline, SPAWNED);
    for trace in &traces {
        assert_eq!(trace.root.flags, "00", "the root is dropped");
        assert!(
            !trace.task.task_seen,
            "OpenTelemetry holds the span of a dropped trace's task"
        );
        assert!(
            !trace.task.child_seen,
            "OpenTelemetry holds a span made in a dropped trace's task"
        );
        let outgoing = &trace.task.outgoing;
        assert_eq!(
            outgoing.trace_id, trace.root.trace_id,
            "the task's call carries its root's trace id"
        );
        assert_eq!(
            outgoing.parent_id, trace.root.parent_id,
            "and the root's span id: the nearest span OpenTelemetry saw"
        );
        assert_eq!(
            outgoing.flags, "00",
            "and the flag 00, so that the next service drops the trace too"
        );
    }
    assert_eq!(
        pipeline.asked(),
        SPAWNED,
        "only the roots of dropped traces started: the tasks' spans reached OpenTelemetry"
    );
    let spans = pipeline.spans();
    assert!(
        spans.is_empty(),
        "dropped traces exported {:?}",
        spans.iter().map(|span| &span.name).collect::<Vec<_>>()
    );
}

#[test]
fn a_warning_in_a_dropped_trace_lands_on_no_span_of_a_kept_trace_entered_around_it() {
    let pipeline = Pipeline::new(Sampler::ParentBased(Box::new(Sampler::AlwaysOn)));
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("a runtime");
    let headers = from_caller("00");
    pipeline.run(|| {
        // A request its caller dropped starts a look-up that another
        // request awaits (a shared future): a future instrumented with a
        // span of the dropped trace, which OpenTelemetry never sees.
        let dropped = info_span!("handle");
        telemetry::propagation::continue_from(&dropped, &headers);
        let shared = dropped.in_scope(|| {
            async { tracing::warn!("the dropped trace's warning") }.instrument(info_span!("lookup"))
        });
        // The other request, kept, polls it: the look-up's span is entered
        // inside the kept request's span, on the same thread, and the
        // nearest span OpenTelemetry saw is the kept one.
        let kept = info_span!("other_request");
        kept.in_scope(|| {
            runtime.block_on(shared);
            // The kept trace's next span, on the same thread: a filter state
            // left dirty by the refused warning would turn it away.
            info_span!("after_lookup").in_scope(|| tracing::warn!("the kept trace's warning"));
        });
    });
    let spans = pipeline.spans();
    let by_name: BTreeMap<&str, &SpanData> = spans.iter().map(|span| (&*span.name, span)).collect();
    assert_eq!(
        spans.len(),
        by_name.len(),
        "each span once: {:?}",
        spans.iter().map(|span| &span.name).collect::<Vec<_>>()
    );
    assert_eq!(
        by_name.keys().copied().collect::<Vec<_>>(),
        ["after_lookup", "other_request"],
        "the kept trace whole, and nothing of the dropped one"
    );
    let around = event_names(by_name["other_request"]);
    assert!(
        around.is_empty(),
        "events on the kept span the dropped trace's span was entered in: {around:?}"
    );
    assert_eq!(
        event_names(by_name["after_lookup"]),
        ["the kept trace's warning"],
        "the kept trace's next span and its own warning"
    );
    assert_eq!(
        by_name["after_lookup"].parent_span_id,
        by_name["other_request"].span_context.span_id(),
        "after_lookup's parent"
    );
    assert_eq!(
        pipeline.asked(),
        3,
        "spans started: the dropped request's, and the kept trace's two; the look-up's \
         span reached OpenTelemetry"
    );
}
