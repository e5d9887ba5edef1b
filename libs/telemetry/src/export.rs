//! Span export that says what it lost.
//!
//! The SDK's pieces do the work; three thin wrappers around them count what
//! becomes of every span on its way out, into one [`ExportCounters`]:
//!
//! - [`CountingProcessor`], around the batch processor: the spans handed
//!   to it (and, apart, those that end once the shutdown has begun, which
//!   the SDK would drop without a word);
//! - [`CountingExporter`], around the OTLP exporter: the spans of each
//!   batch exported, or failed for good, by reason (the kind of the SDK's
//!   error);
//! - [`CountingHttpClient`], around the HTTP client the exporter sends
//!   with: every attempt past a batch's first, a retry.
//!
//! A span handed on and neither exported nor failed is pending: queued,
//! being exported, or dropped by a full queue (which the SDK counts only
//! privately). Once the shutdown has completed nothing is queued or being
//! exported any more, so what is still pending then is exactly what the
//! full queue dropped ([`ExportCounters::report`]).
//!
//! The exporter retries with backoff ([`retry_policy`]) until its timeout
//! ([`export_timeout_from_env`]: 40 s unless the standard variables say
//! otherwise), so a collector that restarts, or is down for up to 30 s,
//! costs no span; spans that end meanwhile wait in the batch processor's
//! queue. Failures and retries are logged, at most one line a reason every
//! [`WARNING_INTERVAL`] with the counts since the last, and served on
//! `GET /metrics` ([`crate::metrics`]).

use std::collections::BTreeMap;
use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError, RwLock};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use opentelemetry::Context;
use opentelemetry_http::{Bytes, HttpClient, HttpError, Request, Response};
use opentelemetry_otlp::{
    OTEL_EXPORTER_OTLP_TIMEOUT, OTEL_EXPORTER_OTLP_TRACES_TIMEOUT, RetryPolicy,
};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::error::{OTelSdkError, OTelSdkResult};
use opentelemetry_sdk::trace::{Span, SpanData, SpanExporter, SpanProcessor};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

use crate::flush_report::{DropReason, ExportFailure, FlushReport};
use crate::{InitError, with_causes};

/// How long the exporter tries one batch, its retries included, unless
/// `OTEL_EXPORTER_OTLP_TRACES_TIMEOUT` or `OTEL_EXPORTER_OTLP_TIMEOUT` say
/// otherwise: longer than a collector's restart, or a 30 s outage.
pub const DEFAULT_EXPORT_TIMEOUT: Duration = Duration::from_secs(40);

/// The first retry's delay; each next one doubles, up to the longest.
const FIRST_RETRY_DELAY: Duration = Duration::from_millis(100);

/// The longest wait between two attempts: a collector that is back is
/// found within about this long.
const MAX_RETRY_DELAY: Duration = Duration::from_secs(2);

/// Random extra delay, so that services that failed together do not all
/// retry together.
const RETRY_JITTER: Duration = Duration::from_millis(100);

/// What a shutdown may take beyond one batch's timeout.
const SHUTDOWN_MARGIN: Duration = Duration::from_secs(5);

/// The gauge of spans handed to the batch processor and neither exported
/// nor failed yet, on `GET /metrics`: zero once everything ended so far is
/// at the collector.
pub const PENDING_METRIC: &str = "otel_sdk_processor_span_pending";

/// At most one warning line a reason this often, with the counts since
/// the last.
pub const WARNING_INTERVAL: Duration = Duration::from_secs(10);

/// The reason retries are logged under (beside the failures' reasons).
const RETRYING: &str = "retrying";

/// The exporter's retries, with its own machinery (OTLP's retry policy):
/// after an attempt that may succeed later (no answer at all, or 429, 502,
/// 503, 504), again after 100 ms, then twice as long each time up to 2 s,
/// each with up to 100 ms of jitter, for as long as the export's timeout
/// lasts. No count bounds them: the timeout does.
pub fn retry_policy() -> RetryPolicy {
    RetryPolicy::default()
        .with_max_retries(usize::MAX)
        .with_initial_delay(FIRST_RETRY_DELAY)
        .with_max_delay(MAX_RETRY_DELAY)
        .with_max_jitter(RETRY_JITTER)
}

/// The export's timeout, for one batch with its retries, from the standard
/// variables in milliseconds: `OTEL_EXPORTER_OTLP_TRACES_TIMEOUT` first,
/// then `OTEL_EXPORTER_OTLP_TIMEOUT`, as the OTLP exporter reads them
/// (which it stops doing once a timeout is set in code, as `init` does: so
/// this reads them for it); [`DEFAULT_EXPORT_TIMEOUT`] without either.
pub fn export_timeout_from_env() -> Result<Duration, InitError> {
    let var = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
    export_timeout(
        var(OTEL_EXPORTER_OTLP_TRACES_TIMEOUT).as_deref(),
        var(OTEL_EXPORTER_OTLP_TIMEOUT).as_deref(),
    )
}

fn export_timeout(traces: Option<&str>, every_signal: Option<&str>) -> Result<Duration, InitError> {
    let chosen = traces
        .map(|value| (OTEL_EXPORTER_OTLP_TRACES_TIMEOUT, value))
        .or(every_signal.map(|value| (OTEL_EXPORTER_OTLP_TIMEOUT, value)));
    match chosen {
        None => Ok(DEFAULT_EXPORT_TIMEOUT),
        Some((name, value)) => value
            .trim()
            .parse::<u64>()
            .map(Duration::from_millis)
            .map_err(|_| InitError::Setting(name, value.to_owned())),
    }
}

/// How long a shutdown may take to flush: one batch's whole timeout (the
/// batch being exported, or the first that fails: after a failure the rest
/// are not tried), and a margin.
pub fn flush_budget(export_timeout: Duration) -> Duration {
    export_timeout + SHUTDOWN_MARGIN
}

/// The HTTP client the OTLP exporter would build for itself, reqwest's
/// blocking one with the export's timeout on each request, counted.
///
/// Built on a thread of its own, as the exporter builds it: the blocking
/// client waits for a runtime of its own to start, which it may not do on
/// a thread of the async runtime that `main` runs on.
pub fn counted_http_client(
    timeout: Duration,
    counters: Arc<ExportCounters>,
) -> Result<CountingHttpClient<reqwest::blocking::Client>, reqwest::Error> {
    let client = std::thread::spawn(move || {
        reqwest::blocking::Client::builder()
            .timeout(timeout)
            .build()
    })
    .join()
    .unwrap_or_else(|panic| std::panic::resume_unwind(panic))?;
    Ok(CountingHttpClient::new(client, counters))
}

/// The label set of `otel_sdk_exporter_span_exported`: none for the spans
/// exported, `error_type` for those that failed.
type Outcome = Vec<(&'static str, &'static str)>;

/// What the three wrappers count, and what they tell each other.
pub struct ExportCounters {
    /// Spans handed to the batch processor.
    handed: Counter,
    /// Spans of batches the exporter was given, by outcome: one family, as
    /// OpenTelemetry's `otel.sdk.exporter.span.exported` with `error.type`.
    outcomes: Family<Outcome, Counter>,
    exported: Counter,
    /// Spans of batches failed for good, in [`ExportFailure::ALL`]'s order.
    failed: [Counter; ExportFailure::ALL.len()],
    retries: Counter,
    /// `handed - exported - failed`, set when scraped.
    pending: Gauge,
    /// Spans that ended once the shutdown had begun, never handed on.
    after_shutdown: Counter,
    /// Set as the shutdown begins.
    shutting_down: AtomicBool,
    /// Why a batch failed for good during the shutdown, if one did: the
    /// batches after it are not tried.
    failed_at_shutdown: OnceLock<ExportFailure>,
    /// Whether the HTTP attempt to come is its batch's first (batches are
    /// exported one at a time, on the batch processor's thread).
    first_attempt: AtomicBool,
    warnings: Mutex<Warnings>,
}

impl Default for ExportCounters {
    fn default() -> Self {
        let outcomes = Family::<Outcome, Counter>::default();
        // Every series exists from the start, at 0: a failure shows up as
        // a rate, not as a series that suddenly appears.
        let exported = outcomes.get_or_create_owned(&Vec::new());
        let failed = ExportFailure::ALL
            .map(|reason| outcomes.get_or_create_owned(&vec![("error_type", reason.as_str())]));
        Self {
            handed: Counter::default(),
            outcomes,
            exported,
            failed,
            retries: Counter::default(),
            pending: Gauge::default(),
            after_shutdown: Counter::default(),
            shutting_down: AtomicBool::new(false),
            failed_at_shutdown: OnceLock::new(),
            first_attempt: AtomicBool::new(true),
            warnings: Mutex::default(),
        }
    }
}

impl fmt::Debug for ExportCounters {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ExportCounters")
            .field("handed", &self.handed())
            .field("exported", &self.exported())
            .field("failed", &self.failed_total())
            .field("retries", &self.retries())
            .finish_non_exhaustive()
    }
}

impl ExportCounters {
    /// Serves them on `GET /metrics`, named as OpenTelemetry's SDK
    /// self-observability conventions name them, where they do.
    pub(crate) fn register(&self, registry: &mut Registry) {
        registry.register(
            "otel_sdk_processor_span_processed",
            "Spans handed to the batch span processor, each then exported, failed, or dropped by a full queue",
            self.handed.clone(),
        );
        registry.register(
            "otel_sdk_exporter_span_exported",
            "Spans of the batches given to the exporter: exported, or failed for good (with error_type)",
            self.outcomes.clone(),
        );
        registry.register(
            "otel_sdk_exporter_span_export_retries",
            "HTTP requests that tried a batch again after a failed attempt",
            self.retries.clone(),
        );
        registry.register(
            PENDING_METRIC,
            "Spans handed to the batch span processor and neither exported nor failed yet: queued, being exported, or dropped by a full queue",
            self.pending.clone(),
        );
    }

    pub fn handed(&self) -> u64 {
        self.handed.get()
    }

    pub fn exported(&self) -> u64 {
        self.exported.get()
    }

    pub fn failed(&self, reason: ExportFailure) -> u64 {
        self.failed_counter(reason).get()
    }

    pub fn failed_total(&self) -> u64 {
        self.failed.iter().map(|counter| counter.get()).sum()
    }

    pub fn retries(&self) -> u64 {
        self.retries.get()
    }

    /// Handed on and neither exported nor failed: queued, being exported,
    /// or dropped by a full queue.
    pub fn pending(&self) -> u64 {
        self.handed()
            .saturating_sub(self.exported() + self.failed_total())
    }

    /// Sets the pending gauge, as a scrape is answered.
    pub(crate) fn refresh_pending(&self) {
        self.pending
            .set(i64::try_from(self.pending()).unwrap_or(i64::MAX));
    }

    /// What became of every span, once the shutdown is over. After a
    /// shutdown that `completed`, what is pending is what the full queue
    /// dropped; after one that ran out of time it is unflushed, as queued
    /// and being exported spans may be among it.
    pub fn report(&self, completed: bool) -> FlushReport {
        let failed = ExportFailure::ALL
            .into_iter()
            .map(|reason| (reason, self.failed(reason)))
            .filter(|(_, spans)| *spans > 0)
            .collect();
        let mut dropped = BTreeMap::new();
        let pending = self.pending();
        if pending > 0 {
            let reason = match completed {
                true => DropReason::QueueFull,
                false => DropReason::Unflushed,
            };
            dropped.insert(reason, pending);
        }
        let late = self.after_shutdown.get();
        if late > 0 {
            dropped.insert(DropReason::AfterShutdown, late);
        }
        FlushReport {
            exported: self.exported(),
            failed,
            dropped,
        }
    }

    /// Logs every count a warning line has not told yet: at shutdown.
    pub fn log_pending_warnings(&self) {
        let rest = self.lock_warnings().rest();
        rest.iter().for_each(Warning::log);
    }

    fn failed_counter(&self, reason: ExportFailure) -> &Counter {
        let index = ExportFailure::ALL
            .iter()
            .position(|known| *known == reason)
            .unwrap_or_default();
        &self.failed[index]
    }

    fn count_failed(&self, reason: ExportFailure, spans: u64, err: &OTelSdkError) {
        self.failed_counter(reason).inc_by(spans);
        self.warn(reason.as_str(), spans, &err.to_string());
    }

    fn lock_warnings(&self) -> std::sync::MutexGuard<'_, Warnings> {
        self.warnings.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn warn(&self, reason: &'static str, spans: u64, error: &str) {
        let due = self
            .lock_warnings()
            .record(reason, spans, error, Instant::now());
        if let Some(warning) = due {
            warning.log();
        }
    }

    /// The lines due of streaks that went on since their last line: each
    /// export calls it, so that a streak's end is told without waiting for
    /// the next failure.
    fn log_due_warnings(&self) {
        let due = self.lock_warnings().due(Instant::now());
        due.iter().for_each(Warning::log);
    }
}

/// Counts the spans handed to the batch processor it wraps (`inner`).
///
/// The SDK hands a processor only the spans it records, which with the
/// default sampler are the sampled ones.
#[derive(Debug)]
pub struct CountingProcessor<P> {
    inner: P,
    counters: Arc<ExportCounters>,
    /// Whether spans are still handed on: shut once the shutdown begins.
    open: RwLock<bool>,
}

impl<P> CountingProcessor<P> {
    pub fn new(inner: P, counters: Arc<ExportCounters>) -> Self {
        Self {
            inner,
            counters,
            open: RwLock::new(true),
        }
    }
}

impl<P: SpanProcessor> SpanProcessor for CountingProcessor<P> {
    fn on_start(&self, span: &mut Span, cx: &Context) {
        self.inner.on_start(span, cx);
    }

    fn on_end(&self, span: SpanData) {
        // Read-locked while the span is handed on, and the shutdown
        // write-locks it: so every span counted as handed is in the queue
        // before the shutdown drains it, and none is counted after.
        let open = self.open.read().unwrap_or_else(PoisonError::into_inner);
        if *open {
            self.counters.handed.inc();
            self.inner.on_end(span);
        } else {
            self.counters.after_shutdown.inc();
        }
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.inner.force_flush()
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        *self.open.write().unwrap_or_else(PoisonError::into_inner) = false;
        self.counters.shutting_down.store(true, Ordering::SeqCst);
        self.inner.shutdown_with_timeout(timeout)
    }

    fn set_resource(&mut self, resource: &Resource) {
        self.inner.set_resource(resource);
    }
}

/// Counts the spans of every batch its exporter (`inner`) exports, or
/// fails for good, by reason.
///
/// During the shutdown, once a batch has failed for good, the batches
/// after it fail at once, untried (counted under the same reason): each
/// would wait out the whole timeout for a collector that has just proved
/// unreachable, while the process waits to exit.
#[derive(Debug)]
pub struct CountingExporter<E> {
    inner: E,
    counters: Arc<ExportCounters>,
}

impl<E> CountingExporter<E> {
    pub fn new(inner: E, counters: Arc<ExportCounters>) -> Self {
        Self { inner, counters }
    }
}

impl<E: SpanExporter> SpanExporter for CountingExporter<E> {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        let counters = &self.counters;
        let spans = batch.len() as u64;
        if counters.shutting_down.load(Ordering::SeqCst)
            && let Some(reason) = counters.failed_at_shutdown.get()
        {
            let err = OTelSdkError::InternalFailure(format!(
                "not tried: an earlier batch of the shutdown failed ({})",
                reason.as_str()
            ));
            counters.count_failed(*reason, spans, &err);
            return Err(err);
        }
        counters.first_attempt.store(true, Ordering::Relaxed);
        let result = self.inner.export(batch).await;
        match &result {
            Ok(()) => {
                counters.exported.inc_by(spans);
                counters.log_due_warnings();
            }
            Err(err) => {
                let reason = ExportFailure::of(err);
                counters.count_failed(reason, spans, err);
                if counters.shutting_down.load(Ordering::SeqCst) {
                    let _ = counters.failed_at_shutdown.set(reason);
                }
            }
        }
        result
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.inner.shutdown_with_timeout(timeout)
    }

    fn shutdown(&self) -> OTelSdkResult {
        self.inner.shutdown()
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.inner.force_flush()
    }

    fn set_resource(&mut self, resource: &Resource) {
        self.inner.set_resource(resource);
    }
}

/// Counts the HTTP attempts past each batch's first: the retries of the
/// exporter that sends with it (`inner`).
#[derive(Debug)]
pub struct CountingHttpClient<C> {
    inner: C,
    counters: Arc<ExportCounters>,
    /// Why the last attempt failed, for the retry's warning.
    last_failure: Mutex<String>,
}

impl<C> CountingHttpClient<C> {
    pub fn new(inner: C, counters: Arc<ExportCounters>) -> Self {
        Self {
            inner,
            counters,
            last_failure: Mutex::default(),
        }
    }
}

#[async_trait]
impl<C: HttpClient> HttpClient for CountingHttpClient<C> {
    async fn send_bytes(&self, request: Request<Bytes>) -> Result<Response<Bytes>, HttpError> {
        if !self.counters.first_attempt.swap(false, Ordering::Relaxed) {
            self.counters.retries.inc();
            let why = self
                .last_failure
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .clone();
            self.counters.warn(RETRYING, 0, &why);
        }
        let result = self.inner.send_bytes(request).await;
        let failure = match &result {
            Ok(response) if response.status().is_success() => None,
            Ok(response) => Some(format!("the collector answered {}", response.status())),
            Err(err) => Some(with_causes(&**err)),
        };
        if let Some(failure) = failure {
            *self
                .last_failure
                .lock()
                .unwrap_or_else(PoisonError::into_inner) = failure;
        }
        result
    }
}

/// Warnings held to one line a reason every [`WARNING_INTERVAL`].
#[derive(Debug, Default)]
struct Warnings {
    streaks: BTreeMap<&'static str, Streak>,
}

/// What happened for one reason since its last line.
#[derive(Debug, Default)]
struct Streak {
    logged_at: Option<Instant>,
    times: u64,
    spans: u64,
    last_error: String,
}

/// One line to log: what happened for a reason since the last.
#[derive(Debug, PartialEq, Eq)]
struct Warning {
    reason: &'static str,
    times: u64,
    spans: u64,
    last_error: String,
}

impl Warnings {
    /// Counts one more of `reason`; the line to log now, if one is due:
    /// the first of a streak at once, then one every interval, with what
    /// was counted since the last.
    fn record(
        &mut self,
        reason: &'static str,
        spans: u64,
        error: &str,
        now: Instant,
    ) -> Option<Warning> {
        let streak = self.streaks.entry(reason).or_default();
        streak.times += 1;
        streak.spans += spans;
        error.clone_into(&mut streak.last_error);
        streak.take_if_due(reason, now)
    }

    /// The lines due now, of streaks that went on since their last line.
    fn due(&mut self, now: Instant) -> Vec<Warning> {
        self.streaks
            .iter_mut()
            .filter_map(|(reason, streak)| streak.take_if_due(reason, now))
            .collect()
    }

    /// Every count not told yet, due or not.
    fn rest(&mut self) -> Vec<Warning> {
        self.streaks
            .iter_mut()
            .filter(|(_, streak)| streak.times > 0)
            .map(|(reason, streak)| streak.take(reason))
            .collect()
    }
}

impl Streak {
    fn take_if_due(&mut self, reason: &'static str, now: Instant) -> Option<Warning> {
        let due = self.times > 0
            && self
                .logged_at
                .is_none_or(|at| now.saturating_duration_since(at) >= WARNING_INTERVAL);
        due.then(|| {
            self.logged_at = Some(now);
            self.take(reason)
        })
    }

    fn take(&mut self, reason: &'static str) -> Warning {
        Warning {
            reason,
            times: std::mem::take(&mut self.times),
            spans: std::mem::take(&mut self.spans),
            last_error: std::mem::take(&mut self.last_error),
        }
    }
}

impl Warning {
    fn log(&self) {
        // A root event (`parent: None`) belongs to no span, and the
        // OpenTelemetry layer records events only into their span: logged
        // from the exporter's own thread, a warning about the export can
        // never become part of one.
        if self.reason == RETRYING {
            tracing::warn!(
                parent: None,
                retries = self.times,
                last_error = %self.last_error,
                "span export: the collector did not take a batch; retrying with backoff (new spans wait in the queue)"
            );
        } else {
            tracing::warn!(
                parent: None,
                error.type = self.reason,
                batches = self.times,
                spans = self.spans,
                last_error = %self.last_error,
                "span export: batches failed for good; their spans are lost"
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Condvar;
    use std::sync::atomic::AtomicUsize;

    use opentelemetry::trace::{Span as _, Tracer as _, TracerProvider as _};
    use opentelemetry_otlp::{WithExportConfig, WithHttpConfig};
    use opentelemetry_sdk::trace::{
        BatchConfig, BatchConfigBuilder, BatchSpanProcessor, SdkTracerProvider,
    };

    use super::*;

    /// Lets a fake exporter's batches through once opened.
    #[derive(Debug)]
    struct Gate {
        open: Mutex<bool>,
        opened: Condvar,
    }

    impl Gate {
        fn new(open: bool) -> Arc<Self> {
            Arc::new(Self {
                open: Mutex::new(open),
                opened: Condvar::new(),
            })
        }

        fn open(&self) {
            *self.open.lock().unwrap() = true;
            self.opened.notify_all();
        }

        fn pass(&self) {
            let open = self.open.lock().unwrap();
            drop(self.opened.wait_while(open, |open| !*open).unwrap());
        }
    }

    /// A stand-in for the OTLP exporter: answers every batch with
    /// `outcome` once `gate` lets it, and counts what it was given.
    #[derive(Debug)]
    struct FakeExporter {
        outcome: fn() -> OTelSdkResult,
        gate: Arc<Gate>,
        batches: Arc<AtomicUsize>,
        spans: Arc<AtomicUsize>,
    }

    impl FakeExporter {
        fn new(outcome: fn() -> OTelSdkResult, gate: &Arc<Gate>) -> Self {
            Self {
                outcome,
                gate: gate.clone(),
                batches: Arc::default(),
                spans: Arc::default(),
            }
        }
    }

    impl SpanExporter for FakeExporter {
        async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
            self.batches.fetch_add(1, Ordering::SeqCst);
            self.spans.fetch_add(batch.len(), Ordering::SeqCst);
            self.gate.pass();
            (self.outcome)()
        }
    }

    fn exported() -> OTelSdkResult {
        Ok(())
    }

    fn refused() -> OTelSdkResult {
        Err(OTelSdkError::InternalFailure(
            "HTTP export failed: network error".into(),
        ))
    }

    fn too_late() -> OTelSdkResult {
        Err(OTelSdkError::Timeout(Duration::from_secs(1)))
    }

    /// Batches of `batch` spans from a queue of `queue`, exported only
    /// when a batch is full or on shutdown (the timer is an hour).
    fn batches(queue: usize, batch: usize) -> BatchConfig {
        BatchConfigBuilder::default()
            .with_max_queue_size(queue)
            .with_max_export_batch_size(batch)
            .with_scheduled_delay(Duration::from_secs(3600))
            .build()
    }

    /// The pipeline `init` builds, around `exporter`.
    fn counted(
        exporter: impl SpanExporter + 'static,
        config: BatchConfig,
        counters: &Arc<ExportCounters>,
    ) -> SdkTracerProvider {
        crate::setup::counted_tracer_provider("test", exporter, config, counters)
    }

    fn end_spans(provider: &SdkTracerProvider, count: usize) {
        let tracer = provider.tracer("test");
        for _ in 0..count {
            tracer.start("work").end();
        }
    }

    fn shut_down(provider: &SdkTracerProvider) -> bool {
        provider
            .shutdown_with_timeout(Duration::from_secs(30))
            .is_ok()
    }

    /// Polls `condition` until it holds; fails after a deadline that only
    /// bounds a failure.
    fn wait_for(what: &str, condition: impl Fn() -> bool) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while !condition() {
            assert!(Instant::now() < deadline, "gave up waiting for {what}");
            std::thread::yield_now();
        }
    }

    #[test]
    fn handed_spans_are_pending_until_exported() {
        let counters = Arc::new(ExportCounters::default());
        let gate = Gate::new(false);
        let exporter = FakeExporter::new(exported, &gate);
        let seen = exporter.spans.clone();
        let provider = counted(exporter, batches(64, 64), &counters);

        end_spans(&provider, 10);
        assert_eq!(counters.handed(), 10, "every ended span is handed on");
        assert_eq!(counters.pending(), 10, "none exported yet: {counters:?}");
        counters.refresh_pending();
        assert_eq!(counters.pending.get(), 10, "the gauge says so when scraped");

        gate.open();
        assert!(shut_down(&provider), "the shutdown completes");
        assert_eq!(
            counters.exported(),
            seen.load(Ordering::SeqCst) as u64,
            "exported counts what the exporter took"
        );
        assert_eq!(counters.exported(), 10, "{counters:?}");
        assert_eq!(counters.pending(), 0, "{counters:?}");
        assert!(
            counters.report(true).lost_nothing(),
            "{}",
            counters.report(true)
        );
    }

    #[test]
    fn a_failed_batch_counts_its_spans_under_its_reason() {
        let cases: [(fn() -> OTelSdkResult, ExportFailure); 2] = [
            (refused, ExportFailure::ExportFailed),
            (too_late, ExportFailure::Timeout),
        ];
        for (outcome, reason) in cases {
            let counters = Arc::new(ExportCounters::default());
            let provider = counted(
                FakeExporter::new(outcome, &Gate::new(true)),
                batches(64, 64),
                &counters,
            );
            end_spans(&provider, 7);
            assert!(shut_down(&provider));
            assert_eq!(counters.failed(reason), 7, "{reason:?}: {counters:?}");
            assert_eq!(counters.failed_total(), 7, "{reason:?}: {counters:?}");
            let report = counters.report(true);
            assert_eq!(report.exported, 0, "{report}");
            assert_eq!(report.failed, BTreeMap::from([(reason, 7)]), "{report}");
            assert!(report.dropped.is_empty(), "{report}");
        }
    }

    #[test]
    fn what_a_full_queue_dropped_is_exactly_what_is_left_after_the_shutdown() {
        let counters = Arc::new(ExportCounters::default());
        let gate = Gate::new(false);
        let exporter = FakeExporter::new(exported, &gate);
        let seen = exporter.spans.clone();
        // The first two spans fill a batch, whose export waits at the gate;
        // four more fill the queue; the rest find it full.
        let provider = counted(exporter, batches(4, 2), &counters);
        end_spans(&provider, 20);
        gate.open();
        assert!(shut_down(&provider));

        let report = counters.report(true);
        let took = seen.load(Ordering::SeqCst) as u64;
        assert_eq!(report.exported, took, "{report}");
        let dropped = report.dropped.get(&DropReason::QueueFull).copied();
        assert_eq!(dropped, Some(20 - took), "{report}");
        assert!(
            took <= 6,
            "at most a batch and a queue got through: {report}"
        );
        assert_eq!(report.total(), 20, "every span is accounted for: {report}");
    }

    #[test]
    fn at_shutdown_the_batches_after_a_failed_one_fail_untried() {
        let counters = Arc::new(ExportCounters::default());
        let gate = Gate::new(false);
        let exporter = FakeExporter::new(refused, &gate);
        let tried = exporter.batches.clone();
        let provider = counted(exporter, batches(64, 4), &counters);
        // A batch of four waits at the gate; eight more spans are queued.
        end_spans(&provider, 12);
        wait_for("the first batch to reach the exporter", || {
            tried.load(Ordering::SeqCst) == 1
        });
        let shutting = provider.clone();
        let shutdown = std::thread::spawn(move || shut_down(&shutting));
        wait_for("the shutdown to begin", || {
            counters.shutting_down.load(Ordering::SeqCst)
        });
        gate.open();
        assert!(shutdown.join().unwrap(), "the shutdown completes");

        assert_eq!(
            tried.load(Ordering::SeqCst),
            1,
            "only the first batch was tried"
        );
        let report = counters.report(true);
        assert_eq!(
            report.failed,
            BTreeMap::from([(ExportFailure::ExportFailed, 12)]),
            "{report}"
        );
        assert!(report.dropped.is_empty(), "{report}");
    }

    /// Shares one processor between a provider and the test, which shuts
    /// it down while a span is still open.
    #[derive(Debug)]
    struct Shared<P>(Arc<P>);

    impl<P: SpanProcessor> SpanProcessor for Shared<P> {
        fn on_start(&self, span: &mut Span, cx: &Context) {
            self.0.on_start(span, cx);
        }
        fn on_end(&self, span: SpanData) {
            self.0.on_end(span);
        }
        fn force_flush(&self) -> OTelSdkResult {
            self.0.force_flush()
        }
        fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
            self.0.shutdown_with_timeout(timeout)
        }
    }

    #[test]
    fn a_span_that_ends_once_the_shutdown_began_is_counted_as_dropped() {
        let counters = Arc::new(ExportCounters::default());
        let exporter = CountingExporter::new(
            FakeExporter::new(exported, &Gate::new(true)),
            counters.clone(),
        );
        let batching = BatchSpanProcessor::builder(exporter)
            .with_batch_config(batches(64, 64))
            .build();
        let processor = Arc::new(CountingProcessor::new(batching, counters.clone()));
        let provider = SdkTracerProvider::builder()
            .with_span_processor(Shared(processor.clone()))
            .build();
        let tracer = provider.tracer("test");
        tracer.start("before").end();
        let mut late = tracer.start("late");

        assert!(
            processor
                .shutdown_with_timeout(Duration::from_secs(30))
                .is_ok()
        );
        late.end();

        let report = counters.report(true);
        assert_eq!(report.exported, 1, "{report}");
        assert_eq!(
            report.dropped,
            BTreeMap::from([(DropReason::AfterShutdown, 1)]),
            "{report}"
        );
    }

    /// A stand-in for the collector's HTTP endpoint: no answer for the
    /// first `failures` attempts, then 200.
    #[derive(Debug)]
    struct FlakyCollector {
        failures: usize,
        attempts: Arc<AtomicUsize>,
    }

    #[async_trait]
    impl HttpClient for FlakyCollector {
        async fn send_bytes(&self, _request: Request<Bytes>) -> Result<Response<Bytes>, HttpError> {
            if self.attempts.fetch_add(1, Ordering::SeqCst) < self.failures {
                return Err("connection refused".into());
            }
            Ok(Response::builder().status(200).body(Bytes::new())?)
        }
    }

    #[test]
    fn retries_count_the_attempts_past_each_batchs_first_with_the_real_exporter() {
        let counters = Arc::new(ExportCounters::default());
        let attempts = Arc::new(AtomicUsize::new(0));
        let collector = FlakyCollector {
            failures: 2,
            attempts: attempts.clone(),
        };
        let exporter = opentelemetry_otlp::SpanExporter::builder()
            .with_http()
            .with_endpoint("http://127.0.0.1:4318/v1/traces")
            .with_timeout(Duration::from_secs(20))
            .with_retry_policy(retry_policy())
            .with_http_client(CountingHttpClient::new(collector, counters.clone()))
            .build()
            .expect("the OTLP exporter builds");
        let provider = counted(exporter, batches(64, 64), &counters);

        end_spans(&provider, 3);
        provider
            .force_flush()
            .expect("the first batch gets through");
        assert_eq!(counters.retries(), 2, "two failed attempts: {counters:?}");
        end_spans(&provider, 2);
        assert!(shut_down(&provider));

        assert_eq!(
            attempts.load(Ordering::SeqCst),
            4,
            "three attempts, then one"
        );
        assert_eq!(
            counters.retries(),
            2,
            "a later batch's first attempt is no retry: {counters:?}"
        );
        assert_eq!(counters.exported(), 5, "{counters:?}");
        assert!(counters.report(true).lost_nothing());
    }

    #[test]
    fn the_retries_outlast_a_thirty_second_outage() {
        // The exporter's schedule with the most jitter: the last attempt
        // before the timeout comes after the collector is back.
        let (mut at, mut delay, mut last_attempt) =
            (Duration::ZERO, FIRST_RETRY_DELAY, Duration::ZERO);
        loop {
            let sleep = (delay + RETRY_JITTER).min(MAX_RETRY_DELAY);
            if at + sleep >= DEFAULT_EXPORT_TIMEOUT {
                break;
            }
            at += sleep;
            last_attempt = at;
            delay = (delay * 2).min(MAX_RETRY_DELAY);
        }
        assert!(
            last_attempt >= Duration::from_secs(30) + MAX_RETRY_DELAY,
            "the last attempt at {last_attempt:?} must come after a 30 s outage"
        );
        assert!(flush_budget(DEFAULT_EXPORT_TIMEOUT) > DEFAULT_EXPORT_TIMEOUT);
    }

    #[test]
    fn the_traces_timeout_wins_over_the_general_one_and_bad_values_are_refused() {
        assert_eq!(export_timeout(None, None).unwrap(), DEFAULT_EXPORT_TIMEOUT);
        assert_eq!(
            export_timeout(None, Some("1000")).unwrap(),
            Duration::from_secs(1)
        );
        assert_eq!(
            export_timeout(Some("5000"), Some("1000")).unwrap(),
            Duration::from_secs(5)
        );
        let err = export_timeout(Some("soon"), None).expect_err("not milliseconds");
        assert!(
            matches!(err, InitError::Setting(name, ref value) if name == OTEL_EXPORTER_OTLP_TRACES_TIMEOUT && value == "soon"),
            "{err}"
        );
    }

    #[test]
    fn warnings_come_once_an_interval_a_reason_with_the_counts_since_the_last() {
        let mut warnings = Warnings::default();
        let start = Instant::now();
        let at = |seconds: u64| start + Duration::from_secs(seconds);

        let first = warnings.record("export_failed", 100, "refused", at(0));
        assert_eq!(
            first.map(|w| (w.times, w.spans)),
            Some((1, 100)),
            "the first at once"
        );
        assert_eq!(warnings.record("export_failed", 50, "refused", at(1)), None);
        assert_eq!(warnings.record("export_failed", 25, "gone", at(2)), None);
        let other = warnings.record(RETRYING, 0, "refused", at(3));
        assert!(other.is_some(), "each reason has its own interval");
        assert!(
            warnings.due(at(9)).is_empty(),
            "not due before the interval"
        );
        let due = warnings.due(at(10));
        assert_eq!(
            due,
            vec![Warning {
                reason: "export_failed",
                times: 2,
                spans: 75,
                last_error: "gone".into(),
            }],
            "then what was counted since, once"
        );
        assert!(warnings.due(at(30)).is_empty(), "nothing new, nothing told");
        assert_eq!(
            warnings
                .record("export_failed", 1, "x", at(31))
                .map(|w| w.times),
            Some(1)
        );
        assert_eq!(
            warnings.record(RETRYING, 0, "x", at(32)).map(|w| w.times),
            Some(1)
        );
        assert_eq!(warnings.record(RETRYING, 0, "x", at(33)), None);
        let rest = warnings.rest();
        assert_eq!(rest.len(), 1, "at shutdown, what is left: {rest:?}");
        assert!(warnings.rest().is_empty());
    }

    #[test]
    fn the_counters_are_served_beside_the_red_metrics() {
        let text = crate::metrics::encode();
        for series in [
            "otel_sdk_processor_span_processed_total",
            "otel_sdk_exporter_span_exported_total",
            "otel_sdk_exporter_span_exported_total{error_type=\"export_failed\"}",
            "otel_sdk_exporter_span_export_retries_total",
            "otel_sdk_processor_span_pending",
        ] {
            assert!(text.contains(series), "{series} should be served:\n{text}");
        }
    }
}
