//! `just profile --operation "SERVICE OPERATION"`: the CPU flame graph of
//! the samples a running collector holds from inside that operation's spans
//! (the services' span profiles: `just demo --profile`), as an SVG file:
//! the same graph the critical-paths page links the operation to. With
//! `--pprof FILE`, the same samples as a pprof profile too, for `go tool
//! pprof` or speedscope.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use clap::Parser;
use collector_client::{Client, Error, ProfileShape, UI_PORT, loopback};

/// Writes an operation's CPU flame graph from a running collector.
#[derive(Parser)]
struct Args {
    /// The service and the operation, as the critical-paths page names
    /// them: "pricing index_coupons", "inventory POST /reservations".
    #[arg(long)]
    operation: String,
    /// Where to write the SVG.
    #[arg(long)]
    svg: PathBuf,
    /// Where to write the same samples as a pprof profile (`.pb.gz`), if
    /// anywhere.
    #[arg(long)]
    pprof: Option<PathBuf>,
    /// The collector's query address.
    #[arg(long, env = "COLLECTOR_URL", default_value_t = loopback(UI_PORT))]
    collector: String,
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let args = Args::parse();
    match write(&args).await {
        Ok(samples) => {
            println!(
                "{samples} CPU samples from inside {}'s spans.",
                args.operation
            );
            if let Some(pprof) = &args.pprof {
                let file = pprof.display();
                println!(
                    "pprof profile: {file}\nOpen it with `go tool pprof -http=: {file}`, or on \
                     https://www.speedscope.app (offline: `npx speedscope {file}`, from npm)."
                );
            }
            ExitCode::SUCCESS
        }
        Err(err) => {
            eprintln!("profile: {err:#}");
            ExitCode::FAILURE
        }
    }
}

/// Writes the flame graph; the number of samples in it.
async fn write(args: &Args) -> anyhow::Result<u64> {
    let (service, operation) = args
        .operation
        .trim()
        .split_once(char::is_whitespace)
        .map(|(service, operation)| (service, operation.trim()))
        .context("say the service, then the operation: --operation \"pricing index_coupons\"")?;
    let client = Client::new(&args.collector)?;
    let folded = match client
        .operation_profile(service, operation, ProfileShape::Folded)
        .await
    {
        Err(err @ Error::Unreachable { .. }) => {
            return Err(anyhow::Error::new(err).context(format!(
                "cannot reach the collector at {} (start the shop with `just demo --profile`)",
                client.base()
            )));
        }
        folded => folded?,
    };
    let samples = samples_in(&String::from_utf8_lossy(&folded));
    if samples == 0 {
        anyhow::bail!(
            "the collector holds no CPU sample from inside {service}'s {operation} spans: \
             were the services started with `just demo --profile`, and is that the \
             operation's name on the critical-paths page?"
        );
    }
    let svg = client
        .operation_profile(service, operation, ProfileShape::FlameGraph)
        .await?;
    write_file(&args.svg, &svg)?;
    if let Some(pprof) = &args.pprof {
        let profile = client
            .operation_profile(service, operation, ProfileShape::Pprof)
            .await?;
        write_file(pprof, &profile)?;
    }
    Ok(samples)
}

/// Writes `bytes` to `path`, its folder made if need be.
fn write_file(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    std::fs::write(path, bytes).with_context(|| format!("cannot write {}", path.display()))
}

/// The samples in folded stacks whose counts are CPU nanoseconds, at the
/// services' 100 samples a second.
fn samples_in(folded: &str) -> u64 {
    let nanoseconds: u64 = folded
        .lines()
        .filter_map(|line| line.rsplit_once(' ')?.1.parse::<u64>().ok())
        .sum();
    nanoseconds / 10_000_000
}
