//! `just crisp --json` beside Uber's CRISP on the same 1,000 traces, in one
//! run: the ratio of their times, medians of alternating runs.
//!
//! CRISP is not a dependency of the workshop (it is Python, installed from
//! its source: `pip install -e .` in a checkout of uber-research/CRISP). When
//! `crisp-trace` is on `PATH`, or `$CRISP` names it, the comparison runs;
//! otherwise it says how to get it and is skipped.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

use crate::headlines::Headline;

/// Traces in the folder both tools read.
pub const TRACES: usize = 1_000;
/// Alternating rounds: CRISP takes seconds a run, `just crisp` milliseconds.
const ROUNDS: usize = 3;

/// CRISP's command: `$CRISP`, or `crisp-trace` on `PATH`.
fn crisp_trace() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("CRISP") {
        return Some(PathBuf::from(path));
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join("crisp-trace"))
        .find(|candidate| candidate.is_file())
}

/// The side-by-side ratio as a headline, or `None` (said why) without CRISP.
pub fn side_by_side(target_dir: &Path) -> anyhow::Result<Option<Headline>> {
    let Some(crisp) = crisp_trace() else {
        println!(
            "== just crisp beside CRISP: skipped (install uber-research/CRISP from its source, \
             `pip install -e .`, so that `crisp-trace` is on PATH, or set CRISP=/path/to/crisp-trace)"
        );
        return Ok(None);
    };
    println!("== just crisp --json beside CRISP, {TRACES} demo-shaped traces");
    // The very binary `just crisp` runs, as `just setup` builds it (the dev
    // profile, with the analysis optimised): what learners run is what
    // counts, not a release build they never make.
    let ours = target_dir.join("debug/crisp");
    if !ours.is_file() {
        bail!(
            "{} is missing: `cargo build -p trace-tools --bin crisp` (just setup builds it)",
            ours.display()
        );
    }
    let folder = target_dir.join("bench/crisp-recording");
    let traces: Vec<trace_analysis::jaeger::Trace> = crate::demo_traces(TRACES)
        .iter()
        .map(|spans| trace_analysis::jaeger::trace(spans))
        .collect();
    trace_analysis::recording::save(&folder, &traces)?;
    // CRISP writes its output into the folder it reads, and then cannot
    // read that folder again: it gets a fresh copy each run.
    let scratch = target_dir.join("bench/crisp-scratch");
    let (mut ours_times, mut crisp_times) = (Vec::new(), Vec::new());
    for _ in 0..ROUNDS {
        copy_folder(&folder, &scratch)?;
        crisp_times.push(time(Command::new(&crisp).args([
            "-s",
            "gateway",
            "-a",
            "POST /orders",
            "-i",
            &scratch.display().to_string(),
        ]))?);
        ours_times.push(time(
            Command::new(&ours).args(["--json", &folder.display().to_string()]),
        )?);
    }
    let (ours, crisp) = (median(&mut ours_times), median(&mut crisp_times));
    println!(
        "  just crisp --json {:.1} ms, CRISP {:.0} ms (medians of {ROUNDS})",
        ours.as_secs_f64() * 1e3,
        crisp.as_secs_f64() * 1e3
    );
    Ok(Some(Headline {
        figure: "crisp: CRISP's time / just crisp --json's".to_owned(),
        value: crisp.as_secs_f64() / ours.as_secs_f64(),
        unit: "ratio",
        goal: Some((">=", 30.0)),
        spread: None,
    }))
}

fn copy_folder(from: &Path, to: &Path) -> std::io::Result<()> {
    let _ = std::fs::remove_dir_all(to);
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let path = entry?.path();
        if let Some(name) = path.file_name() {
            std::fs::copy(&path, to.join(name))?;
        }
    }
    Ok(())
}

fn time(command: &mut Command) -> anyhow::Result<Duration> {
    let started = Instant::now();
    let status = command
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .with_context(|| format!("cannot run {command:?}"))?;
    if !status.success() {
        bail!("{command:?} failed: {status}");
    }
    Ok(started.elapsed())
}

fn median(times: &mut [Duration]) -> Duration {
    times.sort();
    times[times.len() / 2]
}
