//! `just collector`: OTLP/HTTP in on 127.0.0.1:4318, UI and Jaeger API on
//! 127.0.0.1:16686.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use clap::Parser;
use clap::builder::BoolishValueParser;
use collector::limits::{self, ByteSize, Limits};
use collector::serve::{default_listen, serve_on, shutdown_signal};
use collector::store::Store;
use collector::tail_sampling::{self, TailSampler};
use collector::{api, ingest};
use collector_client::{OTLP_PORT, UI_PORT, routes};
use tokio::net::TcpListener;

/// The workshop's trace collector.
#[derive(Parser)]
struct Args {
    /// Where OTLP/HTTP arrives.
    #[arg(long, env = "OTLP_LISTEN", default_value_t = default_listen(OTLP_PORT))]
    otlp_listen: SocketAddr,
    /// Where the UI and the query API answer.
    #[arg(long, env = "UI_LISTEN", default_value_t = default_listen(UI_PORT))]
    ui_listen: SocketAddr,
    /// Spans kept in memory; past this, the oldest traces are evicted.
    #[arg(long, env = "MAX_SPANS", default_value_t = limits::MAX_SPANS)]
    max_spans: usize,
    /// The spans' estimated bytes kept in memory (`512MiB`, `2GiB`, or a
    /// number of bytes); past this, the oldest traces are evicted.
    #[arg(long, env = "MAX_BYTES", default_value_t = ByteSize(limits::MAX_BYTES))]
    max_bytes: ByteSize,
    /// The longest attribute value (or key, span or event name) kept;
    /// longer ones are cut and end with "…".
    #[arg(long, env = "MAX_ATTRIBUTE_BYTES", default_value_t = ByteSize(limits::MAX_VALUE_BYTES))]
    max_attribute_bytes: ByteSize,
    /// Attributes kept per span, event and resource; the rest are dropped.
    #[arg(long, default_value_t = limits::MAX_ATTRIBUTES)]
    max_attributes: usize,
    /// Events kept per span, the first ones.
    #[arg(long, default_value_t = limits::MAX_EVENTS)]
    max_events: usize,
    /// Links kept per span.
    #[arg(long, default_value_t = limits::MAX_LINKS)]
    max_links: usize,
    /// Spans kept per trace; a full trace's later spans are dropped (and
    /// the sender told so).
    #[arg(long, env = "MAX_SPANS_PER_TRACE", default_value_t = limits::MAX_SPANS_PER_TRACE)]
    max_spans_per_trace: usize,
    /// CPU samples (OTLP profiles) kept in memory; past this, the oldest
    /// are evicted.
    #[arg(long, env = "MAX_SAMPLES", default_value_t = limits::MAX_SAMPLES)]
    max_samples: usize,
    /// The CPU samples' estimated bytes kept in memory (`64MiB`, or a
    /// number of bytes); past this, the oldest are evicted.
    #[arg(long, env = "MAX_SAMPLE_BYTES", default_value_t = ByteSize(limits::MAX_SAMPLE_BYTES))]
    max_sample_bytes: ByteSize,
    /// Append every batch to this file and reload it at start, so that
    /// traces survive a restart.
    #[arg(long, env = "COLLECTOR_DATA")]
    data: Option<PathBuf>,
    /// Keep a trace only once it is complete, and only if it matters: every
    /// trace with an error, every trace slower than its endpoint's recent
    /// p99, and a share of the rest (tail sampling). Off, every trace is
    /// kept.
    #[arg(long, env = "TAIL_SAMPLING", value_parser = BoolishValueParser::new())]
    tail_sampling: bool,
    /// With tail sampling, the share of the other traces kept, from 0 to 1,
    /// chosen by trace id.
    #[arg(long, env = "TAIL_KEEP_SHARE", default_value_t = tail_sampling::KEEP_SHARE, value_parser = share)]
    tail_keep_share: f64,
    /// With tail sampling, how long a trace waits after its last span
    /// arrived before it is decided, in milliseconds.
    #[arg(
        long,
        env = "TAIL_DECISION_WAIT_MS",
        default_value_t = tail_sampling::DECISION_WAIT_MS,
        value_parser = clap::value_parser!(u64).range(1..)
    )]
    tail_decision_wait_ms: u64,
    /// With tail sampling, the spans that wait for their trace's decision
    /// at most; past them, the oldest traces are decided early.
    #[arg(long, default_value_t = tail_sampling::MAX_PENDING_SPANS)]
    tail_max_pending_spans: usize,
    /// With tail sampling, the estimated bytes that wait at most (`256MiB`,
    /// or a number of bytes); past them, the oldest traces are decided
    /// early.
    #[arg(long, default_value_t = ByteSize(tail_sampling::MAX_PENDING_BYTES))]
    tail_max_pending_bytes: ByteSize,
}

/// A share, from 0 (none) to 1 (all).
fn share(text: &str) -> Result<f64, String> {
    let share: f64 = text
        .trim()
        .parse()
        .map_err(|_| format!("{text:?} is not a number: give a share from 0 to 1, such as 0.05"))?;
    if (0.0..=1.0).contains(&share) {
        Ok(share)
    } else {
        Err(format!(
            "{text} is not a share: give one from 0 (keep none) to 1 (keep all)"
        ))
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse();
    // The collector logs, but does not trace itself: its own spans would
    // arrive at itself, a loop that only adds noise to the learners' traces.
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    let bounds = Limits {
        max_value_bytes: args.max_attribute_bytes.0,
        max_attributes: args.max_attributes,
        max_events: args.max_events,
        max_links: args.max_links,
        max_spans_per_trace: args.max_spans_per_trace,
        max_spans: args.max_spans,
        max_bytes: args.max_bytes.0,
        max_samples: args.max_samples,
        max_sample_bytes: args.max_sample_bytes.0,
    };
    tracing::info!(
        "keeping at most {} spans and {}, {} spans a trace; strings cut to {}",
        limits::grouped(bounds.max_spans as u64),
        args.max_bytes,
        limits::grouped(bounds.max_spans_per_trace as u64),
        args.max_attribute_bytes,
    );
    tracing::info!(
        "keeping at most {} CPU samples and {}",
        limits::grouped(bounds.max_samples as u64),
        args.max_sample_bytes,
    );
    let store = Arc::new(match &args.data {
        Some(path) => Store::open(path, bounds)?,
        None => Store::new(bounds),
    });
    // Warnings of cuts and evictions are held to one line a kind every
    // interval; this tells the end of a burst that nothing follows.
    let ticking = Arc::clone(&store);
    tokio::spawn(async move {
        let mut every = tokio::time::interval(limits::WARNING_INTERVAL);
        loop {
            every.tick().await;
            ticking.log_pending_warnings();
        }
    });
    if store.span_count() > 0 {
        tracing::info!(
            spans = store.span_count(),
            traces = store.trace_count(),
            "reloaded the data file"
        );
    }
    let otlp = TcpListener::bind(args.otlp_listen).await.map_err(|err| {
        format!(
            "cannot listen for OTLP on {}: {err} (is another collector running?)",
            args.otlp_listen
        )
    })?;
    let ui = TcpListener::bind(args.ui_listen)
        .await
        .map_err(|err| format!("cannot serve the UI on {}: {err}", args.ui_listen))?;
    tracing::info!(
        "OTLP/HTTP on http://{}{} (and CPU samples on {})",
        args.otlp_listen,
        routes::OTLP_TRACES,
        routes::OTLP_PROFILES
    );
    tracing::info!("traces at http://{}{}", args.ui_listen, routes::UI_SEARCH);
    let (otlp_router, ui_router) = if args.tail_sampling {
        let settings = tail_sampling::Settings {
            keep_share: args.tail_keep_share,
            decision_wait: Duration::from_millis(args.tail_decision_wait_ms),
            max_pending_spans: args.tail_max_pending_spans,
            max_pending_bytes: args.tail_max_pending_bytes.0,
        };
        tracing::info!(
            "tail sampling: each trace decided {} ms after its last span; kept if it failed, was slower than its endpoint's recent p99, or falls in {} of the rest; at most {} spans and {} waiting",
            args.tail_decision_wait_ms,
            args.tail_keep_share,
            limits::grouped(args.tail_max_pending_spans as u64),
            args.tail_max_pending_bytes,
        );
        let sampler = TailSampler::start(store, settings);
        (
            ingest::sampled_router(Arc::clone(&sampler)),
            api::sampled_router(sampler),
        )
    } else {
        (ingest::router(Arc::clone(&store)), api::router(store))
    };
    let otlp = serve_on(otlp, otlp_router, shutdown_signal());
    let ui = serve_on(ui, ui_router, shutdown_signal());
    tokio::try_join!(otlp, ui)?;
    Ok(())
}
