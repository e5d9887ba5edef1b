//! Running the shop and the collector as real processes, the way the demo
//! and the benchmarks need them: each service its own binary on its own
//! port, configured by the environment, stopped with SIGTERM so that it
//! drains its requests and flushes its spans, and then heard on whether it
//! did ([`flush`]). A program counts as started only when it answers from
//! its own process (not whatever else holds its port); in the demo, every
//! program it starts dies with it.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

pub mod flush;
pub mod parent_death;
pub mod port_check;
pub mod port_owner;
mod process;
pub mod prometheus;
pub mod red;
pub mod stop_signal;
pub mod tail_sampling;

use collector_client::{Client, OTLP_PORT, UI_PORT, loopback, routes};
use telemetry::export::PENDING_METRIC;

use crate::flush::ServiceStop;
pub use crate::process::Ended;
use crate::process::Process;

/// The services, in the order they start: the gateway last, once the
/// services it calls are up. Ports are offsets from a base port.
pub const SERVICES: [(&str, u16); 5] = [
    ("catalog", 1),
    ("inventory", 2),
    ("pricing", 3),
    ("payments", 4),
    ("gateway", 0),
];

/// The gateway's port in the workshop's usual layout.
pub const DEFAULT_BASE_PORT: u16 = 8080;

/// The workshop's root, three folders above this crate
/// (`tools/instructor/demo`).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../..")
}

/// Where the shop's binaries are: beside this program's own.
pub fn bin_dir() -> std::io::Result<PathBuf> {
    let exe = std::env::current_exe()?;
    Ok(exe.parent().map(Path::to_path_buf).unwrap_or_default())
}

/// Builds the services' and the collector's binaries (quick when they are
/// up to date) in the profile this program was built in, so that they sit
/// beside it and the demo never runs stale code.
pub fn build_binaries(root: &Path, release: bool) -> Result<(), StartError> {
    let mut packages: Vec<&str> = SERVICES.iter().map(|(name, _)| *name).collect();
    packages.push("collector");
    cargo_build(root, release, &packages, |command| {
        command.arg("--quiet");
    })
}

/// `cargo build --locked` of `packages` in `root`, as `configure` adjusts it.
fn cargo_build(
    root: &Path,
    release: bool,
    packages: &[&str],
    configure: impl FnOnce(&mut Command),
) -> Result<(), StartError> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut command = Command::new(cargo);
    command.current_dir(root).args(["build", "--locked"]);
    if release {
        command.arg("--release");
    }
    for package in packages {
        command.args(["-p", package]);
    }
    configure(&mut command);
    let status = command.status().map_err(StartError::Cargo)?;
    if status.success() {
        Ok(())
    } else {
        Err(StartError::Build)
    }
}

/// Where a service serves tokio-console (with the `console` build): this
/// port plus the service's offset, so that the gateway is on tokio-console's
/// default, 6669.
pub const CONSOLE_BASE_PORT: u16 = 6669;

/// Builds the services for tokio-console: with the telemetry crate's
/// `console` feature and `--cfg tokio_unstable` (which tokio's task
/// instrumentation needs), in a target folder of their own,
/// `target/console`, so that the usual build (the labs' too) is never
/// rebuilt for it. Returns the folder the binaries are in.
pub fn build_console_binaries(root: &Path, release: bool) -> Result<PathBuf, StartError> {
    let target = root.join("target/console");
    let services: Vec<&str> = SERVICES.iter().map(|(name, _)| *name).collect();
    // Not quiet: the first build takes minutes, and cargo's progress says so.
    cargo_build(root, release, &services, |command| {
        command
            .env("CARGO_TARGET_DIR", &target)
            .env("RUSTFLAGS", "--cfg tokio_unstable")
            .args(["--features", "telemetry/console"]);
    })?;
    Ok(target.join(if release { "release" } else { "debug" }))
}

/// Why the shop or the collector could not be started.
#[derive(Debug)]
pub enum StartError {
    /// cargo could not be run at all.
    Cargo(std::io::Error),
    /// cargo ran and the build failed; it said why on the terminal.
    Build,
    /// A program could not be started, or its log could not be written.
    Spawn(std::io::Error),
    /// A program exited while starting: what its log said last.
    Exited {
        name: &'static str,
        status: std::process::ExitStatus,
        log: PathBuf,
        last_lines: Vec<String>,
    },
    /// A program did not answer its health check in time.
    NoAnswer { name: &'static str, url: String },
    /// A program's port answered, but from another process, which holds
    /// it: never the program this demo started.
    NotOurs {
        name: &'static str,
        port: u16,
        holder: String,
    },
}

impl std::fmt::Display for StartError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StartError::Cargo(_) => write!(f, "cannot run cargo"),
            StartError::Build => write!(f, "building the services failed (see above)"),
            StartError::Spawn(_) => write!(f, "cannot start a program"),
            StartError::Exited {
                name,
                status,
                log,
                last_lines,
            } => {
                write!(
                    f,
                    "{name} exited at start ({status}); the end of {}:",
                    log.display()
                )?;
                for line in last_lines {
                    write!(f, "\n    {line}")?;
                }
                Ok(())
            }
            StartError::NoAnswer { name, url } => {
                write!(f, "{name} did not answer {url} in time")
            }
            StartError::NotOurs { name, port, holder } => write!(
                f,
                "port {port} answers for {name}, but from {holder}, not from the {name} this demo started"
            ),
        }
    }
}

impl std::error::Error for StartError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            StartError::Cargo(err) | StartError::Spawn(err) => Some(err),
            _ => None,
        }
    }
}

/// The CPU time a process has used so far, user and system, all its
/// threads: fields 14 and 15 of `/proc/PID/stat`, in clock ticks.
fn cpu_time(pid: u32) -> std::io::Result<Duration> {
    // Linux reports these in USER_HZ, which is 100 on every architecture
    // it runs on (it is part of the kernel's ABI, whatever the kernel's own
    // tick rate).
    const TICKS_PER_SECOND: u64 = 100;
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // The command name (field 2) may hold spaces: count from after it.
    let after_name = stat.rsplit_once(") ").map_or("", |(_, rest)| rest);
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    let field = |n: usize| fields.get(n - 3).and_then(|f| f.parse::<u64>().ok());
    match (field(14), field(15)) {
        (Some(user), Some(system)) => Ok(Duration::from_millis(
            (user + system) * 1000 / TICKS_PER_SECOND,
        )),
        _ => Err(std::io::Error::other(format!(
            "/proc/{pid}/stat has no CPU times"
        ))),
    }
}

/// How long a service has to drain its requests when stopped.
const DRAIN: Duration = Duration::from_secs(10);

/// How long each service has to stop: to drain its requests, then to flush
/// its spans, which with a collector that does not answer takes the
/// export's whole timeout (40 s, unless `OTEL_EXPORTER_OTLP_TIMEOUT` says
/// otherwise: the services read their starter's own environment).
pub fn stop_grace() -> Duration {
    let export_timeout = telemetry::export::export_timeout_from_env()
        .unwrap_or(telemetry::export::DEFAULT_EXPORT_TIMEOUT);
    DRAIN + telemetry::export::flush_budget(export_timeout)
}

/// What every service of a run under load is told, beside its starter's
/// own environment: its log level, its collector, and seats enough that a
/// long run does not sell out every talk.
pub fn service_env(collector: &Collector) -> Vec<(&'static str, String)> {
    vec![
        ("RUST_LOG", "info".to_owned()),
        ("SEATS_PER_TALK", "1000000".to_owned()),
        (
            "OTEL_EXPORTER_OTLP_ENDPOINT",
            collector.otlp_url().to_owned(),
        ),
    ]
}

/// A variable one service alone is started with, beside those every
/// service is: how a problem that lives in one machine's surroundings (its
/// clock, its span queue) is planted in that service only.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServiceVar {
    /// The service's name, as in [`SERVICES`].
    pub service: &'static str,
    pub name: &'static str,
    pub value: String,
}

/// The shop's services, running.
pub struct Shop {
    processes: Vec<Process>,
    base_port: u16,
}

impl Shop {
    /// Starts every service with `env` added to this process's environment,
    /// and each with those of `service_env` that name it, each writing its
    /// logs to `log_dir/NAME.log`.
    pub fn start(
        bin_dir: &Path,
        base_port: u16,
        env: &[(&str, String)],
        service_env: &[ServiceVar],
        log_dir: &Path,
    ) -> std::io::Result<Self> {
        std::fs::create_dir_all(log_dir)?;
        let url = |offset: u16| format!("http://127.0.0.1:{}", base_port + offset);
        let mut processes = Vec::new();
        for (name, offset) in SERVICES {
            let log = log_dir.join(format!("{name}.log"));
            let process = Process::spawn(name, &bin_dir.join(name), &log, |command| {
                command
                    // The services' own files (their SQLite databases under
                    // `target/demo/`) land in the workspace's target folder,
                    // wherever the demo was started from.
                    .current_dir(workspace_root())
                    .env("LISTEN", format!("127.0.0.1:{}", base_port + offset))
                    .env("CATALOG_URL", url(1))
                    .env("INVENTORY_URL", url(2))
                    .env("PRICING_URL", url(3))
                    .env("PAYMENTS_URL", url(4))
                    // Read only by a service built for tokio-console.
                    .env(
                        "TOKIO_CONSOLE_BIND",
                        format!("127.0.0.1:{}", CONSOLE_BASE_PORT + offset),
                    )
                    .envs(env.iter().map(|(k, v)| (*k, v)))
                    .envs(
                        service_env
                            .iter()
                            .filter(|var| var.service == name)
                            .map(|var| (var.name, &var.value)),
                    );
            })?;
            processes.push(process);
        }
        Ok(Self {
            processes,
            base_port,
        })
    }

    /// The CPU time the services have used so far, all five together:
    /// the shop's own cost, without the collector's or a load generator's.
    pub fn cpu_time(&self) -> std::io::Result<Duration> {
        self.processes.iter().map(|p| cpu_time(p.id())).sum()
    }

    pub fn gateway_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.base_port)
    }

    /// Waits until every service has exported each span it handed to its
    /// exporter (its [`telemetry::export::PENDING_METRIC`] reads 0): then
    /// the collector holds every span of what the services did so far. At
    /// `timeout`, the services still waiting, with their counts (spans a
    /// full queue dropped never leave that count).
    pub async fn wait_until_exported(&self, timeout: Duration) -> Result<(), Vec<String>> {
        let deadline = Instant::now() + timeout;
        // A service that hangs must not hold the wait past its deadline.
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(2))
            .build()
            .map_err(|err| vec![format!("no HTTP client: {err}")])?;
        loop {
            let mut waiting = Vec::new();
            for (name, offset) in SERVICES {
                let pending = metric_sum(&client, self.base_port + offset, PENDING_METRIC).await;
                match pending.map(|spans| spans as u64) {
                    Some(0) => {}
                    Some(spans) => waiting.push(format!("{name}: {spans} spans")),
                    None => waiting.push(format!("{name}: no answer from /metrics")),
                }
            }
            if waiting.is_empty() {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(waiting);
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Waits until every service answers `/health` itself (not some other
    /// program on its port), or says which did not, or which died and why.
    pub async fn wait_healthy(&mut self, timeout: Duration) -> Result<(), StartError> {
        let client = reqwest::Client::new();
        let deadline = Instant::now() + timeout;
        for process in &mut self.processes {
            let offset = SERVICES
                .iter()
                .find(|(n, _)| *n == process.name)
                .map_or(0, |(_, o)| *o);
            process
                .wait_healthy(&client, self.base_port + offset, "/health", deadline)
                .await?;
        }
        // The first may have died while the last were checked.
        self.processes
            .iter_mut()
            .try_for_each(Process::fail_if_exited)
    }

    /// Stops the gateway first, so that it takes no new request while the
    /// others still answer its calls, then the rest together: each drains
    /// its requests and flushes its spans on its own, so their `grace`s
    /// overlap. Returns how each ended, with the flush report it wrote at
    /// shutdown, if it wrote one.
    pub fn stop_and_confirm(mut self, grace: Duration) -> Vec<ServiceStop> {
        let (mut first, mut rest): (Vec<Process>, Vec<Process>) =
            self.processes.drain(..).partition(|p| p.name == "gateway");
        let mut stops: Vec<ServiceStop> = first
            .iter_mut()
            .map(|process| {
                let ended = process.stop(grace);
                ServiceStop::read(process.name, ended, process.log())
            })
            .collect();
        let asked: Vec<Option<Ended>> = rest.iter_mut().map(Process::ask_to_stop).collect();
        let deadline = Instant::now() + grace;
        for (process, asked) in rest.iter_mut().zip(asked) {
            let ended = asked.unwrap_or_else(|| process.wait_until_stopped(deadline, grace));
            stops.push(ServiceStop::read(process.name, ended, process.log()));
        }
        stops
    }

    /// [`Shop::stop_and_confirm`], and what went wrong, if anything did:
    /// a service that exited non-zero (one that lost spans does), was
    /// killed, or had already ended.
    pub fn stop(self, grace: Duration) -> Vec<String> {
        self.stop_and_confirm(grace)
            .iter()
            .filter_map(|stop| process::problem(stop.name, &stop.ended))
            .collect()
    }
}

/// What `GET /metrics` says at `base_url` (a service's, or the
/// collector's query port), read through `client`; `None` if it does not
/// answer, or not in OpenMetrics text.
pub async fn scrape(client: &reqwest::Client, base_url: &str) -> Option<openmetrics::Exposition> {
    let url = format!("{base_url}{}", routes::METRICS);
    let text = client.get(url).send().await.ok()?.text().await.ok()?;
    openmetrics::parse(&text).ok()
}

/// The sum of metric `name`'s series in the `GET /metrics` of the service
/// on `port` (itself never traced, so that asking adds nothing); `None` if
/// it does not answer through `client` or names no such series.
pub async fn metric_sum(client: &reqwest::Client, port: u16, name: &str) -> Option<f64> {
    let exposition = scrape(client, &loopback(port)).await?;
    let mut series = exposition
        .samples
        .iter()
        .filter(|sample| sample.name == name)
        .peekable();
    series.peek()?;
    Some(series.map(|sample| sample.value).sum())
}

/// The workshop's collector: one this program started, or one that was
/// already running (`just collector` in another terminal), left as it was.
pub struct Collector {
    process: Option<Process>,
    ui_url: String,
    otlp_url: String,
}

impl Collector {
    /// The collector on its usual ports: the one already running there, or
    /// a new one.
    pub async fn start_or_reuse(bin_dir: &Path, log_dir: &Path) -> Result<Self, StartError> {
        match Self::running_at(OTLP_PORT, UI_PORT).await {
            Some(running) => Ok(running),
            None => Self::start_at(bin_dir, log_dir, OTLP_PORT, UI_PORT).await,
        }
    }

    /// The collector (or Jaeger) already answering queries on `ui_port`,
    /// taken to take OTLP on `otlp_port`, if one answers: used as it is.
    pub async fn running_at(otlp_port: u16, ui_port: u16) -> Option<Self> {
        // Whatever holds the port may take the connection and never
        // answer: that is no collector.
        let answers = Client::on_port(ui_port)
            .answers(Duration::from_secs(2))
            .await;
        answers.then(|| Self {
            process: None,
            ui_url: loopback(ui_port),
            otlp_url: loopback(otlp_port),
        })
    }

    /// A new collector of this program's own, taking OTLP on `otlp_port`
    /// and answering queries on `ui_port` (both on loopback).
    pub async fn start_at(
        bin_dir: &Path,
        log_dir: &Path,
        otlp_port: u16,
        ui_port: u16,
    ) -> Result<Self, StartError> {
        Self::start_with(bin_dir, log_dir, otlp_port, ui_port, &[]).await
    }

    /// A new collector as [`Collector::start_at`] starts one, run with
    /// `args` besides (`--tail-sampling`).
    pub async fn start_with(
        bin_dir: &Path,
        log_dir: &Path,
        otlp_port: u16,
        ui_port: u16,
        args: &[&str],
    ) -> Result<Self, StartError> {
        std::fs::create_dir_all(log_dir).map_err(StartError::Spawn)?;
        let log = log_dir.join("collector.log");
        let mut process =
            Process::spawn("collector", &bin_dir.join("collector"), &log, |command| {
                command
                    .args(args)
                    .env("OTLP_LISTEN", format!("127.0.0.1:{otlp_port}"))
                    .env("UI_LISTEN", format!("127.0.0.1:{ui_port}"));
            })
            .map_err(StartError::Spawn)?;
        process
            .wait_healthy(
                &reqwest::Client::new(),
                ui_port,
                routes::SERVICES,
                Instant::now() + Duration::from_secs(10),
            )
            .await?;
        Ok(Self {
            process: Some(process),
            ui_url: loopback(ui_port),
            otlp_url: loopback(otlp_port),
        })
    }

    /// Where its UI and query API answer.
    pub fn ui_url(&self) -> &str {
        &self.ui_url
    }

    /// Where it takes OTLP/HTTP: the services' `OTEL_EXPORTER_OTLP_ENDPOINT`.
    pub fn otlp_url(&self) -> &str {
        &self.otlp_url
    }

    /// The CPU time it has used so far, if this program started it.
    pub fn cpu_time(&self) -> Option<Duration> {
        self.process.as_ref().and_then(|p| cpu_time(p.id()).ok())
    }

    /// Whether this program started it (and so will stop it).
    pub fn is_ours(&self) -> bool {
        self.process.is_some()
    }

    pub fn stop(mut self) -> Option<String> {
        self.process
            .as_mut()
            .and_then(|p| p.terminate(Duration::from_secs(5)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_time_grows_with_work_this_process_does() {
        let before = cpu_time(std::process::id()).expect("this process's CPU time");
        // Work until the clock ticks past a few of the kernel's accounting
        // ticks: no assumption about how fast the machine is.
        let mut spins = 0u64;
        while cpu_time(std::process::id()).unwrap() < before + Duration::from_millis(30) {
            spins = std::hint::black_box(spins + 1);
        }
        assert!(spins > 0);
        assert!(cpu_time(u32::MAX).is_err(), "no such process");
    }
}
