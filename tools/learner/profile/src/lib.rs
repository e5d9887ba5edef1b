//! `just profile TARGET`: where the time goes, as a flamegraph.
//!
//! The profiler is pprof-rs, in process: it samples the running thread's
//! stack about a thousand times a second (a `SIGPROF` timer) while a
//! workload runs, then folds the stacks and draws them with inferno. No
//! `perf`, no kernel settings, no system library: it works on a fresh
//! laptop, offline. The price is that only this process is seen, which is
//! all a hot function needs.
//!
//! This crate profiles the demo's own hot spot. A lab that teaches
//! profiling brings a small program of its own that runs the learner's code
//! under [`profile`] (lab 12: `labs/12-hot-spot/profile`), so that no tool
//! depends on a learner's crate, which may not compile while they work.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

/// The demo's pricing service's quote path, with its planted hot spot on:
/// what every quote did was index the whole coupon book, then look one code
/// up.
pub fn pricing_workload() -> impl FnMut() {
    let book = pricing::coupon_book();
    move || {
        let index = pricing::CouponIndex::new(&book);
        std::hint::black_box(index.find("guest-00042"));
    }
}

/// Runs `workload` again and again for `duration` under the sampler and
/// writes the flamegraph to `svg`; returns how many rounds ran.
pub fn profile(
    mut workload: impl FnMut(),
    duration: Duration,
    svg: &Path,
) -> Result<u64, ProfileError> {
    let guard = pprof::ProfilerGuardBuilder::default()
        .frequency(997)
        // Frames inside the C library and the signal trampoline say
        // nothing about the workload.
        .blocklist(&["libc", "libgcc", "pthread", "vdso"])
        .build()
        .map_err(ProfileError::Sampler)?;
    let started = Instant::now();
    let mut rounds = 0;
    while started.elapsed() < duration {
        workload();
        rounds += 1;
    }
    let report = guard.report().build().map_err(ProfileError::Sampler)?;
    let write = |source| ProfileError::Write {
        path: svg.to_path_buf(),
        source,
    };
    if let Some(dir) = svg.parent() {
        std::fs::create_dir_all(dir).map_err(write)?;
    }
    let file = std::fs::File::create(svg).map_err(write)?;
    report.flamegraph(file).map_err(ProfileError::Sampler)?;
    Ok(rounds)
}

/// What every profiling program takes on its command line: `just profile`
/// (the workshop CLI) passes both.
#[derive(clap::Args)]
pub struct Sampling {
    /// How long to sample, in seconds.
    #[arg(long, default_value_t = 5)]
    pub seconds: u64,
    /// Where to write the flamegraph.
    #[arg(long)]
    pub svg: PathBuf,
}

/// A profiling program's work: `workload` profiled as `sampling` says,
/// and what came of it said in words (the sampler's or the file system's
/// own when it failed).
pub fn run(what: &str, workload: impl FnMut(), sampling: &Sampling) -> ExitCode {
    println!("Profiling {what} for {} s…", sampling.seconds);
    match profile(
        workload,
        Duration::from_secs(sampling.seconds),
        &sampling.svg,
    ) {
        Ok(rounds) => {
            println!("{rounds} rounds.");
            ExitCode::SUCCESS
        }
        Err(error) => {
            let cause = std::error::Error::source(&error)
                .map(|cause| format!(": {cause}"))
                .unwrap_or_default();
            eprintln!("profile failed: {error}{cause}");
            ExitCode::FAILURE
        }
    }
}

/// Why a profile could not be made.
#[derive(Debug)]
pub enum ProfileError {
    /// The sampler could not start, fold its samples or draw them.
    Sampler(pprof::Error),
    /// The flamegraph could not be written.
    Write {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
}

impl std::fmt::Display for ProfileError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ProfileError::Sampler(_) => write!(f, "the sampler failed"),
            ProfileError::Write { path, .. } => write!(f, "cannot write {}", path.display()),
        }
    }
}

impl std::error::Error for ProfileError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ProfileError::Sampler(err) => Some(err),
            ProfileError::Write { source, .. } => Some(source),
        }
    }
}

/// The frames of an inferno flamegraph SVG, each as its title:
/// `name (N samples, P%)`.
pub fn frames(svg: &str) -> Vec<&str> {
    svg.split("<title>")
        .skip(1)
        .filter_map(|rest| rest.split("</title>").next())
        .collect()
}

/// The largest share of samples, in percent, of a frame whose name holds
/// `function`, with that frame; `None` when no frame names it.
pub fn hottest_frame<'a>(frames: &[&'a str], function: &str) -> Option<(&'a str, f64)> {
    let share = |frame: &str| -> f64 {
        frame
            .rsplit(", ")
            .next()
            .and_then(|p| p.trim_end_matches("%)").parse().ok())
            .unwrap_or(0.0)
    };
    frames
        .iter()
        .filter(|frame| frame.contains(function))
        .map(|frame| (*frame, share(frame)))
        .max_by(|a, b| a.1.total_cmp(&b.1))
}
