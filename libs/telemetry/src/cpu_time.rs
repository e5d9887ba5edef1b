//! Each span's own time on a CPU, beside its wall time.
//!
//! The critical path says which operation owns a request's latency; it
//! cannot say whether that operation burns CPU or waits. A span that is
//! 48 ms on the path and 0.3 ms on a CPU waits (for a lock, a peer, the
//! database); one that is 48 ms on the path and 47 ms on a CPU computes,
//! and a profile of it says which code.
//!
//! Every exported span carries [`ATTRIBUTE`]: the thread CPU clock
//! (`CLOCK_THREAD_CPUTIME_ID`) summed over the intervals the span was the
//! innermost span entered on its thread, on whichever threads it ran. Its
//! children's time is theirs, not its own, and the time an async span
//! spends suspended between polls is nobody's. Intervals under 20 µs
//! between two enters or exits are taken from the monotonic clock, which
//! costs a tenth as much; the CPU clock, read at the next longer interval,
//! keeps each thread's total exact ([`SHORT`] says why).
//!
//! Two pieces, because `tracing-opentelemetry` keeps the span it builds to
//! itself (no layer can add an attribute to it by the span's id):
//!
//! - [`measuring`] keeps, per thread, the stack of spans entered, charges the
//!   CPU clock's progress at every enter and exit to the innermost one,
//!   and, when a span closes, leaves its total in a thread-local slot;
//! - [`WithCpuTime`] wraps the span processor: OpenTelemetry ends the span
//!   on the same thread, within the same close, and the processor moves
//!   the slot's total onto the span it is handed.
//!
//! The layer sits with the OpenTelemetry layer under one filter
//! ([`crate::layers::spans_with_cpu_time`]), before it, so that it sees
//! a close first, and OpenTelemetry empties the slot as it ends the span.
//! A span ended outside its own `tracing` close (a database statement's
//! span, ended at its event or after the close of the span it ran in)
//! empties the slot first ([`forget_unclaimed`]), and so does every other
//! span or event callback the layer sees.
//!
//! The spans of a trace the sampler dropped at its first span here are
//! not measured: the filter keeps them from both layers. The first span
//! itself is (the sampler decides as the OpenTelemetry layer starts it),
//! and its figure is left unread: the processor is never handed it.

use std::cell::{Cell, RefCell};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use nix::time::{ClockId, clock_gettime};
use opentelemetry::{Context as OtelContext, KeyValue};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{Span, SpanData, SpanProcessor};
use tracing::span::{Attributes, Id};
use tracing::{Event, Subscriber};
use tracing_subscriber::Layer;
use tracing_subscriber::layer::Context;
use tracing_subscriber::registry::LookupSpan;

use crate::profiling;

/// The span attribute: the span's own on-CPU time, in nanoseconds, its
/// children excluded.
pub const ATTRIBUTE: &str = "span.cpu_time_ns";

/// A span's own CPU time so far, in its extensions.
struct OwnCpuTime(u64);

/// What a span's close leaves for the span processor.
#[derive(Clone, Copy)]
struct Closing {
    span: u64,
    cpu_ns: u64,
}

/// A span entered on this thread and not yet exited, with the CPU time
/// charged to it since it was entered.
struct Entered {
    id: Id,
    cpu_ns: u64,
}

/// An interval between two enters or exits on one thread shorter than
/// this is charged from the monotonic clock: a thread that got from one to
/// the next this quickly ran all along (a blocking call or a preemption
/// takes longer), and the thread CPU clock is a system call, about a
/// microsecond on a virtual machine, several times a span's own cost. A
/// longer interval reads the thread CPU clock, and what it measured since
/// its last reading, less the short intervals estimated meanwhile, is the
/// interval's: the thread's total stays exact, and only how it is split
/// between spans within 20 µs is estimated.
const SHORT: Duration = Duration::from_micros(20);

/// One thread's spans and clocks.
struct ThreadClock {
    /// The spans entered on this thread, innermost last.
    entered: Vec<Entered>,
    /// The monotonic clock at the last enter or exit.
    last_transition: Option<Instant>,
    /// The thread CPU clock at its last reading, in nanoseconds.
    cpu_at_last_reading: Option<u64>,
    /// The short intervals charged from the monotonic clock since then.
    estimated_since_reading: u64,
}

impl ThreadClock {
    const fn new() -> Self {
        Self {
            entered: Vec::new(),
            last_transition: None,
            cpu_at_last_reading: None,
            estimated_since_reading: 0,
        }
    }

    /// Charges the time on a CPU since the last enter or exit on this
    /// thread to the innermost entered span, if any. `false` where the
    /// platform has no thread CPU clock.
    fn charge_innermost(&mut self) -> bool {
        let now = Instant::now();
        let since_last = self
            .last_transition
            .replace(now)
            .map(|last| now.saturating_duration_since(last));
        let own_ns = match (since_last, self.cpu_at_last_reading) {
            (Some(short), Some(_)) if short < SHORT => {
                let short_ns = short.as_nanos() as u64;
                self.estimated_since_reading += short_ns;
                short_ns
            }
            (_, last_reading) => {
                let Some(cpu_ns) = thread_cpu_ns() else {
                    return false;
                };
                let measured = last_reading.map_or(0, |last| cpu_ns.saturating_sub(last));
                let own_ns = measured.saturating_sub(self.estimated_since_reading);
                self.cpu_at_last_reading = Some(cpu_ns);
                self.estimated_since_reading = 0;
                own_ns
            }
        };
        if let Some(innermost) = self.entered.last_mut() {
            innermost.cpu_ns += own_ns;
        }
        true
    }
}

thread_local! {
    static THREAD: RefCell<ThreadClock> = const { RefCell::new(ThreadClock::new()) };
    /// The span being closed on this thread (its `tracing` id) and its
    /// CPU time, for [`WithCpuTime`] to take.
    static CLOSING: Cell<Option<Closing>> = const { Cell::new(None) };
}

/// The layer that measures every span's own CPU time (see the module
/// docs), for [`crate::layers::spans_with_cpu_time`] to put under the
/// OpenTelemetry layer's filter: tokio's own instrumentation is left out,
/// as the traces leave it out (its spans would take their parents' time),
/// and so are the spans of traces the sampler dropped.
pub(crate) fn measuring() -> CpuTimeLayer {
    CpuTimeLayer
}

pub(crate) struct CpuTimeLayer;

/// Forgets a figure left by a close whose span no processor was handed
/// (the sampler dropped it): called before a span is ended outside its
/// own `tracing` close, so that it never takes another span's figure.
pub(crate) fn forget_unclaimed() {
    CLOSING.set(None);
}

/// Whether this platform has a thread CPU clock (Linux and macOS do);
/// asked once.
fn clock_available() -> bool {
    static AVAILABLE: OnceLock<bool> = OnceLock::new();
    *AVAILABLE.get_or_init(|| thread_cpu_ns().is_some())
}

/// The calling thread's CPU clock, in nanoseconds; `None` where the
/// platform has no such clock (then no span gets the attribute).
fn thread_cpu_ns() -> Option<u64> {
    let now = clock_gettime(ClockId::CLOCK_THREAD_CPUTIME_ID).ok()?;
    let seconds = u64::try_from(now.tv_sec()).ok()?;
    let nanos = u64::try_from(now.tv_nsec()).ok()?;
    Some(seconds * 1_000_000_000 + nanos)
}

impl<S> Layer<S> for CpuTimeLayer
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_new_span(&self, _attrs: &Attributes<'_>, _id: &Id, _ctx: Context<'_, S>) {
        CLOSING.set(None);
    }

    fn on_event(&self, _event: &Event<'_>, _ctx: Context<'_, S>) {
        CLOSING.set(None);
    }

    fn on_enter(&self, id: &Id, _ctx: Context<'_, S>) {
        CLOSING.set(None);
        THREAD.with_borrow_mut(|thread| {
            if thread.charge_innermost() {
                thread.entered.push(Entered {
                    id: id.clone(),
                    cpu_ns: 0,
                });
                profiling::timeline::innermost_changed(Some(id));
            }
        });
    }

    fn on_exit(&self, id: &Id, ctx: Context<'_, S>) {
        CLOSING.set(None);
        let exited = THREAD.with_borrow_mut(|thread| {
            if !thread.charge_innermost() {
                return None;
            }
            // Usually the innermost; guards dropped out of order exit an
            // outer span first.
            let position = thread.entered.iter().rposition(|span| span.id == *id)?;
            let exited = thread.entered.remove(position);
            profiling::timeline::innermost_changed(thread.entered.last().map(|span| &span.id));
            Some(exited)
        });
        let (Some(exited), Some(span)) = (exited, ctx.span(id)) else {
            return;
        };
        let mut extensions = span.extensions_mut();
        match extensions.get_mut::<OwnCpuTime>() {
            Some(total) => total.0 += exited.cpu_ns,
            None => extensions.insert(OwnCpuTime(exited.cpu_ns)),
        }
    }

    fn on_close(&self, id: Id, ctx: Context<'_, S>) {
        // A span never entered had no time of its own.
        let total = ctx.span(&id).map_or(0, |span| {
            span.extensions()
                .get::<OwnCpuTime>()
                .map_or(0, |total| total.0)
        });
        CLOSING.set(clock_available().then_some(Closing {
            span: id.into_u64(),
            cpu_ns: total,
        }));
    }
}

/// A span processor that adds [`ATTRIBUTE`] to each span ended by a
/// `tracing` close, from [`layer`]'s thread-local slot, and hands it on to
/// `inner`.
#[derive(Debug)]
pub struct WithCpuTime<P> {
    inner: P,
}

impl<P> WithCpuTime<P> {
    pub fn new(inner: P) -> Self {
        Self { inner }
    }
}

impl<P: SpanProcessor> SpanProcessor for WithCpuTime<P> {
    fn on_start(&self, span: &mut Span, cx: &OtelContext) {
        self.inner.on_start(span, cx);
    }

    fn on_end(&self, mut span: SpanData) {
        if let Some(closing) = CLOSING.take() {
            let cpu_ns = i64::try_from(closing.cpu_ns).unwrap_or(i64::MAX);
            span.attributes.push(KeyValue::new(ATTRIBUTE, cpu_ns));
            // A span profile places its samples by these ids.
            profiling::timeline::span_closed(
                closing.span,
                span.span_context.trace_id().to_bytes(),
                span.span_context.span_id().to_bytes(),
            );
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

#[cfg(test)]
mod tests {
    use super::*;
    use tracing_subscriber::filter::filter_fn;

    use opentelemetry::Value;
    use opentelemetry::trace::TracerProvider as _;
    use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider, SimpleSpanProcessor};
    use std::hint::black_box;
    use std::time::Instant;
    use tracing_subscriber::layer::SubscriberExt;

    /// Spans recorded through the same two pieces `init` uses, in memory.
    fn recorded(work: impl FnOnce()) -> Vec<SpanData> {
        let exporter = InMemorySpanExporter::default();
        let provider = SdkTracerProvider::builder()
            .with_span_processor(WithCpuTime::new(SimpleSpanProcessor::new(exporter.clone())))
            .build();
        let subscriber = tracing_subscriber::registry()
            .with(measuring())
            .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("test")));
        tracing::subscriber::with_default(subscriber, work);
        provider.force_flush().expect("flushed");
        exporter.get_finished_spans().expect("spans")
    }

    fn cpu_ms(spans: &[SpanData], name: &str) -> f64 {
        let span = spans
            .iter()
            .find(|span| span.name == name)
            .unwrap_or_else(|| panic!("no span {name}"));
        let value = span
            .attributes
            .iter()
            .find(|kv| kv.key.as_str() == ATTRIBUTE)
            .map(|kv| kv.value.clone())
            .unwrap_or_else(|| panic!("{name} has no {ATTRIBUTE}"));
        match value {
            Value::I64(ns) => ns as f64 / 1e6,
            other => panic!("{ATTRIBUTE} is {other:?}, not an int"),
        }
    }

    /// Burns this thread's CPU until its own clock has advanced `ms`.
    fn burn(ms: u64) {
        let until = thread_cpu_ns().expect("a thread CPU clock") + ms * 1_000_000;
        let mut x = 0u64;
        while thread_cpu_ns().expect("clock") < until {
            x = black_box(x.wrapping_mul(31).wrapping_add(7));
        }
    }

    /// Waits `ms` of wall time without using the CPU.
    fn wait(ms: u64) {
        let start = Instant::now();
        std::thread::sleep(Duration::from_millis(ms));
        assert!(start.elapsed() >= Duration::from_millis(ms));
    }

    #[test]
    fn a_span_that_computes_owns_its_cpu_and_one_that_waits_does_not() {
        let spans = recorded(|| {
            tracing::info_span!("computes").in_scope(|| burn(30));
            tracing::info_span!("waits").in_scope(|| wait(30));
        });
        let (computes, waits) = (cpu_ms(&spans, "computes"), cpu_ms(&spans, "waits"));
        // The clock advanced 30 ms inside the span; enter and exit add a
        // little around it.
        assert!((30.0..45.0).contains(&computes), "computes: {computes} ms");
        assert!(waits < 5.0, "waits: {waits} ms of CPU while sleeping 30 ms");
    }

    #[test]
    fn a_parent_does_not_own_its_childrens_cpu() {
        let spans = recorded(|| {
            tracing::info_span!("parent").in_scope(|| {
                burn(10);
                tracing::info_span!("child").in_scope(|| burn(40));
                burn(10);
            });
        });
        let (parent, child) = (cpu_ms(&spans, "parent"), cpu_ms(&spans, "child"));
        assert!((40.0..55.0).contains(&child), "child: {child} ms");
        assert!(
            (20.0..35.0).contains(&parent),
            "parent: {parent} ms, its own 20 ms without the child's 40"
        );
    }

    #[test]
    fn a_span_entered_on_several_threads_owns_the_sum() {
        let spans = recorded(|| {
            let moves = tracing::info_span!("moves");
            moves.in_scope(|| burn(15));
            let dispatch = tracing::dispatcher::get_default(Clone::clone);
            let on_other_thread = moves.clone();
            std::thread::spawn(move || {
                tracing::dispatcher::with_default(&dispatch, || {
                    on_other_thread.in_scope(|| burn(15));
                });
            })
            .join()
            .expect("the other thread");
        });
        let moves = cpu_ms(&spans, "moves");
        assert!((30.0..45.0).contains(&moves), "moves: {moves} ms");
    }

    #[test]
    fn many_short_spans_add_up_to_the_threads_cpu() {
        // Ten thousand children of a few microseconds each: their
        // intervals are all short, charged from the monotonic clock, and
        // the CPU clock read when the parent exits corrects the total.
        let mut thread_ms = 0.0;
        let spans = recorded(|| {
            let before = thread_cpu_ns().expect("clock");
            tracing::info_span!("parent").in_scope(|| {
                for n in 0..10_000_u64 {
                    tracing::info_span!("short")
                        .in_scope(|| black_box((0..200).fold(n, |acc, i| acc.rotate_left(5) ^ i)));
                }
                // The parent's own last stretch is long: the clock is read.
                burn(5);
            });
            thread_ms = (thread_cpu_ns().expect("clock") - before) as f64 / 1e6;
        });
        let children: f64 = spans
            .iter()
            .filter(|span| span.name == "short")
            .map(|span| {
                match span
                    .attributes
                    .iter()
                    .find(|kv| kv.key.as_str() == ATTRIBUTE)
                {
                    Some(KeyValue {
                        value: Value::I64(ns),
                        ..
                    }) => *ns as f64 / 1e6,
                    other => panic!("a short span's attribute: {other:?}"),
                }
            })
            .sum();
        let parent = cpu_ms(&spans, "parent");
        let total = parent + children;
        assert!(
            // An interval estimated from the wall clock may hold a wait
            // of a few microseconds: a little over is allowed.
            total <= 1.02 * thread_ms && total >= 0.8 * thread_ms,
            "parent {parent:.2} ms + children {children:.2} ms = {total:.2} ms, \
             the thread used {thread_ms:.2} ms (the rest is the spans' own bookkeeping)"
        );
        assert!(
            parent >= 5.0,
            "parent: {parent:.2} ms, it burned 5 ms itself"
        );
    }

    #[test]
    fn a_span_never_entered_owns_nothing_and_other_spans_take_no_stale_figure() {
        let exporter = InMemorySpanExporter::default();
        let provider = SdkTracerProvider::builder()
            .with_span_processor(WithCpuTime::new(SimpleSpanProcessor::new(exporter.clone())))
            .build();
        let tracer = provider.tracer("test");
        // The OpenTelemetry layer leaves one span out, as a sampler would.
        let subscriber = tracing_subscriber::registry().with(measuring()).with(
            tracing_opentelemetry::layer()
                .with_tracer(tracer.clone())
                .with_filter(filter_fn(|meta| meta.name() != "not_exported")),
        );
        tracing::subscriber::with_default(subscriber, || {
            drop(tracing::info_span!("never_entered"));
            tracing::info_span!("not_exported").in_scope(|| burn(5));
            // A span ended outside a `tracing` close, as the database
            // statements' spans are, after their event.
            tracing::info!("statement");
            use opentelemetry::trace::{Span as _, Tracer as _};
            tracer.start("statement").end();
        });
        provider.force_flush().expect("flushed");
        let spans = exporter.get_finished_spans().expect("spans");
        assert_eq!(cpu_ms(&spans, "never_entered"), 0.0);
        let statement = spans
            .iter()
            .find(|span| span.name == "statement")
            .expect("statement");
        assert!(
            statement
                .attributes
                .iter()
                .all(|kv| kv.key.as_str() != ATTRIBUTE),
            "a span ended outside tracing took a figure: {:?}",
            statement.attributes
        );
    }
}
