//! Running the shop as real processes, the way the demo and the benchmarks
//! need it: each service its own binary on its own port, configured by the
//! environment, stopped with SIGTERM so that it drains and flushes its spans.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

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

/// The workshop's root, two folders above this crate.
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Builds the services' binaries (quick when they are up to date), in the
/// profile this program was built in, so that they sit beside it and the
/// demo never runs stale code.
pub fn build_services(root: &Path, release: bool) -> Result<(), String> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut command = Command::new(cargo);
    command
        .current_dir(root)
        .args(["build", "--quiet", "--locked"]);
    if release {
        command.arg("--release");
    }
    for (name, _) in SERVICES {
        command.args(["-p", name]);
    }
    let status = command
        .status()
        .map_err(|err| format!("cannot run cargo: {err}"))?;
    if status.success() {
        Ok(())
    } else {
        Err("building the services failed (see above)".to_owned())
    }
}

/// Where the shop's binaries are: beside this program's own.
pub fn bin_dir() -> std::io::Result<PathBuf> {
    let exe = std::env::current_exe()?;
    Ok(exe.parent().map(Path::to_path_buf).unwrap_or_default())
}

/// The shop's services, running.
pub struct Shop {
    children: Vec<(&'static str, Child)>,
    base_port: u16,
}

impl Shop {
    /// Starts every service with `env` added to this process's environment,
    /// each writing its logs to `log_dir/NAME.log`.
    pub fn start(
        bin_dir: &Path,
        base_port: u16,
        env: &[(&str, String)],
        log_dir: &Path,
    ) -> std::io::Result<Self> {
        std::fs::create_dir_all(log_dir)?;
        let url = |offset: u16| format!("http://127.0.0.1:{}", base_port + offset);
        let mut shop = Self {
            children: Vec::new(),
            base_port,
        };
        for (name, offset) in SERVICES {
            let log = std::fs::File::create(log_dir.join(format!("{name}.log")))?;
            let child = Command::new(bin_dir.join(name))
                .env("LISTEN", format!("127.0.0.1:{}", base_port + offset))
                .env("CATALOG_URL", url(1))
                .env("INVENTORY_URL", url(2))
                .env("PRICING_URL", url(3))
                .env("PAYMENTS_URL", url(4))
                .envs(env.iter().map(|(k, v)| (*k, v)))
                .stdin(Stdio::null())
                .stdout(log.try_clone()?)
                .stderr(log)
                .spawn()
                .map_err(|err| {
                    std::io::Error::new(err.kind(), format!("cannot start {name}: {err}"))
                })?;
            shop.children.push((name, child));
        }
        Ok(shop)
    }

    pub fn gateway_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.base_port)
    }

    /// Waits until every service answers `/health`, or says which did not.
    pub async fn wait_healthy(&mut self, timeout: Duration) -> Result<(), String> {
        let client = reqwest::Client::new();
        let deadline = Instant::now() + timeout;
        for (name, offset) in SERVICES {
            let url = format!("http://127.0.0.1:{}/health", self.base_port + offset);
            loop {
                if let Some((_, child)) = self.children.iter_mut().find(|(n, _)| *n == name)
                    && let Ok(Some(status)) = child.try_wait()
                {
                    return Err(format!("{name} exited at start ({status}); see its log"));
                }
                if client
                    .get(&url)
                    .send()
                    .await
                    .is_ok_and(|r| r.status().is_success())
                {
                    break;
                }
                if Instant::now() > deadline {
                    return Err(format!(
                        "{name} did not answer {url} within {} s (is the port taken?)",
                        timeout.as_secs()
                    ));
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
        Ok(())
    }

    /// SIGTERM to every service, the gateway first so that it stops taking
    /// requests while the others still answer its calls; then waits up to
    /// `grace` for each to drain and flush, and kills what is left.
    pub fn stop(mut self, grace: Duration) -> Vec<String> {
        self.stop_all(grace)
    }

    fn stop_all(&mut self, grace: Duration) -> Vec<String> {
        let mut problems = Vec::new();
        self.children.sort_by_key(|(name, _)| *name != "gateway");
        for (name, child) in &mut self.children {
            if let Ok(Some(_)) = child.try_wait() {
                continue;
            }
            let pid = Pid::from_raw(i32::try_from(child.id()).unwrap_or(i32::MAX));
            let _ = kill(pid, Signal::SIGTERM);
            let deadline = Instant::now() + grace;
            loop {
                match child.try_wait() {
                    Ok(Some(status)) => {
                        // 130 and 143: exited because of the signal we sent.
                        if !status.success() && !matches!(status.code(), Some(130 | 143) | None) {
                            problems.push(format!("{name} exited with {status}"));
                        }
                        break;
                    }
                    Ok(None) if Instant::now() < deadline => {
                        std::thread::sleep(Duration::from_millis(20))
                    }
                    _ => {
                        let _ = child.kill();
                        let _ = child.wait();
                        problems.push(format!(
                            "{name} did not stop within {} s and was killed",
                            grace.as_secs()
                        ));
                        break;
                    }
                }
            }
        }
        self.children.clear();
        problems
    }
}

impl Drop for Shop {
    /// Never leave services running behind, whatever happened.
    fn drop(&mut self) {
        self.stop_all(Duration::from_secs(5));
    }
}
