//! Span profiles when the collector is gone, or hangs: the samples are
//! counted as not sent, the service goes on, and stopping the profiler
//! never hangs on a collector that does not answer.

use std::hint::black_box;
use std::net::TcpListener;
use std::time::{Duration, Instant};

use opentelemetry_sdk::trace::InMemorySpanExporter;
use telemetry::profiling::SpanProfiler;

mod common;
use common::{burn_in_a_named_function, samples};

/// Burns CPU in spans until `done`, at most `cap` spans of 50 ms.
fn burn_in_spans_until(done: impl Fn() -> bool, cap: usize) {
    let provider = telemetry::tracer_provider("lost", Some(InMemorySpanExporter::default()));
    let (subscriber, _log_writers) =
        telemetry::subscriber(&telemetry::Settings::quiet("lost"), &provider);
    tracing::subscriber::with_default(subscriber, || {
        for _ in 0..cap {
            if done() {
                return;
            }
            tracing::info_span!("burns").in_scope(|| black_box(burn_in_a_named_function(50.0)));
        }
    });
}

/// Bounds a failure only: stopping takes a window and one export's timeout.
const STOP_WITHIN: Duration = Duration::from_secs(30);

/// Stops `profiler` on a thread of its own, waiting for it at most
/// [`STOP_WITHIN`]: a stop that hangs fails the test rather than hanging it.
/// Returns how long the stop took.
fn stop_within(profiler: SpanProfiler) -> Duration {
    let (stopped, done) = std::sync::mpsc::channel();
    let stopping = Instant::now();
    std::thread::spawn(move || {
        profiler.stop();
        stopped.send(()).ok();
    });
    if done.recv_timeout(STOP_WITHIN).is_err() {
        panic!("stopping the profiler took more than {STOP_WITHIN:?}");
    }
    stopping.elapsed()
}

#[test]
fn samples_for_a_collector_gone_or_hanging_are_counted_and_stopping_never_hangs() {
    // Gone: a port nobody listens on any more.
    let gone = TcpListener::bind("127.0.0.1:0").expect("a port");
    let gone_endpoint = format!("http://{}", gone.local_addr().expect("address"));
    drop(gone);
    let profiler = SpanProfiler::start("lost", &gone_endpoint).expect("starts");
    burn_in_spans_until(|| samples("not_sent") >= 10, 400);
    stop_within(profiler);
    let not_sent = samples("not_sent");
    assert!(not_sent >= 10, "{not_sent} samples counted as not sent");
    assert_eq!(samples("sent"), 0, "nothing can have been sent");

    // Hanging: a listener that takes connections and never answers.
    let hanging = TcpListener::bind("127.0.0.1:0").expect("a port");
    let hanging_endpoint = format!("http://{}", hanging.local_addr().expect("address"));
    let profiler = SpanProfiler::start("lost", &hanging_endpoint).expect("starts");
    let before = samples("not_sent");
    burn_in_spans_until(|| samples("not_sent") > before, 400);
    let took = stop_within(profiler);
    println!("stopping took {took:?} with a collector that never answers");
    assert!(samples("not_sent") > before);
    drop(hanging);
}
