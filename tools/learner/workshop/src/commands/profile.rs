//! `just profile TARGET`: a flamegraph of a workload, as an SVG to open in
//! a browser (hover a frame for its share, click to zoom).
//!
//! Lab 12's workloads run the learner's pricer in lab 12's own profiling
//! program (`labs/12-hot-spot/profile`), built like the rest of the labs:
//! the workspace's `Cargo.toml` has the pricer and the sampler optimised in
//! that build, so a profile never waits for a second, optimised build of
//! every dependency. The demo's pricing service (the instructor's) is
//! profiled by `tools/learner/profile`, built with `--release` the first time.
//!
//! `--operation "SERVICE OPERATION"` draws no workload: it writes the CPU
//! flame graph of the samples a running demo's services took inside that
//! operation's spans (`just demo --profile`), from the collector; with
//! `--pprof`, the same samples as a pprof profile beside it.

use anstream::println;
use anyhow::{Context, Result};
use clap::ValueEnum;

use crate::build;
use crate::catalog::Workspace;
use crate::report::BOLD;

/// What to profile: each is a workload that runs until time is up.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Target {
    /// Your pricer from lab 12 (`labs/12-hot-spot/src/pricer.rs`).
    Lab12,
    /// Lab 12's original pricer, the baseline.
    Lab12Original,
    /// The demo's pricing service's quote path, with its planted hot spot.
    Pricing,
}

/// Profiles `target` for `seconds` and says where the flamegraph is;
/// `Ok(false)` if the workload did not build or run (cargo said why).
pub fn run(ws: &Workspace, target: Target, seconds: u64) -> Result<bool> {
    let name = target
        .to_possible_value()
        .map_or_else(|| "profile".to_owned(), |value| value.get_name().to_owned());
    let shown = format!("target/profile/{name}.svg");
    let mut cargo = build::cargo(ws);
    // cargo's own progress bar, if it has anything to build: quiet otherwise.
    cargo
        .env("CARGO_TERM_PROGRESS_WHEN", "always")
        .env("CARGO_TERM_PROGRESS_WIDTH", "80")
        .args(["run", "--quiet", "--locked"]);
    match target {
        Target::Lab12 | Target::Lab12Original => cargo.args(["-p", "lab12-profile", "--", &name]),
        Target::Pricing => cargo.args(["--release", "-p", "profile", "--"]),
    };
    cargo
        .arg("--seconds")
        .arg(seconds.to_string())
        .arg("--svg")
        .arg(ws.root.join(&shown));
    let status = cargo.status().context("cannot run cargo")?;
    if !status.success() {
        println!("The {name} workload did not build or run: cargo's words are above.");
        return Ok(false);
    }
    println!("Flamegraph: {BOLD}{shown}{BOLD:#}");
    println!("Open it in a browser: the widest towers are where the time goes.");
    Ok(true)
}

/// Writes the CPU flame graph of the samples a running collector holds from
/// inside `operation`'s spans ("SERVICE OPERATION"), from the demo's span
/// profiles, as the critical-paths page draws it, and with `pprof` the same
/// samples as a pprof profile (the program says how to open it);
/// `Ok(false)` if there was none to draw (the program said why).
pub fn operation(ws: &Workspace, operation: &str, pprof: bool) -> Result<bool> {
    let name: String = operation
        .split_whitespace()
        .collect::<Vec<_>>()
        .join("-")
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let shown = format!("target/profile/{name}.svg");
    let mut cargo = build::cargo(ws);
    cargo
        .env("CARGO_TERM_PROGRESS_WHEN", "always")
        .env("CARGO_TERM_PROGRESS_WIDTH", "80")
        .args([
            "run",
            "--quiet",
            "--locked",
            "-p",
            "trace-tools",
            "--bin",
            "span-profile",
            "--",
        ])
        .arg("--operation")
        .arg(operation)
        .arg("--svg")
        .arg(ws.root.join(&shown));
    if pprof {
        cargo
            .arg("--pprof")
            .arg(ws.root.join(format!("target/profile/{name}.pb.gz")));
    }
    let status = cargo.status().context("cannot run cargo")?;
    if !status.success() {
        return Ok(false);
    }
    println!("Flamegraph: {BOLD}{shown}{BOLD:#}");
    println!(
        "Open it in a browser: the widest frames under the span's own code are where its CPU goes."
    );
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The targets the justfile and lab 12's README name are the ones the
    /// command line accepts (they drifted once, when the labs were
    /// renumbered).
    #[test]
    fn the_documented_targets_are_accepted() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../..");
        let justfile = std::fs::read_to_string(root.join("justfile")).unwrap();
        let documented = justfile
            .lines()
            .find(|line| line.starts_with("# A flamegraph SVG of a workload"))
            .expect("the profile recipe's comment");
        let readme = std::fs::read_to_string(root.join("labs/12-hot-spot/README.md")).unwrap();
        for (name, target) in [
            ("lab12", Target::Lab12),
            ("lab12-original", Target::Lab12Original),
            ("pricing", Target::Pricing),
        ] {
            assert!(documented.contains(name), "{documented}");
            assert!(readme.contains(&format!("just profile {name}")), "{name}");
            assert_eq!(Target::from_str(name, false), Ok(target));
        }
    }
}
