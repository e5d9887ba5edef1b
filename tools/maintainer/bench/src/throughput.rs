//! The gateway's throughput with each kind of telemetry, side by side.
//!
//! The shop runs as real processes, once per mode, and the load generator
//! measures throughput against it. What is reported is a ratio to the same
//! shop with telemetry off: absolute numbers say more about the machine
//! than about the code. The ratios are paired: every round measures every
//! mode, `off` included, in an order shuffled afresh, and divides each
//! mode's figures by that round's `off`. Whatever drifts during a run (a
//! machine warming up, another program starting) then weighs on a mode and
//! its baseline alike, and on no mode more than another for its place in
//! the round. A ratio reported is the median of its rounds; rounds go on
//! until every such median is stable ([`Settings::stable_within`]) or a cap
//! is reached. The statistics are [`crate::spread`]'s.

use std::path::Path;
use std::time::Duration;

use collector_client::{OTLP_PORT, loopback};
use demo::{Collector, Shop};
use loadgen::Load;

use crate::spread::{self, Spread, plus_or_minus};

/// A telemetry configuration of the services, as environment variables.
pub struct Mode {
    pub name: &'static str,
    pub env: Vec<(&'static str, String)>,
}

/// The baseline: no log line, no span exported.
pub const OFF: &str = "off";
/// Log lines for a terminal.
pub const CONSOLE: &str = "console";
/// Log lines as JSON, each with its span.
pub const JSON: &str = "json";
/// Every span exported over OTLP, no log line.
pub const OTLP: &str = "otlp";
/// The same export, of one trace in ten, as decided where each trace starts.
pub const HEAD_SAMPLED: &str = "otlp-head-10%";
/// The same export as [`OTLP`], with span profiles.
pub const PROFILED: &str = "otlp+profile";
/// Asked for by name only: the spans made, none exported nor logged.
pub const SPANS_ONLY: &str = "spans";
/// Asked for by name only: every trace dropped where it starts, which
/// prices a trace head sampling drops.
pub const HEAD_NONE: &str = "otlp-head-0%";

/// The modes named (`off` always, and first), from [`modes`] and the two
/// asked for by name only; every one of [`modes`] when none is named.
pub fn chosen(names: &[String]) -> anyhow::Result<Vec<Mode>> {
    if names.is_empty() {
        return Ok(modes());
    }
    let mut all = modes();
    all.extend(by_name_only());
    if let Some(unknown) = names
        .iter()
        .find(|name| !all.iter().any(|mode| mode.name == name.as_str()))
    {
        let known: Vec<&str> = all.iter().map(|mode| mode.name).collect();
        anyhow::bail!("no mode {unknown:?}: the modes are {}", known.join(", "));
    }
    Ok(all
        .into_iter()
        .filter(|mode| mode.name == OFF || names.iter().any(|name| name == mode.name))
        .collect())
}

/// A mode of these variables, with `base`'s before them.
fn mode(
    name: &'static str,
    base: &[(&'static str, String)],
    vars: &[(&'static str, &str)],
) -> Mode {
    let mut env = base.to_vec();
    env.extend(vars.iter().map(|(k, v)| (*k, (*v).to_owned())));
    Mode { name, env }
}

/// Every span exported over OTLP to the collector, no log line.
fn otlp() -> Vec<(&'static str, String)> {
    vec![
        ("RUST_LOG", "info".to_owned()),
        ("LOG_FORMAT", "off".to_owned()),
        ("OTEL_TRACES_EXPORTER", "otlp".to_owned()),
        ("OTEL_EXPORTER_OTLP_ENDPOINT", loopback(OTLP_PORT)),
    ]
}

/// The modes compared, `off` first.
pub fn modes() -> Vec<Mode> {
    let otlp = otlp();
    vec![
        mode(
            OFF,
            &[],
            &[("RUST_LOG", "off"), ("OTEL_TRACES_EXPORTER", "none")],
        ),
        mode(
            CONSOLE,
            &[],
            &[
                ("RUST_LOG", "info"),
                ("LOG_FORMAT", "console"),
                ("OTEL_TRACES_EXPORTER", "none"),
            ],
        ),
        mode(
            JSON,
            &[],
            &[
                ("RUST_LOG", "info"),
                ("LOG_FORMAT", "json"),
                ("OTEL_TRACES_EXPORTER", "none"),
            ],
        ),
        mode(OTLP, &otlp, &[]),
        // Head sampling as the services' SDK does it, from its standard
        // variables (the telemetry crate leaves the sampler to them): a
        // trace is kept or dropped where it starts, and every service
        // follows its caller's decision. Below a dropped trace's first
        // span in a service, OpenTelemetry sees nothing
        // (`telemetry::sampling`); `tracing` still makes every span.
        mode(
            HEAD_SAMPLED,
            &otlp,
            &[
                ("OTEL_TRACES_SAMPLER", "parentbased_traceidratio"),
                ("OTEL_TRACES_SAMPLER_ARG", "0.1"),
            ],
        ),
        // The same export, with span profiles: what sampling the CPU 100
        // times a second and placing each sample in its span costs.
        mode(PROFILED, &otlp, &[("PROFILE", "1")]),
    ]
}

/// The modes measured only when named (`just bench --modes …`): they
/// explain the others' figures, and have no goal of their own.
fn by_name_only() -> Vec<Mode> {
    vec![
        // Every span made and handed to OpenTelemetry, which, with no
        // exporter, keeps none: what the log modes pay before a line.
        mode(
            SPANS_ONLY,
            &[],
            &[
                ("RUST_LOG", "info"),
                ("LOG_FORMAT", "off"),
                ("OTEL_TRACES_EXPORTER", "none"),
            ],
        ),
        // The floor of head sampling: what a trace it drops still costs.
        mode(
            HEAD_NONE,
            &otlp(),
            &[
                ("OTEL_TRACES_SAMPLER", "parentbased_traceidratio"),
                ("OTEL_TRACES_SAMPLER_ARG", "0"),
            ],
        ),
    ]
}

/// The ratios reported, as (mode, baseline): every mode over `off`, and
/// span profiles over the same export without them.
pub fn pairs(modes: &[Mode]) -> Vec<(&'static str, &'static str)> {
    let measured = |name: &str| modes.iter().any(|mode| mode.name == name);
    let mut pairs: Vec<_> = modes
        .iter()
        .map(|mode| mode.name)
        .filter(|name| *name != OFF)
        .map(|name| (name, OFF))
        .collect();
    if measured(PROFILED) && measured(OTLP) {
        pairs.push((PROFILED, OTLP));
    }
    pairs
}

pub struct Settings {
    /// Rounds measured before the ratios are judged stable or not.
    pub min_rounds: usize,
    /// Rounds after which the comparison ends, stable or not.
    pub max_rounds: usize,
    /// The half-width of a ratio's 95 % interval (see [`Spread`]) at or
    /// under which its median counts as stable: two runs in a row then
    /// agree within about twice that. `None` judges nothing, and stops at
    /// `max_rounds`.
    pub stable_within: Option<f64>,
    /// Seeds the order of the modes in each round, and the resampling of
    /// the rounds: the same seed repeats both.
    pub seed: u64,
    pub seconds: u64,
    pub concurrency: usize,
    /// Far from the demo's ports, so a running demo does not interfere.
    pub base_port: u16,
}

/// What one mode measured in one round, or its medians over the rounds.
#[derive(Clone, Copy, Debug)]
pub struct Measured {
    pub name: &'static str,
    pub throughput: f64,
    /// The five services' CPU time per request, in microseconds: what the
    /// telemetry costs the shop itself, whatever the collector and the
    /// load generator take of the same two cores.
    pub services_cpu_us: f64,
    /// The collector's CPU time per request, in microseconds (0 when the
    /// mode exports nothing).
    pub collector_cpu_us: f64,
}

/// A mode's figures over its baseline's, each ratio taken within a round.
#[derive(Clone, Copy, Debug)]
pub struct Ratios {
    pub mode: &'static str,
    pub baseline: &'static str,
    /// The gateway's requests per second over the baseline's.
    pub throughput: Spread,
    /// The services' CPU time per request over the baseline's.
    pub services_cpu: Spread,
}

impl Ratios {
    /// How the pair is named in a table (see [`label`]).
    pub fn label(&self) -> String {
        label(self.mode, self.baseline)
    }
}

/// How a pair is named: `otlp` against `off`, which most are against, or
/// `otlp+profile / otlp`.
pub fn label(mode: &str, baseline: &str) -> String {
    match baseline {
        OFF => mode.to_owned(),
        baseline => format!("{mode} / {baseline}"),
    }
}

/// The comparison: the ratios over every round, and each mode's medians.
#[derive(Clone, Debug)]
pub struct Comparison {
    /// The seed the rounds were shuffled and resampled with.
    pub seed: u64,
    pub rounds: usize,
    /// Each mode's medians of its own figures, in [`modes`] order.
    pub medians: Vec<Measured>,
    /// In [`pairs`] order.
    pub ratios: Vec<Ratios>,
    /// The stability asked for ([`Settings::stable_within`]).
    pub stable_within: Option<f64>,
}

impl Comparison {
    /// The figures whose median is not yet stable, each with its
    /// half-width (`otlp throughput ±0.04`); none when stability was not
    /// asked for.
    pub fn unsteady(&self) -> Vec<String> {
        let Some(within) = self.stable_within else {
            return Vec::new();
        };
        let mut unsteady = Vec::new();
        for ratios in &self.ratios {
            let figures = [
                ("throughput", ratios.throughput),
                ("CPU", ratios.services_cpu),
            ];
            for (figure, spread) in figures {
                // A NaN half-width (a round without the figure) settles
                // nothing: it compares false.
                let settled = spread.half_width <= within;
                if !settled {
                    unsteady.push(format!(
                        "{} {figure} {}",
                        ratios.label(),
                        plus_or_minus(spread.half_width)
                    ));
                }
            }
        }
        unsteady
    }

    /// Whether the figures can be trusted to repeat, in a sentence.
    pub fn verdict(&self) -> String {
        match self.stable_within {
            None => format!(
                "{} rounds, too few to judge whether the ratios would repeat",
                self.rounds
            ),
            Some(within) => {
                let unsteady = self.unsteady();
                if unsteady.is_empty() {
                    format!(
                        "stable after {} rounds: every median within {}",
                        self.rounds,
                        plus_or_minus(within)
                    )
                } else {
                    format!(
                        "not stable after {} rounds: {}",
                        self.rounds,
                        unsteady.join(", ")
                    )
                }
            }
        }
    }

    /// The medians of `mode`, if it was measured.
    pub fn medians_of(&self, mode: &str) -> Option<&Measured> {
        self.medians.iter().find(|measured| measured.name == mode)
    }
}

/// Rounds of every mode until the ratios are stable or `max_rounds` is
/// reached, printing each measurement and each round's ratios.
pub async fn compare(
    bin_dir: &Path,
    log_dir: &Path,
    modes: &[Mode],
    settings: &Settings,
) -> anyhow::Result<Comparison> {
    let pairs = pairs(modes);
    println!(
        "  modes in a new order each round, shuffled with seed {} (`--seed {}` repeats it)",
        settings.seed, settings.seed
    );
    let mut order = fastrand::Rng::with_seed(settings.seed);
    let mut rounds: Vec<Vec<Measured>> = Vec::new();
    loop {
        let round = rounds.len() + 1;
        let mut turns: Vec<&Mode> = modes.iter().collect();
        order.shuffle(&mut turns);
        let mut measured = Vec::with_capacity(turns.len());
        for mode in turns {
            let figures = measure(bin_dir, log_dir, mode, settings).await?;
            println!(
                "  round {round}: {:<13} {:>8.0} requests/s, services {:>6.0} µs CPU/request, collector {:>5.0}",
                mode.name, figures.throughput, figures.services_cpu_us, figures.collector_cpu_us
            );
            measured.push(figures);
        }
        print_ratios(round, &pairs, &measured);
        rounds.push(measured);
        let comparison = summary(modes, &pairs, &rounds, settings);
        let judged = rounds.len() >= settings.min_rounds;
        let unsteady = comparison.unsteady();
        if rounds.len() >= settings.max_rounds
            || (judged && settings.stable_within.is_some() && unsteady.is_empty())
        {
            return Ok(comparison);
        }
        if judged && settings.stable_within.is_some() {
            println!(
                "  after {round} rounds, not yet stable: {}",
                unsteady.join(", ")
            );
        }
    }
}

/// One round's ratios, on two lines: throughput, then CPU per request.
fn print_ratios(round: usize, pairs: &[(&'static str, &'static str)], measured: &[Measured]) {
    let line = |figure: fn(&Measured) -> f64| {
        pairs
            .iter()
            .map(|&(mode, baseline)| {
                format!(
                    "{} {:.2}",
                    label(mode, baseline),
                    ratio_in(measured, mode, baseline, figure)
                )
            })
            .collect::<Vec<_>>()
            .join(", ")
    };
    println!(
        "  round {round}, throughput over off: {}",
        line(|m: &Measured| m.throughput)
    );
    println!(
        "  round {round}, CPU per request over off: {}",
        line(|m: &Measured| m.services_cpu_us)
    );
}

/// `mode`'s `figure` in one round (NaN if it was not measured).
fn figure_in(round: &[Measured], mode: &str, figure: fn(&Measured) -> f64) -> f64 {
    round
        .iter()
        .find(|measured| measured.name == mode)
        .map_or(f64::NAN, figure)
}

/// `mode`'s `figure` over `baseline`'s, both from the same round.
fn ratio_in(round: &[Measured], mode: &str, baseline: &str, figure: fn(&Measured) -> f64) -> f64 {
    figure_in(round, mode, figure) / figure_in(round, baseline, figure)
}

/// `figure` of each round, in the order they ran.
fn per_round(rounds: &[Vec<Measured>], figure: impl Fn(&[Measured]) -> f64) -> Vec<f64> {
    rounds
        .iter()
        .map(|round| figure(round.as_slice()))
        .collect()
}

/// The comparison so far: each pair's ratios round by round, summed up,
/// and each mode's medians.
fn summary(
    modes: &[Mode],
    pairs: &[(&'static str, &'static str)],
    rounds: &[Vec<Measured>],
    settings: &Settings,
) -> Comparison {
    let spread_of = |mode: &str, baseline: &str, figure: fn(&Measured) -> f64| {
        let ratios = per_round(rounds, |round: &[Measured]| {
            ratio_in(round, mode, baseline, figure)
        });
        Spread::of(&ratios, settings.seed)
    };
    let ratios: Vec<Ratios> = pairs
        .iter()
        .map(|&(mode, baseline)| Ratios {
            mode,
            baseline,
            throughput: spread_of(mode, baseline, |m: &Measured| m.throughput),
            services_cpu: spread_of(mode, baseline, |m: &Measured| m.services_cpu_us),
        })
        .collect();
    let median_of = |mode: &str, figure: fn(&Measured) -> f64| {
        spread::median(&per_round(rounds, |round: &[Measured]| {
            figure_in(round, mode, figure)
        }))
    };
    let medians: Vec<Measured> = modes
        .iter()
        .map(|mode| Measured {
            name: mode.name,
            throughput: median_of(mode.name, |m: &Measured| m.throughput),
            services_cpu_us: median_of(mode.name, |m: &Measured| m.services_cpu_us),
            collector_cpu_us: median_of(mode.name, |m: &Measured| m.collector_cpu_us),
        })
        .collect();
    Comparison {
        seed: settings.seed,
        rounds: rounds.len(),
        medians,
        ratios,
        stable_within: settings.stable_within,
    }
}

/// One run of the shop in `mode`, started afresh: its throughput and its
/// CPU per request under the load generator.
async fn measure(
    bin_dir: &Path,
    log_dir: &Path,
    mode: &Mode,
    settings: &Settings,
) -> anyhow::Result<Measured> {
    // The shop fully fixed and the payment processor reliable: what is
    // measured is the cost of telemetry, not of the demo's traps.
    // `FIX_ALL` fixes every problem a switch plants, the ones planted only
    // when `PLANTED` names them included (the shop's `Fixes::is_planted`
    // asks it first). The two that live in a service's surroundings rather
    // than its code are set to their fixed values as well, since the
    // services inherit this process's environment: no clock skew, and the
    // telemetry crate's own span queue (65,536 spans) rather than one small
    // enough to drop spans. So is the sampler, to the SDK's default of
    // keeping every trace: one left in the shell would sample `otlp` too.
    let mut env = vec![
        ("FIX_ALL", "true".to_owned()),
        ("CLOCK_SKEW_MS", "0".to_owned()),
        ("OTEL_BSP_MAX_QUEUE_SIZE", "65536".to_owned()),
        ("OTEL_TRACES_SAMPLER", "parentbased_always_on".to_owned()),
        ("SEATS_PER_TALK", "100000000".to_owned()),
        ("PROCESSOR_CAPACITY", "1024".to_owned()),
        ("FAILURE_RATE", "0".to_owned()),
    ];
    // After them, so that a mode's own settings (its sampler) win.
    env.extend(mode.env.iter().cloned());
    // A fresh collector for each run that exports: one that had kept every
    // earlier run's spans would be slower than the one a service meets.
    let exports = mode
        .env
        .iter()
        .any(|(k, v)| *k == "OTEL_TRACES_EXPORTER" && v == "otlp");
    let collector = match exports {
        true => Some(Collector::start_or_reuse(bin_dir, log_dir).await?),
        false => None,
    };
    let mut shop = Shop::start(
        bin_dir,
        settings.base_port,
        &env,
        &[],
        &log_dir.join(mode.name),
    )?;
    shop.wait_healthy(Duration::from_secs(15)).await?;
    let load = |seconds| Load {
        target: shop.gateway_url(),
        concurrency: settings.concurrency,
        duration: Duration::from_secs(seconds),
        max_requests: None,
        progress: false,
        impatience: None,
        open_loop: None,
    };
    // Warm up: connection pools, allocator, caches.
    loadgen::run(&load(1), std::future::pending()).await;
    let cpu_before = (
        shop.cpu_time()?,
        collector.as_ref().and_then(Collector::cpu_time),
    );
    let report = loadgen::run(&load(settings.seconds), std::future::pending()).await;
    let cpu_after = (
        shop.cpu_time()?,
        collector.as_ref().and_then(Collector::cpu_time),
    );
    let per_request = |used: Duration| used.as_secs_f64() * 1e6 / report.requests.max(1) as f64;
    let services_cpu_us = per_request(cpu_after.0.saturating_sub(cpu_before.0));
    let collector_cpu_us = match (cpu_before.1, cpu_after.1) {
        (Some(before), Some(after)) => per_request(after.saturating_sub(before)),
        _ => 0.0,
    };
    let mut problems = shop.stop(Duration::from_secs(10));
    problems.extend(collector.and_then(Collector::stop));
    if let Some(problem) = problems.first() {
        anyhow::bail!("{problem}");
    }
    if report.errors > 0 {
        anyhow::bail!(
            "{} errors under load in mode {}: {:?}",
            report.errors,
            mode.name,
            report.statuses
        );
    }
    Ok(Measured {
        name: mode.name,
        throughput: report.throughput,
        services_cpu_us,
        collector_cpu_us,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(modes: &[Mode]) -> Vec<&'static str> {
        modes.iter().map(|mode| mode.name).collect()
    }

    #[test]
    fn no_name_chooses_the_default_modes_and_a_name_chooses_it_beside_off() {
        let all = chosen(&[]).expect("the default");
        assert_eq!(names(&all), names(&modes()));
        let floor = chosen(&[HEAD_NONE.to_owned(), OTLP.to_owned()]).expect("known names");
        assert_eq!(names(&floor), [OFF, OTLP, HEAD_NONE]);
        assert_eq!(pairs(&floor), [(OTLP, OFF), (HEAD_NONE, OFF)]);
    }

    #[test]
    fn an_unknown_mode_is_refused_with_the_known_ones() {
        let refused = chosen(&["otlp-head-5%".to_owned()])
            .err()
            .expect("refused")
            .to_string();
        assert!(
            refused.contains("otlp-head-5%") && refused.contains(HEAD_NONE),
            "{refused}"
        );
    }

    #[test]
    fn span_profiles_are_set_beside_the_export_only_when_both_run() {
        assert!(pairs(&modes()).contains(&(PROFILED, OTLP)));
        let alone = chosen(&[PROFILED.to_owned()]).expect("known");
        assert_eq!(pairs(&alone), [(PROFILED, OFF)]);
    }

    #[test]
    fn the_floor_of_head_sampling_drops_every_trace_and_exports_over_otlp() {
        let floor = chosen(&[HEAD_NONE.to_owned()]).expect("known");
        let env = &floor[1].env;
        let value = |key: &str| {
            env.iter()
                .rev()
                .find(|(k, _)| *k == key)
                .map(|(_, v)| v.as_str())
        };
        assert_eq!(value("OTEL_TRACES_SAMPLER_ARG"), Some("0"));
        assert_eq!(value("OTEL_TRACES_EXPORTER"), Some("otlp"));
    }
}
