//! `just profile lab12` / `lab12-original`: the learner's pricer, or the
//! original, under the sampler (`just profile` builds and runs this, through
//! the workshop CLI).

use std::process::ExitCode;

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
    #[command(flatten)]
    sampling: profile::Sampling,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let book = conference_book(2_000);
    match args.target {
        Target::Lab12 => {
            let pricer = Pricer::new(&book);
            let workload = quote_all(&book, |o| pricer.quote(o));
            profile::run("your pricer", workload, &args.sampling)
        }
        Target::Lab12Original => {
            let pricer = OriginalPricer::new(&book);
            let workload = quote_all(&book, |o| pricer.quote(o));
            profile::run("the original pricer", workload, &args.sampling)
        }
    }
}
