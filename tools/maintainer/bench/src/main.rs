//! `just bench`: every benchmark of the workshop, then the headline
//! figures as one table (also saved to `target/bench/headlines.json`). The
//! criterion benchmarks also write the per-span cost table the slides
//! include (`slides/measured/span-costs.md`), and the throughput
//! comparison its own table (`slides/measured/throughput.md`).

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

use anyhow::Context;
use clap::Parser;
use workshop_bench::SPANS_PER_REQUEST;
use workshop_bench::headlines::{self, Headline, criterion_mean_ns};
use workshop_bench::machine::Measured;
use workshop_bench::span_costs;
use workshop_bench::throughput::{self, Comparison, Settings};
use workshop_bench::throughput_table;

/// Runs the criterion benchmarks and the gateway throughput comparison.
#[derive(Parser)]
struct Args {
    /// Shorter runs: less precise, for a quick look.
    #[arg(long)]
    quick: bool,
    /// Skip the criterion benchmarks.
    #[arg(long)]
    no_criterion: bool,
    /// Skip the gateway throughput comparison.
    #[arg(long)]
    no_throughput: bool,
    /// Skip `just crisp` beside CRISP.
    #[arg(long)]
    no_crisp: bool,
    /// The seed that shuffles the order of the telemetry modes in each round
    /// of the throughput comparison (a random one, printed, when absent).
    #[arg(long)]
    seed: Option<u64>,
    /// Only these telemetry modes of the throughput comparison, beside
    /// `off` (comma-separated): the default ones, or `spans` (spans made,
    /// nothing exported nor logged) and `otlp-head-0%` (every trace
    /// dropped where it starts), which explain the others. The table in
    /// the slides is left as it was.
    #[arg(long, value_delimiter = ',')]
    modes: Vec<String>,
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    let root = demo::workspace_root();
    let target_dir: PathBuf =
        std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| root.join("target"), Into::into);
    let mut headlines = Vec::new();
    let outcome = async {
        if !args.no_criterion {
            headlines.extend(run_criterion(&root, &target_dir, args.quick)?);
        }
        if !args.no_throughput {
            headlines.extend(
                run_throughput(&root, &target_dir, args.quick, args.seed, &args.modes).await?,
            );
        }
        if !args.no_crisp {
            headlines.extend(workshop_bench::crisp::side_by_side(&target_dir)?);
        }
        anyhow::Ok(())
    }
    .await;
    if let Err(err) = outcome {
        eprintln!("bench: {err:#}");
        return ExitCode::FAILURE;
    }
    headlines::print(&headlines);
    let saved = target_dir.join("bench/headlines.json");
    if let Err(err) = headlines::save(&saved, &headlines) {
        eprintln!("bench: cannot save {}: {err}", saved.display());
    }
    ExitCode::SUCCESS
}

/// What the collector's store holds per span, from this process's resident
/// memory before building 10,000 demo-shaped traces and after moving them
/// into a store: an upper bound (what building them left on the heap
/// counts too).
fn memory_per_stored_span() -> Headline {
    let before = resident_bytes();
    let traces = workshop_bench::demo_traces(10_000);
    let spans: usize = traces.iter().map(Vec::len).sum();
    let store = collector::store::Store::in_memory(usize::MAX);
    for trace in traces {
        store.insert(trace).expect("stored");
    }
    let after = resident_bytes();
    assert_eq!(store.span_count(), spans);
    Headline {
        figure: "collector: memory per stored span".to_owned(),
        value: after.saturating_sub(before) as f64 / spans as f64,
        unit: "bytes",
        goal: None,
        spread: None,
    }
}

/// This process's resident set, from `/proc` (0 elsewhere).
fn resident_bytes() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
            let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
            Some(kib * 1024)
        })
        .unwrap_or(0)
}

/// The criterion benchmarks, their headline figures, and the per-span cost
/// table.
fn run_criterion(root: &Path, target_dir: &Path, quick: bool) -> anyhow::Result<Vec<Headline>> {
    println!("== criterion benchmarks");
    let status = criterion_command(root, quick)
        .status()
        .context("cannot run cargo bench")?;
    if !status.success() {
        anyhow::bail!("the criterion benchmarks failed");
    }
    let mean_ns = |id: &str| criterion_mean_ns(target_dir, id);
    let mut found = timings(mean_ns);
    found.push(memory_per_stored_span());
    found.extend(ratios(mean_ns));
    span_costs::write(
        target_dir,
        &root.join(span_costs::FILE),
        &Measured::here_and_now(),
    )
    .context("the per-span cost table")?;
    println!("== per-span costs written to {}", span_costs::FILE);
    Ok(found)
}

/// `cargo bench` of the three criterion benchmarks, shorter with `quick`.
fn criterion_command(root: &Path, quick: bool) -> Command {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut command = Command::new(cargo);
    command.current_dir(root).args([
        "bench",
        "--locked",
        "-p",
        "workshop-bench",
        "--bench",
        "collector",
        "--bench",
        "actions",
        "--bench",
        "cost",
        "--",
    ]);
    if quick {
        command.args(["--warm-up-time", "1", "--measurement-time", "2"]);
    }
    command
}

/// The headline figures read from one benchmark's mean time each
/// (`mean_ns` of a criterion id), for those that ran.
fn timings(mean_ns: impl Fn(&str) -> Option<f64>) -> Vec<Headline> {
    let mut found = Vec::new();
    if let Some(ns) = mean_ns("collector_ingest/protobuf") {
        found.push(Headline {
            figure: "collector: OTLP protobuf ingestion, one core".to_owned(),
            value: SPANS_PER_REQUEST as f64 / (ns * 1e-9),
            unit: "spans/s",
            goal: Some((">=", 200_000.0)),
            spread: None,
        });
    }
    let milliseconds = [
        (
            "collector: critical path of 100,000 spans",
            "critical_path/100k_spans",
            50.0,
        ),
        (
            "crisp: 10,000 traces aggregated, one core",
            "critical_paths_across/10k_traces",
            1_000.0,
        ),
        (
            "crisp: API answer over 10,000 stored traces",
            "critical_paths_across/10k_stored_traces_api_answer",
            200.0,
        ),
    ];
    for (figure, id, at_most) in milliseconds {
        if let Some(ns) = mean_ns(id) {
            found.push(Headline {
                figure: figure.to_owned(),
                value: ns / 1e6,
                unit: "ms",
                goal: Some(("<=", at_most)),
                spread: None,
            });
        }
    }
    found
}

/// The headline figures that compare two benchmarks' mean times (`mean_ns`
/// of a criterion id), for those where both ran.
fn ratios(mean_ns: impl Fn(&str) -> Option<f64>) -> Vec<Headline> {
    let pairs = [
        (
            "actions: an action / a span, action layers only",
            "action_vs_span/action",
            "action_vs_span/span",
            Some(("<=", 2.0)),
        ),
        (
            "actions: an action / a span, service subscriber",
            "action_vs_span_in_a_service/action",
            "action_vs_span_in_a_service/span",
            Some(("<=", 2.0)),
        ),
        (
            "cost: a span's CPU time, with / without",
            "span_cpu_time/with",
            "span_cpu_time/without",
            None,
        ),
        (
            "cost: a log line / no telemetry",
            "cost_of_observability/event_fmt",
            "cost_of_observability/uninstrumented",
            None,
        ),
        (
            "cost: an OTLP span / no telemetry",
            "cost_of_observability/span_otlp_batch_export",
            "cost_of_observability/uninstrumented",
            None,
        ),
        (
            "cost: disabled event, eager / lazy",
            "cost_of_observability/disabled_event_formatted_eagerly",
            "cost_of_observability/disabled_event_lazy_field",
            None,
        ),
        // What tracing and the services' layers add to the SDK's own span.
        (
            "per-span cost: otel over OTLP / SDK span",
            "span_cost/otel_otlp_loopback",
            "span_cost/otel_sdk_span",
            None,
        ),
        (
            "per-span cost: otel layer / SDK span",
            "span_cost/otel_noop_exporter",
            "span_cost/otel_sdk_span",
            None,
        ),
        (
            "per-span cost: sampled out, otel / SDK",
            "span_cost/otel_sampled_out",
            "span_cost/otel_sdk_span_sampled_out",
            None,
        ),
        (
            "per-span cost: sampled-out child, otel / SDK",
            "span_cost/otel_sampled_out_child",
            "span_cost/otel_sdk_span_sampled_out",
            None,
        ),
    ];
    let mut found: Vec<Headline> = pairs
        .into_iter()
        .filter_map(|(figure, numerator, denominator, goal)| {
            Some(Headline {
                figure: figure.to_owned(),
                value: mean_ns(numerator)? / mean_ns(denominator)?,
                unit: "ratio",
                goal,
                spread: None,
            })
        })
        .collect();
    // What a span's CPU time adds, as a share of what a span costs a
    // service: one exported over OTLP.
    let added = mean_ns("span_cpu_time/with")
        .zip(mean_ns("span_cpu_time/without"))
        .map(|(with, without)| with - without);
    if let Some((added, exported)) =
        added.zip(mean_ns("cost_of_observability/span_otlp_batch_export"))
    {
        found.push(Headline {
            figure: "cost: a span's CPU time / an OTLP span".to_owned(),
            value: added / exported,
            unit: "ratio",
            goal: Some(("<=", 0.05)),
            spread: None,
        });
    }
    found
}

/// The gateway's throughput with each kind of telemetry, as ratios to none,
/// and the table of them.
async fn run_throughput(
    root: &Path,
    target_dir: &Path,
    quick: bool,
    seed: Option<u64>,
    mode_names: &[String],
) -> anyhow::Result<Vec<Headline>> {
    let modes = throughput::chosen(mode_names)?;
    println!("== gateway throughput by telemetry (the shop as processes, release build)");
    demo::build_binaries(root, true)?;
    // A full run judges its ratios: 5 rounds at least, then more until each
    // median's 95 % interval is ±0.02 at most (two runs in a row then agree
    // within about 0.05), or 15. A quick one takes 2 and judges nothing.
    let settings = Settings {
        min_rounds: if quick { 2 } else { 5 },
        max_rounds: if quick { 2 } else { 15 },
        stable_within: (!quick).then_some(0.02),
        seed: seed.unwrap_or_else(|| fastrand::u64(..)),
        seconds: if quick { 3 } else { 6 },
        concurrency: 32,
        base_port: 18080,
    };
    let comparison = throughput::compare(
        &target_dir.join("release"),
        &target_dir.join("bench/logs"),
        &modes,
        &settings,
    )
    .await
    .context("the throughput comparison failed")?;
    throughput_table::print(&comparison);
    if !mode_names.is_empty() {
        println!(
            "== some modes only: {} left as it was",
            throughput_table::FILE
        );
        return Ok(throughput_headlines(&comparison));
    }
    throughput_table::write(
        &root.join(throughput_table::FILE),
        &comparison,
        &Measured::here_and_now(),
    )
    .context("the throughput table")?;
    println!("== throughput table written to {}", throughput_table::FILE);
    Ok(throughput_headlines(&comparison))
}

/// The headline figures of the throughput comparison: `off`'s own
/// medians, then each ratio with its goal and its spread.
fn throughput_headlines(comparison: &Comparison) -> Vec<Headline> {
    let mut found = Vec::new();
    if let Some(off) = comparison.medians_of(throughput::OFF) {
        found.extend([
            Headline {
                figure: "gateway: requests/s, telemetry off".to_owned(),
                value: off.throughput,
                unit: "req/s",
                goal: None,
                spread: None,
            },
            Headline {
                figure: "services: CPU µs per request, telemetry off".to_owned(),
                value: off.services_cpu_us,
                unit: "µs",
                goal: None,
                spread: None,
            },
        ]);
    }
    for ratios in &comparison.ratios {
        // Span profiles are named for what they add to the same export.
        let with = match (ratios.mode, ratios.baseline) {
            (throughput::PROFILED, throughput::OTLP) => "span profiles",
            (mode, _) => mode,
        };
        let (throughput_at_least, cpu_at_most) = goals(ratios.mode, ratios.baseline);
        found.push(Headline {
            figure: format!("gateway: throughput with {with} / {}", ratios.baseline),
            value: ratios.throughput.median,
            unit: "ratio",
            goal: throughput_at_least.map(|bound| (">=", bound)),
            spread: Some(ratios.throughput),
        });
        found.push(Headline {
            figure: format!(
                "services: CPU per request with {with} / {}",
                ratios.baseline
            ),
            value: ratios.services_cpu.median,
            unit: "ratio",
            goal: cpu_at_most.map(|bound| ("<=", bound)),
            spread: Some(ratios.services_cpu),
        });
        if (ratios.mode, ratios.baseline) == (throughput::OTLP, throughput::OFF)
            && let Some(otlp) = comparison.medians_of(throughput::OTLP)
        {
            found.push(Headline {
                figure: "collector: CPU µs per request, otlp".to_owned(),
                value: otlp.collector_cpu_us,
                unit: "µs",
                goal: None,
                spread: None,
            });
        }
    }
    found
}

/// The goals of `mode` over `baseline`: the throughput ratio at least, the
/// CPU per request ratio at most. Head sampling keeps one trace in ten, so
/// it must come close to no telemetry; span profiles must add next to
/// nothing to the export they ride on.
fn goals(mode: &str, baseline: &str) -> (Option<f64>, Option<f64>) {
    match (mode, baseline) {
        (throughput::PROFILED, throughput::OTLP) => (Some(0.98), Some(1.02)),
        (throughput::OTLP | throughput::PROFILED, _) => (Some(0.90), Some(1.15)),
        (throughput::HEAD_SAMPLED, _) => (Some(0.97), Some(1.05)),
        (throughput::CONSOLE | throughput::JSON, _) => (Some(0.90), Some(1.20)),
        _ => (None, None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use workshop_bench::spread::Spread;
    use workshop_bench::throughput::Ratios;

    #[test]
    fn each_ratio_is_a_headline_with_its_goal_and_its_spread() {
        let spread = |median| Spread {
            median,
            lower_quartile: median,
            upper_quartile: median,
            min: median,
            max: median,
            half_width: 0.0,
            rounds: 5,
        };
        let medians = |name| throughput::Measured {
            name,
            throughput: 1_000.0,
            services_cpu_us: 500.0,
            collector_cpu_us: 40.0,
        };
        let comparison = Comparison {
            seed: 1,
            rounds: 5,
            medians: vec![medians(throughput::OFF), medians(throughput::OTLP)],
            ratios: throughput::pairs(&throughput::modes())
                .into_iter()
                .map(|(mode, baseline)| Ratios {
                    mode,
                    baseline,
                    throughput: spread(0.95),
                    services_cpu: spread(1.10),
                })
                .collect(),
            stable_within: Some(0.02),
        };
        let found = throughput_headlines(&comparison);
        let judged = |figure: &str| {
            found
                .iter()
                .find(|h| h.figure == figure)
                .map(|h| (h.goal, h.meets_goal()))
        };
        assert_eq!(
            judged("gateway: throughput with otlp / off"),
            Some((Some((">=", 0.90)), Some(true)))
        );
        assert_eq!(
            judged("services: CPU per request with otlp-head-10% / off"),
            Some((Some(("<=", 1.05)), Some(false)))
        );
        assert_eq!(
            judged("services: CPU per request with console / off"),
            Some((Some(("<=", 1.20)), Some(true)))
        );
        assert_eq!(
            judged("gateway: throughput with span profiles / otlp"),
            Some((Some((">=", 0.98)), Some(false)))
        );
        assert_eq!(found[0].figure, "gateway: requests/s, telemetry off");
        assert!(
            found
                .iter()
                .any(|h| h.figure == "collector: CPU µs per request, otlp" && h.value == 40.0)
        );
        assert!(
            found
                .iter()
                .filter(|h| h.unit == "ratio")
                .all(|h| h.spread.is_some())
        );
    }

    #[test]
    fn a_figure_is_given_only_for_the_benchmarks_that_ran() {
        let mean_ns = |id: &str| match id {
            "critical_path/100k_spans" => Some(40e6),
            "action_vs_span/action" => Some(300.0),
            "action_vs_span/span" => Some(200.0),
            // Its denominator did not run: no ratio.
            "cost_of_observability/event_fmt" => Some(1.0),
            _ => None,
        };
        let timings = timings(mean_ns);
        assert_eq!(timings.len(), 1);
        assert_eq!(
            (
                timings[0].figure.as_str(),
                timings[0].value,
                timings[0].goal
            ),
            (
                "collector: critical path of 100,000 spans",
                40.0,
                Some(("<=", 50.0))
            )
        );
        let ratios = ratios(mean_ns);
        assert_eq!(ratios.len(), 1);
        assert_eq!(
            (ratios[0].figure.as_str(), ratios[0].value, ratios[0].unit),
            (
                "actions: an action / a span, action layers only",
                1.5,
                "ratio"
            )
        );
    }
}
