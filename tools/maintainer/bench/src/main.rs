//! `just bench`: every benchmark of the workshop, then the headline
//! figures as one table (also saved to `target/bench/headlines.json`). The
//! criterion benchmarks also write the per-span cost table the slides
//! include (`slides/measured/span-costs.md`).

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

use anyhow::Context;
use clap::Parser;
use workshop_bench::SPANS_PER_REQUEST;
use workshop_bench::headlines::{self, Headline, criterion_mean_ns};
use workshop_bench::machine::Measured;
use workshop_bench::span_costs;
use workshop_bench::throughput::{self, Settings};

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
            headlines.extend(run_throughput(&root, &target_dir, args.quick).await?);
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
    ];
    let mut found: Vec<Headline> = pairs
        .into_iter()
        .filter_map(|(figure, numerator, denominator, goal)| {
            Some(Headline {
                figure: figure.to_owned(),
                value: mean_ns(numerator)? / mean_ns(denominator)?,
                unit: "ratio",
                goal,
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
        });
    }
    found
}

/// The gateway's throughput with each kind of telemetry, as ratios to none.
async fn run_throughput(
    root: &Path,
    target_dir: &Path,
    quick: bool,
) -> anyhow::Result<Vec<Headline>> {
    println!("== gateway throughput by telemetry (the shop as processes, release build)");
    demo::build_binaries(root, true)?;
    let settings = Settings {
        rounds: if quick { 1 } else { 3 },
        seconds: if quick { 3 } else { 6 },
        concurrency: 32,
        base_port: 18080,
    };
    let medians = throughput::compare(
        &target_dir.join("release"),
        &target_dir.join("bench/logs"),
        &settings,
    )
    .await
    .context("the throughput comparison failed")?;
    let off = medians[0];
    let mut found = vec![
        Headline {
            figure: "gateway: requests/s, telemetry off".to_owned(),
            value: off.throughput,
            unit: "req/s",
            goal: None,
        },
        Headline {
            figure: "services: CPU µs per request, telemetry off".to_owned(),
            value: off.services_cpu_us,
            unit: "µs",
            goal: None,
        },
    ];
    for mode in &medians[1..] {
        let exports = mode.name == "otlp" || mode.name == throughput::PROFILED;
        found.push(Headline {
            figure: format!("gateway: throughput with {} / off", mode.name),
            value: mode.throughput / off.throughput,
            unit: "ratio",
            goal: Some((">=", if exports { 0.90 } else { 0.85 })),
        });
        found.push(Headline {
            figure: format!("services: CPU per request with {} / off", mode.name),
            value: mode.services_cpu_us / off.services_cpu_us,
            unit: "ratio",
            goal: exports.then_some(("<=", 1.15)),
        });
        if mode.name == "otlp" {
            found.push(Headline {
                figure: "collector: CPU µs per request, otlp".to_owned(),
                value: mode.collector_cpu_us,
                unit: "µs",
                goal: None,
            });
        }
    }
    // What span profiles add to the same export.
    let by_name = |name: &str| medians.iter().find(|mode| mode.name == name);
    if let (Some(otlp), Some(profiled)) = (by_name("otlp"), by_name(throughput::PROFILED)) {
        found.push(Headline {
            figure: "gateway: throughput with span profiles / otlp".to_owned(),
            value: profiled.throughput / otlp.throughput,
            unit: "ratio",
            goal: Some((">=", 0.98)),
        });
        found.push(Headline {
            figure: "services: CPU per request with span profiles / otlp".to_owned(),
            value: profiled.services_cpu_us / otlp.services_cpu_us,
            unit: "ratio",
            goal: Some(("<=", 1.02)),
        });
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

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
