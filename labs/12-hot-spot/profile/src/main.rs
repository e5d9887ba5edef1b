//! `just profile lab12` / `lab12-original`: the learner's pricer, or the
//! original, under the sampler (`tools/profile` builds and runs this).

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, ValueEnum};
use lab12::book::conference_book;
use lab12::original::OriginalPricer;
use lab12::pricer::Pricer;
use lab12_profile::quote_all;

#[derive(Clone, Copy, ValueEnum)]
enum Target {
    /// Your pricer (`labs/12-hot-spot/src/pricer.rs`).
    Lab12,
    /// The original pricer, the baseline.
    Lab12Original,
}

#[derive(Parser)]
struct Args {
    #[arg(value_enum)]
    target: Target,
    /// How long to sample, in seconds.
    #[arg(long, default_value_t = 5)]
    seconds: u64,
    /// Where to write the flamegraph.
    #[arg(long)]
    svg: PathBuf,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let book = conference_book(2_000);
    let duration = Duration::from_secs(args.seconds);
    println!("Profiling for {} s…", args.seconds);
    let rounds = match args.target {
        Target::Lab12 => {
            let pricer = Pricer::new(&book);
            profile::profile(quote_all(&book, |o| pricer.quote(o)), duration, &args.svg)
        }
        Target::Lab12Original => {
            let pricer = OriginalPricer::new(&book);
            profile::profile(quote_all(&book, |o| pricer.quote(o)), duration, &args.svg)
        }
    };
    match rounds {
        Ok(rounds) => {
            println!("{rounds} rounds.");
            ExitCode::SUCCESS
        }
        Err(error) => {
            // The sampler's or the file system's own words say what failed.
            let cause = std::error::Error::source(&error)
                .map(|cause| format!(": {cause}"))
                .unwrap_or_default();
            eprintln!("profile failed: {error}{cause}");
            ExitCode::FAILURE
        }
    }
}
