//! `just incident`: the drill itself. The collector and the shop start as
//! `just demo` starts them (the demo's library: its port check, its build,
//! its supervision), with exactly the drawn problems planted, under the
//! demo's load until Ctrl-C or SIGTERM; then everything stops as the demo
//! stops it.
//!
//! Nothing it prints names a drawn problem: not the start, not the stop
//! (the services' flush reports, which would say that spans were dropped,
//! stay in their logs, as evidence to find).
//!
//! While the load runs, the orders' traces are saved for `just crisp
//! --what-if` ([`crate::recording`]). `fix` starts and stops the shop with
//! the same functions ([`start`], [`stop_everything`]).

use std::path::Path;
use std::time::Duration;

use anyhow::Context;
use collector_client::{OTLP_PORT, UI_PORT};
use demo::port_check;
use demo::stop_signal::StopSignal;
use demo::{Collector, DEFAULT_BASE_PORT, Ended, SERVICES, ServiceVar, Shop};
use loadgen::{Impatience, Load};
use shop::Problem;
use shop::problems::Planted;

use crate::state::{self, Drill};
use crate::{draw, recording};

/// Customers sending requests at once, as in the demo.
pub const CUSTOMERS: usize = 16;

/// Rows of history the inventory's audit log starts with: enough that a
/// statement that scans it shows.
const AUDIT_HISTORY: &str = "200000";

/// Long enough for the inventory to write its audit log's history.
const HEALTHY_WITHIN: Duration = Duration::from_secs(60);

/// Longer than any drill: the load runs until it is stopped.
const UNTIL_STOPPED: Duration = Duration::from_secs(7 * 24 * 3600);

/// The drill, from its draw to its stop. `seed` and `count` as given on
/// the command line (a seed is drawn when none is).
/// One order in twenty is given up after 300 ms, as customers do: what
/// happens to the work then is one of the things a drill can find.
const IMPATIENCE: Impatience = Impatience {
    share: 0.05,
    after: Duration::from_millis(300),
};

pub async fn run(seed: Option<u64>, count: Option<usize>) -> anyhow::Result<()> {
    let stop = StopSignal::listen().context("cannot take Ctrl-C, SIGTERM and SIGHUP over")?;
    let seed = seed.unwrap_or_else(draw::random_seed);
    let problems = draw::draw(seed, count);
    let root = demo::workspace_root();
    let logs = state::folder(&root).join("logs");
    let (collector, shop) = tokio::select! {
        running = start(&root, &logs, &problems) => running?,
        signal = stop.received() => {
            anyhow::bail!("{signal} while starting: what had started is stopped")
        }
    };
    let drill = Drill::new(
        seed,
        &problems,
        state::now_secs(),
        UI_PORT,
        DEFAULT_BASE_PORT,
    )
    .running_as(std::process::id());
    drill.save(&state::path(&root))?;
    show_how_to_work(&drill, count, &collector);

    let load = Load {
        target: shop.gateway_url(),
        concurrency: CUSTOMERS,
        duration: UNTIL_STOPPED,
        max_requests: None,
        progress: false,
        impatience: Some(IMPATIENCE),
    };
    let recorder = tokio::spawn(recording::keep_recording(
        collector.ui_url().to_owned(),
        root.join(recording::RECORDINGS),
        collector_client::now_us(),
    ));
    let report = loadgen::run(&load, async {
        stop.received().await;
    })
    .await;
    recorder.abort();
    let signal = stop.received_now().unwrap_or("The load's end");
    println!(
        "{signal}: stopping the drill. The load: {}",
        report.summary()
    );
    stop_everything(collector, shop);
    println!("Your answers still count while the collector answers: `just incident status`.");
    Ok(())
}

/// The collector (unless one already answers) and the shop, healthy, with
/// `problems` planted, once every port they need is known to be free.
/// Polled on the main thread, as the demo's start is: the children die
/// with the thread that started them.
pub async fn start(
    root: &Path,
    logs: &Path,
    problems: &[Problem],
) -> anyhow::Result<(Collector, Shop)> {
    let running_collector = Collector::running_at(OTLP_PORT, UI_PORT).await;
    let mut needs = port_check::shop_ports(DEFAULT_BASE_PORT, "stop what holds it");
    if running_collector.is_none() {
        needs.extend(port_check::collector_ports(
            UI_PORT,
            OTLP_PORT,
            "stop what holds it, or run `just collector` there",
        ));
    }
    port_check::ensure_free(&needs)?;

    demo::build_binaries(root, cfg!(not(debug_assertions)))?;
    let bin_dir = demo::bin_dir().context("cannot find the drill's own folder")?;
    let collector = match running_collector {
        Some(collector) => collector,
        None => Collector::start_at(&bin_dir, logs, OTLP_PORT, UI_PORT).await?,
    };
    let mut env = demo::service_env(&collector);
    env.push(("PLANTED", Planted::of(problems).to_string()));
    let mut shop = Shop::start(
        &bin_dir,
        DEFAULT_BASE_PORT,
        &env,
        &service_env(problems),
        logs,
    )
    .context("cannot start the shop")?;
    shop.wait_healthy(HEALTHY_WITHIN).await?;
    Ok((collector, shop))
}

/// What single services are started with: the surroundings of the drawn
/// problems that live there, and the inventory's audit history.
fn service_env(problems: &[Problem]) -> Vec<ServiceVar> {
    let mut vars: Vec<ServiceVar> = problems
        .iter()
        .filter_map(|problem| problem.environment())
        .map(|(service, name, value)| ServiceVar {
            service,
            name,
            value: value.to_owned(),
        })
        .collect();
    vars.push(ServiceVar {
        service: "inventory",
        name: "AUDIT_HISTORY",
        value: AUDIT_HISTORY.to_owned(),
    });
    vars
}

/// The drill's brief: how many problems, how to replay it, where
/// everything answers, and the tools.
fn show_how_to_work(drill: &Drill, count: Option<usize>, collector: &Collector) {
    let replay = match count {
        Some(count) => format!("just incident --seed {} --problems {count}", drill.seed),
        None => format!("just incident --seed {}", drill.seed),
    };
    let drawn = drill.drawn.len();
    println!(
        "Incident drill: {drawn} problem{} planted in the shop, under load from {CUSTOMERS} customers.",
        if drawn == 1 { "" } else { "s" }
    );
    println!("seed {}: `{replay}` replays this drill", drill.seed);
    println!();
    for (name, offset) in SERVICES {
        let port = drill.base_port + offset;
        println!(
            "  {name:<10} http://127.0.0.1:{port:<6} metrics: http://127.0.0.1:{port}/metrics  log: {}/logs/{name}.log",
            state::FOLDER
        );
    }
    println!(
        "  {:<10} {}  traces, critical paths, heat maps{}",
        "collector",
        collector.ui_url(),
        if collector.is_ours() {
            ""
        } else {
            " (already running)"
        }
    );
    println!();
    println!(
        "Name each problem: its service, the operation that shows it, its cause, and evidence."
    );
    println!("  just trace --slowest    the slowest recent trace, its critical path marked");
    println!(
        "  just crisp              which operations own the latency, per band, with flame graphs"
    );
    println!("  just incident --list    the services and the causes an answer is made of");
    println!("  just incident hint      the next hint (-15 points)");
    println!(
        "  just incident answer --service S --operation O --cause C --evidence TRACE_ID|metric:SERVICE:NAME"
    );
    println!("                          +100 solved, -40 wrong");
    println!("  just incident status    your score so far, the problems numbered");
    println!("  just incident predict --problem N --p50 PCT --p99 PCT");
    println!("                          once N is solved, what fixing it does to POST /orders");
    println!(
        "  just crisp {} --what-if \"SERVICE OPERATION -100%\"",
        recording::RECORDINGS
    );
    println!(
        "                          a projection to predict from: this drill's orders, saved every minute"
    );
    println!("  just incident fix       after Ctrl-C, measures each prediction: +50 when it holds");
    println!();
    println!("Ctrl-C stops the drill.");
}

/// Stops the shop as the demo does (each service drains its requests and
/// flushes its spans), then the collector if the drill started it. Only a
/// service that crashed or had to be killed is named: how each flushed
/// its spans is in its log.
pub fn stop_everything(collector: Collector, shop: Shop) {
    let grace = demo::stop_grace();
    println!(
        "Stopping the shop: each service drains its requests and flushes its spans (within {} s).",
        grace.as_secs()
    );
    for stopped in shop.stop_and_confirm(grace) {
        if !matches!(stopped.ended, Ended::Exited(_)) {
            println!("warning: {} {}", stopped.name, stopped.ended);
        }
    }
    let collector_is_ours = collector.is_ours();
    if let Some(problem) = collector.stop() {
        println!("warning: {problem}");
    }
    println!(
        "Stopped: the shop's services{} shut down.",
        match collector_is_ours {
            true => " and the collector are",
            false => " are",
        }
    );
}
