//! `just profile pricing`: a flamegraph of the demo's pricing service's
//! quote path, with its planted hot spot (`just profile` runs this through
//! the `workshop` CLI, built optimised; lab 12's targets have a program of
//! their own, `labs/12-hot-spot/profile`).

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;

#[derive(Parser)]
struct Args {
    /// How long to sample, in seconds.
    #[arg(long, default_value_t = 5)]
    seconds: u64,
    /// Where to write the flamegraph.
    #[arg(long)]
    svg: PathBuf,
}

fn main() -> ExitCode {
    let args = Args::parse();
    println!("Profiling pricing for {} s…", args.seconds);
    match profile::profile(
        profile::pricing_workload(),
        Duration::from_secs(args.seconds),
        &args.svg,
    ) {
        Ok(rounds) => {
            println!("{rounds} rounds.");
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("profile failed: {error}");
            ExitCode::FAILURE
        }
    }
}
