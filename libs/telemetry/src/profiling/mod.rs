//! Span profiles: CPU samples joined to the spans they were taken in.
//!
//! The critical path says which operation owns a request's tail, and a
//! span's CPU time ([`crate::cpu_time`]) whether it computes or waits; a
//! span profile says which code it computes. With `PROFILE=1`, a service
//! samples its own stacks in process (pprof-rs, 100 times a second of CPU
//! time: no `perf`, no kernel setting), places each sample in the span that
//! was the innermost one entered on the sampled thread at that instant, and
//! sends the samples with their span's trace and span ids to the collector
//! as OpenTelemetry profiles (OTLP, `v1development`), beside the traces.
//!
//! The join ([`join`]) reads when each thread's innermost span changed and
//! which ids each span was exported with ([`timeline`], recorded by the
//! CPU-time layer and its span processor while a profile is taken). pprof-rs
//! hands its samples over counted by stack and thread, with the instant of
//! the first of each: a window of one second keeps those counts small, and
//! the samples after the first of a count are placed with it (in the same
//! span when the same code ran again in the same span, which is what a
//! hot loop does; in an earlier span of the same operation otherwise).
//!
//! A sample taken outside any span (the runtime's own work, the exporter's
//! thread) has nowhere to go in a trace, and is not sent.

mod counters;
mod join;
mod otlp;
mod symbols;
pub(crate) mod timeline;

use std::sync::mpsc::{self, RecvTimeoutError};
use std::thread::JoinHandle;
use std::time::{Duration, SystemTime};

use prost::Message;

use counters::{Outcome, counters};
use join::{Joiner, Sample};

pub(crate) use counters::register;
use symbols::Symbols;

/// Samples per second of a thread's CPU time: pprof's and Go's default.
const FREQUENCY_HZ: i32 = 100;
/// How long one window of samples runs before it is joined and sent.
const WINDOW: Duration = Duration::from_secs(1);
/// How long one export may take; a window's samples are dropped (and the
/// next window goes on) past it.
const EXPORT_TIMEOUT: Duration = Duration::from_secs(5);
/// Where unwinding a sampled stack could take a lock the interrupted code
/// holds (the C library, the unwinder itself): samples whose instruction
/// is in one of these are skipped, as `just profile` skips them.
const BLOCKLIST: [&str; 4] = ["libc", "libgcc", "pthread", "vdso"];

/// A running span profiler; [`SpanProfiler::stop`] (or dropping it) joins
/// and sends its last window.
pub struct SpanProfiler {
    stop: Option<mpsc::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl SpanProfiler {
    /// Starts sampling this process, and sending the samples of `service`
    /// to the collector at `endpoint` (its OTLP/HTTP base URL).
    pub fn start(service: &str, endpoint: &str) -> std::io::Result<Self> {
        let url = format!("{}{}", endpoint.trim_end_matches('/'), otlp::PATH);
        let service = service.to_owned();
        let (stop, stopped) = mpsc::channel();
        timeline::start_recording();
        let thread = std::thread::Builder::new()
            .name("span-profiler".to_owned())
            .spawn(move || run(&service, &url, &stopped))?;
        Ok(Self {
            stop: Some(stop),
            thread: Some(thread),
        })
    }

    /// Stops sampling, after joining and sending the last window.
    pub fn stop(mut self) {
        self.stop_now();
    }

    fn stop_now(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
        timeline::stop_recording();
    }
}

impl Drop for SpanProfiler {
    fn drop(&mut self) {
        self.stop_now();
    }
}

/// The profiler's thread: a window of samples at a time, until stopped.
fn run(service: &str, url: &str, stopped: &mpsc::Receiver<()>) {
    let client = match reqwest::blocking::Client::builder()
        .timeout(EXPORT_TIMEOUT)
        .build()
    {
        Ok(client) => client,
        Err(err) => {
            eprintln!("telemetry: span profiles off: no HTTP client: {err}");
            return;
        }
    };
    let mut joiner = Joiner::default();
    let mut symbols = Symbols::default();
    let mut failures_said = false;
    loop {
        let started_ns = timeline::now_ns();
        let sampler = match pprof::ProfilerGuardBuilder::default()
            .frequency(FREQUENCY_HZ)
            .blocklist(&BLOCKLIST)
            .build()
        {
            Ok(sampler) => sampler,
            Err(err) => {
                eprintln!("telemetry: span profiles off: the sampler cannot start: {err}");
                return;
            }
        };
        let stopping = !matches!(stopped.recv_timeout(WINDOW), Err(RecvTimeoutError::Timeout));
        let report = sampler.report().build_unresolved();
        drop(sampler);
        let timeline = timeline::take();
        let samples: Vec<Sample<otlp::Frames>> = match report {
            Ok(report) => report
                .data
                .iter()
                .map(|(frames, &count)| Sample {
                    thread: frames.thread_id,
                    at_ns: unix_ns(frames.sample_timestamp),
                    weight: count as i64,
                    stack: symbols.stack(&frames.frames),
                })
                .collect(),
            Err(err) => {
                eprintln!("telemetry: a window of span profiles lost: {err}");
                Vec::new()
            }
        };
        let joined = joiner.join(timeline, samples);
        counters().add(Outcome::OutsideSpans, joined.outside_spans);
        counters().add(Outcome::SpanNeverClosed, joined.never_closed);
        if !joined.in_spans.is_empty() {
            let weight = joined
                .in_spans
                .iter()
                .map(|in_span| in_span.sample.weight)
                .sum();
            let period_ns = 1_000_000_000 / i64::from(FREQUENCY_HZ);
            let request = otlp::request(
                service,
                &joined.in_spans,
                started_ns,
                timeline::now_ns().saturating_sub(started_ns),
                period_ns,
            );
            let sent = client
                .post(url)
                .header("content-type", "application/x-protobuf")
                .body(request.encode_to_vec())
                .send()
                .and_then(reqwest::blocking::Response::error_for_status);
            match sent {
                Ok(_) => counters().add(Outcome::Sent, weight),
                Err(err) => {
                    counters().add(Outcome::NotSent, weight);
                    if !failures_said {
                        // Once: a collector that is down says so for every
                        // window, and the counter counts them.
                        eprintln!("telemetry: span profiles not sent to {url}: {err}");
                        failures_said = true;
                    }
                }
            }
        }
        if stopping {
            return;
        }
    }
}

fn unix_ns(at: SystemTime) -> u64 {
    at.duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |since| since.as_nanos() as u64)
}
