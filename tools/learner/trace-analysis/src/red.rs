//! RED figures (rate, errors, duration) from the traces themselves: each
//! server span of a service is one request. The same figures a service's
//! `GET /metrics` gives, from the other signal, so that the demo's report
//! can show that both agree (within the histogram's buckets).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::model::{Kind, Span, Value};

/// One operation's requests, as its server spans tell them.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct OperationRed {
    pub service: String,
    /// The span's name: `METHOD /route`.
    pub operation: String,
    pub requests: u64,
    /// Requests answered with a 5xx, or whose span is marked failed.
    pub errors: u64,
    /// Exact quantiles of the spans' durations, in microseconds: the
    /// smallest duration that at least that share of requests did not
    /// exceed (the nearest-rank definition).
    pub p50_us: u64,
    pub p99_us: u64,
    /// When the first request started and the last one ended (Unix µs),
    /// for a rate over the time the requests span.
    pub first_start_us: u64,
    pub last_end_us: u64,
}

/// A request that failed on the server's side: a 5xx, or a span marked failed.
fn is_error(span: &Span) -> bool {
    let status = match span.attribute("http.response.status_code") {
        Some(Value::Int(code)) => *code,
        Some(Value::Str(code)) => code.parse().unwrap_or(0),
        _ => 0,
    };
    status >= 500 || span.is_error()
}

/// The nearest-rank quantile of sorted values.
fn quantile(sorted: &[u64], q: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    let rank = (q * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// Per operation, the RED figures of the server spans among `spans`.
pub fn by_operation<'a>(spans: impl IntoIterator<Item = &'a Span>) -> Vec<OperationRed> {
    let mut groups: BTreeMap<(&str, &str), Vec<&Span>> = BTreeMap::new();
    for span in spans.into_iter().filter(|s| s.kind == Kind::Server) {
        groups
            .entry((span.service.as_str(), span.name.as_str()))
            .or_default()
            .push(span);
    }
    groups
        .into_iter()
        .map(|((service, operation), spans)| {
            let mut durations: Vec<u64> = spans.iter().map(|s| s.duration_us).collect();
            durations.sort_unstable();
            OperationRed {
                service: service.to_owned(),
                operation: operation.to_owned(),
                requests: spans.len() as u64,
                errors: spans.iter().filter(|s| is_error(s)).count() as u64,
                p50_us: quantile(&durations, 0.50),
                p99_us: quantile(&durations, 0.99),
                first_start_us: spans.iter().map(|s| s.start_us).min().unwrap_or(0),
                last_end_us: spans.iter().map(|s| s.end_us()).max().unwrap_or(0),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(name: &str, duration_us: u64, status: i64) -> Span {
        Span {
            trace_id: format!("{duration_us:032x}"),
            span_id: format!("{duration_us:016x}"),
            parent_span_id: None,
            service: "gateway".into(),
            name: name.into(),
            kind: Kind::Server,
            start_us: 1_000 + duration_us,
            duration_us,
            attributes: vec![("http.response.status_code".into(), Value::Int(status))],
            events: Vec::new(),
            status: Default::default(),
            links: Vec::new(),
            resource: Default::default(),
        }
    }

    #[test]
    fn counts_errors_and_nearest_rank_quantiles_per_operation() {
        let mut spans: Vec<Span> = (1..=100)
            .map(|ms| {
                request(
                    "POST /orders",
                    ms * 1_000,
                    if ms % 10 == 0 { 503 } else { 201 },
                )
            })
            .collect();
        spans.push(request("GET /talks", 5_000, 404));
        let mut client = request("POST /orders", 999_000, 500);
        client.kind = Kind::Client;
        spans.push(client);

        let red = by_operation(&spans);
        assert_eq!(red.len(), 2, "{red:?}");
        let orders = red.iter().find(|r| r.operation == "POST /orders").unwrap();
        assert_eq!((orders.requests, orders.errors), (100, 10));
        assert_eq!((orders.p50_us, orders.p99_us), (50_000, 99_000));
        assert_eq!(orders.first_start_us, 2_000);
        assert_eq!(orders.last_end_us, 1_000 + 2 * 100_000);
        let talks = red.iter().find(|r| r.operation == "GET /talks").unwrap();
        assert_eq!((talks.requests, talks.errors), (1, 0), "a 404 is no error");
    }
}
