//! Head sampling decided once per trace in this process, so that a trace
//! the sampler drops costs its spans next to nothing.
//!
//! The sampler (`OTEL_TRACES_SAMPLER`, the SDK's) is asked when an
//! OpenTelemetry span starts, and tracing-opentelemetry (0.34) starts one
//! only when a child or a propagation needs its context, or when it
//! closes: until then it builds the span's `SpanBuilder` and records
//! every field into it, sampled or not. So a span of a trace that is not
//! sampled costs nearly what an exported one does.
//!
//! [`SampledTraces`], a per-layer filter on the OpenTelemetry layer
//! ([`crate::layers::spans`]), keeps the layer away from every span of a
//! trace that is not sampled, after the trace's first span here:
//!
//! - a span with no span current where it is made is a root: the layer
//!   sees it, gives it its trace id and, when its first child is made,
//!   asks the sampler (with the remote parent an incoming request's
//!   server span got from `traceparent`);
//! - any other span is let through only if the span current where it is
//!   made belongs to a sampled trace. The answer is kept in that span's
//!   extensions ([`Sampled`], [`NotSampled`]), so the sampler's decision is read
//!   once per span that has children, and a span the layer never saw is
//!   known to be in a trace that is not sampled without any look-up.
//!
//! That is the decision a parent-based sampler makes anyway, made before
//! the span exists rather than after it is built. A sampler that decides
//! span by span inside a trace (none of the SDK's does) is not followed
//! below a span it dropped.
//!
//! A trace that is not sampled still propagates: [`propagated_context`]
//! is the context of the nearest span the layer saw (the trace's unsampled
//! root here, or the caller's), so an outgoing call carries the trace id
//! and the flag `00`, and the next service drops the trace too: no service
//! stores part of a trace another one dropped.
//!
//! **Explicit parents.** A per-layer filter is asked before the span
//! exists, with its metadata and the current span, not its parent
//! (tracing-subscriber 0.3's `Filter::enabled`), so a span made with
//! `parent: …` is let through or not by the span current where it is
//! made. Two cases are handled after the fact, when the filter sees the
//! span's attributes ([`Filter::on_new_span`]):
//!
//! - its parent is a span the layer never saw (of a trace not sampled),
//!   while the span current where it is made let it through (on another
//!   thread, with no span entered, say): the layer would make it a root of
//!   a new trace, which the sampler might keep. It is marked as part of
//!   its parent's trace, its children are kept away as theirs are, it
//!   propagates its parent's trace, and [`WithoutDetached`] drops it at
//!   the end if the sampler kept it on its own;
//! - otherwise the layer finds the parent itself, and follows it.
//!
//! [`crate::tracer_provider`] and `init` put [`WithoutDetached`] in front
//! of their span processors; a provider built otherwise needs it too, or
//! such a span may be exported as a trace of its own, as
//! tracing-opentelemetry exports any span whose explicit parent it was
//! filtered from.
//!
//! What is not handled: a span with an explicit parent in a sampled trace,
//! or with `parent: None`, made while a span of a trace not sampled is
//! current, is left out with the current one's trace; and so is a span
//! made while such a span is current and then given a remote parent
//! (`propagation::continue_from`): its caller's decision is not read.
//! Nothing here makes such spans: the services make every span in the
//! current context, and a server span where no span is current.

use std::cell::Cell;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use opentelemetry::Context as OtelContext;
use opentelemetry::trace::{SpanId, TraceContextExt};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{Span, SpanData, SpanProcessor};
use tracing::dispatcher::WeakDispatch;
use tracing::span::{Attributes, Id};
use tracing::subscriber::Interest;
use tracing::{Dispatch, Level, Metadata, Subscriber};
use tracing_subscriber::Registry;
use tracing_subscriber::layer::{Context, Filter, Layer};
use tracing_subscriber::registry::{LookupSpan, SpanRef};

use crate::layers::is_tokio_runtime;

/// What is known of the trace of a span the OpenTelemetry layer saw, in
/// its extensions: this, or [`NotSampled`], or nothing yet. A span the
/// layer never saw carries neither: its trace is not sampled, and its
/// nearest ancestor the layer saw says how to propagate it. Zero-sized,
/// so that marking a span of a kept trace allocates nothing.
#[derive(Clone, Copy, Debug)]
struct Sampled;

/// A span of a trace not sampled that the layer saw (see [`Sampled`]).
#[derive(Clone, Debug)]
struct NotSampled {
    /// The context to propagate: this span's own OpenTelemetry context,
    /// or, for a detached span, that of the nearest span of its trace the
    /// layer saw.
    context: OtelContext,
    /// The layer made this span the root of a trace of its own, its real
    /// parent being a span it never saw: the sampler may have kept it,
    /// and [`WithoutDetached`] drops it.
    detached: bool,
}

/// Detached spans (see [`NotSampled::detached`]) not closed yet: while
/// there are none, which is nearly always, a close asks nothing.
static DETACHED_OPEN: AtomicUsize = AtomicUsize::new(0);

/// The per-layer filter of the OpenTelemetry layer: tokio's own
/// instrumentation left out, events only at WARN and above (a trace
/// carries the events that say something went wrong; the rest is for the
/// logs), and spans only in traces that are sampled (see the module docs).
pub struct SampledTraces {
    /// The dispatcher, to ask the OpenTelemetry layer for a span's context:
    /// a filter is not handed it, [`RemembersDispatch`] is.
    dispatch: Arc<OnceLock<WeakDispatch>>,
}

impl SampledTraces {
    /// The filter, and the layer that must sit beside it in the same
    /// subscriber to hand it the dispatcher.
    pub fn new_pair() -> (Self, RemembersDispatch) {
        let dispatch = Arc::new(OnceLock::new());
        (
            Self {
                dispatch: Arc::clone(&dispatch),
            },
            RemembersDispatch(dispatch),
        )
    }

    /// Whether a span made now, in the current context, continues a
    /// sampled trace (or starts one: a root is always let through).
    fn continues_a_sampled_trace<S>(&self, cx: &Context<'_, S>) -> bool
    where
        S: Subscriber + for<'a> LookupSpan<'a>,
    {
        let current = cx.current_span();
        let Some(innermost) = current.id() else {
            return true;
        };
        // `cx.span` answers only for a span this filter let through: one
        // look-up, whatever the depth of the stack.
        match cx.span(innermost) {
            Some(seen) => self.is_sampled(&seen),
            // A span left out for what it is (tokio's) says nothing of its
            // trace: the nearest entered span this filter let through,
            // which the layer would make the new span's parent, does.
            None if current.metadata().is_some_and(is_tokio_runtime) => cx
                .lookup_current()
                .is_none_or(|seen| self.is_sampled(&seen)),
            // Any other was left out because its trace is not sampled, and
            // the new span, its child, is in that trace: the most common
            // case in a trace that is not sampled.
            None => false,
        }
    }

    /// Whether the trace of `span`, a span the layer saw, is sampled: what
    /// its extensions say, or, the first time, what the sampler said as
    /// the layer started the span (kept in its extensions).
    fn is_sampled<S>(&self, span: &SpanRef<'_, S>) -> bool
    where
        S: for<'a> LookupSpan<'a>,
    {
        {
            let extensions = span.extensions();
            if extensions.get::<Sampled>().is_some() {
                return true;
            }
            if extensions.get::<NotSampled>().is_some() {
                return false;
            }
        }
        // Starting the span here is what the layer would do as it makes
        // the child anyway (its parent's context). The SDK is built
        // without its `internal-logs` feature: starting a span logs
        // nothing, so nothing re-enters the dispatcher from this filter.
        let Some(context) = self
            .dispatch
            .get()
            .and_then(WeakDispatch::upgrade)
            .and_then(|dispatch| tracing_opentelemetry::get_otel_context(&span.id(), &dispatch))
        else {
            // No layer to ask: let the span through, as if no filter were
            // there. The dispatcher is missing only if `RemembersDispatch`
            // was not handed it (behind an `Option` or a `Vec` of layers,
            // which do not pass it on): every span would then reach the
            // layer, a cost and no error, so debug builds say so.
            debug_assert!(
                self.dispatch.get().is_some(),
                "telemetry::layers::spans was composed where it is not told its dispatcher \
                 (an Option or a Vec of layers): sampled-out traces would cost in full"
            );
            return true;
        };
        let sampled = context.span().span_context().is_sampled();
        // `replace`: another thread may have asked at the same time.
        let mut extensions = span.extensions_mut();
        if sampled {
            extensions.replace(Sampled);
        } else {
            extensions.replace(NotSampled {
                context,
                detached: false,
            });
        }
        sampled
    }

    /// The context to propagate for a span whose nearest ancestor the
    /// layer saw is `seen`, if that trace is not sampled.
    fn unsampled_context<S>(&self, seen: &SpanRef<'_, S>) -> Option<OtelContext>
    where
        S: for<'a> LookupSpan<'a>,
    {
        if self.is_sampled(seen) {
            return None;
        }
        seen.extensions()
            .get::<NotSampled>()
            .map(|not_sampled| not_sampled.context.clone())
    }

    /// The context of a detached parent, which its children are detached
    /// with.
    fn detached_context<S>(parent: &SpanRef<'_, S>) -> Option<OtelContext>
    where
        S: for<'a> LookupSpan<'a>,
    {
        parent
            .extensions()
            .get::<NotSampled>()
            .filter(|not_sampled| not_sampled.detached)
            .map(|not_sampled| not_sampled.context.clone())
    }
}

impl<S> Filter<S> for SampledTraces
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn enabled(&self, meta: &Metadata<'_>, cx: &Context<'_, S>) -> bool {
        if is_tokio_runtime(meta) {
            return false;
        }
        // An event goes to the layer only in a sampled trace: in a trace
        // not sampled the layer would build it (its fields, a timestamp)
        // for a span that is never exported, or for a span of another
        // trace entered further out on the thread. An event is judged by
        // the span current where it is made, even one given an explicit
        // parent: a filter is not shown the event itself here, and
        // `Filter::event_enabled`, which is, leaves the registry's filter
        // state dirty when it alone turns an event away.
        if !meta.is_span() && *meta.level() > Level::WARN {
            return false;
        }
        self.continues_a_sampled_trace(cx)
    }

    /// tokio's spans and events below WARN are decided once per call
    /// site; other spans and events each time, by the trace they are made
    /// in.
    fn callsite_enabled(&self, meta: &'static Metadata<'static>) -> Interest {
        if is_tokio_runtime(meta) || (!meta.is_span() && *meta.level() > Level::WARN) {
            Interest::never()
        } else {
            Interest::sometimes()
        }
    }

    /// A span with an explicit parent, let through by the span current
    /// where it was made, whose parent is of a trace not sampled: the
    /// layer is about to make it a root (see the module docs).
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, cx: Context<'_, S>) {
        let Some(parent) = attrs.parent() else {
            return;
        };
        let Some(span) = cx.span(id) else { return };
        let unsampled = match cx.span(parent) {
            // The layer finds this parent, and follows it; unless the
            // parent is itself detached.
            Some(parent) => Self::detached_context(&parent),
            // A parent the layer never saw: its trace is that of its
            // nearest ancestor the layer saw (unless it was left out for
            // being tokio's, under a sampled span).
            None => span.parent().and_then(|seen| self.unsampled_context(&seen)),
        };
        if let Some(context) = unsampled {
            let was = span.extensions_mut().replace(NotSampled {
                context,
                detached: true,
            });
            if !was.is_some_and(|was| was.detached) {
                DETACHED_OPEN.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// Just before the layer ends a detached span: if the sampler kept it,
    /// [`WithoutDetached`] is told to drop it.
    fn on_close(&self, id: Id, cx: Context<'_, S>) {
        if DETACHED_OPEN.load(Ordering::Relaxed) == 0 {
            return;
        }
        let Some(span) = cx.span(&id) else { return };
        let detached = span
            .extensions()
            .get::<NotSampled>()
            .is_some_and(|not_sampled| not_sampled.detached);
        if !detached {
            return;
        }
        DETACHED_OPEN.fetch_sub(1, Ordering::Relaxed);
        let started = self
            .dispatch
            .get()
            .and_then(WeakDispatch::upgrade)
            .and_then(|dispatch| tracing_opentelemetry::get_otel_context(&id, &dispatch));
        if let Some(context) = started {
            let otel_span = context.span();
            let span_context = otel_span.span_context();
            if span_context.is_sampled() {
                DETACHED_CLOSING.set(Some(span_context.span_id()));
            }
        }
    }
}

/// Hands [`SampledTraces`] the dispatcher it filters for; it does nothing
/// else.
pub struct RemembersDispatch(Arc<OnceLock<WeakDispatch>>);

impl<S: Subscriber> Layer<S> for RemembersDispatch {
    fn on_register_dispatch(&self, dispatch: &Dispatch) {
        let _ = self.0.set(dispatch.downgrade());
    }
}

/// The context `span` propagates: its own OpenTelemetry context if the
/// layer saw it, else that of its nearest ancestor the layer saw (with the
/// trace id and the flag `00` of a trace not sampled). For a subscriber
/// that is not built on tracing-subscriber's `Registry`, the span's own
/// context, as `OpenTelemetrySpanExt::context` gives it.
pub fn propagated_context(span: &tracing::Span) -> OtelContext {
    span.with_subscriber(|(id, dispatch)| {
        let registry = dispatch.downcast_ref::<Registry>()?;
        let span = registry.span(id)?;
        nearest_seen_context(&span, dispatch)
    })
    .flatten()
    .unwrap_or_else(|| {
        use tracing_opentelemetry::OpenTelemetrySpanExt as _;
        span.context()
    })
}

/// [`propagated_context`], for a layer that has the span's `SpanRef` and
/// the dispatcher: `None` when neither the span nor any ancestor was seen
/// by the OpenTelemetry layer. No extension lock may be held by the
/// caller: the layer takes its own.
pub(crate) fn nearest_seen_context<R>(
    span: &SpanRef<'_, R>,
    dispatch: &Dispatch,
) -> Option<OtelContext>
where
    R: for<'a> LookupSpan<'a>,
{
    for ancestor in span.scope() {
        let known = ancestor
            .extensions()
            .get::<NotSampled>()
            .map(|not_sampled| not_sampled.context.clone());
        if known.is_some() {
            return known;
        }
        // A span the layer never saw has no context there: on to its
        // parent.
        if let Some(context) = tracing_opentelemetry::get_otel_context(&ancestor.id(), dispatch) {
            return Some(context);
        }
    }
    None
}

thread_local! {
    /// The detached span the layer is ending on this thread, if the
    /// sampler kept it: [`WithoutDetached`] drops it.
    static DETACHED_CLOSING: Cell<Option<SpanId>> = const { Cell::new(None) };
}

/// A span processor that hands `inner` every span but a detached one (a
/// span of a trace not sampled that the layer had to make a root, see the
/// module docs), which the sampler may have kept on its own.
#[derive(Debug)]
pub struct WithoutDetached<P> {
    inner: P,
}

impl<P> WithoutDetached<P> {
    pub fn new(inner: P) -> Self {
        Self { inner }
    }
}

impl<P: SpanProcessor> SpanProcessor for WithoutDetached<P> {
    fn on_start(&self, span: &mut Span, cx: &OtelContext) {
        self.inner.on_start(span, cx);
    }

    fn on_end(&self, span: SpanData) {
        if DETACHED_CLOSING.take() == Some(span.span_context.span_id()) {
            return;
        }
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
