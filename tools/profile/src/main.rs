//! `just profile TARGET`: a flamegraph of a workload, as an SVG to open in
//! a browser (hover a frame for its share, click to zoom).

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::time::Duration;

use anyhow::Context;
use clap::{Parser, ValueEnum};

/// What to profile: each is a workload that runs until time is up.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Target {
    /// Your pricer from lab 12 (`labs/12-hot-spot/src/pricer.rs`).
    Lab12,
    /// Lab 12's original pricer, the baseline.
    Lab12Original,
    /// The demo's pricing service's quote path, with its planted hot spot.
    Pricing,
}

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
    let shown = Path::new("target/profile").join(format!("{name}.svg"));
    let svg = workspace_root().join(&shown);
    let result = match args.target {
        Target::Pricing => {
            println!("Profiling {name} for {} s…", args.seconds);
            profile::profile(
                profile::pricing_workload(),
                Duration::from_secs(args.seconds),
                &svg,
            )
            .map(|rounds| println!("{rounds} rounds."))
            .map_err(anyhow::Error::from)
        }
        // Lab 12's workloads run the learner's code: its own program does,
        // built now, so that a lab that does not compile yet stops only this.
        Target::Lab12 | Target::Lab12Original => lab_profiler(&name, args.seconds, &svg),
    };
    match result {
        Ok(()) => {
            println!("Flamegraph: {}", shown.display());
            println!("Open it in a browser: the widest towers are where the time goes.");
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("profile failed: {error:#}");
            ExitCode::FAILURE
        }
    }
}

/// Runs lab 12's profiling program (`labs/12-hot-spot/profile`), optimised
/// like this one.
fn lab_profiler(target: &str, seconds: u64, svg: &Path) -> anyhow::Result<()> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let status = Command::new(cargo)
        .current_dir(workspace_root())
        .args([
            "run",
            "--quiet",
            "--locked",
            "--release",
            "-p",
            "lab12-profile",
            "--",
        ])
        .arg(target)
        .arg("--seconds")
        .arg(seconds.to_string())
        .arg("--svg")
        .arg(svg)
        .status()
        .context("cannot run cargo")?;
    anyhow::ensure!(
        status.success(),
        "lab 12's code did not build or run (see above)"
    );
    Ok(())
}

/// The workspace root: two levels above this crate, where `just` runs.
fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The targets the justfile and lab 12's README name are the ones the
    /// command line accepts (they drifted once, when the labs were
    /// renumbered).
    #[test]
    fn the_documented_targets_are_accepted() {
        let justfile = std::fs::read_to_string(workspace_root().join("justfile")).unwrap();
        let documented = justfile
            .lines()
            .find(|line| line.starts_with("# A flamegraph SVG of a workload"))
            .expect("the profile recipe's comment");
        for (target, expected) in [
            ("lab12", Target::Lab12),
            ("lab12-original", Target::Lab12Original),
            ("pricing", Target::Pricing),
        ] {
            assert!(documented.contains(target), "{documented}");
            let args = Args::try_parse_from(["profile", target]).unwrap();
            assert_eq!(args.target, expected);
        }
    }
}
