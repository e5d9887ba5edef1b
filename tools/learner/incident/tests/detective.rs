//! The scripted detective against the real shop: for each problem of the
//! catalogue (but logging that costs when it is off, which only a profile
//! shows), the shop with that problem alone planted, under the drill's
//! load, and the detective must name exactly that problem; then the shop
//! with none planted, and it must name nothing. For maintainers, the same
//! with each problem mixed with the next one in the catalogue
//! (`cargo test -p incident --test detective -- --ignored`).
//!
//! The collector and the services run as real processes, on ports of
//! their own (never the workshop's usual ones), one scenario at a time: a
//! shop under load takes a machine's two cores. Nothing waits for a
//! length of time: the load runs for its length, and every other wait
//! polls for its condition, with a deadline that only bounds a failure.

#![cfg(target_os = "linux")]

use std::path::{Path, PathBuf};
use std::time::Duration;

use incident::detective::{self, Investigation};
use incident::scenario::{Ports, Scenario};
use loadgen::Impatience;
use shop::Problem;

/// The shop from 19080, the collector right after it.
const PORTS: Ports = Ports {
    base: 19080,
    collector_ui: 19085,
    collector_otlp: 19086,
};

/// The drill's customers, for long enough that the rarest causes (a retry
/// storm, every 200 quotes; an order given up while its saga runs, a few
/// in a thousand on a fast machine) show several times in the traces the
/// detective reads.
const CUSTOMERS: usize = 16;
const LOAD: Duration = Duration::from_secs(15);

/// Bounds the wait for the services' exports to catch up.
const SETTLE_WITHIN: Duration = Duration::from_secs(60);

/// One scenario at a time in this file.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_problem_alone_is_named_and_a_fixed_shop_names_nothing() {
    let _one = ONE_AT_A_TIME.lock().await;
    let mut scenarios: Vec<Vec<Problem>> = Problem::ALL
        .into_iter()
        .filter(|problem| *problem != Problem::EagerLogging)
        .map(|problem| vec![problem])
        .collect();
    scenarios.push(Vec::new());
    check(&scenarios).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "for maintainers: twelve more scenarios, four minutes or so"]
async fn each_problem_mixed_with_one_other() {
    let _one = ONE_AT_A_TIME.lock().await;
    let all = Problem::ALL;
    let pairs: Vec<Vec<Problem>> = (0..all.len())
        .map(|i| vec![all[i], all[(i + 1) % all.len()]])
        .collect();
    check(&pairs).await;
}

/// Runs each scenario in turn, prints a line for each and a table at the
/// end, and fails if any named other than what it planted (logging that
/// costs when off aside).
async fn check(scenarios: &[Vec<Problem>]) {
    let mut cases = Vec::new();
    for planted in scenarios {
        let case = run_scenario(planted).await;
        for line in case.lines() {
            println!("{line}");
        }
        cases.push(case);
    }
    println!("\n{}", summary(&cases));
    let failures: Vec<String> = cases
        .iter()
        .filter(|case| !case.passed())
        .map(Case::failure)
        .collect();
    assert!(
        failures.is_empty(),
        "the detective named other than what was planted:\n{}",
        failures.join("\n")
    );
}

/// What one scenario planted, what the detective should name, and what
/// it found.
struct Case {
    planted: Vec<Problem>,
    investigation: Investigation,
    /// The load's summary, for the record.
    load: String,
}

impl Case {
    /// What the detective must name: every problem planted but logging
    /// that costs when off, which no trace shows.
    fn expected(&self) -> Vec<Problem> {
        Problem::ALL
            .into_iter()
            .filter(|problem| self.planted.contains(problem) && *problem != Problem::EagerLogging)
            .collect()
    }

    fn passed(&self) -> bool {
        self.investigation.named() == self.expected()
    }

    /// "PROBLEM: named from EVIDENCE in S s (share X)" for each problem
    /// expected; for a fixed shop, what it named.
    fn lines(&self) -> Vec<String> {
        if self.planted.is_empty() {
            return vec![format!(
                "none planted: named {}",
                Problem::names(&self.investigation.named())
            )];
        }
        let line = |problem: Problem| match self.investigation.finding(problem) {
            Some(found) if found.named => format!(
                "{problem}: named from {} in {:.1} s (share {:.1}%)",
                found.evidence.as_deref().unwrap_or("-"),
                found.after.as_secs_f64(),
                found.share() * 100.0
            ),
            Some(found) => format!(
                "{problem}: NOT named ({} of {} traces, share {:.1}%)",
                found.count,
                found.of,
                found.share() * 100.0
            ),
            None => format!("{problem}: not investigated"),
        };
        self.expected().into_iter().map(line).collect()
    }

    /// What went wrong, with every finding, so that a threshold can be
    /// judged against what was measured.
    fn failure(&self) -> String {
        let findings: Vec<String> = self
            .investigation
            .findings
            .iter()
            .map(|finding| format!("    {finding}"))
            .collect();
        format!(
            "  planted {}: expected {}, named {} ({} traces; load: {})\n{}",
            Problem::names(&self.planted),
            Problem::names(&self.expected()),
            Problem::names(&self.investigation.named()),
            self.investigation.traces,
            self.load,
            findings.join("\n")
        )
    }
}

/// The shop and the collector with `planted`, under the drill's load, then
/// the detective, then everything stopped.
async fn run_scenario(planted: &[Problem]) -> Case {
    let logs = work_dir().join("logs");
    let scenario = Scenario::start(planted, PORTS, bin_dir(), &logs)
        .await
        .unwrap_or_else(|err| panic!("planted {}: cannot start: {err:#}", Problem::names(planted)));
    let since = collector_client::now_us();
    // Three customers in ten give up rather than the drill's one: the
    // work abandoned when the cancellation is planted then shows in
    // dozens of the traces read, not in a handful that chance could
    // empty, whatever the machine's speed.
    let mut plan = scenario.load_plan(CUSTOMERS, LOAD);
    plan.impatience = plan.impatience.map(|impatience| Impatience {
        share: 0.3,
        ..impatience
    });
    let report = loadgen::run(&plan, std::future::pending()).await;
    if let Err(moving) = scenario.settle(SETTLE_WITHIN).await {
        panic!(
            "planted {}: the services' exports never settled: {}",
            Problem::names(planted),
            moving.join(", ")
        );
    }
    let investigation = detective::investigate(
        &scenario.collector_client(),
        &scenario.services(),
        Some(since),
    )
    .await
    .unwrap_or_else(|err| panic!("planted {}: the collector: {err}", Problem::names(planted)));
    // A service that dropped spans exits non-zero, as it should: said,
    // not failed on.
    for problem in scenario.stop() {
        println!(
            "planted {}: at the stop, {problem}",
            Problem::names(planted)
        );
    }
    Case {
        planted: planted.to_vec(),
        investigation,
        load: report.summary(),
    }
}

/// One row per scenario: what was planted, what was named, how long the
/// slowest naming took, and whether it is right.
fn summary(cases: &[Case]) -> String {
    let mut table = format!(
        "{:<28} {:<28} {:>8}  {}\n",
        "planted", "named", "seconds", "verdict"
    );
    for case in cases {
        let slowest = case
            .investigation
            .findings
            .iter()
            .filter(|finding| finding.named)
            .map(|finding| finding.after.as_secs_f64())
            .fold(0.0, f64::max);
        table.push_str(&format!(
            "{:<28} {:<28} {:>8.1}  {}\n",
            Problem::names(&case.planted),
            Problem::names(&case.investigation.named()),
            slowest,
            if case.passed() { "ok" } else { "WRONG" }
        ));
    }
    table
}

/// Where the services' and the collector's binaries are built: beside
/// this crate's own binary (a test's own is one folder below, in `deps`).
fn bin_dir() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_incident"))
        .parent()
        .expect("the incident binary is in a folder")
}

/// The tests' own folder, for the programs' logs.
fn work_dir() -> PathBuf {
    demo::workspace_root().join("target/incident-detective")
}
