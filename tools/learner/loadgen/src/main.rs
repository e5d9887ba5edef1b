//! `just loadgen`: load against a running shop, in a closed loop (each
//! customer waits for their answer) or, with `--rate`, an open one (see
//! the library's `open_loop`).

use std::time::Duration;

use clap::Parser;
use loadgen::{Load, OpenLoop};

/// Drives load against the shop's gateway and reports throughput, errors
/// and latency percentiles.
#[derive(Parser)]
struct Args {
    /// The gateway's base URL.
    #[arg(long, env = "TARGET", default_value = "http://127.0.0.1:8080")]
    target: String,
    /// Requests in flight at once (with --rate, at most: an arrival beyond
    /// them is shed, and counted).
    #[arg(long, default_value_t = 16)]
    concurrency: usize,
    /// Seconds to run.
    #[arg(long, default_value_t = 10)]
    duration: u64,
    /// Stop after this many requests.
    #[arg(long)]
    requests: Option<u64>,
    /// An open loop: start this many requests per second, at random
    /// (Poisson) times, whatever the answers do. Without it, each of the
    /// --concurrency customers sends a request once the last is answered.
    #[arg(long, value_parser = positive_rate)]
    rate: Option<f64>,
    /// With --rate, the seed of the start times: the same seed, the same
    /// schedule.
    #[arg(long, requires = "rate")]
    seed: Option<u64>,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
}

/// A rate of requests per second: a number above zero.
fn positive_rate(text: &str) -> Result<f64, String> {
    text.parse::<f64>()
        .ok()
        .filter(|rate| rate.is_finite() && *rate > 0.0)
        .ok_or_else(|| format!("{text:?} is not a rate above zero, such as 50 or 12.5"))
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
        open_loop: args.rate.map(|rate| OpenLoop {
            rate,
            seed: args.seed,
        }),
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
