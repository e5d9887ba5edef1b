//! A scenario: the collector and the shop started as `just demo` starts
//! them (the demo's library: its port check, its build, its supervision),
//! on ports of the caller's choice, with exactly the given problems
//! planted; the demo's load driven at it; the services' spans waited for;
//! everything stopped as the demo stops it.
//!
//! The drill runs one ([`crate::run`]), on the workshop's usual ports,
//! until Ctrl-C; the detective's tests run one per problem, on ports of
//! their own, for a few seconds each.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::Context;
use collector_client::{Client, OTLP_PORT, UI_PORT};
use demo::port_check;
use demo::{Collector, DEFAULT_BASE_PORT, SERVICES, ServiceVar, Shop};
use loadgen::{Impatience, Load, Report};
use shop::Problem;
use shop::problems::Planted;

use crate::evidence::PENDING;

/// Rows of history the inventory's audit log starts with: enough that a
/// statement that scans it shows.
const AUDIT_HISTORY: &str = "200000";

/// One order in ten is given up, after 50 to 400 ms (the drill's median
/// is about 130), as customers do: what happens to the work then is one
/// of the things a drill can find.
const IMPATIENCE: Impatience = Impatience {
    share: 0.1,
    after_at_least: Duration::from_millis(50),
    after_at_most: Duration::from_millis(400),
};

/// Long enough for the inventory to write its audit log's history.
const HEALTHY_WITHIN: Duration = Duration::from_secs(60);

/// How long a service's count of spans pending must stay put to be
/// settled: three times the batch processor's one-second delay, so that
/// spans still queued have had their export, and what stays is what a
/// full queue dropped.
const SETTLED_FOR: Duration = Duration::from_secs(3);

/// How often the pending counts are read again while settling.
const POLL: Duration = Duration::from_millis(100);

/// How long one query of the collector may take: an answer of a few
/// hundred traces is megabytes of JSON.
const QUERY_WITHIN: Duration = Duration::from_secs(30);

/// Where a scenario listens.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ports {
    /// The gateway's; the other services' follow it (see [`SERVICES`]).
    pub base: u16,
    /// The collector's UI and query API.
    pub collector_ui: u16,
    /// The collector's OTLP/HTTP.
    pub collector_otlp: u16,
}

impl Ports {
    /// The workshop's usual ports, the drill's.
    pub const USUAL: Ports = Ports {
        base: DEFAULT_BASE_PORT,
        collector_ui: UI_PORT,
        collector_otlp: OTLP_PORT,
    };
}

/// The collector and the shop, running, with problems planted.
pub struct Scenario {
    pub collector: Collector,
    pub shop: Shop,
    pub ports: Ports,
}

impl Scenario {
    /// The collector (unless one already answers on `ports`) and the shop,
    /// healthy, with exactly `problems` planted, once every port they need
    /// is known to be free. The binaries are built first, as the demo
    /// builds them (quick when up to date), and run from `bin_dir`, the
    /// build's folder for this program's profile; each program writes its
    /// log in `logs`. Where `demo::parent_death::init` ran (the drill), a
    /// child dies with the thread that started it: poll this on a thread
    /// that lives as long as the scenario.
    pub async fn start(
        problems: &[Problem],
        ports: Ports,
        bin_dir: &Path,
        logs: &Path,
    ) -> anyhow::Result<Self> {
        let running_collector =
            Collector::running_at(ports.collector_otlp, ports.collector_ui).await;
        let mut needs = port_check::shop_ports(ports.base, "stop what holds it");
        if running_collector.is_none() {
            needs.extend(port_check::collector_ports(
                ports.collector_ui,
                ports.collector_otlp,
                "stop what holds it, or run `just collector` there",
            ));
        }
        port_check::ensure_free(&needs)?;

        demo::build_binaries(&demo::workspace_root(), cfg!(not(debug_assertions)))?;
        let collector = match running_collector {
            Some(collector) => collector,
            None => {
                let (otlp, ui) = (ports.collector_otlp, ports.collector_ui);
                Collector::start_at(bin_dir, logs, otlp, ui).await?
            }
        };
        let mut env = demo::service_env(&collector);
        env.push(("PLANTED", Planted::of(problems).to_string()));
        let mut shop = Shop::start(bin_dir, ports.base, &env, &service_env(problems), logs)
            .context("cannot start the shop")?;
        shop.wait_healthy(HEALTHY_WITHIN).await?;
        Ok(Self {
            collector,
            shop,
            ports,
        })
    }

    /// Each service's name and port.
    pub fn services(&self) -> Vec<(&'static str, u16)> {
        SERVICES
            .iter()
            .map(|(name, offset)| (*name, self.ports.base + offset))
            .collect()
    }

    /// The query API of the scenario's collector.
    pub fn collector_client(&self) -> Client {
        Client::on_port(self.ports.collector_ui).with_timeout(QUERY_WITHIN)
    }

    /// The demo's load, `customers` at once, for `duration` or until
    /// `stop` completes.
    pub async fn load(
        &self,
        customers: usize,
        duration: Duration,
        stop: impl Future<Output = ()>,
    ) -> Report {
        let load = Load {
            target: self.shop.gateway_url(),
            concurrency: customers,
            duration,
            max_requests: None,
            progress: false,
            impatience: Some(IMPATIENCE),
        };
        loadgen::run(&load, stop).await
    }

    /// Waits, once the load has stopped, until every service has exported
    /// what it handed to its exporter: its count of spans pending reads 0,
    /// or stays put for [`SETTLED_FOR`] (spans a full queue dropped never
    /// leave that count, so [`Shop::wait_until_exported`] would wait for
    /// them in vain). At `within`, the services still moving, with their
    /// counts.
    pub async fn settle(&self, within: Duration) -> Result<(), Vec<String>> {
        // A service that hangs must not hold the wait past its deadline.
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(2))
            .build()
            .map_err(|err| vec![format!("no HTTP client: {err}")])?;
        let deadline = Instant::now() + within;
        let mut last_change: BTreeMap<&str, (Option<u64>, Instant)> = BTreeMap::new();
        loop {
            let mut moving = Vec::new();
            for (name, port) in self.services() {
                let pending = demo::metric_sum(&client, port, PENDING)
                    .await
                    .map(|spans| spans as u64);
                let now = Instant::now();
                let (seen, since) = last_change.entry(name).or_insert((pending, now));
                if *seen != pending {
                    *seen = pending;
                    *since = now;
                }
                let settled = pending == Some(0)
                    || (pending.is_some() && now.duration_since(*since) >= SETTLED_FOR);
                if !settled {
                    moving.push(match pending {
                        Some(spans) => format!("{name}: {spans} spans pending"),
                        None => format!("{name}: no answer from /metrics"),
                    });
                }
            }
            if moving.is_empty() {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(moving);
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// Stops the shop as the demo does (each service drains its requests
    /// and flushes its spans), then the collector if the scenario started
    /// it; what went wrong, if anything did.
    pub fn stop(self) -> Vec<String> {
        let mut problems = self.shop.stop(demo::stop_grace());
        problems.extend(self.collector.stop());
        problems
    }
}

/// What single services are started with: the surroundings of the
/// problems that live there, and the inventory's audit history.
fn service_env(problems: &[Problem]) -> Vec<ServiceVar> {
    let mut vars: Vec<ServiceVar> = problems
        .iter()
        .filter_map(|problem| problem.environment())
        .map(|(service, name, value)| ServiceVar {
            service,
            name,
            value: value.to_owned(),
        })
        .collect();
    vars.push(ServiceVar {
        service: "inventory",
        name: "AUDIT_HISTORY",
        value: AUDIT_HISTORY.to_owned(),
    });
    vars
}
