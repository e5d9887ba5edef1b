//! The gateway's throughput with each kind of telemetry, side by side.
//!
//! The shop runs as real processes, once per mode, and the load generator
//! measures throughput against it; modes take turns round after round, so
//! that whatever else the machine does affects all of them alike, and each
//! figure is a median. What is reported is a ratio to the same shop with
//! telemetry off: absolute numbers say more about the machine than about
//! the code.

use std::path::Path;
use std::time::Duration;

use collector_client::{OTLP_PORT, loopback};
use demo::{Collector, Shop};
use loadgen::Load;

/// A telemetry configuration of the services, as environment variables.
pub struct Mode {
    pub name: &'static str,
    pub env: Vec<(&'static str, String)>,
}

pub fn modes() -> Vec<Mode> {
    let mode = |name, vars: &[(&'static str, &str)]| Mode {
        name,
        env: vars.iter().map(|(k, v)| (*k, (*v).to_owned())).collect(),
    };
    let collector_otlp = loopback(OTLP_PORT);
    vec![
        mode(
            "off",
            &[("RUST_LOG", "off"), ("OTEL_TRACES_EXPORTER", "none")],
        ),
        mode(
            "console",
            &[
                ("RUST_LOG", "info"),
                ("LOG_FORMAT", "console"),
                ("OTEL_TRACES_EXPORTER", "none"),
            ],
        ),
        mode(
            "json",
            &[
                ("RUST_LOG", "info"),
                ("LOG_FORMAT", "json"),
                ("OTEL_TRACES_EXPORTER", "none"),
            ],
        ),
        mode(
            "otlp",
            &[
                ("RUST_LOG", "info"),
                ("LOG_FORMAT", "off"),
                ("OTEL_TRACES_EXPORTER", "otlp"),
                ("OTEL_EXPORTER_OTLP_ENDPOINT", collector_otlp.as_str()),
            ],
        ),
        // The same export, with span profiles: what sampling the CPU 100
        // times a second and placing each sample in its span costs.
        mode(
            PROFILED,
            &[
                ("RUST_LOG", "info"),
                ("LOG_FORMAT", "off"),
                ("OTEL_TRACES_EXPORTER", "otlp"),
                ("OTEL_EXPORTER_OTLP_ENDPOINT", collector_otlp.as_str()),
                ("PROFILE", "1"),
            ],
        ),
    ]
}

/// The mode that exports spans and span profiles.
pub const PROFILED: &str = "otlp+profile";

pub struct Settings {
    pub rounds: usize,
    pub seconds: u64,
    pub concurrency: usize,
    /// Far from the demo's ports, so a running demo does not interfere.
    pub base_port: u16,
}

/// What one mode measured (medians over the rounds).
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

/// Each mode's medians, in [`modes`] order.
pub async fn compare(
    bin_dir: &Path,
    log_dir: &Path,
    settings: &Settings,
) -> anyhow::Result<Vec<Measured>> {
    let modes = modes();
    let mut samples: Vec<Vec<Measured>> = vec![Vec::new(); modes.len()];
    for round in 1..=settings.rounds {
        for (i, mode) in modes.iter().enumerate() {
            let measured = measure(bin_dir, log_dir, mode, settings).await?;
            println!(
                "  round {round}/{}: {:<8} {:>8.0} requests/s, services {:>6.0} µs CPU/request, collector {:>5.0}",
                settings.rounds,
                mode.name,
                measured.throughput,
                measured.services_cpu_us,
                measured.collector_cpu_us
            );
            samples[i].push(measured);
        }
    }
    let median = |values: &mut Vec<f64>| {
        values.sort_by(f64::total_cmp);
        values[values.len() / 2]
    };
    Ok(modes
        .iter()
        .zip(samples)
        .map(|(mode, rounds)| Measured {
            name: mode.name,
            throughput: median(&mut rounds.iter().map(|m| m.throughput).collect()),
            services_cpu_us: median(&mut rounds.iter().map(|m| m.services_cpu_us).collect()),
            collector_cpu_us: median(&mut rounds.iter().map(|m| m.collector_cpu_us).collect()),
        })
        .collect())
}

async fn measure(
    bin_dir: &Path,
    log_dir: &Path,
    mode: &Mode,
    settings: &Settings,
) -> anyhow::Result<Measured> {
    let mut env = mode.env.clone();
    // The planted problems fixed and the payment processor reliable: what
    // is measured is the cost of telemetry, not of the demo's traps.
    env.extend([
        ("FIX_ALL", "true".to_owned()),
        ("SEATS_PER_TALK", "100000000".to_owned()),
        ("PROCESSOR_CAPACITY", "1024".to_owned()),
        ("FAILURE_RATE", "0".to_owned()),
    ]);
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
