//! `just incident fix`: predict, then prove. With the drill stopped, the
//! shop runs again on the drill's ports, started as the drill starts it
//! ([`crate::run`]), each time under the same load: once with the problems
//! as drawn, then once for each prediction not measured yet, with that
//! prediction's problem fixed (left out of `PLANTED`, and its service
//! started without the variable that plants it). The load generator's p50
//! and p99 of `POST /orders`, the client's view, give each run's latency;
//! the change from the first run is set beside the prediction and graded
//! ([`crate::prediction`]).
//!
//! The runs follow one another on the same databases, for the same time:
//! what differs between them is the problem fixed.

use std::path::Path;
use std::time::Duration;

use crate::scenario::{Ports, Scenario};
use anyhow::{Context, bail};
use demo::stop_signal::StopSignal;
use shop::Problem;

use crate::prediction::{Latency, PredictionRecord, Proof};
use crate::run;
use crate::state::{self, Drill};

/// How long each run's load lasts unless told.
pub const DEFAULT_SECONDS: u64 = 20;

/// How `fix` measures.
#[derive(clap::Args, Clone, Debug, PartialEq, Eq)]
pub struct Fix {
    /// How long each run's load lasts, in seconds.
    #[arg(long, default_value_t = DEFAULT_SECONDS,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub seconds: u64,
}

/// `just incident fix`: each prediction not measured yet, measured,
/// graded and recorded.
pub async fn fix(root: &Path, settings: &Fix) -> anyhow::Result<()> {
    let path = state::path(root);
    let drill = Drill::load(&path)?;
    refuse_while_running(&drill, is_the_drill)?;
    let unproven = drill.unproven();
    if unproven.is_empty() {
        match drill.predictions.is_empty() {
            true => bail!(
                "no prediction to prove: once a problem is solved, \
                 `just incident predict --problem N --p50 PCT --p99 PCT`"
            ),
            false => bail!("every prediction is measured already: `just incident status`"),
        }
    }
    let stop = StopSignal::listen().context("cannot take Ctrl-C, SIGTERM and SIGHUP over")?;
    let drawn = drill.problems();
    let duration = Duration::from_secs(settings.seconds);
    let runs = 1 + unproven.len();
    println!(
        "Proving {} prediction{}: {runs} runs of the shop under {} customers for {} s each, \
         first as drawn, then without each predicted problem.",
        unproven.len(),
        if unproven.len() == 1 { "" } else { "s" },
        run::CUSTOMERS,
        settings.seconds
    );
    println!();
    println!("Run 1 of {runs}: the problems as drawn.");
    let as_drawn = measure(root, &drawn, duration, &stop).await?;
    for (index, problem) in unproven.into_iter().enumerate() {
        let number = drill.number_of(problem).unwrap_or(0);
        println!();
        println!("Run {} of {runs}: problem {number} fixed.", index + 2);
        let without: Vec<Problem> = drawn.iter().copied().filter(|p| *p != problem).collect();
        let fixed = measure(root, &without, duration, &stop).await?;
        // Read again: an answer may have been recorded meanwhile.
        let mut drill = Drill::load(&path)?;
        let Some(proof) = drill.record_proof(problem, as_drawn, fixed) else {
            continue;
        };
        drill.save(&path)?;
        if let Some(prediction) = drill.prediction(problem) {
            print!("{}", verdict(number, problem, prediction, &proof));
        }
    }
    println!();
    println!(
        "{} points in all: `just incident status`.",
        Drill::load(&path)?.points
    );
    Ok(())
}

/// Refuses while the drill that `drill` records runs (`alive` says whether
/// its process does): it holds the ports the shop needs.
pub fn refuse_while_running(drill: &Drill, alive: impl Fn(u32) -> bool) -> anyhow::Result<()> {
    match drill.pid {
        Some(pid) if alive(pid) => bail!(
            "stop the drill first (Ctrl-C): it runs as process {pid}, on the ports the fix starts \
             the shop on"
        ),
        _ => Ok(()),
    }
}

/// Whether process `pid` is a drill: another process than this one,
/// alive, and this program (its command name is this process's), so that
/// a process id the system has since given another program is none.
fn is_the_drill(pid: u32) -> bool {
    if pid == std::process::id() {
        return false;
    }
    let command_name = |process: &str| std::fs::read_to_string(format!("/proc/{process}/comm"));
    match (command_name(pid.to_string().as_str()), command_name("self")) {
        (Ok(theirs), Ok(ours)) => theirs == ours,
        _ => false,
    }
}

/// The shop started with `problems` planted, under the drill's load for
/// `duration`, then stopped: `POST /orders`' latency as the load measured
/// it. Ctrl-C stops it, and the fix, with nothing more recorded.
async fn measure(
    root: &Path,
    problems: &[Problem],
    duration: Duration,
    stop: &StopSignal,
) -> anyhow::Result<Latency> {
    // Not the drill's logs, which may still be read as evidence.
    let logs = state::folder(root).join("fix").join("logs");
    let bin_dir = demo::bin_dir().context("cannot find the drill's own folder")?;
    let scenario = tokio::select! {
        running = Scenario::start(problems, Ports::USUAL, &bin_dir, &logs) => running?,
        signal = stop.received() => {
            bail!("{signal} while starting: what had started is stopped")
        }
    };
    let report = scenario
        .load(run::CUSTOMERS, duration, async {
            stop.received().await;
        })
        .await;
    run::stop_everything(scenario.collector, scenario.shop);
    if let Some(signal) = stop.received_now() {
        bail!("{signal}: the fix is stopped; what it measured before this run is recorded");
    }
    let orders = &report.orders;
    // Each latency is recorded as 1 µs at least: with one order, the
    // percentiles are above zero, and a change from them is defined.
    if orders.requests == 0 {
        bail!(
            "no order was answered in {} s: nothing to measure",
            duration.as_secs()
        );
    }
    println!(
        "  POST /orders: p50 {:.1} ms, p99 {:.1} ms over {} orders ({} errors among all {} requests).",
        orders.p50_ms, orders.p99_ms, orders.requests, report.errors, report.requests
    );
    Ok(Latency {
        p50_ms: orders.p50_ms,
        p99_ms: orders.p99_ms,
    })
}

/// The prediction beside what was measured, and its grade.
fn verdict(
    number: usize,
    problem: Problem,
    prediction: &PredictionRecord,
    proof: &Proof,
) -> String {
    let mark = |predicted: f64, measured: f64| match crate::prediction::holds(predicted, measured) {
        true => "holds",
        false => "off",
    };
    let (p50, p99) = (proof.p50_pct(), proof.p99_pct());
    format!(
        "Problem {number} ({} {}) fixed:\n\
         \x20 p50 {:.1} -> {:.1} ms: measured {p50:+.1}%, predicted {:+}%: {}\n\
         \x20 p99 {:.1} -> {:.1} ms: measured {p99:+.1}%, predicted {:+}%: {}\n\
         \x20 {:+} points (+{} when both hold: within {}% of the measured change, or both within ±{}%).\n",
        problem.service(),
        problem.cause(),
        proof.drawn.p50_ms,
        proof.fixed.p50_ms,
        prediction.p50_pct,
        mark(prediction.p50_pct, p50),
        proof.drawn.p99_ms,
        proof.fixed.p99_ms,
        prediction.p99_pct,
        mark(prediction.p99_pct, p99),
        proof.points,
        crate::prediction::HELD_POINTS,
        crate::prediction::TOLERANCE * 100.0,
        crate::prediction::NEGLIGIBLE_PCT,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn drill() -> Drill {
        Drill::new(3, &[Problem::NPlusOne], 1_000, 16686, 8080)
    }

    #[test]
    fn fix_refuses_while_the_drill_recorded_runs() {
        let running = drill().running_as(4242);
        let refused = refuse_while_running(&running, |pid| pid == 4242)
            .unwrap_err()
            .to_string();
        assert!(
            refused.starts_with("stop the drill first (Ctrl-C)"),
            "{refused}"
        );
        assert!(
            refuse_while_running(&running, |_| false).is_ok(),
            "it stopped"
        );
        assert!(
            refuse_while_running(&drill(), |_| true).is_ok(),
            "a drill that recorded no process"
        );
    }

    #[test]
    fn neither_this_process_nor_one_that_is_gone_is_the_drill() {
        assert!(!is_the_drill(std::process::id()));
        assert!(!is_the_drill(u32::MAX));
    }

    #[test]
    fn the_verdict_sets_the_prediction_beside_the_measure() {
        let prediction = PredictionRecord {
            problem: "n-plus-one".to_owned(),
            p50_pct: -30.0,
            p99_pct: 5.0,
            after_secs: 60,
            proof: None,
        };
        let proof = prediction.grade(
            Latency {
                p50_ms: 40.0,
                p99_ms: 100.0,
            },
            Latency {
                p50_ms: 30.0,
                p99_ms: 50.0,
            },
        );
        let text = verdict(1, Problem::NPlusOne, &prediction, &proof);
        assert!(
            text.starts_with("Problem 1 (catalog n-plus-one-queries) fixed:"),
            "{text}"
        );
        assert!(
            text.contains("measured -25.0%, predicted -30%: holds"),
            "{text}"
        );
        assert!(
            text.contains("measured -50.0%, predicted +5%: off"),
            "{text}"
        );
        assert!(text.contains("+0 points"), "{text}");
    }
}
