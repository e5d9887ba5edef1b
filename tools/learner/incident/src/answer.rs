//! An answer, and the judgement of it: it solves a drawn problem when it
//! names that problem's service, one of its operations and its cause, and
//! its evidence holds ([`crate::evidence`]).
//!
//! What a wrong answer is told reveals nothing: not which of the three is
//! wrong, not whether another drawn problem lives in that service. Evidence
//! that does not hold is said precisely (what was looked for, and not
//! found), and costs what a wrong answer costs, so that it is no free way
//! to learn that the three words were right.

use std::fmt;
use std::str::FromStr;

use shop::{Cause, Problem};

use crate::evidence::{self, Material};
use crate::state::AnswerRecord;

/// The services an answer names, as the shop calls them.
pub fn service_names() -> [&'static str; 5] {
    demo::SERVICES.map(|(name, _)| name)
}

/// What the learner says a problem is.
#[derive(clap::Args, Clone, Debug, PartialEq, Eq)]
pub struct Answer {
    /// The service the problem lives in.
    #[arg(long, value_parser = clap::builder::PossibleValuesParser::new(service_names()))]
    pub service: String,
    /// The operation that shows it: a span's name in that service
    /// (`POST /orders`, `reserve`…), as the collector's UI lists them.
    #[arg(long)]
    pub operation: String,
    /// Its cause, one of the words `just incident --list` gives.
    #[arg(long)]
    pub cause: Cause,
    /// What shows it: a trace id (32 hex digits) the collector holds, or
    /// `metric:SERVICE:NAME`, a metric on that service's `/metrics`.
    #[arg(long)]
    pub evidence: Evidence,
}

/// What shows it: a trace the collector holds, or a metric on a service's
/// `/metrics`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Evidence {
    /// A trace id, 32 hex digits, lowercase.
    Trace(String),
    /// `metric:SERVICE:NAME`: the series called NAME (or of the family
    /// NAME) on SERVICE's `/metrics`.
    Metric { service: String, name: String },
}

impl FromStr for Evidence {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let text = text.trim();
        if let Some(metric) = text.strip_prefix("metric:") {
            let (service, name) = metric
                .split_once(':')
                .ok_or_else(|| format!("{text:?}: a metric is named `metric:SERVICE:NAME`"))?;
            if !service_names().contains(&service) {
                return Err(format!(
                    "{service:?} is none of the services: {}",
                    service_names().join(", ")
                ));
            }
            if name.is_empty() {
                return Err(format!("{text:?} names no metric after the service"));
            }
            return Ok(Evidence::Metric {
                service: service.to_owned(),
                name: name.to_owned(),
            });
        }
        if text.len() == 32 && text.chars().all(|c| c.is_ascii_hexdigit()) {
            return Ok(Evidence::Trace(text.to_ascii_lowercase()));
        }
        Err(format!(
            "{text:?} is neither a trace id (32 hex digits) nor `metric:SERVICE:NAME`"
        ))
    }
}

impl fmt::Display for Evidence {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Evidence::Trace(trace_id) => f.write_str(trace_id),
            Evidence::Metric { service, name } => write!(f, "metric:{service}:{name}"),
        }
    }
}

/// What an answer achieved.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// It solved this problem.
    Solved(Problem),
    /// It names a problem already solved: nothing to record.
    AlreadySolved,
    /// It names no drawn problem.
    NoMatch,
    /// It names a drawn problem, but its evidence does not hold: what was
    /// looked for and not found.
    EvidenceNotFound(String),
}

impl Verdict {
    /// The problem solved, if one was, for the record; `None` for an
    /// answer that counts as wrong, and for one not to be recorded.
    pub fn solved(&self) -> Option<Problem> {
        match self {
            Verdict::Solved(problem) => Some(*problem),
            _ => None,
        }
    }

    /// Whether the answer is recorded (and scored).
    pub fn is_recorded(&self) -> bool {
        !matches!(self, Verdict::AlreadySolved)
    }
}

impl Answer {
    /// Whether it names `problem`: its service, one of its operations, its
    /// cause.
    pub fn names(&self, problem: Problem) -> bool {
        self.service == problem.service()
            && problem.operations().contains(&self.operation.as_str())
            && self.cause == problem.cause()
    }

    /// The judgement of it, in a drill of `drawn` of which `solved` are
    /// solved, with what its evidence led to (`material`).
    pub fn judge(&self, drawn: &[Problem], solved: &[Problem], material: &Material) -> Verdict {
        let named = drawn.iter().copied().find(|p| self.names(*p));
        match named {
            None => Verdict::NoMatch,
            Some(problem) if solved.contains(&problem) => Verdict::AlreadySolved,
            Some(problem) => match evidence::holds(problem, material) {
                Ok(()) => Verdict::Solved(problem),
                Err(not_found) => Verdict::EvidenceNotFound(not_found),
            },
        }
    }

    /// As the drill's state keeps it (its time and outcome set on record).
    pub fn record(&self) -> AnswerRecord {
        AnswerRecord {
            service: self.service.clone(),
            operation: self.operation.clone(),
            cause: self.cause.word().to_owned(),
            evidence: self.evidence.to_string(),
            after_secs: 0,
            solved: None,
        }
    }
}

/// What the learner is told of a verdict.
pub fn message(verdict: &Verdict, points: i64) -> String {
    match verdict {
        Verdict::Solved(problem) => format!(
            "Solved: {}. +{} ({points} points).",
            problem.explanation(),
            crate::state::SOLVED_POINTS
        ),
        Verdict::AlreadySolved => "That problem is already solved: nothing recorded.".to_owned(),
        Verdict::NoMatch => format!(
            "No drawn problem matches this service, operation and cause. {} ({points} points).",
            crate::state::WRONG_POINTS
        ),
        Verdict::EvidenceNotFound(not_found) => format!(
            "The evidence does not hold: {not_found}. {} ({points} points).",
            crate::state::WRONG_POINTS
        ),
    }
}

#[cfg(test)]
mod tests {
    use trace_analysis::jaeger;
    use trace_analysis::model::Span;

    use super::*;
    use crate::state::{Drill, HINT_POINTS, SOLVED_POINTS, WRONG_POINTS};

    const TRACE_ID: &str = "4bf92f3577b34da6a3ce929d0e0e4736";

    fn answer(service: &str, operation: &str, cause: Cause) -> Answer {
        Answer {
            service: service.to_owned(),
            operation: operation.to_owned(),
            cause,
            evidence: Evidence::Trace(TRACE_ID.to_owned()),
        }
    }

    /// A trace with one span of `service` named `operation`.
    fn trace_with(service: &str, operation: &str) -> Material {
        let span = Span {
            trace_id: TRACE_ID.to_owned(),
            span_id: "00f067aa0ba902b7".to_owned(),
            service: service.to_owned(),
            name: operation.to_owned(),
            start_us: 1_000,
            duration_us: 10_000,
            ..Span::default()
        };
        Material::Trace {
            id: TRACE_ID.to_owned(),
            trace: Some(jaeger::trace(&[span])),
        }
    }

    /// A catalog request with a statement per talk under it.
    fn ladder_of_statements() -> Material {
        let span = |id: &str, parent: Option<&str>, name: &str| {
            let mut span = Span {
                trace_id: TRACE_ID.to_owned(),
                span_id: id.to_owned(),
                parent_span_id: parent.map(str::to_owned),
                service: "catalog".to_owned(),
                name: name.to_owned(),
                start_us: 1_000,
                duration_us: 100,
                ..Span::default()
            };
            if parent.is_some() {
                span.attributes.push((
                    "db.system.name".to_owned(),
                    trace_analysis::model::Value::Str("sqlite".to_owned()),
                ));
            }
            span
        };
        Material::Trace {
            id: TRACE_ID.to_owned(),
            trace: Some(jaeger::trace(&[
                span("00f067aa0ba902b7", None, "GET /talks"),
                span(
                    "00f067aa0ba902b8",
                    Some("00f067aa0ba902b7"),
                    "SELECT speakers",
                ),
                span(
                    "00f067aa0ba902b9",
                    Some("00f067aa0ba902b7"),
                    "SELECT prices",
                ),
            ])),
        }
    }

    #[test]
    fn evidence_reads_as_a_trace_id_or_a_metric() {
        let upper = TRACE_ID.to_ascii_uppercase();
        assert_eq!(
            upper.parse::<Evidence>(),
            Ok(Evidence::Trace(TRACE_ID.to_owned()))
        );
        assert_eq!(
            "metric:gateway:otel_sdk_processor_span_pending".parse::<Evidence>(),
            Ok(Evidence::Metric {
                service: "gateway".to_owned(),
                name: "otel_sdk_processor_span_pending".to_owned()
            })
        );
        for wrong in [
            "4bf92f35",
            "zzf92f3577b34da6a3ce929d0e0e4736",
            "metric:gateway",
            "metric:gateway:",
            "metric:shipping:x",
        ] {
            assert!(wrong.parse::<Evidence>().is_err(), "{wrong}");
        }
        let metric: Evidence = "metric:pricing:x_total".parse().unwrap();
        assert_eq!(metric.to_string(), "metric:pricing:x_total");
    }

    #[test]
    fn an_answer_names_a_problem_by_its_service_an_operation_and_its_cause() {
        let drawn = [Problem::NPlusOne, Problem::LockAcrossIo];
        let material = ladder_of_statements();
        let right = answer("catalog", "GET /talks", Cause::NPlusOneQueries);
        assert_eq!(
            right.judge(&drawn, &[], &material),
            Verdict::Solved(Problem::NPlusOne)
        );
        for wrong in [
            answer("gateway", "GET /talks", Cause::NPlusOneQueries),
            answer("catalog", "POST /orders", Cause::NPlusOneQueries),
            answer("catalog", "GET /talks", Cause::SerialCalls),
            // A problem of the catalogue, but not drawn.
            answer("pricing", "price", Cause::EagerLogging),
        ] {
            assert_eq!(wrong.judge(&drawn, &[], &material), Verdict::NoMatch);
        }
        assert_eq!(
            right.judge(&drawn, &[Problem::NPlusOne], &material),
            Verdict::AlreadySolved
        );
        let elsewhere = trace_with("gateway", "GET /talks");
        assert!(matches!(
            right.judge(&drawn, &[], &elsewhere),
            Verdict::EvidenceNotFound(_)
        ));
    }

    #[test]
    fn answers_score_as_the_rules_say() {
        let drawn = [Problem::FraudModelPerCharge, Problem::EagerLogging];
        let mut drill = Drill::new(9, &drawn, 0, 16686, 8080);
        let material = trace_with("payments", "charge");
        let given = [
            answer("payments", "charge", Cause::ClockSkew),
            answer("pricing", "price", Cause::EagerLogging),
            answer("payments", "charge", Cause::CpuHotSpot),
            answer("payments", "charge", Cause::CpuHotSpot),
        ];
        let mut verdicts = Vec::new();
        for (at, answer) in (10..).zip(&given) {
            let verdict = answer.judge(&drill.problems(), &drill.solved(), &material);
            if verdict.is_recorded() {
                drill.record_answer(answer.record(), verdict.solved(), at);
            }
            verdicts.push(verdict);
        }
        assert_eq!(verdicts[0], Verdict::NoMatch);
        assert!(matches!(verdicts[1], Verdict::EvidenceNotFound(_)));
        assert_eq!(verdicts[2], Verdict::Solved(Problem::FraudModelPerCharge));
        assert_eq!(verdicts[3], Verdict::AlreadySolved);
        assert_eq!(
            drill.answers.len(),
            3,
            "the repeated answer is not recorded"
        );
        assert_eq!(drill.points, 2 * WRONG_POINTS + SOLVED_POINTS);
        assert_eq!(drill.solve_times(), [(Problem::FraudModelPerCharge, 12)]);
        drill.take_hint(Problem::EagerLogging, 20);
        assert_eq!(drill.points, 2 * WRONG_POINTS + SOLVED_POINTS + HINT_POINTS);
    }

    #[test]
    fn a_wrong_answer_is_told_nothing_of_what_is_right() {
        let told = message(&Verdict::NoMatch, -25);
        assert!(
            told.contains("No drawn problem matches this service, operation and cause"),
            "{told}"
        );
        for problem in Problem::ALL {
            assert!(!told.contains(problem.slug()), "{told}");
        }
    }
}
