use std::time::Duration;

use clap::Parser;
use loadgen::Load;

/// Drives load against the shop's gateway and reports throughput, errors
/// and latency percentiles.
#[derive(Parser)]
struct Args {
    /// The gateway's base URL.
    #[arg(long, env = "TARGET", default_value = "http://127.0.0.1:8080")]
    target: String,
    /// Requests in flight at once.
    #[arg(long, default_value_t = 16)]
    concurrency: usize,
    /// Seconds to run.
    #[arg(long, default_value_t = 10)]
    duration: u64,
    /// Stop after this many requests.
    #[arg(long)]
    requests: Option<u64>,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
}

#[tokio::main]
async fn main() {
    let args = Args::parse();
    let load = Load {
        target: args.target,
        concurrency: args.concurrency,
        duration: Duration::from_secs(args.duration),
        max_requests: args.requests,
        progress: !args.json,
        impatience: None,
    };
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let report = loadgen::run(&load, ctrl_c).await;
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&report).expect("a report serialises")
        );
    } else {
        println!("{}", report.summary());
        println!("statuses: {:?}", report.statuses);
    }
}
