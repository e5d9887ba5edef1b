//! Whether an answer's evidence shows the problem it names.
//!
//! Evidence is read first, whatever the answer names ([`gather`]): the
//! trace from the collector, or the service's `/metrics`. When either
//! does not answer, nothing is judged nor recorded, whether the answer is
//! right or wrong, so that an unreachable collector tells no one which.
//! Then the judgement is a pure function of what was read ([`holds`]):
//!
//! - a trace shows a problem when it has a span of the problem's service
//!   in one of its operations; a clock's skew, when a span of that service
//!   starts before its parent; spans dropped, never (a trace cannot show
//!   what is missing from it);
//! - a metric shows spans dropped when its series count them: a series
//!   named `…dropped…` above zero, or the export's own counters with more
//!   spans handed to the exporter than exported; it shows another problem
//!   when one of its series is labelled with an operation of it (its
//!   `action`, or its `http_request_method` and `http_route`); a clock's
//!   skew, never.

use std::time::Duration;

use anyhow::Context;
use collector_client::Client;
use openmetrics::{Exposition, Sample};
use shop::Problem;
use trace_analysis::jaeger::Trace;

use crate::answer::Evidence;
use crate::state::Drill;

/// Spans handed to the batch span processor (the telemetry crate's export
/// counters, as `/metrics` serves them).
pub(crate) const HANDED: &str = "otel_sdk_processor_span_processed_total";
/// Spans of the batches given to the exporter: exported, or failed for
/// good (with `error_type`). A span handed on and never counted here was
/// dropped, or is still queued.
const EXPORTED: &str = "otel_sdk_exporter_span_exported_total";
/// Spans handed to the batch span processor and neither exported nor
/// failed yet: queued, being exported, or dropped by a full queue (the
/// telemetry crate's `PENDING_METRIC`, a gauge set as `/metrics` answers).
pub(crate) const PENDING: &str = "otel_sdk_processor_span_pending";
/// The export counters' families: the metrics that show spans handed and
/// never exported.
const EXPORT_FAMILIES: [&str; 3] = [
    "otel_sdk_processor_span_processed",
    "otel_sdk_exporter_span_exported",
    PENDING,
];
/// The endings a family's samples take.
const FAMILY_SUFFIXES: [&str; 5] = ["_total", "_bucket", "_count", "_sum", "_created"];

/// How long the collector and a service's `/metrics` have to answer.
const ANSWER_WITHIN: Duration = Duration::from_secs(5);

/// What an answer's evidence led to.
pub enum Material {
    /// The trace the collector holds under `id`, if it holds one.
    Trace { id: String, trace: Option<Trace> },
    /// The metric `name` and `service`'s whole `/metrics`, read.
    Metrics {
        service: String,
        name: String,
        exposition: Exposition,
    },
}

/// Reads what `evidence` points at, in the drill's collector or shop; an
/// error when the collector, or the service, does not answer.
pub async fn gather(evidence: &Evidence, drill: &Drill) -> anyhow::Result<Material> {
    let collector = Client::on_port(drill.collector_ui_port).with_timeout(ANSWER_WITHIN);
    let down = format!(
        "the collector at {} does not answer, so nothing was judged nor recorded \
         (`just incident` starts one with the drill, `just collector` one alone)",
        collector.base()
    );
    match evidence {
        Evidence::Trace(id) => match collector.trace(id).await {
            Ok(trace) => Ok(Material::Trace {
                id: id.clone(),
                trace,
            }),
            Err(collector_client::Error::Refused { status, .. })
                if status == reqwest::StatusCode::NOT_FOUND =>
            {
                Ok(Material::Trace {
                    id: id.clone(),
                    trace: None,
                })
            }
            Err(err) => Err(anyhow::Error::new(err).context(down)),
        },
        Evidence::Metric { service, name } => {
            if !collector.answers(ANSWER_WITHIN).await {
                anyhow::bail!(down);
            }
            let offset = demo::SERVICES
                .iter()
                .find(|(known, _)| *known == service.as_str())
                .map(|(_, offset)| *offset)
                .with_context(|| format!("{service:?} is none of the shop's services"))?;
            let exposition = scrape(drill.base_port + offset).await.with_context(|| {
                format!(
                    "the {service}'s /metrics cannot be read, so nothing was judged nor \
                     recorded: metric evidence is read from the drill's running shop"
                )
            })?;
            Ok(Material::Metrics {
                service: service.clone(),
                name: name.clone(),
                exposition,
            })
        }
    }
}

/// `GET /metrics` of the service on `port`, read.
async fn scrape(port: u16) -> anyhow::Result<Exposition> {
    let url = format!("http://127.0.0.1:{port}/metrics");
    let client = reqwest::Client::builder().timeout(ANSWER_WITHIN).build()?;
    let text = client
        .get(&url)
        .send()
        .await?
        .error_for_status()?
        .text()
        .await?;
    openmetrics::parse(&text).with_context(|| format!("{url} is not OpenMetrics text"))
}

/// Whether `material` shows `problem`; if not, what was looked for and
/// not found.
pub fn holds(problem: Problem, material: &Material) -> Result<(), String> {
    match material {
        Material::Trace { id, trace: None } => Err(format!(
            "the collector holds no trace {id} (it keeps the newest traces only)"
        )),
        Material::Trace {
            trace: Some(trace), ..
        } => trace_shows(problem, trace),
        Material::Metrics {
            service,
            name,
            exposition,
        } => metric_shows(problem, service, name, exposition),
    }
}

fn trace_shows(problem: Problem, trace: &Trace) -> Result<(), String> {
    crate::signature::shows(problem, trace)
}

fn metric_shows(
    problem: Problem,
    service: &str,
    name: &str,
    exposition: &Exposition,
) -> Result<(), String> {
    if service != problem.service() {
        return Err(format!(
            "{name} was read on the {service}'s /metrics, not on the service the answer names"
        ));
    }
    if problem == Problem::ClockSkew {
        return Err(
            "a metric cannot show a clock's skew: a trace can, with a span that starts before its parent"
                .to_owned(),
        );
    }
    let series: Vec<&Sample> = exposition
        .samples
        .iter()
        .filter(|sample| in_family(&sample.name, name))
        .collect();
    if series.is_empty() {
        return Err(format!("the {service}'s /metrics has no series {name}"));
    }
    match problem {
        Problem::ExportQueueOverflow => spans_dropped(service, name, &series, exposition),
        _ => {
            let labelled = series
                .iter()
                .any(|sample| labelled_with_an_operation(sample, problem));
            match labelled {
                true => Ok(()),
                false => Err(format!(
                    "no series of {name} on the {service}'s /metrics is labelled with an \
                     operation that shows this problem (by its `action`, or its \
                     `http_request_method` and `http_route`)"
                )),
            }
        }
    }
}

/// Whether `series` (of metric `name`) show spans dropped: a count of
/// them above zero, or, for the export's own counters, spans handed to
/// the exporter and never exported.
fn spans_dropped(
    service: &str,
    name: &str,
    series: &[&Sample],
    exposition: &Exposition,
) -> Result<(), String> {
    if name.contains("dropped") {
        let dropped: f64 = series.iter().map(|sample| sample.value).sum();
        return match dropped > 0.0 {
            true => Ok(()),
            false => Err(format!("{name} on the {service}'s /metrics counts no span")),
        };
    }
    if !EXPORT_FAMILIES.iter().any(|family| in_family(name, family)) {
        return Err(format!(
            "{name} does not count spans: spans dropped show in a series named `…dropped…`, \
             or as spans handed to the exporter ({HANDED}) and never exported ({EXPORTED})"
        ));
    }
    let sum = |metric: &str| -> f64 {
        exposition
            .samples
            .iter()
            .filter(|sample| sample.name == metric)
            .map(|sample| sample.value)
            .sum()
    };
    let (handed, exported) = (sum(HANDED), sum(EXPORTED));
    match handed > exported {
        true => Ok(()),
        false => Err(format!(
            "the {service}'s /metrics shows every span handed to its exporter exported \
             ({handed} handed, {exported} exported)"
        )),
    }
}

/// Whether `sample` is labelled with one of `problem`'s operations: an
/// action's name, or a route's method and template (`GET /talks`).
fn labelled_with_an_operation(sample: &Sample, problem: Problem) -> bool {
    let label = |key: &str| sample.labels.get(key).map(String::as_str);
    let route = match (label("http_request_method"), label("http_route")) {
        (Some(method), Some(route)) => Some(format!("{method} {route}")),
        _ => None,
    };
    problem.operations().iter().any(|operation| {
        label("action") == Some(*operation) || route.as_deref() == Some(*operation)
    })
}

/// Whether a sample called `sample` is of the metric `name`: the same, or
/// a sample of the family `name` (`name_total`, `name_bucket`…).
fn in_family(sample: &str, name: &str) -> bool {
    sample == name
        || sample
            .strip_prefix(name)
            .is_some_and(|suffix| FAMILY_SUFFIXES.contains(&suffix))
}

#[cfg(test)]
mod tests {
    use trace_analysis::jaeger;
    use trace_analysis::model::{Kind, Span};

    use super::*;

    const ID: &str = "4bf92f3577b34da6a3ce929d0e0e4736";

    fn span(id: &str, parent: Option<&str>, service: &str, name: &str, start: u64) -> Span {
        Span {
            trace_id: ID.to_owned(),
            span_id: id.to_owned(),
            parent_span_id: parent.map(str::to_owned),
            service: service.to_owned(),
            name: name.to_owned(),
            kind: Kind::Server,
            start_us: start,
            duration_us: 10_000,
            ..Span::default()
        }
    }

    fn trace(spans: &[Span]) -> Material {
        Material::Trace {
            id: ID.to_owned(),
            trace: Some(jaeger::trace(spans)),
        }
    }

    fn metrics(service: &str, name: &str, text: &str) -> Material {
        Material::Metrics {
            service: service.to_owned(),
            name: name.to_owned(),
            exposition: openmetrics::parse(text).unwrap(),
        }
    }

    /// An order's trace: the gateway calls payments' `POST /charges`,
    /// which starts `payments_start` µs into the trace.
    fn order(payments_start: u64) -> Material {
        trace(&[
            span("a1", None, "gateway", "POST /orders", 1_000),
            span("a2", Some("a1"), "gateway", "POST", 2_000),
            span(
                "a3",
                Some("a2"),
                "payments",
                "POST /charges",
                payments_start,
            ),
            span("a4", Some("a3"), "payments", "charge", payments_start + 100),
        ])
    }

    #[test]
    fn a_trace_shows_a_problem_by_its_cause_not_by_a_span_s_name() {
        // `charge`'s 10 ms, with no child span: CPU burnt.
        assert_eq!(holds(Problem::FraudModelPerCharge, &order(2_100)), Ok(()));
        // One call to payments is no retry.
        let one_call = holds(Problem::RetriesWithoutBackoff, &order(2_100)).unwrap_err();
        assert!(one_call.contains("does not show it"), "{one_call}");
        let not_found = holds(Problem::NPlusOne, &order(2_100)).unwrap_err();
        assert!(not_found.contains("catalog request"), "{not_found}");
        let none = Material::Trace {
            id: ID.to_owned(),
            trace: None,
        };
        let not_held = holds(Problem::NPlusOne, &none).unwrap_err();
        assert!(not_held.contains("holds no trace"), "{not_held}");
    }

    #[test]
    fn a_clock_skew_shows_as_a_payments_span_that_starts_before_its_parent() {
        assert_eq!(holds(Problem::ClockSkew, &order(1_750)), Ok(()));
        let in_order = holds(Problem::ClockSkew, &order(2_100)).unwrap_err();
        assert!(in_order.contains("starts before its parent"), "{in_order}");
        // A gateway span early for its parent is no skew of payments'.
        let gateway_early = trace(&[
            span("b1", None, "gateway", "POST /orders", 5_000),
            span("b2", Some("b1"), "gateway", "POST", 4_000),
        ]);
        assert!(holds(Problem::ClockSkew, &gateway_early).is_err());
    }

    #[test]
    fn spans_dropped_show_on_metrics_only() {
        let dropping = "\
# TYPE otel_sdk_processor_span_processed counter
otel_sdk_processor_span_processed_total 5000
# TYPE otel_sdk_exporter_span_exported counter
otel_sdk_exporter_span_exported_total 640
otel_sdk_exporter_span_exported_total{error_type=\"export_failed\"} 0
# TYPE otel_sdk_processor_span_pending gauge
otel_sdk_processor_span_pending 4360
# EOF
";
        let overflow = Problem::ExportQueueOverflow;
        assert!(
            holds(overflow, &order(2_100)).is_err(),
            "a trace never does"
        );
        for name in [
            "otel_sdk_processor_span_processed_total",
            "otel_sdk_processor_span_processed",
            "otel_sdk_exporter_span_exported",
            "otel_sdk_processor_span_pending",
        ] {
            assert_eq!(
                holds(overflow, &metrics("gateway", name, dropping)),
                Ok(()),
                "{name}"
            );
        }
        let all_exported = dropping.replace(" 640", " 5000");
        let exported = holds(
            overflow,
            &metrics("gateway", "otel_sdk_processor_span_pending", &all_exported),
        )
        .unwrap_err();
        assert!(
            exported.contains("5000 handed, 5000 exported"),
            "{exported}"
        );
        let dropped = "otel_sdk_span_dropped_total{reason=\"queue_full\"} 12\n";
        assert_eq!(
            holds(
                overflow,
                &metrics("gateway", "otel_sdk_span_dropped", dropped)
            ),
            Ok(())
        );
        let elsewhere = holds(
            overflow,
            &metrics("pricing", "otel_sdk_processor_span_pending", dropping),
        );
        assert!(elsewhere.is_err());
        let missing = holds(overflow, &metrics("gateway", "nope_total", dropping)).unwrap_err();
        assert!(missing.contains("no series nope_total"), "{missing}");
    }

    #[test]
    fn a_metric_shows_another_problem_by_an_operation_in_its_labels() {
        let text = "\
# TYPE http_server_request_duration_seconds histogram
http_server_request_duration_seconds_count{http_request_method=\"GET\",http_route=\"/talks\",http_response_status_code=\"200\"} 40
# TYPE actions_duration_seconds histogram
actions_duration_seconds_count{action=\"charge\",outcome=\"success\"} 7
";
        let family = "http_server_request_duration_seconds";
        assert_eq!(
            holds(Problem::NPlusOne, &metrics("catalog", family, text)),
            Ok(())
        );
        let action = metrics("payments", "actions_duration_seconds_count", text);
        assert_eq!(holds(Problem::FraudModelPerCharge, &action), Ok(()));
        assert!(
            holds(Problem::ClockSkew, &action).is_err(),
            "never a metric"
        );
        let unlabelled = holds(Problem::LockAcrossIo, &metrics("inventory", family, text));
        assert!(unlabelled.unwrap_err().contains("labelled"));
    }

    #[test]
    fn a_family_holds_its_samples_and_no_other() {
        assert!(in_family("x_total", "x"));
        assert!(in_family("x_bucket", "x"));
        assert!(in_family("x_total", "x_total"));
        assert!(!in_family("x_y_total", "x"));
        assert!(!in_family("x", "x_total"));
    }
}
