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

use demo::{COLLECTOR_OTLP, Collector, Shop};
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
                ("OTEL_EXPORTER_OTLP_ENDPOINT", COLLECTOR_OTLP),
            ],
        ),
    ]
}

pub struct Settings {
    pub rounds: usize,
    pub seconds: u64,
    pub concurrency: usize,
    /// Far from the demo's ports, so a running demo does not interfere.
    pub base_port: u16,
}

/// Median requests per second of each mode, in [`modes`] order.
pub async fn compare(
    bin_dir: &Path,
    log_dir: &Path,
    settings: &Settings,
) -> anyhow::Result<Vec<(&'static str, f64)>> {
    let modes = modes();
    let mut samples: Vec<Vec<f64>> = vec![Vec::new(); modes.len()];
    for round in 1..=settings.rounds {
        for (i, mode) in modes.iter().enumerate() {
            let throughput = measure(bin_dir, log_dir, mode, settings).await?;
            println!(
                "  round {round}/{}: {:<8} {throughput:>8.0} requests/s",
                settings.rounds, mode.name
            );
            samples[i].push(throughput);
        }
    }
    Ok(modes
        .iter()
        .zip(samples)
        .map(|(mode, mut values)| {
            values.sort_by(f64::total_cmp);
            (mode.name, values[values.len() / 2])
        })
        .collect())
}

async fn measure(
    bin_dir: &Path,
    log_dir: &Path,
    mode: &Mode,
    settings: &Settings,
) -> anyhow::Result<f64> {
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
    let mut shop = Shop::start(bin_dir, settings.base_port, &env, &log_dir.join(mode.name))?;
    shop.wait_healthy(Duration::from_secs(15)).await?;
    let load = |seconds| Load {
        target: shop.gateway_url(),
        concurrency: settings.concurrency,
        duration: Duration::from_secs(seconds),
        max_requests: None,
        progress: false,
    };
    // Warm up: connection pools, allocator, caches.
    loadgen::run(&load(1), std::future::pending()).await;
    let report = loadgen::run(&load(settings.seconds), std::future::pending()).await;
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
    Ok(report.throughput)
}
