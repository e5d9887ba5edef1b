//! `just setup`: check the toolchain, download every crate, build what the
//! labs and the demo run.
//!
//! After it, the workshop needs no network: every crate is downloaded, and
//! every lab, the demo and the tools learners run are built, each lab once
//! more exactly the way `just lab N` builds it, so that a learner's first
//! grading compiles their code and nothing else. `just setup --all` builds
//! the rest too (the reference solutions, the slides, the optimised builds
//! behind `just bench`, `just loadgen` and `just profile pricing`): what
//! maintainers and instructors run. Without it those build on first use,
//! offline, with cargo's progress bar.

use std::process::Command;
use std::time::Instant;

use anstream::println;
use anyhow::{Context, Result, bail};

use crate::build::{self, BuildOutput, Progress};
use crate::catalog::Workspace;
use crate::report::{BOLD, GREEN, YELLOW, indent};

/// The demo's services and the collector: `just demo` and `just bench`
/// build them beside themselves (`demo::build_binaries`, from
/// `demo::SERVICES`), in their own profile.
const SHOP: &str = "-p catalog -p inventory -p pricing -p payments -p gateway -p collector";

/// What the labs' recipes run, with the exact cargo arguments each recipe
/// builds it with: a build with other arguments may select other features
/// and compile again, in front of a learner.
fn learner_builds() -> Vec<(&'static str, String)> {
    vec![
        ("the demo", "build -p demo".into()),
        ("the demo's services", format!("build {SHOP}")),
        ("the collector", "build -p collector --bins".into()),
        ("the trace tools", "build -p trace-tools --bins".into()),
        ("the ratio analyzer", "build -p ratio".into()),
        (
            "lab 12's profiling program",
            "build -p lab12-profile".into(),
        ),
    ]
}

/// What maintainers and instructors run, for `--all`.
fn other_builds() -> Vec<(&'static str, String)> {
    vec![
        (
            "the reference solutions and every tool's tests",
            "test --workspace --no-run".into(),
        ),
        ("the slides renderer", "build -p slides".into()),
        (
            "the W3C test service",
            "build -p w3c-test-service --bins".into(),
        ),
        (
            "the load generator (optimised)",
            "build --release -p loadgen".into(),
        ),
        (
            "the pricing profiler (optimised)",
            "build --release -p profile".into(),
        ),
        (
            "the benchmark runner (optimised)",
            "build --release -p workshop-bench".into(),
        ),
        (
            "the benchmarks' services (optimised)",
            format!("build --release {SHOP}"),
        ),
        (
            "the criterion benchmarks (optimised)",
            // As `just bench` runs them (tools/maintainer/bench/src/main.rs).
            "bench --no-run -p workshop-bench --bench collector --bench actions --bench cost"
                .into(),
        ),
    ]
}

pub fn run(ws: &Workspace, all: bool) -> Result<()> {
    let started = Instant::now();
    check_toolchain(ws)?;
    fetch_crates(ws)?;
    build_every_lab(ws)?;
    for (what, args) in builds(all) {
        build_one(ws, what, &args)?;
    }
    println!(
        "{GREEN}Setup done in {:.0} s.{GREEN:#} Everything the labs and the demo run is built; \
         the workshop now works offline. Start with {BOLD}`just lab 1`{BOLD:#} or \
         {BOLD}`just demo`{BOLD:#}; `just list` shows every lab.",
        since_the_command_started(started).as_secs_f64()
    );
    if !all {
        println!(
            "The benchmarks, the slides and the reference solutions build when first run \
             (offline); `just setup --all` builds them now."
        );
    }
    Ok(())
}

/// What is built after the labs: what learners run, and with `all` what
/// maintainers and instructors run too.
fn builds(all: bool) -> Vec<(&'static str, String)> {
    let mut builds = learner_builds();
    if all {
        // The optimised builds are a second build of every dependency:
        // the longest step.
        builds.extend(other_builds());
    }
    builds
}

/// `cargo fetch`: every crate, downloaded once.
fn fetch_crates(ws: &Workspace) -> Result<()> {
    println!("{BOLD}Downloading crates{BOLD:#} (the only step that needs the network)");
    let status = build::cargo(ws)
        .args(["fetch", "--locked"])
        .status()
        .context("cannot run cargo fetch")?;
    if !status.success() {
        bail!(
            "downloading crates failed. Setup needs the network once: retry on a \
             better connection, then everything after works offline."
        );
    }
    Ok(())
}

/// Every lab in one build, then each lab alone.
fn build_every_lab(ws: &Workspace) -> Result<()> {
    let labs = ws.labs()?;
    println!("{BOLD}Building every lab{BOLD:#}");
    let packages: Vec<String> = labs.iter().map(|lab| lab.package()).collect();
    let output = build::build_tests(
        ws,
        &packages,
        Progress {
            label: "Building".to_owned(),
            total: Some(estimate_units(ws)),
        },
    )?;
    if !output.succeeded() {
        bail!(
            "the build failed; nothing in the workshop should fail to build here:\n{}",
            indent(&failure_detail(&output), "  ")
        );
    }

    // Each lab alone, exactly as `just lab N` builds it. With the features
    // unified by workspace-hack this finds everything built already; if a
    // member ever escapes the unification, this is where its extra build
    // happens, now, instead of in front of a learner.
    for lab in &labs {
        build::build_tests(
            ws,
            &[lab.package()],
            Progress {
                label: format!("Checking lab {:02}", lab.number),
                total: None,
            },
        )?;
    }
    Ok(())
}

/// Each package's compiler error, then cargo's own failure.
fn failure_detail(output: &BuildOutput) -> String {
    output
        .errors
        .iter()
        .map(|(package, e)| format!("{package}: {}", e.rendered.trim_end()))
        .chain(output.cargo_failure.clone())
        .collect::<Vec<_>>()
        .join("\n")
}

/// `cargo <args>`, said as building `what`.
fn build_one(ws: &Workspace, what: &str, args: &str) -> Result<()> {
    println!("{BOLD}Building {what}{BOLD:#}");
    let mut command = build::cargo(ws);
    command
        .args(args.split_whitespace())
        .args(["--locked", "--message-format=json"]);
    let output = build::run_cargo(
        command,
        Progress {
            label: "Building".to_owned(),
            total: None,
        },
    )?;
    if !output.succeeded() {
        bail!(
            "building {what} failed:\n{}",
            output.cargo_failure.unwrap_or_default()
        );
    }
    Ok(())
}

/// How long `just setup` has been running, building this program included:
/// the recipe passes the time it started, in seconds since the epoch, as
/// `WORKSHOP_STARTED`. Without it, since this program started.
fn since_the_command_started(program_started: Instant) -> std::time::Duration {
    let recipe_started = std::env::var("WORKSHOP_STARTED")
        .ok()
        .and_then(|secs| secs.trim().parse::<u64>().ok())
        .map(|secs| std::time::UNIX_EPOCH + std::time::Duration::from_secs(secs));
    let now = std::time::SystemTime::now();
    recipe_started
        .and_then(|start| now.duration_since(start).ok())
        .filter(|since| *since >= program_started.elapsed())
        .unwrap_or_else(|| program_started.elapsed())
}

fn check_toolchain(ws: &Workspace) -> Result<()> {
    let output = Command::new("rustc")
        .arg("--version")
        .output()
        .context("rustc is not on PATH: install Rust with rustup first")?;
    let version_line = String::from_utf8_lossy(&output.stdout).trim().to_owned();
    let have = version_line
        .split_whitespace()
        .nth(1)
        .unwrap_or("0.0.0")
        .to_owned();
    let need = required_rust(ws)?;
    if version_tuple(&have) < version_tuple(&need) {
        bail!(
            "the workshop needs Rust {need} or newer, and this is {have}: run `rustup update stable`"
        );
    }
    println!("{GREEN}✓{GREEN:#} {version_line} (the workshop needs ≥ {need})");
    match Command::new("git").arg("--version").output() {
        Ok(o) if o.status.success() => println!(
            "{GREEN}✓{GREEN:#} {}",
            String::from_utf8_lossy(&o.stdout).trim()
        ),
        _ => println!(
            "{YELLOW}!{YELLOW:#} git was not found: everything works except `just reset` and `just solution`"
        ),
    }
    Ok(())
}

/// `rust-version` from the workspace's `Cargo.toml`.
fn required_rust(ws: &Workspace) -> Result<String> {
    let text = std::fs::read_to_string(ws.root.join("Cargo.toml"))?;
    let manifest: toml::Table = toml::from_str(&text)?;
    Ok(manifest
        .get("workspace")
        .and_then(|w| w.get("package"))
        .and_then(|p| p.get("rust-version"))
        .and_then(|v| v.as_str())
        .unwrap_or("1.85")
        .to_owned())
}

fn version_tuple(version: &str) -> (u32, u32, u32) {
    let mut parts = version.split(['.', '-']).map(|p| p.parse().unwrap_or(0));
    (
        parts.next().unwrap_or(0),
        parts.next().unwrap_or(0),
        parts.next().unwrap_or(0),
    )
}

/// Roughly how many compilation units a full build has: one per locked
/// package, plus a test unit per workspace member. Only feeds the progress
/// bar, which tolerates being off by a few.
fn estimate_units(ws: &Workspace) -> u64 {
    let lock = std::fs::read_to_string(ws.root.join("Cargo.lock")).unwrap_or_default();
    let packages = lock.matches("[[package]]").count() as u64;
    let members = ws.labs().map_or(0, |labs| labs.len() as u64 * 4);
    packages + members
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_compare_numerically() {
        assert!(version_tuple("1.95.0") > version_tuple("1.88"));
        assert!(version_tuple("1.9.0") < version_tuple("1.88.0"));
        assert_eq!(version_tuple("1.96.0-nightly"), (1, 96, 0));
    }

    #[test]
    fn all_builds_what_learners_run_and_then_the_rest() {
        let learners = builds(false);
        let everything = builds(true);
        assert_eq!(learners, learner_builds());
        assert!(everything.starts_with(&learners));
        assert_eq!(everything.len(), learners.len() + other_builds().len());
    }
}
