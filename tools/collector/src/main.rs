//! `just collector`: OTLP/HTTP in on 127.0.0.1:4318, UI and Jaeger API on
//! 127.0.0.1:16686.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use clap::Parser;
use collector::store::Store;
use collector::{OTLP_PORT, UI_PORT, api, ingest};
use tokio::net::TcpListener;

/// The workshop's trace collector.
#[derive(Parser)]
struct Args {
    /// Where OTLP/HTTP arrives.
    #[arg(long, env = "OTLP_LISTEN", default_value_t = shop::server::default_listen(OTLP_PORT))]
    otlp_listen: SocketAddr,
    /// Where the UI and the query API answer.
    #[arg(long, env = "UI_LISTEN", default_value_t = shop::server::default_listen(UI_PORT))]
    ui_listen: SocketAddr,
    /// Spans kept in memory; past this, the oldest traces are evicted.
    #[arg(long, env = "MAX_SPANS", default_value_t = 1_000_000)]
    max_spans: usize,
    /// Append every batch to this file and reload it at start, so that
    /// traces survive a restart.
    #[arg(long, env = "COLLECTOR_DATA")]
    data: Option<PathBuf>,
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
    let store = Arc::new(match &args.data {
        Some(path) => Store::with_file(path, args.max_spans)?,
        None => Store::in_memory(args.max_spans),
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
    tracing::info!("OTLP/HTTP on http://{}/v1/traces", args.otlp_listen);
    tracing::info!("traces at http://{}/", args.ui_listen);
    let otlp = shop::server::serve_on(
        otlp,
        ingest::router(store.clone()),
        shop::server::shutdown_signal(),
    );
    let ui = shop::server::serve_on(ui, api::router(store), shop::server::shutdown_signal());
    tokio::try_join!(otlp, ui)?;
    Ok(())
}
