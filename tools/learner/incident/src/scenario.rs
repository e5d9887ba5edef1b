//! A scenario: the collector and the shop started as `just demo` starts
//! them (the demo's library: its port check, its build, its supervision),
//! on ports of the caller's choice, with exactly the given problems
//! planted; the demo's load driven at it; the services' spans waited for;
//! everything stopped as the demo stops it.
//!
//! The drill runs one ([`crate::run`]), on the workshop's usual ports,
//! until Ctrl-C; a room runs one per learner ([`crate::room`]), each on
//! ports and databases of its own, its binaries built once for all; a
//! fix's measure runs one per run, each on databases of its own
//! ([`crate::measure`]); the detective's tests run one per problem, on
//! ports of their own, for a few seconds each.

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
use tokio::task::JoinHandle;

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
pub const HEALTHY_WITHIN: Duration = Duration::from_secs(60);

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

/// Where a scenario's programs come from and keep their files.
#[derive(Clone, Copy, Debug)]
pub struct Surroundings<'a> {
    /// The build's folder for this program's profile, where the binaries
    /// are.
    pub bin_dir: &'a Path,
    /// Where each program writes its log.
    pub logs: &'a Path,
    /// The absolute folder where the catalog and the inventory keep their
    /// databases; `None`: the shop's usual files, under `target/demo/`.
    /// Shops that run side by side each need their own: SQLite lets one
    /// writer at a time, and one shop's history would be another's.
    pub databases: Option<&'a Path>,
    /// How long the services have to answer their health checks.
    pub healthy_within: Duration,
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
        let running_collector = Self::collector_or_free_ports(ports).await?;
        demo::build_binaries(&demo::workspace_root(), cfg!(not(debug_assertions)))?;
        let surroundings = Surroundings {
            bin_dir,
            logs,
            databases: None,
            healthy_within: HEALTHY_WITHIN,
        };
        Self::launch(problems, ports, running_collector, &surroundings).await
    }

    /// [`Scenario::start`] with the binaries already built (a room builds
    /// them once for every learner's shop), in `surroundings`.
    pub async fn start_built(
        problems: &[Problem],
        ports: Ports,
        surroundings: &Surroundings<'_>,
    ) -> anyhow::Result<Self> {
        let running_collector = Self::collector_or_free_ports(ports).await?;
        Self::launch(problems, ports, running_collector, surroundings).await
    }

    /// The collector already answering on `ports`, if one does; an error,
    /// before anything starts, unless every other port is free.
    async fn collector_or_free_ports(ports: Ports) -> anyhow::Result<Option<Collector>> {
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
        Ok(running_collector)
    }

    /// The collector (`running_collector`, or a new one) and the shop,
    /// started from built binaries and waited for.
    async fn launch(
        problems: &[Problem],
        ports: Ports,
        running_collector: Option<Collector>,
        surroundings: &Surroundings<'_>,
    ) -> anyhow::Result<Self> {
        let Surroundings {
            bin_dir,
            logs,
            databases,
            healthy_within,
        } = *surroundings;
        let collector = match running_collector {
            Some(collector) => collector,
            None => {
                let (otlp, ui) = (ports.collector_otlp, ports.collector_ui);
                Collector::start_at(bin_dir, logs, otlp, ui).await?
            }
        };
        let mut env = demo::service_env(&collector);
        env.push(("PLANTED", Planted::of(problems).to_string()));
        let vars = service_env(problems, databases);
        let mut shop =
            Shop::start(bin_dir, ports.base, &env, &vars, logs).context("cannot start the shop")?;
        shop.wait_healthy(healthy_within).await?;
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
        loadgen::run(&self.load_plan(customers, duration), stop).await
    }

    /// [`Scenario::load`] as a task of its own, beside the scenario (a
    /// room's learners each have one); its report once it has stopped.
    pub fn load_in_background(
        &self,
        customers: usize,
        duration: Duration,
        stop: impl Future<Output = ()> + Send + 'static,
    ) -> JoinHandle<Report> {
        let load = self.load_plan(customers, duration);
        tokio::spawn(async move { loadgen::run(&load, stop).await })
    }

    /// The demo's load on this scenario's gateway, with the drill's
    /// impatient customers: what [`Scenario::load`] runs, for a caller
    /// that changes it first.
    pub fn load_plan(&self, customers: usize, duration: Duration) -> Load {
        Load {
            target: self.shop.gateway_url(),
            concurrency: customers,
            duration,
            max_requests: None,
            progress: false,
            impatience: Some(IMPATIENCE),
            open_loop: None,
        }
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
/// problems that live there, the inventory's audit history, and the
/// databases in `databases` when given.
fn service_env(problems: &[Problem], databases: Option<&Path>) -> Vec<ServiceVar> {
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
    if let Some(folder) = databases {
        for service in ["catalog", "inventory"] {
            vars.push(ServiceVar {
                service,
                name: "DATABASE_URL",
                value: format!(
                    "sqlite://{}?mode=rwc",
                    folder.join(format!("{service}.db")).display()
                ),
            });
        }
    }
    vars
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_scenario_with_databases_of_its_own_names_them_to_the_two_services_that_keep_one() {
        let usual = service_env(&[Problem::ClockSkew], None);
        assert!(usual.iter().all(|var| var.name != "DATABASE_URL"));
        assert!(
            usual
                .iter()
                .any(|var| var.service == "payments" && var.name == "CLOCK_SKEW_MS")
        );
        let own = service_env(&[], Some(Path::new("/room/alice")));
        let databases: Vec<(&str, &str)> = own
            .iter()
            .filter(|var| var.name == "DATABASE_URL")
            .map(|var| (var.service, var.value.as_str()))
            .collect();
        assert_eq!(
            databases,
            [
                ("catalog", "sqlite:///room/alice/catalog.db?mode=rwc"),
                ("inventory", "sqlite:///room/alice/inventory.db?mode=rwc")
            ]
        );
    }
}
