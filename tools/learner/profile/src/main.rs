//! `just profile pricing`: a flamegraph of the demo's pricing service's
//! quote path, with its planted hot spot (`just profile` runs this through
//! the `workshop` CLI, built optimised; lab 12's targets have a program of
//! their own, `labs/12-hot-spot/profile`).

use std::process::ExitCode;

use clap::Parser;

#[derive(Parser)]
struct Args {
    #[command(flatten)]
    sampling: profile::Sampling,
}

fn main() -> ExitCode {
    let args = Args::parse();
    profile::run("pricing", profile::pricing_workload(), &args.sampling)
}
