//! `just incident`: the command line of the incident drill; the drill
//! itself is the library's (see `lib.rs`).

use std::net::SocketAddr;
use std::path::Path;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use incident::room::join::{self, Join};
use incident::room::settings::{DEFAULT_CUSTOMERS, DEFAULT_LISTEN, DEFAULT_MAX_LEARNERS};
use incident::room::ticket::Ticket;
use incident::room::{self, plan};
use incident::{answer, fix, prediction, progress, run, state, vocabulary};
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
    #[arg(long, conflicts_with_all = ["seed", "problems", "room"])]
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
    /// +100 when it solves one, -40 when not. In a room, the room judges
    /// it.
    Answer(answer::Answer),
    /// The next hint on the first problem not solved yet (-15).
    Hint,
    /// The score so far, and each problem by its number; once every
    /// problem is solved, what each was.
    Status,
    /// Join the room an instructor runs (`just incident --room`): your
    /// drill runs on their machine; `answer`, `hint` and `status` go to
    /// it from then on.
    Join(Join),
    /// Leave the room joined: `answer`, `hint` and `status` are this
    /// machine's own drill's again.
    Leave,
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
    /// the drill's ports, in pairs of runs for each prediction: as drawn,
    /// and without the predicted problem, each run on databases of its own
    /// under the same open loop (a rate probed once on the shop as drawn);
    /// the median of the pairs' changes of POST /orders' p50 and p99, from
    /// the orders' traces, is graded. +50 a prediction whose p50 and p99
    /// both come within 20% of the measured change (or both within ±5%
    /// when it is that small).
    Fix(fix::Fix),
}

#[derive(Args)]
struct Start {
    /// Draw with this seed: the same seed plants the same problems. A seed
    /// is drawn, and printed, when none is given. In a room, the first
    /// learner's seed, the next learner's the next number.
    #[arg(long)]
    seed: Option<u64>,
    /// Plant this many problems (one to three, drawn, when not given).
    #[arg(long, value_parser = clap::value_parser!(u8).range(1..=Problem::ALL.len() as i64))]
    problems: Option<u8>,
    /// Run a room: one drill per learner on this machine, each learner's
    /// shop, collector and state here; learners join with `just incident
    /// join`.
    #[arg(long)]
    room: bool,
    /// Where the room listens [default: 0.0.0.0:7900, every interface];
    /// each learner's collector answers on a port after it.
    #[arg(long, requires = "room")]
    listen: Option<SocketAddr>,
    /// How many learners the room takes [default: 12].
    #[arg(long, requires = "room",
          value_parser = clap::value_parser!(u16).range(1..=i64::from(plan::MOST_LEARNERS)))]
    max_learners: Option<u16>,
    /// Customers sending requests at once to each learner's shop
    /// [default: 4].
    #[arg(long, requires = "room", value_parser = clap::value_parser!(u16).range(1..=64))]
    customers: Option<u16>,
    /// The room's join token, which learners join with (and which does
    /// nothing else): 16 to 128 letters, digits, '-', '_', '.' or '~'.
    /// Made, and kept, when not given.
    #[arg(long, env = "ROOM_TOKEN", hide_env_values = true)]
    token: Option<String>,
}

impl Start {
    /// The room these arguments ask for, in the workspace at `root`.
    fn room_settings(&self, root: &Path) -> anyhow::Result<room::Settings> {
        Ok(room::Settings {
            listen: self.listen.unwrap_or(DEFAULT_LISTEN),
            max_learners: self.max_learners.unwrap_or(DEFAULT_MAX_LEARNERS),
            customers: self.customers.map_or(DEFAULT_CUSTOMERS, usize::from),
            seed: self.seed,
            problems: self.problems.map(usize::from),
            token: self.token.clone(),
            folder: state::folder(root).join("room"),
            bin_dir: demo::bin_dir().context("cannot find the room's own folder")?,
        })
    }
}

/// The exit code of a command that does not belong where it was run.
const MISPLACED: u8 = 2;

fn main() -> ExitCode {
    // First of all: in a child being started, this becomes the child.
    demo::parent_death::init();
    let cli = Cli::parse();
    let outcome = tokio::runtime::Runtime::new()
        .context("cannot start the async runtime")
        .and_then(|runtime| runtime.block_on(dispatch(cli)));
    match outcome {
        Ok(code) => code,
        Err(err) => {
            eprintln!("incident: {err:#}");
            ExitCode::FAILURE
        }
    }
}

async fn dispatch(cli: Cli) -> anyhow::Result<ExitCode> {
    let root = demo::workspace_root();
    let command = match (cli.command, cli.list) {
        (_, true) => Command::List,
        (Some(command), false) => command,
        (None, false) => Command::Start(cli.start),
    };
    // Joined to a room, the learner's drill is the room's.
    let ticket = match &command {
        Command::Answer(_)
        | Command::Hint
        | Command::Status
        | Command::Predict(_)
        | Command::Fix(_) => Ticket::load(&root)?,
        _ => None,
    };
    match (command, ticket) {
        (Command::Start(start), _) if start.room => {
            room::instructor::run(start.room_settings(&root)?).await?
        }
        (Command::Start(start), _) => {
            let count = start.problems.map(usize::from);
            run::run(start.seed, count).await?
        }
        (Command::List, _) => print!("{}", vocabulary::text()),
        (Command::Answer(given), Some(ticket)) => join::answer(&ticket, &given).await?,
        (Command::Answer(given), None) => progress::answer(&root, &given).await?,
        (Command::Hint, Some(ticket)) => join::hint(&ticket).await?,
        (Command::Hint, None) => progress::hint(&root)?,
        (Command::Status, Some(ticket)) => join::status(&ticket).await?,
        (Command::Status, None) => progress::status(&root)?,
        (Command::Predict(_) | Command::Fix(_), Some(ticket)) => {
            eprintln!(
                "incident: `predict` and `fix` belong to a drill of your own, not to a room \
                 (you joined {} as {}): `just incident leave`, then `just incident`.",
                ticket.url, ticket.name
            );
            return Ok(ExitCode::from(MISPLACED));
        }
        (Command::Predict(given), None) => progress::predict(&root, &given)?,
        (Command::Fix(settings), None) => fix::fix(&root, &settings).await?,
        (Command::Join(given), _) => join::join(&root, &given).await?,
        (Command::Leave, _) => join::leave(&root)?,
    }
    Ok(ExitCode::SUCCESS)
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
                seconds: fix::DEFAULT_SECONDS,
                pairs: fix::DEFAULT_PAIRS
            }))
        ));
        let room = Cli::try_parse_from([
            "incident",
            "--room",
            "--listen",
            "127.0.0.1:7900",
            "--max-learners",
            "5",
            "--customers",
            "2",
            "--seed",
            "7",
        ])
        .unwrap();
        assert!(room.command.is_none() && room.start.room);
        assert_eq!(room.start.max_learners, Some(5));
        let settings = room.start.room_settings(Path::new("/w")).unwrap();
        assert_eq!(
            settings.listen,
            "127.0.0.1:7900".parse::<SocketAddr>().unwrap()
        );
        assert_eq!((settings.max_learners, settings.customers), (5, 2));
        assert_eq!(settings.seed, Some(7));
        assert_eq!(settings.folder, Path::new("/w/target/incident/room"));
        let usual = Cli::try_parse_from(["incident", "--room"]).unwrap();
        let settings = usual.start.room_settings(Path::new("/w")).unwrap();
        assert_eq!(settings.listen, DEFAULT_LISTEN);
        assert_eq!(settings.max_learners, DEFAULT_MAX_LEARNERS);
        assert_eq!(settings.customers, DEFAULT_CUSTOMERS);
        let joining = Cli::try_parse_from([
            "incident",
            "join",
            "http://10.0.0.5:7900",
            "--token",
            "0123456789abcdef",
            "--name",
            "alice",
        ])
        .unwrap();
        let Some(Command::Join(joined)) = joining.command else {
            panic!("not a join");
        };
        assert_eq!(
            (joined.url.as_str(), joined.name.as_str()),
            ("http://10.0.0.5:7900", "alice")
        );
        assert!(matches!(
            Cli::try_parse_from(["incident", "leave"]).unwrap().command,
            Some(Command::Leave)
        ));
        let longer = Cli::try_parse_from(["incident", "fix", "--seconds", "60"]).unwrap();
        assert!(matches!(
            longer.command,
            Some(Command::Fix(fix::Fix {
                seconds: 60,
                pairs: fix::DEFAULT_PAIRS
            }))
        ));
        let more = Cli::try_parse_from(["incident", "fix", "--pairs", "5"]).unwrap();
        assert!(matches!(
            more.command,
            Some(Command::Fix(fix::Fix {
                seconds: fix::DEFAULT_SECONDS,
                pairs: 5
            }))
        ));
        let refused: [&[&str]; 14] = [
            &["incident", "--listen", "127.0.0.1:7900"],
            &["incident", "--room", "--max-learners", "0"],
            &["incident", "--room", "--customers", "0"],
            &["incident", "--room", "--list"],
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
            &["incident", "fix", "--pairs", "0"],
        ];
        for args in refused {
            assert!(
                Cli::try_parse_from(args.iter().copied()).is_err(),
                "{args:?}"
            );
        }
    }
}
