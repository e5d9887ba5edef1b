//! What the room and a learner's commands send each other, as JSON: the
//! same types on both sides.

use serde::{Deserialize, Serialize};
use shop::Cause;

use crate::answer::{Answer, Evidence, service_names};

/// `POST /join`'s body.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct JoinRequest {
    pub name: String,
    /// The key of the learner who joined under `name`, to join again:
    /// without it, a name taken is refused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
}

/// What a learner who joined is told: their key, and where their
/// collector and their services' metrics are, through the room.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Joined {
    pub name: String,
    /// Theirs alone: it answers, and shows their collector.
    pub key: String,
    /// Their collector, on a port of its own on the room's address: its UI
    /// in a browser (`?key=KEY` the first time), its query API for the
    /// workshop's tools (the key as basic auth's password).
    pub collector: String,
    /// Each service's `/metrics`, on the same port.
    pub metrics: Vec<ServiceMetrics>,
}

/// Where one service's metrics are read.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceMetrics {
    pub service: String,
    pub url: String,
}

impl Joined {
    /// What `name`, whose key is `key`, is told when their collector is at
    /// `collector` (`http://HOST:PORT`).
    pub fn new(name: &str, key: &str, collector: &str) -> Self {
        let metrics = service_names()
            .iter()
            .map(|service| ServiceMetrics {
                service: (*service).to_owned(),
                url: format!("{collector}/services/{service}/metrics"),
            })
            .collect();
        Self {
            name: name.to_owned(),
            key: key.to_owned(),
            collector: collector.to_owned(),
            metrics,
        }
    }
}

/// The most characters each word of an answer may have: the longest
/// operation or metric's name is a few dozen.
pub const LONGEST_WORD: usize = 200;

/// An answer, as `just incident answer` takes it: the same four words.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AnswerForm {
    pub service: String,
    pub operation: String,
    pub cause: String,
    pub evidence: String,
}

impl AnswerForm {
    /// `answer`, to be sent.
    pub fn of(answer: &Answer) -> Self {
        Self {
            service: answer.service.clone(),
            operation: answer.operation.clone(),
            cause: answer.cause.word().to_owned(),
            evidence: answer.evidence.to_string(),
        }
    }

    /// The answer it holds, read as the command line reads one; if it
    /// holds none, why.
    pub fn read(&self) -> Result<Answer, String> {
        for (field, word) in [
            ("service", &self.service),
            ("operation", &self.operation),
            ("cause", &self.cause),
            ("evidence", &self.evidence),
        ] {
            let length = word.chars().count();
            if length > LONGEST_WORD {
                return Err(format!(
                    "an answer's {field} is at most {LONGEST_WORD} characters, not {length}"
                ));
            }
        }
        if !service_names().contains(&self.service.as_str()) {
            return Err(format!(
                "{:?} is none of the services: {}",
                self.service,
                service_names().join(", ")
            ));
        }
        if self.operation.trim().is_empty() {
            return Err("an answer names an operation: a span's name in the service".to_owned());
        }
        Ok(Answer {
            service: self.service.clone(),
            operation: self.operation.clone(),
            cause: self.cause.parse::<Cause>()?,
            evidence: self.evidence.parse::<Evidence>()?,
        })
    }
}

/// What an answer, a hint or the status tells the learner, and their
/// score since.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Said {
    pub message: String,
    pub score: i64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_answer_travels_whole_and_a_wrong_one_is_refused_with_why() {
        let answer = Answer {
            service: "inventory".to_owned(),
            operation: "reserve".to_owned(),
            cause: Cause::LockConvoy,
            evidence: Evidence::Trace("4bf92f3577b34da6a3ce929d0e0e4736".to_owned()),
        };
        let form = AnswerForm::of(&answer);
        let json = serde_json::to_string(&form).unwrap();
        let back: AnswerForm = serde_json::from_str(&json).unwrap();
        assert_eq!(back.read(), Ok(answer));
        for (field, wrong) in [
            ("service", "shipping"),
            ("operation", " "),
            ("cause", "slowness"),
            ("evidence", "4bf92f35"),
        ] {
            let mut refused = form.clone();
            match field {
                "service" => refused.service = wrong.to_owned(),
                "operation" => refused.operation = wrong.to_owned(),
                "cause" => refused.cause = wrong.to_owned(),
                _ => refused.evidence = wrong.to_owned(),
            }
            assert!(refused.read().is_err(), "{field}");
        }
        let mut long = form.clone();
        long.operation = "x".repeat(LONGEST_WORD + 1);
        let why = long.read().unwrap_err();
        assert!(why.contains("operation is at most"), "{why}");
    }

    #[test]
    fn a_learner_who_joined_is_told_where_each_service_s_metrics_are() {
        let joined = Joined::new("alice", "k3y", "http://10.0.0.5:7901");
        assert_eq!(joined.metrics.len(), 5);
        assert!(joined.metrics.contains(&ServiceMetrics {
            service: "gateway".to_owned(),
            url: "http://10.0.0.5:7901/services/gateway/metrics".to_owned()
        }));
    }
}
