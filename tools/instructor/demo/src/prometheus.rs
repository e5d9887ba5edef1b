//! A real Prometheus beside the shop (`just demo --prometheus`): Debian's
//! `prometheus` binary, scraping every service's `GET /metrics` each second
//! with exemplar storage on, so that a latency quantile leads to a trace.
//!
//! Its HTTP API is the one every dashboard uses: [`Prometheus::query`]
//! evaluates PromQL now, [`Prometheus::exemplars`] lists the exemplars of
//! the series a query selects.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, bail};
use serde::Deserialize;

use crate::{Process, SERVICES, StartError};

/// Where the demo's Prometheus answers unless told otherwise.
pub const DEFAULT_PORT: u16 = 9090;

/// The buckets of the gateway's `POST /orders` requests, as PromQL selects
/// them: the series the demo reports on.
pub const ORDERS: &str = r#"http_server_request_duration_seconds_bucket{job="gateway",http_route="/orders",http_request_method="POST"}"#;

/// How often every service is scraped: often, so that a short demo has data.
const SCRAPE_INTERVAL: &str = "1s";

/// The `prometheus` program on the `PATH`, if it is installed.
pub fn find() -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join("prometheus"))
        .find(|candidate| candidate.is_file())
}

/// What to say when it is not.
pub const NOT_INSTALLED: &str = "Prometheus is not installed: `sudo apt-get install prometheus` \
     (Debian, Ubuntu) installs it; `just demo` without `--prometheus` needs none";

/// The scrape configuration: one job per service, named after it, so that
/// `job="gateway"` selects the gateway's series.
pub fn config(base_port: u16) -> String {
    let mut yaml = format!(
        "global:\n  scrape_interval: {SCRAPE_INTERVAL}\n  evaluation_interval: {SCRAPE_INTERVAL}\nscrape_configs:\n"
    );
    for (name, offset) in SERVICES {
        yaml.push_str(&format!(
            "  - job_name: {name}\n    static_configs:\n      - targets: [\"127.0.0.1:{}\"]\n",
            base_port + offset
        ));
    }
    yaml
}

/// A Prometheus this program started, stopped when dropped.
pub struct Prometheus {
    process: Process,
    url: String,
    client: reqwest::Client,
}

impl Prometheus {
    /// Starts `program` on `127.0.0.1:port`, scraping the shop at
    /// `base_port`, with its configuration and data under `dir` (emptied
    /// first: every demo starts from no data), and waits until it is ready.
    pub async fn start(
        program: &Path,
        dir: &Path,
        port: u16,
        base_port: u16,
        log_dir: &Path,
    ) -> Result<Self, StartError> {
        let _ = std::fs::remove_dir_all(dir);
        std::fs::create_dir_all(dir).map_err(StartError::Spawn)?;
        std::fs::create_dir_all(log_dir).map_err(StartError::Spawn)?;
        let config_file = dir.join("prometheus.yml");
        std::fs::write(&config_file, config(base_port)).map_err(StartError::Spawn)?;
        let log = log_dir.join("prometheus.log");
        let mut process = Process::spawn("prometheus", program, &log, |command| {
            command
                .arg(format!("--config.file={}", config_file.display()))
                .arg(format!(
                    "--storage.tsdb.path={}",
                    dir.join("data").display()
                ))
                .arg(format!("--web.listen-address=127.0.0.1:{port}"))
                // Exemplars are kept only with this switch, in Prometheus 2.
                .arg("--enable-feature=exemplar-storage")
                .arg("--storage.tsdb.retention.time=1d");
        })
        .map_err(StartError::Spawn)?;
        let url = format!("http://127.0.0.1:{port}");
        let client = reqwest::Client::new();
        process
            .wait_healthy(
                &client,
                port,
                "/-/ready",
                Instant::now() + Duration::from_secs(30),
            )
            .await?;
        Ok(Self {
            process,
            url,
            client,
        })
    }

    /// Waits until every service has been scraped once: Prometheus hands
    /// new targets to its scrapers only every few seconds, so a load started
    /// before then would be missing from the first samples.
    pub async fn wait_for_first_scrape(&self, timeout: Duration) -> anyhow::Result<()> {
        let deadline = Instant::now() + timeout;
        loop {
            let up = self.query("up == 1").await?;
            if up.len() >= SERVICES.len() {
                return Ok(());
            }
            if Instant::now() > deadline {
                bail!(
                    "Prometheus scraped {} of the {} services in {} s (see its log)",
                    up.len(),
                    SERVICES.len(),
                    timeout.as_secs()
                );
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Its UI and API.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Evaluates an instant PromQL query: each series' labels and value.
    pub async fn query(
        &self,
        promql: &str,
    ) -> anyhow::Result<Vec<(BTreeMap<String, String>, f64)>> {
        #[derive(Deserialize)]
        struct Vector {
            result: Vec<Point>,
        }
        #[derive(Deserialize)]
        struct Point {
            metric: BTreeMap<String, String>,
            value: (f64, String),
        }
        let vector: Vector = self.get("/api/v1/query", &[("query", promql)]).await?;
        Ok(vector
            .result
            .into_iter()
            .filter_map(|point| Some((point.metric, point.value.1.parse().ok()?)))
            .collect())
    }

    /// The exemplars of the series `promql` selects, over the last `window`.
    pub async fn exemplars(&self, promql: &str, window: Duration) -> anyhow::Result<Vec<Exemplar>> {
        #[derive(Deserialize)]
        struct Series {
            exemplars: Vec<Exemplar>,
        }
        let now = SystemTime::now().duration_since(UNIX_EPOCH)?.as_secs_f64();
        let (start, end) = (
            format!("{:.3}", now - window.as_secs_f64()),
            format!("{now:.3}"),
        );
        let series: Vec<Series> = self
            .get(
                "/api/v1/query_exemplars",
                &[("query", promql), ("start", &start), ("end", &end)],
            )
            .await?;
        Ok(series.into_iter().flat_map(|s| s.exemplars).collect())
    }

    /// The p99 of the histogram buckets `selector` selects, over the last
    /// minute, as a dashboard draws it (`histogram_quantile` of their
    /// rates), in seconds; `None` while there are too few scrapes for a rate.
    pub async fn p99(&self, selector: &str) -> anyhow::Result<Option<f64>> {
        let query = format!("histogram_quantile(0.99, sum by (le) (rate({selector}[1m])))");
        let answer = self.query(&query).await?;
        Ok(answer
            .first()
            .map(|(_, value)| *value)
            .filter(|value| value.is_finite()))
    }

    /// The exemplar of the largest observation among those of `selector`
    /// over the last `window`: the trace of its slowest request kept.
    pub async fn slowest_exemplar(
        &self,
        selector: &str,
        window: Duration,
    ) -> anyhow::Result<Option<Exemplar>> {
        let exemplars = self.exemplars(selector, window).await?;
        Ok(exemplars
            .into_iter()
            .max_by(|a, b| a.observed().total_cmp(&b.observed())))
    }

    async fn get<T: for<'de> Deserialize<'de>>(
        &self,
        path: &str,
        params: &[(&str, &str)],
    ) -> anyhow::Result<T> {
        #[derive(Deserialize)]
        struct Answer<T> {
            status: String,
            data: Option<T>,
            error: Option<String>,
        }
        let url = reqwest::Url::parse_with_params(&format!("{}{path}", self.url), params)?;
        let answer: Answer<T> = self
            .client
            .get(url)
            .send()
            .await
            .with_context(|| format!("Prometheus did not answer {path}"))?
            .json()
            .await
            .with_context(|| format!("Prometheus's answer to {path} is not its JSON"))?;
        match (answer.status.as_str(), answer.data) {
            ("success", Some(data)) => Ok(data),
            _ => bail!(
                "Prometheus refused {path}: {}",
                answer.error.unwrap_or(answer.status)
            ),
        }
    }

    /// Stops it; says what went wrong, if anything did.
    pub fn stop(mut self) -> Option<String> {
        self.process.terminate(Duration::from_secs(10))
    }
}

/// One exemplar, as Prometheus's API gives it.
#[derive(Clone, Debug, Deserialize)]
pub struct Exemplar {
    pub labels: BTreeMap<String, String>,
    /// The observation, as text (Prometheus writes numbers as strings).
    pub value: String,
    pub timestamp: f64,
}

impl Exemplar {
    /// The observation it was kept with (0 if Prometheus wrote no number).
    pub fn observed(&self) -> f64 {
        self.value.parse().unwrap_or(0.0)
    }

    /// The trace it names, if it names one.
    pub fn trace_id(&self) -> Option<&str> {
        self.labels.get("trace_id").map(String::as_str)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_configuration_scrapes_every_service_as_its_own_job() {
        let yaml = config(8080);
        assert!(yaml.contains("scrape_interval: 1s"), "{yaml}");
        for (name, offset) in SERVICES {
            assert!(yaml.contains(&format!("job_name: {name}\n")), "{yaml}");
            assert!(
                yaml.contains(&format!("\"127.0.0.1:{}\"", 8080 + offset)),
                "{yaml}"
            );
        }
    }
}
