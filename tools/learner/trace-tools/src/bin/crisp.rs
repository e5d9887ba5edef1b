//! `just crisp`: which operations own an endpoint's latency across many
//! traces, and what grows in the tail (after Uber's CRISP).
//!
//! The traces come from files and folders of Jaeger JSON (one trace per
//! file, as CRISP reads them), from the running collector, or, with
//! neither, from the last `just demo` run's recording. The tables go to the
//! terminal (`--json` for one JSON object instead), the flame graphs to
//! SVG files. `--what-if` projects the endpoint's latencies as if an
//! operation took more or less of the critical path.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::error::ErrorKind;
use clap::{CommandFactory, Parser};
use collector_client::{Client, UI_PORT, duration_us, loopback, now_us};
use serde::Serialize;
use trace_analysis::aggregate::{self, Aggregator, Analysis, Comparison, Endpoint};
use trace_analysis::recording::{self, DEMO_RECORDINGS};
use trace_analysis::what_if::{self, OperationChange, WhatIf};
use trace_analysis::{crisp_reference, flame};

/// Critical paths across the traces of one endpoint.
#[derive(Parser)]
struct Args {
    /// Files and folders of Jaeger JSON traces. None: the collector if one
    /// is running, else the last `just demo` run's recording.
    paths: Vec<PathBuf>,
    /// The endpoint's service (its root span's).
    #[arg(short, long, default_value = "gateway")]
    service: String,
    /// The endpoint's operation (its root span's name).
    #[arg(short, long, default_value = "POST /orders")]
    operation: String,
    /// Compare with these traces (files and folders, or `collector`):
    /// what changed, per operation, and a differential flame graph.
    #[arg(long, num_args = 1..)]
    baseline: Vec<PathBuf>,
    /// Print one JSON object instead of tables.
    #[arg(long)]
    json: bool,
    /// Where the flame graphs go.
    #[arg(long, default_value = "target/crisp")]
    out: PathBuf,
    /// The collector's (or Jaeger's) query address.
    #[arg(long, env = "COLLECTOR_URL", default_value_t = loopback(UI_PORT))]
    collector: String,
    /// With the collector: only the traces whose root started in this
    /// window, as two times ago: `10m..5m` (from ten minutes ago to five),
    /// `5m..` (the last five minutes).
    #[arg(long, value_name = "FROM..TO")]
    window: Option<String>,
    /// Compare with the collector's traces of this other window
    /// (`20m..10m`): two windows of one running shop, before and after.
    #[arg(long, value_name = "FROM..TO", conflicts_with = "baseline")]
    baseline_window: Option<String>,
    /// Check the analysis against CRISP's own, run on the same traces: its
    /// all-traces calling-context tree (`flame-graph-P100.cct`). Prints
    /// both, context by context and operation by operation, and fails when
    /// they disagree.
    #[arg(long, value_name = "CCT")]
    against_crisp: Option<PathBuf>,
    /// Project the latencies as if this operation's time on the critical
    /// path changed by this percent (-100% removes it), first order: the
    /// rest of the path held still. Repeatable, one change per operation;
    /// reads files only. `"inventory reserve -50%"`, `"gateway look_up
    /// -100%"`, `"inventory POST /reservations +20%"`.
    #[arg(long, value_name = what_if::SHAPE)]
    what_if: Vec<OperationChange>,
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let args = Args::parse();
    if let Some(twice) = named_twice(&args.what_if) {
        Args::command()
            .error(
                ErrorKind::ArgumentConflict,
                format!(
                    "--what-if names {} {} twice: give one change per operation",
                    twice.service, twice.operation
                ),
            )
            .exit();
    }
    match run(&args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("crisp: {err:#}");
            ExitCode::FAILURE
        }
    }
}

/// The first operation that `--what-if` names twice: both changes would
/// take off the same time.
fn named_twice(changes: &[OperationChange]) -> Option<&OperationChange> {
    changes.iter().enumerate().find_map(|(i, change)| {
        changes[..i]
            .iter()
            .any(|earlier| {
                (&earlier.service, &earlier.operation) == (&change.service, &change.operation)
            })
            .then_some(change)
    })
}

/// `--json`'s answer: the analysis, the comparison when there is a
/// baseline, and the projection when `--what-if` asks for one.
#[derive(Serialize)]
struct JsonAnswer<'a> {
    #[serde(flatten)]
    analysis: &'a Analysis,
    #[serde(skip_serializing_if = "Option::is_none")]
    comparison: Option<Comparison>,
    #[serde(skip_serializing_if = "Option::is_none")]
    what_if: Option<&'a WhatIf>,
}

async fn run(args: &Args) -> anyhow::Result<()> {
    let endpoint = Endpoint {
        service: args.service.clone(),
        operation: args.operation.clone(),
    };
    let (source, found_baseline) = sources(args).await?;
    let (analysis, what_if) = analyse(&source, &endpoint, &args.what_if).await?;
    let before = match baseline(args, found_baseline)? {
        Some(source) => {
            let (before, _) = analyse(&source, &endpoint, &[]).await?;
            Some((source, before))
        }
        None => None,
    };
    let comparison = before
        .as_ref()
        .map(|(_, before)| aggregate::compare(before, &analysis));
    if let Some(cct) = &args.against_crisp {
        return against_crisp(&analysis, cct);
    }
    if args.json {
        let answer = JsonAnswer {
            analysis: &analysis,
            comparison,
            what_if: what_if.as_ref(),
        };
        println!("{}", serde_json::to_string_pretty(&answer)?);
        return Ok(());
    }
    print_tables(&endpoint, &source, &analysis);
    if let Some(what_if) = &what_if {
        print_what_if(what_if);
    }
    if let (Some((source, before)), Some(comparison)) = (&before, &comparison) {
        print_comparison(source, comparison);
        let svgs = draw(&endpoint, &analysis, Some(before), &args.out)?;
        print_flame_graphs(&svgs);
    } else {
        print_flame_graphs(&draw(&endpoint, &analysis, None, &args.out)?);
    }
    Ok(())
}

/// What to compare with: `--baseline`'s files, `--baseline-window`'s
/// window, or else the baseline found beside the traces.
fn baseline(args: &Args, found: Option<Source>) -> anyhow::Result<Option<Source>> {
    if let Some(window) = &args.baseline_window {
        return Ok(Some(Source::Collector {
            url: args.collector.trim_end_matches('/').to_owned(),
            window: Some(Window::parse(window)?),
        }));
    }
    if !args.baseline.is_empty() {
        return Ok(Some(Source::Files(args.baseline.clone())));
    }
    Ok(found)
}

/// Where traces come from.
enum Source {
    Files(Vec<PathBuf>),
    Collector { url: String, window: Option<Window> },
}

/// A stretch of time, as Unix microseconds.
#[derive(Clone, Copy)]
struct Window {
    start_us: u64,
    end_us: Option<u64>,
    /// How it was asked for, to show it back.
    ago: (u64, Option<u64>),
}

impl Window {
    /// `FROM..TO`, each a duration ago (`10m..5m`; `5m..` up to now).
    fn parse(text: &str) -> anyhow::Result<Self> {
        let wrong = || {
            anyhow::anyhow!(
                "window {text:?} is not FROM..TO, two durations ago such as 10m..5m (or 5m.. for up to now)"
            )
        };
        let (from, to) = text.split_once("..").ok_or_else(wrong)?;
        let from = duration_us(from.trim()).ok_or_else(wrong)?;
        let to = match to.trim() {
            "" => None,
            to => Some(duration_us(to).ok_or_else(wrong)?),
        };
        if to.is_some_and(|to| to >= from) {
            anyhow::bail!("window {text:?} ends before it starts: FROM is the longer time ago");
        }
        let now = now_us();
        Ok(Self {
            start_us: now.saturating_sub(from),
            end_us: to.map(|to| now.saturating_sub(to)),
            ago: (from, to),
        })
    }
}

impl std::fmt::Display for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Source::Files(paths) => {
                let names: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
                f.write_str(&names.join(", "))
            }
            Source::Collector { url, window: None } => write!(f, "the collector at {url}"),
            Source::Collector {
                url,
                window: Some(window),
            } => {
                let (from, to) = window.ago;
                let to = to.map_or("now".to_owned(), |to| format!("{} s ago", to / 1_000_000));
                write!(
                    f,
                    "the collector at {url}, from {} s ago to {to}",
                    from / 1_000_000
                )
            }
        }
    }
}

/// The traces to analyse, and a baseline found on the way: after `just
/// demo --fixed`, the last run with the planted problems.
async fn sources(args: &Args) -> anyhow::Result<(Source, Option<Source>)> {
    if !args.paths.is_empty() {
        return Ok((Source::Files(args.paths.clone()), None));
    }
    let url = args.collector.trim_end_matches('/').to_owned();
    let window = args.window.as_deref().map(Window::parse).transpose()?;
    if window.is_some() || collector_answers(&url).await {
        return Ok((Source::Collector { url, window }, None));
    }
    let recordings = Path::new(DEMO_RECORDINGS);
    let planted = recordings.join("planted");
    let fixed = recordings.join("fixed");
    let modified = |dir: &Path| dir.metadata().and_then(|m| m.modified()).ok();
    Ok(match (modified(&planted), modified(&fixed)) {
        (Some(p), Some(f)) if f > p => (
            Source::Files(vec![fixed]),
            Some(Source::Files(vec![planted])),
        ),
        (None, Some(_)) => (Source::Files(vec![fixed]), None),
        _ => (Source::Files(vec![planted]), None),
    })
}

/// The analysis of `source`'s traces of `endpoint`, and, when `changes`
/// asks for one, its projection: that needs each trace, which only files
/// give (the collector answers with the analysis alone).
async fn analyse(
    source: &Source,
    endpoint: &Endpoint,
    changes: &[OperationChange],
) -> anyhow::Result<(Analysis, Option<WhatIf>)> {
    match source {
        Source::Files(paths) => {
            let aggregator = read(paths, endpoint, source)?;
            let what_if = (!changes.is_empty()).then(|| WhatIf::project(&aggregator, changes));
            Ok((aggregator.finish(), what_if))
        }
        Source::Collector { url, window } => {
            if !changes.is_empty() {
                bail!(
                    "--what-if projects each trace, and {source} answers with the analysis alone: \
                     give files or folders of traces (`just demo` records them in {DEMO_RECORDINGS})"
                );
            }
            Ok((ask(url, *window, endpoint, source).await?, None))
        }
    }
}

/// `endpoint`'s traces in files and folders, added up.
fn read(paths: &[PathBuf], endpoint: &Endpoint, source: &Source) -> anyhow::Result<Aggregator> {
    for path in paths {
        if !path.exists() {
            bail!(
                "{} does not exist. Give files or folders of Jaeger JSON traces, \
                 or run `just demo` first (it records its traces there).",
                path.display()
            );
        }
    }
    let recording::Read {
        aggregator,
        traces,
        skipped,
    } = recording::analyse(paths, endpoint)?;
    if let Some((_, why)) = skipped.first() {
        eprintln!(
            "crisp: skipped {} file(s) that are not Jaeger traces; the first: {why}",
            skipped.len()
        );
    }
    if aggregator.is_empty() {
        let roots: Vec<String> = aggregator
            .other_roots()
            .iter()
            .take(5)
            .map(|(root, n)| format!("{root} ({n})"))
            .collect();
        bail!(
            "none of the {traces} traces in {source} has {} {} as its root; their roots: {}",
            endpoint.service,
            endpoint.operation,
            if roots.is_empty() {
                "none".to_owned()
            } else {
                roots.join(", ")
            }
        );
    }
    Ok(aggregator)
}

/// The collector's analysis of `endpoint`'s traces in `window`.
async fn ask(
    url: &str,
    window: Option<Window>,
    endpoint: &Endpoint,
    source: &Source,
) -> anyhow::Result<Analysis> {
    let (start_us, end_us) = window.map_or((None, None), |w| (Some(w.start_us), w.end_us));
    let analysis = Client::new(url)?
        .critical_paths(endpoint, start_us, end_us)
        .await
        .context("the collector did not answer an analysis")?;
    if analysis.traces == 0 {
        bail!(
            "{source} holds no trace whose root is {} {}: run `just demo`, or name the endpoint with --service and --operation",
            endpoint.service,
            endpoint.operation
        );
    }
    Ok(analysis)
}

/// Whether a collector answers its query API at `url`, within a moment:
/// whatever else may hold the port, and never answer, is none.
async fn collector_answers(url: &str) -> bool {
    match Client::new(url) {
        Ok(client) => client.answers(Duration::from_secs(2)).await,
        Err(_) => false,
    }
}

fn ms(us: f64) -> String {
    format!("{:.1}", us / 1e3)
}

/// Milliseconds with their sign, for changes.
fn signed_ms(us: f64) -> String {
    format!("{:+.1}", us / 1e3)
}

/// An operation's CPU time per trace in milliseconds, `—` where its spans
/// do not carry it.
fn cpu_ms(us: Option<f64>) -> String {
    us.map_or_else(|| "—".to_owned(), ms)
}

fn print_tables(endpoint: &Endpoint, source: &Source, analysis: &Analysis) {
    println!(
        "{} {}: {} traces from {source}, mean {} ms.",
        endpoint.service,
        endpoint.operation,
        analysis.traces,
        ms(analysis.mean_duration_us)
    );
    println!();
    println!("Critical path by operation, mean over all traces:");
    println!(
        "  {:>7}  {:>9}  {:>9}  operation",
        "share", "mean ms", "cpu ms"
    );
    let shown = &analysis.operations[..analysis.operations.len().min(12)];
    for op in shown {
        println!(
            "  {:>6.1}%  {:>9}  {:>9}  {} {}",
            100.0 * op.mean_critical_path_us / analysis.mean_duration_us.max(1.0),
            ms(op.mean_critical_path_us),
            cpu_ms(op.mean_cpu_us),
            op.service,
            op.operation
        );
    }
    if shown.iter().any(|op| op.mean_cpu_us.is_some()) {
        println!(
            "  (cpu ms: the operation's spans' own time on a CPU per trace, where they record it; \
             long on the path and short on a CPU, it waits)"
        );
    }
    println!();
    println!("By latency band (traces ranked by duration; pQ holds ranks pQ up to the next band):");
    for band in &analysis.bands {
        let top: Vec<String> = band
            .operations
            .iter()
            .take(3)
            .map(|o| {
                format!(
                    "{} {} {} ms{}",
                    o.service,
                    o.operation,
                    ms(o.mean_critical_path_us),
                    o.mean_cpu_us
                        .map_or_else(String::new, |us| format!(" (cpu {} ms)", ms(us)))
                )
            })
            .collect();
        println!(
            "  {:<4} {:>5} traces, {:>7}–{:<7} ms: {}",
            band.band,
            band.traces,
            ms(band.min_duration_us as f64),
            ms(band.max_duration_us as f64),
            top.join(", ")
        );
    }
    println!();
    println!("What grows in the tail (mean in the p99 band minus in the p50 band):");
    for growth in analysis.tail.iter().take(5) {
        println!(
            "  {:>9} ms  {} {}  ({:.0}% of the p99 band's duration{})",
            signed_ms(growth.growth_us),
            growth.service,
            growth.operation,
            100.0 * growth.share_of_p99,
            growth
                .p99_mean_cpu_us
                .map_or_else(String::new, |us| format!("; cpu {} ms there", ms(us)))
        );
    }
}

fn print_comparison(baseline: &Source, comparison: &Comparison) {
    println!();
    println!(
        "Against {baseline} ({} traces): mean {} → {} ms.",
        comparison.before_traces,
        ms(comparison.before_mean_duration_us),
        ms(comparison.after_mean_duration_us)
    );
    println!("  In the p99 band, what changed most:");
    for change in comparison.p99.iter().take(5) {
        println!(
            "    {:>9} ms  {} {}  ({} → {} ms)",
            signed_ms(change.change_us),
            change.service,
            change.operation,
            ms(change.before_mean_us),
            ms(change.after_mean_us)
        );
    }
}

/// What each `--what-if` change acts on, then, unless none is ever on the
/// critical path, the latencies measured and projected.
fn print_what_if(what_if: &WhatIf) {
    println!();
    let traces = what_if.measured.traces;
    for found in &what_if.changes {
        let change = &found.change;
        if found.traces_on_path == 0 {
            println!(
                "What if {change}: {} {} is never on the critical path of these {traces} traces: \
                 no change projected.",
                change.service, change.operation
            );
        } else {
            println!(
                "What if {change}: on the critical path of {} of the {traces} traces, {} ms a trace \
                 on average.",
                found.traces_on_path,
                ms(found.mean_critical_path_us)
            );
        }
    }
    if what_if.changes_nothing() {
        return;
    }
    let (measured, projected) = (&what_if.measured, &what_if.projected);
    println!(
        "  Projected, first order (the rest of the critical path held still: \
         a speed-up saves at most this):"
    );
    println!(
        "    {:<10} {:>12} {:>12} {:>11} {:>7}",
        "", "measured", "projected", "change", ""
    );
    print_projected("mean", measured.mean_us, projected.mean_us);
    for (before, after) in measured.bands.iter().zip(&projected.bands) {
        print_projected(&before.band, before.min_us, after.min_us);
    }
    println!("  Per latency band, its mean (each ranked by its own latencies):");
    for (before, after) in measured.bands.iter().zip(&projected.bands) {
        print_projected(
            &format!("{} band", before.band),
            before.mean_us,
            after.mean_us,
        );
    }
}

/// One row of the projection: measured, projected, and the change in ms
/// and in percent.
fn print_projected(name: &str, measured_us: f64, projected_us: f64) {
    let change_us = projected_us - measured_us;
    println!(
        "    {name:<10} {:>9} ms {:>9} ms {:>8} ms {:>+6.1}%",
        ms(measured_us),
        ms(projected_us),
        signed_ms(change_us),
        100.0 * change_us / measured_us.max(1.0)
    );
}

/// One flame graph over all traces, one per band, and with a baseline the
/// differential one: the paths written.
fn draw(
    endpoint: &Endpoint,
    analysis: &Analysis,
    baseline: Option<&Analysis>,
    out: &Path,
) -> anyhow::Result<Vec<PathBuf>> {
    std::fs::create_dir_all(out).with_context(|| format!("cannot create {}", out.display()))?;
    let title = format!("{} {}: critical path", endpoint.service, endpoint.operation);
    let mut written = Vec::new();
    let mut graphs: Vec<(String, String, Vec<String>)> = vec![(
        "all".to_owned(),
        format!("mean µs per trace over all {} traces", analysis.traces),
        analysis.folded(None),
    )];
    for band in &analysis.bands {
        graphs.push((
            band.band.clone(),
            format!(
                "mean µs per trace over the {} traces from p{} to p{}",
                band.traces, band.from_percentile, band.to_percentile
            ),
            analysis.folded(Some(&band.band)),
        ));
    }
    for (name, subtitle, folded) in graphs {
        let path = out.join(format!("flame-{name}.svg"));
        let file = std::fs::File::create(&path)
            .with_context(|| format!("cannot write {}", path.display()))?;
        flame::flame_graph(&folded, &title, &subtitle, std::io::BufWriter::new(file))?;
        written.push(path);
    }
    if let Some(before) = baseline {
        let path = out.join("flame-diff.svg");
        let file = std::fs::File::create(&path)
            .with_context(|| format!("cannot write {}", path.display()))?;
        flame::differential_flame_graph(
            &before.folded(None),
            &analysis.folded(None),
            &title,
            "all traces; red grew, blue shrank, against the baseline",
            std::io::BufWriter::new(file),
        )?;
        written.push(path);
    }
    Ok(written)
}

fn print_flame_graphs(svgs: &[PathBuf]) {
    println!();
    let names: Vec<String> = svgs.iter().map(|p| p.display().to_string()).collect();
    println!("Flame graphs: {}", names.join(", "));
}

fn against_crisp(analysis: &Analysis, cct: &Path) -> anyhow::Result<()> {
    let text =
        std::fs::read_to_string(cct).with_context(|| format!("cannot read {}", cct.display()))?;
    let agreement = crisp_reference::Agreement::of(analysis, &crisp_reference::parse_cct(&text)?);
    for (title, rows) in [
        ("calling context", &agreement.contexts),
        ("operation", &agreement.operations),
    ] {
        println!(
            "{:>12} {:>12} {:>9}  {title}",
            "ours µs", "CRISP µs", "diff"
        );
        for row in rows {
            let mark = if row.difference().abs() > agreement.tolerance_us {
                "  ✗"
            } else {
                ""
            };
            println!(
                "{:>12.1} {:>12} {:>+9.1}  {}{mark}",
                row.ours_us,
                row.crisp_us,
                row.difference(),
                row.name
            );
        }
        println!();
    }
    println!(
        "{} traces; {} calling contexts and {} operations; the largest difference {:.1} µs \
         (tolerance {:.1} µs: CRISP's whole-µs flooring plus {}% of the mean trace duration, \
         {:.1} ms).",
        analysis.traces,
        agreement.contexts.len(),
        agreement.operations.len(),
        agreement.largest_difference_us(),
        agreement.tolerance_us,
        crisp_reference::TOLERANCE_OF_MEAN_DURATION * 100.0,
        analysis.mean_duration_us / 1e3
    );
    if !agreement.agrees() {
        bail!("the analysis and CRISP's disagree (the rows marked ✗)");
    }
    println!("They agree.");
    Ok(())
}
