//! `just incident`: the command line of the incident drill; the drill
//! itself is the library's (see `lib.rs`).

use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use incident::{answer, fix, prediction, progress, run, vocabulary};
use shop::Problem;

/// The incident drill: find the problems planted in the shop, name each
/// with evidence, and score.
#[derive(Parser)]
#[command(args_conflicts_with_subcommands = true)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    /// The services and the causes an answer is made of (not which make
    /// which problem).
    #[arg(long, conflicts_with_all = ["seed", "problems"])]
    list: bool,
    #[command(flatten)]
    start: Start,
}

#[derive(Subcommand)]
enum Command {
    /// Start a drill (what `just incident` alone does): the collector and
    /// the shop with the drawn problems planted, under load until Ctrl-C.
    Start(Start),
    /// The services and the causes an answer is made of.
    List,
    /// Name a problem: its service, operation and cause, with evidence.
    /// +100 when it solves one, -40 when not.
    Answer(answer::Answer),
    /// The next hint on the first problem not solved yet (-15).
    Hint,
    /// The score so far, and each problem by its number; once every
    /// problem is solved, what each was.
    Status,
    /// Predict what fixing a solved problem does to POST /orders: the
    /// change of its p50 and its p99, in percent (+50 when `fix` measures
    /// as much).
    ///
    /// Predict from the drill's traces: `just crisp
    /// target/incident/recordings --what-if "SERVICE OPERATION -100%"`
    /// ranks this drill's orders (saved every minute while it runs) as if
    /// that operation took none of their critical path, and prints the
    /// percentiles measured and projected. The projection is first order: a
    /// speed-up saves at most that, and a fix may remove only part of an
    /// operation's time, or time in several. How much the fix takes away
    /// is the prediction's own judgement.
    ///
    /// `just incident predict --problem 2 --p50 -30 --p99 -45` (N is the
    /// problem's number in `just incident status`). Predicting again
    /// replaces the last, until `fix` has measured it.
    Predict(prediction::Predict),
    /// With the drill stopped: measure each prediction. The shop runs on
    /// the drill's ports as drawn, then once without each predicted
    /// problem, each time under the drill's load; the load's p50 and p99
    /// of POST /orders give the change. +50 a prediction whose p50 and p99
    /// both come within 20% of the measured change (or both within ±5%
    /// when it is that small).
    Fix(fix::Fix),
}

#[derive(Args)]
struct Start {
    /// Draw with this seed: the same seed plants the same problems. A seed
    /// is drawn, and printed, when none is given.
    #[arg(long)]
    seed: Option<u64>,
    /// Plant this many problems (one to three, drawn, when not given).
    #[arg(long, value_parser = clap::value_parser!(u8).range(1..=Problem::ALL.len() as i64))]
    problems: Option<u8>,
}

fn main() -> ExitCode {
    // First of all: in a child being started, this becomes the child.
    demo::parent_death::init();
    let cli = Cli::parse();
    let outcome = tokio::runtime::Runtime::new()
        .context("cannot start the async runtime")
        .and_then(|runtime| runtime.block_on(dispatch(cli)));
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("incident: {err:#}");
            ExitCode::FAILURE
        }
    }
}

async fn dispatch(cli: Cli) -> anyhow::Result<()> {
    let root = demo::workspace_root();
    let command = match (cli.command, cli.list) {
        (_, true) => Command::List,
        (Some(command), false) => command,
        (None, false) => Command::Start(cli.start),
    };
    match command {
        Command::Start(start) => {
            let count = start.problems.map(usize::from);
            run::run(start.seed, count).await
        }
        Command::List => {
            print!("{}", vocabulary::text());
            Ok(())
        }
        Command::Answer(given) => progress::answer(&root, &given).await,
        Command::Hint => progress::hint(&root),
        Command::Status => progress::status(&root),
        Command::Predict(given) => progress::predict(&root, &given),
        Command::Fix(settings) => fix::fix(&root, &settings).await,
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    #[test]
    fn the_command_line_is_well_formed_and_reads_as_documented() {
        Cli::command().debug_assert();
        let replay = Cli::try_parse_from(["incident", "--seed", "1234"]).unwrap();
        assert!(replay.command.is_none());
        assert_eq!(replay.start.seed, Some(1234));
        let answer = Cli::try_parse_from([
            "incident",
            "answer",
            "--service",
            "inventory",
            "--operation",
            "reserve",
            "--cause",
            "lock-convoy",
            "--evidence",
            "4bf92f3577b34da6a3ce929d0e0e4736",
        ])
        .unwrap();
        assert!(matches!(answer.command, Some(Command::Answer(_))));
        let predict = Cli::try_parse_from([
            "incident",
            "predict",
            "--problem",
            "2",
            "--p50",
            "-30",
            "--p99",
            "+5%",
        ])
        .unwrap();
        let Some(Command::Predict(predicted)) = predict.command else {
            panic!("not a prediction");
        };
        assert_eq!(
            (predicted.problem, predicted.p50, predicted.p99),
            (2, prediction::Percent(-30.0), prediction::Percent(5.0))
        );
        let proving = Cli::try_parse_from(["incident", "fix"]).unwrap();
        assert!(matches!(
            proving.command,
            Some(Command::Fix(fix::Fix {
                seconds: fix::DEFAULT_SECONDS
            }))
        ));
        let longer = Cli::try_parse_from(["incident", "fix", "--seconds", "60"]).unwrap();
        assert!(matches!(
            longer.command,
            Some(Command::Fix(fix::Fix { seconds: 60 }))
        ));
        let refused: [&[&str]; 9] = [
            &["incident", "--problems", "13"],
            &["incident", "--list", "--seed", "1"],
            &["incident", "--seed", "1", "status"],
            &[
                "incident",
                "answer",
                "--service",
                "shipping",
                "--operation",
                "x",
            ],
            &[
                "incident",
                "answer",
                "--cause",
                "slow",
                "--evidence",
                "metric:gateway:x",
            ],
            &["incident", "predict", "--problem", "1", "--p50", "-30"],
            &[
                "incident",
                "predict",
                "--problem",
                "1",
                "--p50",
                "-130",
                "--p99",
                "0",
            ],
            &[
                "incident",
                "predict",
                "--problem",
                "one",
                "--p50",
                "0",
                "--p99",
                "0",
            ],
            &["incident", "fix", "--seconds", "0"],
        ];
        for args in refused {
            assert!(
                Cli::try_parse_from(args.iter().copied()).is_err(),
                "{args:?}"
            );
        }
    }
}
