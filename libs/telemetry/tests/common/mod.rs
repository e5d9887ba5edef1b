//! What the tests share: CPU burned in a function a profile can name, and
//! the profiler's own counts of its samples (the span-profile tests); the
//! spans the SDK hands its processors, counted (the sampling tests).

#![allow(dead_code)] // Each test file uses part of this module.

use std::hint::black_box;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use nix::time::{ClockId, clock_gettime};
use opentelemetry::Context;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{Span, SpanData, SpanProcessor};

fn thread_cpu_ms() -> f64 {
    let now = clock_gettime(ClockId::CLOCK_THREAD_CPUTIME_ID).expect("a thread CPU clock");
    now.tv_sec() as f64 * 1e3 + now.tv_nsec() as f64 / 1e6
}

/// Burns `ms` of this thread's CPU time, in a function a profile can name:
/// its own CPU clock, not the wall clock, so a busy machine cannot make it
/// burn less.
#[inline(never)]
pub fn burn_in_a_named_function(ms: f64) -> u64 {
    let until = thread_cpu_ms() + ms;
    let mut x = 1u64;
    while thread_cpu_ms() < until {
        // Mostly arithmetic: the clock is a system call, in the C library,
        // where samples are skipped.
        for _ in 0..100_000 {
            x = black_box(x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1));
        }
    }
    x
}

/// This process's count of samples with `outcome` (`sent`, `not_sent`…),
/// from its own metrics.
pub fn samples(outcome: &str) -> u64 {
    let prefix = format!("span_profile_samples_total{{outcome=\"{outcome}\"}} ");
    telemetry::metrics::encode()
        .lines()
        .find_map(|line| line.strip_prefix(prefix.as_str()))
        .and_then(|count| count.trim().parse().ok())
        .unwrap_or(0)
}

/// Spans started and ended, as a [`Counted`] processor was handed them:
/// kept by a test after the provider takes the processor.
#[derive(Clone, Debug, Default)]
pub struct SpanCounts {
    started: Arc<AtomicUsize>,
    ended: Arc<AtomicUsize>,
}

impl SpanCounts {
    /// Spans the SDK has handed the processors as they started.
    pub fn started(&self) -> usize {
        self.started.load(Ordering::SeqCst)
    }

    /// Spans the SDK has handed the processors as they ended.
    pub fn ended(&self) -> usize {
        self.ended.load(Ordering::SeqCst)
    }
}

/// Counts what the SDK hands the processors it wraps: spans started,
/// spans ended.
#[derive(Debug)]
pub struct Counted<P> {
    inner: P,
    counts: SpanCounts,
}

impl<P> Counted<P> {
    /// `inner`, counted, and the counts to read as the test goes.
    pub fn new(inner: P) -> (Self, SpanCounts) {
        let counts = SpanCounts::default();
        let counted = Self {
            inner,
            counts: counts.clone(),
        };
        (counted, counts)
    }
}

impl<P: SpanProcessor> SpanProcessor for Counted<P> {
    fn on_start(&self, span: &mut Span, cx: &Context) {
        self.counts.started.fetch_add(1, Ordering::SeqCst);
        self.inner.on_start(span, cx);
    }

    fn on_end(&self, span: SpanData) {
        self.counts.ended.fetch_add(1, Ordering::SeqCst);
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
