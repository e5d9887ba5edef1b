//! `just incident fix`: predict, then prove. With the drill stopped, each
//! prediction not measured yet is measured as [`crate::measure`] measures
//! a fix: the shop on the drill's ports, started as the drill starts it,
//! in pairs of runs, one with the problems as drawn and one with the
//! prediction's problem fixed (left out of `PLANTED`, and its service
//! started without the variable that plants it), each run on databases of
//! its own, new, under the same seeded open loop. The rate is probed once,
//! on the shop as drawn. The median over the pairs of each pair's change
//! of `POST /orders`' p50 and p99, from the gateway's spans, is set beside
//! the prediction and graded ([`crate::prediction`]).

use std::path::Path;
use std::time::Duration;

use anyhow::{Context, bail};
use demo::stop_signal::StopSignal;
use shop::Problem;

use crate::measure::{self, OpenLoop, Progress, Setup, Shops, Side};
use crate::prediction::{Measured, PredictionRecord, Proof};
use crate::run;
use crate::scenario::Ports;
use crate::state::{self, Drill};

/// How long each run's load lasts unless told.
pub const DEFAULT_SECONDS: u64 = 20;

/// Pairs of runs per prediction unless told.
pub const DEFAULT_PAIRS: u16 = 2;

/// How `fix` measures.
#[derive(clap::Args, Clone, Debug, PartialEq, Eq)]
pub struct Fix {
    /// How long each run's load lasts, in seconds.
    #[arg(long, default_value_t = DEFAULT_SECONDS,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub seconds: u64,
    /// Pairs of runs per prediction (one as drawn, one with its problem
    /// fixed): the change graded is the median of the pairs' changes.
    #[arg(long, default_value_t = DEFAULT_PAIRS,
          value_parser = clap::value_parser!(u16).range(1..))]
    pub pairs: u16,
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
    let pairs = usize::from(settings.pairs);
    let runs = unproven.len() * pairs * 2;
    println!(
        "Proving {} prediction{}: the shop as drawn probed for {} s, then {runs} runs of {} s \
         under an open loop, {pairs} pair{} a prediction (as drawn, and without its problem), \
         each run on databases of its own.",
        unproven.len(),
        if unproven.len() == 1 { "" } else { "s" },
        measure::PROBE.as_secs(),
        settings.seconds,
        if pairs == 1 { "" } else { "s" },
    );
    let bin_dir = demo::bin_dir().context("cannot find the drill's own folder")?;
    demo::build_binaries(root, cfg!(not(debug_assertions)))?;
    // Not the drill's folders: its logs may still be read as evidence, and
    // its databases are the demo's.
    let folder = state::folder(root).join("fix");
    let setup = Setup {
        ports: Ports::USUAL,
        bin_dir: &bin_dir,
        folder: &folder,
        stop: &stop,
    };
    println!();
    println!(
        "The rate: the shop as drawn, under {} customers who each wait for their answer.",
        run::CUSTOMERS
    );
    let probe = setup.probe(&drawn, "probe").await?;
    println!("  {}", probe.summary());
    let rate = measure::open_loop_rate(&probe).context("the shop as drawn")?;
    println!(
        "  Each run: {rate:.1} requests a second for {} s, whatever the answers do; an arrival \
         that finds {} requests in flight is shed.",
        settings.seconds,
        measure::MOST_IN_FLIGHT
    );
    let open_loop = OpenLoop {
        rate,
        duration: Duration::from_secs(settings.seconds),
    };
    let mut run_number = 0;
    for problem in unproven {
        let number = drill.number_of(problem).unwrap_or(0);
        let without: Vec<Problem> = drawn.iter().copied().filter(|p| *p != problem).collect();
        let shops = Shops {
            planted: &drawn,
            fixed: &without,
        };
        let measured = setup
            .pairs(
                shops,
                open_loop,
                pairs,
                problem.slug(),
                |progress| match progress {
                    Progress::Starting(turn) => {
                        run_number += 1;
                        let shop = match turn.side {
                            Side::Planted => format!("as drawn, for problem {number}"),
                            Side::Fixed => format!("problem {number} fixed"),
                        };
                        println!();
                        println!(
                            "Run {run_number} of {runs}: {shop}, pair {} of {pairs}.",
                            turn.pair
                        );
                    }
                    Progress::Measured { run, .. } => {
                        println!("  POST /orders: {}.", run.summary())
                    }
                },
            )
            .await
            .with_context(|| {
                format!(
                    "problem {number}'s fix is not measured (what was measured before it is \
                     recorded)"
                )
            })?;
        // Read again: an answer may have been recorded meanwhile.
        let mut drill = Drill::load(&path)?;
        let Some(proof) = drill.record_proof(problem, measure::graded(&measured)) else {
            continue;
        };
        drill.save(&path)?;
        if let Some(prediction) = drill.prediction(problem) {
            let client = measure::median_change(&measured, |run| run.client);
            println!();
            print!("{}", verdict(number, problem, prediction, &proof));
            println!(
                "  The load generator's view, not graded: p50 {:+.1}%, p99 {:+.1}%.",
                client.p50_pct, client.p99_pct
            );
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
    let Measured { drawn, fixed, .. } = proof.measured;
    format!(
        "Problem {number} ({} {}) fixed, from the orders' traces, medians over the pairs:\n\
         \x20 p50 {:.1} -> {:.1} ms: measured {p50:+.1}%, predicted {:+}%: {}\n\
         \x20 p99 {:.1} -> {:.1} ms: measured {p99:+.1}%, predicted {:+}%: {}\n\
         \x20 {:+} points (+{} when both hold: within {}% of the measured change, or both within ±{}%).\n",
        problem.service(),
        problem.cause(),
        drawn.p50_ms,
        fixed.p50_ms,
        prediction.p50_pct,
        mark(prediction.p50_pct, p50),
        drawn.p99_ms,
        fixed.p99_ms,
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
    use crate::prediction::{Change, Latency};

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
        let (drawn, fixed) = (
            Latency {
                p50_ms: 40.0,
                p99_ms: 100.0,
            },
            Latency {
                p50_ms: 30.0,
                p99_ms: 50.0,
            },
        );
        let proof = prediction.grade(Measured {
            drawn,
            fixed,
            change: Change::between(drawn, fixed),
        });
        let text = verdict(1, Problem::NPlusOne, &prediction, &proof);
        assert!(
            text.starts_with(
                "Problem 1 (catalog n-plus-one-queries) fixed, from the orders' traces, medians \
                 over the pairs:\n"
            ),
            "{text}"
        );
        assert!(
            text.contains("p50 40.0 -> 30.0 ms: measured -25.0%"),
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
