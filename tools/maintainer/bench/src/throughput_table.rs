//! The throughput table, [`FILE`]: each mode's throughput and CPU per
//! request over `off`, paired within rounds, with their spread, and the
//! medians the ratios come from. `just bench` prints it after the
//! throughput comparison and writes it; a slide or a closing note quotes it
//! from between its anchors rather than copy figures by hand.

use std::path::Path;

use anyhow::Context;

use crate::headlines::number;
use crate::machine;
use crate::spread::{RESAMPLES, Spread, plus_or_minus};
use crate::throughput::Comparison;

/// Where the table is written, from the workspace's root.
pub const FILE: &str = "slides/measured/throughput.md";

/// The table on the terminal, with the verdict on stability under it.
pub fn print(comparison: &Comparison) {
    println!();
    print_row([
        "ratio (over off)",
        "throughput [IQR] ±95 %",
        "range",
        "CPU/request [IQR] ±95 %",
        "range",
        "rounds",
    ]);
    for ratios in &comparison.ratios {
        print_row([
            &ratios.label(),
            &cell(&ratios.throughput),
            &range(&ratios.throughput),
            &cell(&ratios.services_cpu),
            &range(&ratios.services_cpu),
            &ratios.throughput.rounds.to_string(),
        ]);
    }
    println!("  {}", comparison.verdict());
}

/// One line of the terminal's table, in columns.
fn print_row(cells: [&str; 6]) {
    let [label, throughput, its_range, cpu, cpu_range, rounds] = cells;
    println!("  {label:<20} {throughput:<24} {its_range:<11} {cpu:<24} {cpu_range:<11} {rounds}");
}

/// Writes the table to `out`, as measured on `machine`.
pub fn write(
    out: &Path,
    comparison: &Comparison,
    machine: &machine::Measured,
) -> anyhow::Result<()> {
    if let Some(dir) = out.parent() {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(out, render(comparison, machine))
        .with_context(|| format!("cannot write {}", out.display()))
}

/// The table's Markdown. The anchor holds what a slide shows: the ratios,
/// with the day, the machine and the verdict on stability; how they were
/// measured, and the medians they come from, follow it.
pub fn render(comparison: &Comparison, machine: &machine::Measured) -> String {
    let mut lines = vec![
        "<!-- Written by `just bench` from its gateway throughput comparison: run it again rather than edit. -->".to_owned(),
        String::new(),
        "# The shop's throughput with each kind of telemetry".to_owned(),
        String::new(),
        "<!-- ANCHOR: throughput -->".to_owned(),
        format!(
            "Each mode over `off`, measured in the same rounds: `just bench`, {} (UTC), {}, {} logical cores; {}.",
            machine.date,
            machine.cpu,
            machine.cores,
            comparison.verdict()
        ),
        String::new(),
        "| mode | throughput, median [IQR] ±95 % | range | CPU per request, median [IQR] ±95 % | range | rounds |".to_owned(),
        "|---|--:|--:|--:|--:|--:|".to_owned(),
    ];
    lines.extend(comparison.ratios.iter().map(|ratios| {
        format!(
            "| `{}` | {} | {} | {} | {} | {} |",
            ratios.label(),
            cell(&ratios.throughput),
            range(&ratios.throughput),
            cell(&ratios.services_cpu),
            range(&ratios.services_cpu),
            ratios.throughput.rounds
        )
    }));
    lines.extend([
        "<!-- ANCHOR_END: throughput -->".to_owned(),
        String::new(),
        format!(
            "Each round starts the shop once per mode, `off` included, in an order shuffled \
             afresh (seed {}), and divides each mode's requests per second at the gateway, and \
             the five services' CPU time per request, by the same round's `off` (span profiles: \
             by the same round's `otlp`). A figure is the median of those ratios over the \
             rounds; [IQR] is where the middle half of the rounds lie, the range where all of \
             them do, and ± half the width of a 95 % interval of the median, from the rounds \
             resampled {} times.",
            comparison.seed,
            number(RESAMPLES as f64)
        ),
        String::new(),
        "The medians of each mode's own figures, over the same rounds:".to_owned(),
        String::new(),
        "| mode | requests/s | services' µs CPU per request | collector's µs CPU per request |"
            .to_owned(),
        "|---|--:|--:|--:|".to_owned(),
    ]);
    lines.extend(comparison.medians.iter().map(|medians| {
        let collector = if medians.collector_cpu_us > 0.0 {
            number(medians.collector_cpu_us)
        } else {
            // The mode exports nothing: there is no collector to measure.
            "–".to_owned()
        };
        format!(
            "| `{}` | {} | {} | {collector} |",
            medians.name,
            number(medians.throughput),
            number(medians.services_cpu_us)
        )
    }));
    lines.join("\n") + "\n"
}

/// A ratio as the table shows it: `0.88 [0.86–0.91] ±0.02`.
fn cell(spread: &Spread) -> String {
    format!(
        "{:.2} [{:.2}–{:.2}] {}",
        spread.median,
        spread.lower_quartile,
        spread.upper_quartile,
        plus_or_minus(spread.half_width)
    )
}

/// A ratio's extremes over the rounds: `0.84–0.93`.
fn range(spread: &Spread) -> String {
    format!("{:.2}–{:.2}", spread.min, spread.max)
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::throughput::{Measured, OFF, OTLP, PROFILED, Ratios};

    /// A ratio of `median`, its rounds spread a little more above it than
    /// below.
    fn spread(median: f64) -> Spread {
        Spread {
            median,
            lower_quartile: median - 0.02,
            upper_quartile: median + 0.03,
            min: median - 0.04,
            max: median + 0.05,
            half_width: 0.005,
            rounds: 7,
        }
    }

    fn comparison() -> Comparison {
        let medians = |name, throughput, services_cpu_us, collector_cpu_us| Measured {
            name,
            throughput,
            services_cpu_us,
            collector_cpu_us,
        };
        Comparison {
            seed: 7,
            rounds: 7,
            medians: vec![
                medians(OFF, 4_210.0, 512.0, 0.0),
                medians(OTLP, 3_700.0, 574.0, 61.5),
            ],
            ratios: vec![
                Ratios {
                    mode: OTLP,
                    baseline: OFF,
                    throughput: spread(0.88),
                    services_cpu: spread(1.12),
                },
                Ratios {
                    mode: PROFILED,
                    baseline: OTLP,
                    throughput: spread(0.99),
                    services_cpu: spread(1.01),
                },
            ],
            stable_within: Some(0.02),
        }
    }

    #[test]
    fn each_pair_has_its_row_with_its_spread() {
        let machine = machine::Measured {
            date: "2030-01-02".to_owned(),
            cpu: "Test CPU 9000".to_owned(),
            cores: 4,
        };
        let table = render(&comparison(), &machine);
        let lines: Vec<&str> = table.lines().collect();
        assert!(lines.contains(&"<!-- ANCHOR: throughput -->"), "{table}");
        assert!(
            lines.contains(&"<!-- ANCHOR_END: throughput -->"),
            "{table}"
        );
        assert!(
            table.contains(
                "`just bench`, 2030-01-02 (UTC), Test CPU 9000, 4 logical cores; \
                 stable after 7 rounds: every median within ±0.02."
            ),
            "{table}"
        );
        assert!(
            lines.contains(
                &"| `otlp` | 0.88 [0.86–0.91] ±0.005 | 0.84–0.93 | 1.12 [1.10–1.15] ±0.005 | 1.08–1.17 | 7 |"
            ),
            "{table}"
        );
        assert!(
            lines
                .iter()
                .any(|line| line.starts_with("| `otlp+profile / otlp` | 0.99 ")),
            "{table}"
        );
        assert!(lines.contains(&"| `off` | 4,210 | 512.0 | – |"), "{table}");
        assert!(
            lines.contains(&"| `otlp` | 3,700 | 574.0 | 61.5 |"),
            "{table}"
        );
    }

    #[test]
    fn a_ratio_too_wide_is_named_in_the_verdict() {
        let mut comparison = comparison();
        comparison.rounds = 15;
        comparison.ratios[0].throughput.half_width = 0.04;
        assert_eq!(
            comparison.verdict(),
            "not stable after 15 rounds: otlp throughput ±0.04"
        );
        comparison.stable_within = None;
        assert!(comparison.unsteady().is_empty());
    }
}
