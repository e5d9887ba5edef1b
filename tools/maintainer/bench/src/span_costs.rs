//! The per-span cost table, [`FILE`]: one span under each subscriber of
//! the `span_cost` benchmark group (`benches/cost.rs`), with criterion's
//! mean, its 95 % confidence interval, its ratio to a bare registry, and
//! the figure published for the same kind of span where there is one.
//! `just bench` writes it after the criterion benchmarks; the slides take
//! the table from between its anchors.

use std::path::Path;

use anyhow::{Context, bail};

use crate::estimates::{self, Mean};
use crate::headlines::number;
use crate::machine::Measured;

/// Where the table is written, from the workspace's root.
pub const FILE: &str = "slides/measured/span-costs.md";

/// The criterion group the cases are measured in.
const GROUP: &str = "span_cost";

/// The case every ratio is to: the span stored by a registry, read by no
/// layer.
const BASELINE: &str = "registry";

/// A sampled span with five attributes, in nanoseconds, in the
/// OpenTelemetry Rust SDK's own benchmark (`opentelemetry-sdk/benches/span.rs`,
/// `span-creation-simple`, on an Apple M4 Pro).
const SDK_SAMPLED_NS: f64 = 203.67;

/// A span never sampled, in nanoseconds, in the same benchmark.
const SDK_UNSAMPLED_NS: f64 = 51.316;

/// One row: a benchmark of the group, what it runs, and the figure
/// published elsewhere for the same span (empty where there is none).
struct Case {
    name: &'static str,
    what: &'static str,
    published: &'static str,
}

static CASES: [Case; 10] = [
    Case {
        name: "no_subscriber",
        what: "no subscriber wants it: the call site disabled",
        published: "a few ns ¹",
    },
    Case {
        name: BASELINE,
        what: "a registry, no layer: the span stored, read by nobody",
        published: "",
    },
    Case {
        name: "console_layer",
        what: "registry + console log layer (to a sink)",
        published: "",
    },
    Case {
        name: "json_layer",
        what: "registry + JSON log layer with the current span (to a sink)",
        published: "",
    },
    Case {
        name: "otel_noop_exporter",
        what: "registry + OpenTelemetry layer, batched to a no-op exporter",
        published: "",
    },
    Case {
        name: "otel_otlp_loopback",
        what: "the services' subscriber, exporting over OTLP/HTTP on loopback",
        published: "",
    },
    Case {
        name: "otel_sdk_span",
        what: "the OpenTelemetry SDK's own span, no tracing",
        published: "204 ns ²",
    },
    Case {
        name: "otel_sdk_span_sampled_out",
        what: "the SDK's own span, sampled out (parent-based, ratio 0)",
        published: "51 ns ²",
    },
    Case {
        name: "otel_sampled_out",
        what: "registry + OpenTelemetry layer, sampled out (parent-based, ratio 0): a trace's root",
        published: "",
    },
    Case {
        name: "otel_sampled_out_child",
        what: "registry + OpenTelemetry layer, sampled out: a child in that trace, which the layer never sees",
        published: "",
    },
];

/// The criterion id of a case.
fn id(case: &Case) -> String {
    format!("{GROUP}/{}", case.name)
}

/// Writes the table to `out` from the estimates criterion left under
/// `target_dir`. A case without estimates is an error that names it, and
/// then nothing is written: the table keeps its last complete figures.
pub fn write(target_dir: &Path, out: &Path, measured: &Measured) -> anyhow::Result<()> {
    let table = render(target_dir, measured)?;
    if let Some(dir) = out.parent() {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(out, table).with_context(|| format!("cannot write {}", out.display()))
}

/// The table's Markdown, from the estimates under `target_dir`.
pub fn render(target_dir: &Path, measured: &Measured) -> anyhow::Result<String> {
    let mut rows = Vec::with_capacity(CASES.len());
    let mut missing = Vec::new();
    for case in &CASES {
        match estimates::mean(target_dir, &id(case)) {
            Some(mean) => rows.push((case, mean)),
            None => missing.push(id(case)),
        }
    }
    if !missing.is_empty() {
        bail!(
            "no criterion estimates for {} (looked for {})",
            missing.join(", "),
            estimates::file(target_dir, &format!("{GROUP}/<case>")).display()
        );
    }
    let ns_of = |name: &str| {
        rows.iter()
            .find(|(case, _)| case.name == name)
            .map_or(f64::NAN, |(_, mean)| mean.ns)
    };
    let baseline = ns_of(BASELINE);
    // The anchor holds what a slide shows, short enough to fit one: the
    // table by case name, its caption and its sources. What each case runs,
    // and the published figures in full, follow it.
    let mut lines = vec![
        "<!-- Written by `just bench` from its span_cost benchmarks: run it again rather than edit. -->".to_owned(),
        String::new(),
        "# What one span costs".to_owned(),
        String::new(),
        "<!-- ANCHOR: span_costs -->".to_owned(),
        format!(
            "One span, under each subscriber in turn: `just bench`, {} (UTC), {}, {} logical cores. \
             Published figures come from other machines: compare ratios, not ns.",
            measured.date, measured.cpu, measured.cores
        ),
        String::new(),
        "| case | mean | 95 % CI | × registry | published |".to_owned(),
        "|---|--:|--:|--:|--:|".to_owned(),
    ];
    lines.extend(
        rows.iter()
            .map(|(case, mean)| row(case, mean, mean.ns / baseline)),
    );
    lines.extend([
        String::new(),
        "¹ tokio-rs/tracing#326 · ² `opentelemetry-sdk/benches/span.rs`".to_owned(),
        "<!-- ANCHOR_END: span_costs -->".to_owned(),
        String::new(),
        "Each case times `info_span!(\"pass\", n)` around a 16-step loop body, in one process:"
            .to_owned(),
        String::new(),
    ]);
    lines.extend(
        CASES
            .iter()
            .map(|case| format!("- `{}`: {}", case.name, case.what)),
    );
    lines.extend([
        String::new(),
        format!(
            "¹ tracing (tokio-rs/tracing#326): about 2 ns to skip a span where no \
             subscriber was ever set, 5 ns through the call site's cached interest. \
             ² The OpenTelemetry Rust SDK's own benchmark \
             (`opentelemetry-sdk/benches/span.rs`, span-creation-simple, Apple M4 Pro): \
             {SDK_SAMPLED_NS} ns a sampled span with five attributes, {SDK_UNSAMPLED_NS} ns \
             one never sampled. Its unsampled span over its sampled one: {} there, {} here.",
            ratio(SDK_UNSAMPLED_NS / SDK_SAMPLED_NS),
            ratio(ns_of("otel_sdk_span_sampled_out") / ns_of("otel_sdk_span")),
        ),
    ]);
    Ok(lines.join("\n") + "\n")
}

/// A case's row: its name, its mean and interval, its ratio to the
/// baseline, and the published figure.
fn row(case: &Case, mean: &Mean, to_baseline: f64) -> String {
    format!(
        "| `{}` | {} ns | {}–{} | {} | {} |",
        case.name,
        number(mean.ns),
        number(mean.lower_ns),
        number(mean.upper_ns),
        ratio(to_baseline),
        case.published
    )
}

/// A ratio, with three decimals where two would round a small one away.
fn ratio(value: f64) -> String {
    if value < 0.1 {
        format!("{value:.3}")
    } else {
        number(value)
    }
}
