//! `just profile TARGET`: a flamegraph of a workload, as an SVG to open in
//! a browser (hover a frame for its share, click to zoom).

use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, ValueEnum};
use profile::{Target, profile};

#[derive(Parser)]
struct Args {
    /// What to profile.
    #[arg(value_enum)]
    target: Target,
    /// How long to sample, in seconds.
    #[arg(long, default_value_t = 5)]
    seconds: u64,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let name = args
        .target
        .to_possible_value()
        .map_or_else(|| "profile".to_owned(), |value| value.get_name().to_owned());
    // Under the workspace's target dir, shown relative to the workspace.
    let shown = std::path::Path::new("target/profile").join(format!("{name}.svg"));
    let svg = workspace_root().join(&shown);
    println!("Profiling {name} for {} s…", args.seconds);
    match profile(args.target, Duration::from_secs(args.seconds), &svg) {
        Ok(rounds) => {
            println!("{rounds} rounds. Flamegraph: {}", shown.display());
            println!("Open it in a browser: the widest towers are where the time goes.");
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("profile failed: {error}");
            ExitCode::FAILURE
        }
    }
}

/// The workspace root: two levels above this crate, where `just` runs.
fn workspace_root() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}
