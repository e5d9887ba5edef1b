//! A clock that is off, on purpose: `CLOCK_SKEW_MS`.
//!
//! Machines' clocks disagree, by milliseconds when NTP is doing its job and
//! by far more when it is not; every span a service exports carries its
//! machine's time, so a trace across machines can show a child that starts
//! before its parent. The incident drill plants that (the problem
//! `clock`) on one machine, loopback, by starting one service with
//! `CLOCK_SKEW_MS`: every span it exports is stamped that many
//! milliseconds off (negative: behind). Unset or 0, spans go as they are.

use std::time::{Duration, SystemTime};

use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::resource::Resource;
use opentelemetry_sdk::trace::{SpanData, SpanExporter};

use crate::InitError;

/// How far this service's clock is off, from `CLOCK_SKEW_MS`.
pub fn skew_from_env() -> Result<i64, InitError> {
    match std::env::var("CLOCK_SKEW_MS") {
        Ok(value) if !value.trim().is_empty() => value
            .trim()
            .parse()
            .map_err(|_| InitError::Setting("CLOCK_SKEW_MS", value)),
        _ => Ok(0),
    }
}

/// Exports through `inner` with every time shifted by `skew_ms`.
#[derive(Debug)]
pub struct SkewedClock<E> {
    inner: E,
    skew_ms: i64,
}

impl<E> SkewedClock<E> {
    pub fn new(inner: E, skew_ms: i64) -> Self {
        Self { inner, skew_ms }
    }

    fn shift(&self, time: SystemTime) -> SystemTime {
        let by = Duration::from_millis(self.skew_ms.unsigned_abs());
        let shifted = if self.skew_ms < 0 {
            time.checked_sub(by)
        } else {
            time.checked_add(by)
        };
        shifted.unwrap_or(time)
    }
}

impl<E: SpanExporter> SpanExporter for SkewedClock<E> {
    async fn export(&self, mut batch: Vec<SpanData>) -> OTelSdkResult {
        if self.skew_ms != 0 {
            for span in &mut batch {
                span.start_time = self.shift(span.start_time);
                span.end_time = self.shift(span.end_time);
                for event in &mut span.events.events {
                    event.timestamp = self.shift(event.timestamp);
                }
            }
        }
        self.inner.export(batch).await
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.inner.shutdown_with_timeout(timeout)
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.inner.force_flush()
    }

    fn set_resource(&mut self, resource: &Resource) {
        self.inner.set_resource(resource);
    }
}

#[cfg(test)]
mod tests {
    use opentelemetry::trace::{Tracer, TracerProvider};
    use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider};

    use super::*;

    fn one_span(skew_ms: i64) -> (SystemTime, SpanData) {
        let memory = InMemorySpanExporter::default();
        let provider = SdkTracerProvider::builder()
            .with_simple_exporter(SkewedClock::new(memory.clone(), skew_ms))
            .build();
        let before = SystemTime::now();
        // The simple processor exports each span as it ends.
        provider.tracer("test").in_span("work", |_| {});
        let spans = memory.get_finished_spans().expect("the spans");
        (before, spans.into_iter().next().expect("one span"))
    }

    #[test]
    fn a_clock_behind_stamps_spans_before_they_started() {
        let (before, span) = one_span(-250);
        let behind = before
            .duration_since(span.start_time)
            .expect("stamped earlier");
        assert!(behind >= Duration::from_millis(240), "{behind:?}");
        assert!(span.end_time >= span.start_time);
    }

    #[test]
    fn no_skew_leaves_the_times_as_they_are() {
        let (before, span) = one_span(0);
        assert!(span.start_time >= before);
    }
}
