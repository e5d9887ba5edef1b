//! `just trace --slowest` or `just trace ID`: a trace from the collector as a
//! waterfall in the terminal, with its critical path marked.

use anyhow::Context;
use std::process::ExitCode;

use clap::Parser;
use trace_analysis::critical_path::critical_path;
use trace_analysis::jaeger::{self, Trace};
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
    #[arg(long, env = "COLLECTOR_URL", default_value = "http://127.0.0.1:16686")]
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
    let base = args.collector.trim_end_matches('/');
    let url = match (&args.trace_id, &args.service) {
        (Some(id), _) => format!("{base}/api/traces/{id}"),
        (None, Some(service)) => format!(
            "{base}/api/traces?limit={}&service={service}",
            collector::api::MAX_LIMIT
        ),
        (None, None) => format!("{base}/api/traces?limit={}", collector::api::MAX_LIMIT),
    };
    let response = reqwest::get(&url).await.with_context(|| {
        format!("cannot reach the collector at {base} (start it with `just collector`)")
    })?;
    let status = response.status();
    let body: jaeger::Response<Option<Vec<Trace>>> = response
        .json()
        .await
        .with_context(|| format!("{url} did not answer in Jaeger's shape"))?;
    if let Some(errors) = body.errors.filter(|e| !e.is_empty()) {
        anyhow::bail!("{status}: {}", errors[0].msg);
    }
    body.data
        .unwrap_or_default()
        .into_iter()
        .max_by_key(Trace::duration)
        .context("the collector has no trace yet: run `just demo` or a lab first")
}
