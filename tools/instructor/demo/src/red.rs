//! The report's RED table: per route of a service, the requests, errors
//! and p99 that its `GET /metrics` gives beside the same figures from its
//! server spans in the collector. Two signals from one instrumentation:
//! the counts must be equal, and the traces' exact p99 must fall in the
//! histogram bucket where the metrics' estimate lies (a histogram knows a
//! duration only to its bucket).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use collector_client::Client;
use openmetrics::{Bucket, Histogram};
use trace_analysis::red::OperationRed;

/// The request histogram every service serves.
pub const REQUEST_HISTOGRAM: &str = "http_server_request_duration_seconds";

/// Routes every service has for the workshop's own use, left out.
const PLUMBING: [&str; 3] = ["/health", "/metrics", "/stats"];

/// One route's figures from the metrics: all its statuses together.
#[derive(Clone, Debug, PartialEq)]
pub struct MetricFigures {
    pub requests: u64,
    pub errors: u64,
    /// The p99 as PromQL's `histogram_quantile` estimates it, in seconds.
    pub p99_s: f64,
    /// The bounds of the bucket that estimate lies in, in seconds.
    pub p99_bucket: (f64, f64),
}

/// Per operation (`METHOD /route`, as the server spans are named), the
/// figures of the request histogram in `text`.
pub fn from_metrics(
    text: &str,
) -> Result<BTreeMap<String, MetricFigures>, openmetrics::ParseError> {
    let exposition = openmetrics::parse(text)?;
    let mut routes: BTreeMap<String, Vec<Histogram>> = BTreeMap::new();
    for histogram in exposition.histograms(REQUEST_HISTOGRAM) {
        let label = |name: &str| histogram.labels.get(name).cloned().unwrap_or_default();
        let (method, route) = (label("http_request_method"), label("http_route"));
        // Paths that matched no route have no operation to compare; the
        // health check and the scrape itself are not the shop's traffic
        // (and the scrapes go on while the report is made).
        if route.is_empty() || PLUMBING.contains(&route.as_str()) {
            continue;
        }
        routes
            .entry(format!("{method} {route}"))
            .or_default()
            .push(histogram);
    }
    Ok(routes
        .into_iter()
        .map(|(operation, series)| (operation, combine(&series)))
        .collect())
}

/// One route's series (one per status) as one histogram.
fn combine(series: &[Histogram]) -> MetricFigures {
    let is_error = |h: &Histogram| {
        h.labels
            .get("http_response_status_code")
            .and_then(|s| s.parse::<u16>().ok())
            .is_some_and(|status| status >= 500)
    };
    let mut buckets: BTreeMap<u64, f64> = BTreeMap::new();
    for histogram in series {
        for bucket in &histogram.buckets {
            *buckets.entry(bucket.le.to_bits()).or_default() += bucket.cumulative_count;
        }
    }
    let mut merged = Histogram {
        labels: Default::default(),
        buckets: buckets
            .into_iter()
            .map(|(le, cumulative_count)| Bucket {
                le: f64::from_bits(le),
                cumulative_count,
                exemplar: None,
            })
            .collect(),
        count: series.iter().map(|h| h.count).sum(),
        sum: series.iter().map(|h| h.sum).sum(),
    };
    merged.buckets.sort_by(|a, b| a.le.total_cmp(&b.le));
    let p99_s = merged.quantile(0.99).unwrap_or(0.0);
    MetricFigures {
        requests: merged.count as u64,
        errors: series
            .iter()
            .filter(|h| is_error(h))
            .map(|h| h.count)
            .sum::<f64>() as u64,
        p99_s,
        p99_bucket: merged.resolution_at(p99_s),
    }
}

/// Per operation, what a service's `/metrics` says.
pub type MetricsByRoute = BTreeMap<String, MetricFigures>;

/// Reads `service`'s `/metrics` (a base URL) until its routes count all
/// `answered` requests, or until `timeout`. A response reaches the client a
/// moment before the server closes its span, and only then is the request
/// counted: so the last requests of a load may need a few more reads. At
/// the timeout, the last figures read and what was missing.
pub async fn scrape_until_counted(
    service: &str,
    answered: u64,
    timeout: Duration,
) -> Result<MetricsByRoute, (MetricsByRoute, String)> {
    let read = async || -> Result<MetricsByRoute, String> {
        let response = reqwest::get(format!("{service}/metrics"))
            .await
            .map_err(|err| err.to_string())?;
        let text = response.text().await.map_err(|err| err.to_string())?;
        from_metrics(&text).map_err(|err| err.to_string())
    };
    let deadline = Instant::now() + timeout;
    loop {
        let (figures, short) = match read().await {
            Ok(figures) => {
                let counted: u64 = figures.values().map(|f| f.requests).sum();
                if counted >= answered {
                    return Ok(figures);
                }
                let why = format!("{counted} of {answered} answered requests counted");
                (figures, why)
            }
            Err(why) => (MetricsByRoute::new(), why),
        };
        if Instant::now() > deadline {
            return Err((figures, short));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The same figures from the traces: the collector's `GET /api/red` for
/// `service`'s server spans that started at or after `since_us`.
pub async fn from_traces(
    collector_ui: &str,
    service: &str,
    since_us: u64,
) -> anyhow::Result<Vec<OperationRed>> {
    Ok(Client::new(collector_ui)?.red(service, since_us).await?)
}

/// Whether the two signals tell the same story about one route.
pub fn agree(metrics: &MetricFigures, traces: &OperationRed) -> bool {
    let p99_s = traces.p99_us as f64 / 1e6;
    let (low, high) = metrics.p99_bucket;
    metrics.requests == traces.requests
        && metrics.errors == traces.errors
        // A microsecond of slack: the spans' clock and the histogram's
        // clock are read a few instructions apart.
        && p99_s >= low - 1e-6
        && p99_s <= high + 1e-6
}

/// The table, one line per operation found in either signal.
pub fn table(metrics: &BTreeMap<String, MetricFigures>, traces: &[OperationRed]) -> String {
    let mut lines = vec![format!(
        "{:<26} {:>17} {:>13} {:>26} {:>8}",
        "route", "requests m / t", "errors m / t", "p99 ms: metrics / traces", "agree"
    )];
    for (operation, figures) in metrics {
        let Some(red) = traces.iter().find(|t| &t.operation == operation) else {
            lines.push(format!(
                "{operation:<26} {:>17} (no trace)",
                figures.requests
            ));
            continue;
        };
        let (low, high) = figures.p99_bucket;
        lines.push(format!(
            "{operation:<26} {:>17} {:>13} {:>26} {:>8}",
            format!("{} / {}", figures.requests, red.requests),
            format!("{} / {}", figures.errors, red.errors),
            format!(
                "{:.1} ({:.0}–{:.0}) / {:.1}",
                figures.p99_s * 1e3,
                low * 1e3,
                high * 1e3,
                red.p99_us as f64 / 1e3
            ),
            if agree(figures, red) { "yes" } else { "NO" },
        ));
    }
    lines.join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn series(status: u16, buckets: &[(f64, u64)]) -> String {
        let labels = format!(
            "http_request_method=\"POST\",http_route=\"/orders\",http_response_status_code=\"{status}\""
        );
        let mut text = String::new();
        let count = buckets.last().map_or(0, |b| b.1);
        text.push_str(&format!("{REQUEST_HISTOGRAM}_count{{{labels}}} {count}\n"));
        text.push_str(&format!("{REQUEST_HISTOGRAM}_sum{{{labels}}} 1.0\n"));
        for (le, cumulative) in buckets {
            let le = if le.is_infinite() {
                "+Inf".to_owned()
            } else {
                le.to_string()
            };
            text.push_str(&format!(
                "{REQUEST_HISTOGRAM}_bucket{{le=\"{le}\",{labels}}} {cumulative}\n"
            ));
        }
        text
    }

    #[test]
    fn statuses_of_a_route_add_up_and_5xx_are_its_errors() {
        let text = series(201, &[(0.1, 90), (0.2, 97), (f64::INFINITY, 97)])
            + &series(503, &[(0.1, 0), (0.2, 3), (f64::INFINITY, 3)]);
        let figures = &from_metrics(&text).unwrap()["POST /orders"];
        assert_eq!((figures.requests, figures.errors), (100, 3));
        // Rank 99 of 100 falls in the second bucket, 9 of its 10.
        assert!((figures.p99_s - 0.19).abs() < 1e-9, "{figures:?}");
        assert_eq!(figures.p99_bucket, (0.1, 0.2));

        let traces = |requests, errors, p99_us| OperationRed {
            service: "gateway".into(),
            operation: "POST /orders".into(),
            requests,
            errors,
            p50_us: 50_000,
            p99_us,
            first_start_us: 0,
            last_end_us: 1,
        };
        assert!(agree(figures, &traces(100, 3, 150_000)));
        assert!(
            !agree(figures, &traces(100, 3, 250_000)),
            "p99 outside the bucket"
        );
        assert!(
            !agree(figures, &traces(99, 3, 150_000)),
            "a request missing"
        );
        assert!(
            !agree(figures, &traces(100, 2, 150_000)),
            "an error missing"
        );
        assert!(table(&from_metrics(&text).unwrap(), &[traces(100, 3, 150_000)]).contains("yes"));
    }
}
