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
//! --what-if` ([`crate::recording`]). A fix's measure starts the shop as a
//! [`Scenario`] too ([`crate::measure`]), under the drill's [`CUSTOMERS`]
//! for its probe.

use std::time::Duration;

use anyhow::Context;
use demo::stop_signal::StopSignal;
use demo::{Collector, Ended, SERVICES, Shop};

use crate::scenario::{Ports, Scenario};
use crate::state::{self, Drill};
use crate::{draw, recording};

/// Customers sending requests at once, as in the demo.
pub const CUSTOMERS: usize = 16;

/// Longer than any drill: the load runs until it is stopped.
pub(crate) const UNTIL_STOPPED: Duration = Duration::from_secs(7 * 24 * 3600);

/// The drill, from its draw to its stop. `seed` and `count` as given on
/// the command line (a seed is drawn when none is).
pub async fn run(seed: Option<u64>, count: Option<usize>) -> anyhow::Result<()> {
    let stop = StopSignal::listen().context("cannot take Ctrl-C, SIGTERM and SIGHUP over")?;
    let seed = seed.unwrap_or_else(draw::random_seed);
    let problems = draw::draw(seed, count);
    let root = demo::workspace_root();
    let logs = state::folder(&root).join("logs");
    let bin_dir = demo::bin_dir().context("cannot find the drill's own folder")?;
    // Polled on the main thread, as the demo's start is: the children die
    // with the thread that started them.
    let scenario = tokio::select! {
        running = Scenario::start(&problems, Ports::USUAL, &bin_dir, &logs) => running?,
        signal = stop.received() => {
            anyhow::bail!("{signal} while starting: what had started is stopped")
        }
    };
    let drill = Drill::new(
        seed,
        &problems,
        state::now_secs(),
        scenario.ports.collector_ui,
        scenario.ports.base,
    )
    .running_as(std::process::id());
    drill.save(&state::path(&root))?;
    show_how_to_work(&drill, count, &scenario.collector);

    let recorder = tokio::spawn(recording::keep_recording(
        scenario.collector.ui_url().to_owned(),
        root.join(recording::RECORDINGS),
        collector_client::now_us(),
    ));
    let report = scenario
        .load(CUSTOMERS, UNTIL_STOPPED, async {
            stop.received().await;
        })
        .await;
    recorder.abort();
    let signal = stop.received_now().unwrap_or("The load's end");
    println!(
        "{signal}: stopping the drill. The load: {}",
        report.summary()
    );
    stop_everything(scenario.collector, scenario.shop);
    println!("Your answers still count while the collector answers: `just incident status`.");
    Ok(())
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
