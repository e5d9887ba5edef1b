//! `just trace --slowest` or `just trace ID`: a trace from the collector as a
//! waterfall in the terminal, with its critical path marked.

use anyhow::Context;
use std::process::ExitCode;

use clap::Parser;
use collector_client::{Client, Error, MAX_LIMIT, TraceSearch, UI_PORT, loopback};
use trace_analysis::critical_path::critical_path;
use trace_analysis::jaeger::Trace;
use trace_analysis::terminal::waterfall;

/// Prints a trace from the collector as a waterfall.
#[derive(Parser)]
#[command(group(clap::ArgGroup::new("which").required(true).args(["slowest", "trace_id"])))]
struct Args {
    /// The slowest of the recent traces.
    #[arg(long)]
    slowest: bool,
    /// Only traces with a span of this service (with --slowest).
    #[arg(long)]
    service: Option<String>,
    /// A trace id (32 hex digits).
    trace_id: Option<String>,
    /// The collector's (or Jaeger's) query address.
    #[arg(long, env = "COLLECTOR_URL", default_value_t = loopback(UI_PORT))]
    collector: String,
    /// Width of the bars, in columns.
    #[arg(long, default_value_t = 48)]
    width: usize,
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let args = Args::parse();
    match fetch(&args).await {
        Ok(trace) => {
            anstream::print!(
                "{}",
                waterfall(&trace, &critical_path(&trace), args.width.clamp(10, 200))
            );
            ExitCode::SUCCESS
        }
        Err(err) => {
            eprintln!("trace: {err:#}");
            ExitCode::FAILURE
        }
    }
}

async fn fetch(args: &Args) -> anyhow::Result<Trace> {
    let client = Client::new(&args.collector)?;
    let traces = match &args.trace_id {
        Some(id) => client.trace(id).await.map(Vec::from_iter),
        None => {
            let search = TraceSearch {
                service: args.service.clone(),
                limit: Some(MAX_LIMIT),
                ..TraceSearch::default()
            };
            client.traces(&search).await
        }
    };
    let traces = match traces {
        Err(err @ Error::Unreachable { .. }) => {
            return Err(anyhow::Error::new(err).context(format!(
                "cannot reach the collector at {} (start it with `just collector`)",
                client.base()
            )));
        }
        traces => traces?,
    };
    traces
        .into_iter()
        .max_by_key(Trace::duration)
        .context("the collector has no trace yet: run `just demo` or a lab first")
}
