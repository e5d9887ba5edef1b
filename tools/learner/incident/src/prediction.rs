//! Predict, then prove. Once a problem is solved, the learner predicts
//! what fixing it would do to the orders' latency: the change of `POST
//! /orders`' p50 and p99, in percent (`just incident predict`). `just
//! incident fix` then measures it ([`crate::fix`], as
//! [`crate::measure`] measures a fix) and grades the prediction here: it
//! holds when it comes within [`TOLERANCE`] of the measured change, and
//! scores [`HELD_POINTS`] when both of its figures hold.
//!
//! A prediction is of a problem found, never of one still hidden; it may
//! be given again, replacing the last, until it is measured, and never
//! after.

use std::fmt;
use std::str::FromStr;

use anyhow::bail;
use serde::{Deserialize, Serialize};
use shop::Problem;

use crate::state::Drill;

/// Points for a prediction whose p50 and p99 both held.
pub const HELD_POINTS: i64 = 50;

/// How close a predicted change must come to the measured one: within
/// this share of it (a fifth: -40 % or -60 % for a measured -50 %).
pub const TOLERANCE: f64 = 0.2;

/// A measured change this small, either way, is no change to speak of:
/// a fifth of it would ask for a precision the load does not have. A
/// prediction within it too holds.
pub const NEGLIGIBLE_PCT: f64 = 5.0;

/// A prediction, as `just incident predict` takes it.
#[derive(clap::Args, Clone, Debug, PartialEq)]
pub struct Predict {
    /// The problem: its number in `just incident status` (from 1). It must
    /// be solved.
    #[arg(long, value_name = "N")]
    pub problem: usize,
    /// How `POST /orders`' p50 would change with the problem fixed, in
    /// percent: -30, +5.
    #[arg(long, value_name = "PCT", allow_hyphen_values = true)]
    pub p50: Percent,
    /// How its p99 would change, in percent.
    #[arg(long, value_name = "PCT", allow_hyphen_values = true)]
    pub p99: Percent,
}

/// A change in percent, as `--p50` and `--p99` take it: `-30`, `+5`,
/// `-30%`; never below -100 (a latency cannot fall by more than itself).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Percent(pub f64);

impl FromStr for Percent {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let text = text.trim();
        let number = text.strip_suffix('%').unwrap_or(text).trim_end();
        let percent: f64 = number
            .parse()
            .ok()
            .filter(|percent: &f64| percent.is_finite())
            .ok_or_else(|| format!("{text:?} is not a change in percent, such as -30 or +5"))?;
        if percent < -100.0 {
            return Err(format!(
                "{text}: a latency cannot fall by more than all of it (-100%)"
            ));
        }
        Ok(Percent(percent))
    }
}

impl fmt::Display for Percent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:+}%", self.0)
    }
}

/// A prediction given, and what `fix` measured of it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PredictionRecord {
    /// The slug of the problem it is about.
    pub problem: String,
    /// The predicted change of `POST /orders`' p50, in percent.
    pub p50_pct: f64,
    /// The predicted change of its p99, in percent.
    pub p99_pct: f64,
    /// Seconds from the drill's start.
    pub after_secs: u64,
    /// What `fix` measured, once it has.
    #[serde(default)]
    pub proof: Option<Proof>,
}

/// What `fix` measured for one prediction, and the points it gave.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(from = "StoredProof")]
pub struct Proof {
    /// What was measured, and graded.
    pub measured: Measured,
    /// [`HELD_POINTS`] or none.
    pub points: i64,
}

/// A proof as a drill's file holds it: as written now, or as `fix` wrote
/// it when it measured one run each way, which a drill started with that
/// version still holds (its points stand; nothing a learner did is lost
/// to an update).
#[derive(Deserialize)]
#[serde(untagged)]
enum StoredProof {
    Paired {
        measured: Measured,
        points: i64,
    },
    OneRunEach {
        drawn: Latency,
        fixed: Latency,
        points: i64,
    },
}

impl From<StoredProof> for Proof {
    fn from(stored: StoredProof) -> Self {
        match stored {
            StoredProof::Paired { measured, points } => Self { measured, points },
            StoredProof::OneRunEach {
                drawn,
                fixed,
                points,
            } => Self {
                measured: Measured {
                    drawn,
                    fixed,
                    change: Change::between(drawn, fixed),
                },
                points,
            },
        }
    }
}

/// What `fix` measured of a problem's fix, in pairs of runs (see
/// [`crate::measure`]), from the orders' traces.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Measured {
    /// `POST /orders` with the problems planted as drawn: each figure the
    /// median of the pairs' runs.
    pub drawn: Latency,
    /// The same, with the prediction's problem fixed.
    pub fixed: Latency,
    /// The change graded: each figure the median over the pairs of each
    /// pair's change (which the change from `drawn` to `fixed` need not
    /// be).
    pub change: Change,
}

/// `POST /orders`' p50 and p99, in milliseconds: from its traces (the
/// gateway's spans), or as the load generator measured them (the
/// client's view).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Latency {
    pub p50_ms: f64,
    pub p99_ms: f64,
}

/// A change of `POST /orders`' p50 and p99, in percent.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Change {
    pub p50_pct: f64,
    pub p99_pct: f64,
}

impl Change {
    /// From `before` to `after`.
    pub fn between(before: Latency, after: Latency) -> Self {
        Self {
            p50_pct: change_pct(before.p50_ms, after.p50_ms),
            p99_pct: change_pct(before.p99_ms, after.p99_ms),
        }
    }
}

impl Proof {
    /// The measured change of the p50, in percent.
    pub fn p50_pct(&self) -> f64 {
        self.measured.change.p50_pct
    }

    /// The measured change of the p99, in percent.
    pub fn p99_pct(&self) -> f64 {
        self.measured.change.p99_pct
    }
}

/// From `before` to `after`, in percent of `before` (which a measure has
/// made sure is above zero: a run reads a hundred orders' traces at
/// least).
pub fn change_pct(before: f64, after: f64) -> f64 {
    100.0 * (after - before) / before
}

/// Whether a predicted change holds against the measured one: within
/// [`TOLERANCE`] of it, or, when the measured change is negligible (within
/// ±[`NEGLIGIBLE_PCT`]), negligible too.
pub fn holds(predicted_pct: f64, measured_pct: f64) -> bool {
    let close = (predicted_pct - measured_pct).abs() <= TOLERANCE * measured_pct.abs();
    let both_negligible =
        measured_pct.abs() <= NEGLIGIBLE_PCT && predicted_pct.abs() <= NEGLIGIBLE_PCT;
    close || both_negligible
}

impl PredictionRecord {
    /// The problem it is about.
    pub fn problem(&self) -> Option<Problem> {
        Problem::from_slug(&self.problem)
    }

    /// Its points against what was measured: [`HELD_POINTS`] when its p50
    /// and its p99 both hold against the measured change, else none.
    pub fn grade(&self, measured: Measured) -> Proof {
        let mut proof = Proof {
            measured,
            points: 0,
        };
        if holds(self.p50_pct, proof.p50_pct()) && holds(self.p99_pct, proof.p99_pct()) {
            proof.points = HELD_POINTS;
        }
        proof
    }
}

impl Drill {
    /// The problem numbered `number` among those drawn (from 1, in the
    /// order drawn, as `status` lists them), when it is solved.
    pub fn solved_problem(&self, number: usize) -> anyhow::Result<Problem> {
        let drawn = self.drawn.len();
        let Some(problem) = number
            .checked_sub(1)
            .and_then(|index| self.drawn.get(index))
            .and_then(|slug| Problem::from_slug(slug))
        else {
            bail!(
                "this drill has no problem {number}: it drew {drawn}, numbered 1 to {drawn} \
                 as `just incident status` lists them"
            );
        };
        if !self.solved().contains(&problem) {
            bail!(
                "problem {number} is not solved yet: a prediction is of a problem found \
                 (`just incident answer …` first)"
            );
        }
        Ok(problem)
    }

    /// The prediction about `problem`, if one was given.
    pub fn prediction(&self, problem: Problem) -> Option<&PredictionRecord> {
        self.predictions
            .iter()
            .find(|prediction| prediction.problem == problem.slug())
    }

    /// Records, at `now`, the prediction that fixing problem `number`
    /// changes `POST /orders`' p50 by `p50` and its p99 by `p99`, in place
    /// of an earlier one not measured yet; refused for a problem not
    /// solved, and for one whose prediction was measured. Returns the
    /// problem.
    pub fn predict(
        &mut self,
        number: usize,
        p50: Percent,
        p99: Percent,
        now: u64,
    ) -> anyhow::Result<Problem> {
        let problem = self.solved_problem(number)?;
        if self
            .prediction(problem)
            .is_some_and(|earlier| earlier.proof.is_some())
        {
            bail!(
                "problem {number}'s prediction has been measured (`just incident status`): \
                 it stands as it was"
            );
        }
        let record = PredictionRecord {
            problem: problem.slug().to_owned(),
            p50_pct: p50.0,
            p99_pct: p99.0,
            after_secs: self.elapsed(now),
            proof: None,
        };
        self.predictions
            .retain(|earlier| earlier.problem != problem.slug());
        self.predictions.push(record);
        Ok(problem)
    }

    /// The problems whose prediction `fix` has not measured yet, in the
    /// order predicted.
    pub fn unproven(&self) -> Vec<Problem> {
        self.predictions
            .iter()
            .filter(|prediction| prediction.proof.is_none())
            .filter_map(PredictionRecord::problem)
            .collect()
    }

    /// Records what `fix` measured of `problem`'s fix, and scores the
    /// prediction about it: the proof, or `None` when no prediction about
    /// it waits for one.
    pub fn record_proof(&mut self, problem: Problem, measured: Measured) -> Option<Proof> {
        let prediction = self.predictions.iter_mut().find(|prediction| {
            prediction.problem == problem.slug() && prediction.proof.is_none()
        })?;
        let proof = prediction.grade(measured);
        prediction.proof = Some(proof.clone());
        self.points += proof.points;
        Some(proof)
    }

    /// The number `status` gives `problem`: its place in the draw, from 1.
    pub fn number_of(&self, problem: Problem) -> Option<usize> {
        self.drawn
            .iter()
            .position(|slug| slug == problem.slug())
            .map(|index| index + 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::AnswerRecord;

    #[test]
    fn a_proof_written_before_pairs_still_loads_with_its_points() {
        let written_then = r#"{"drawn":{"p50_ms":40.0,"p99_ms":100.0},"fixed":{"p50_ms":30.0,"p99_ms":100.0},"points":50}"#;
        let proof: Proof = serde_json::from_str(written_then).expect("an older proof loads");
        assert_eq!(proof.points, 50);
        assert_eq!(proof.measured.change.p50_pct, -25.0);
        assert_eq!(proof.measured.change.p99_pct, 0.0);
        let written_now = serde_json::to_string(&proof).expect("serialised");
        let again: Proof = serde_json::from_str(&written_now).expect("a proof loads");
        assert_eq!(again, proof, "written as now, read back the same");
    }

    /// A drill of three problems, the second solved.
    fn drill() -> Drill {
        let drawn = [
            Problem::SerialFanOut,
            Problem::LockAcrossIo,
            Problem::MissingIndex,
        ];
        let mut drill = Drill::new(5, &drawn, 1_000, 16686, 8080);
        let answer = AnswerRecord {
            service: "inventory".to_owned(),
            operation: "reserve".to_owned(),
            cause: "lock-convoy".to_owned(),
            evidence: "4bf92f3577b34da6a3ce929d0e0e4736".to_owned(),
            after_secs: 0,
            solved: None,
        };
        drill.record_answer(answer, Some(Problem::LockAcrossIo), 1_100);
        drill
    }

    fn percent(text: &str) -> Percent {
        text.parse().unwrap()
    }

    #[test]
    fn a_prediction_holds_within_a_fifth_of_the_measured_change_or_when_both_are_negligible() {
        // (predicted, measured, holds)
        let cases = [
            (-50.0, -50.0, true),
            (-40.0, -50.0, true),
            (-60.0, -50.0, true),
            (-39.9, -50.0, false),
            (-61.0, -50.0, false),
            (-20.0, -25.0, true),
            (-30.0, -25.0, true),
            (12.0, 10.0, true),
            (8.0, 10.0, true),
            (7.0, 10.0, false),
            (50.0, -50.0, false),
            // A negligible change: any negligible prediction holds.
            (4.0, -3.0, true),
            (-5.0, 5.0, true),
            (0.0, -5.0, true),
            (0.0, 0.0, true),
            (6.0, 2.0, false),
            (-10.0, -4.0, false),
            // Past the negligible, the fifth alone.
            (0.0, -6.0, false),
            (-5.0, -6.0, true),
        ];
        for (predicted, measured, expected) in cases {
            assert_eq!(
                holds(predicted, measured),
                expected,
                "predicted {predicted}%, measured {measured}%"
            );
        }
    }

    #[test]
    fn both_figures_must_hold_for_the_points() {
        let drawn = Latency {
            p50_ms: 100.0,
            p99_ms: 400.0,
        };
        let fixed = Latency {
            p50_ms: 50.0,
            p99_ms: 300.0,
        };
        let record = |p50_pct, p99_pct| PredictionRecord {
            problem: "lock".to_owned(),
            p50_pct,
            p99_pct,
            after_secs: 0,
            proof: None,
        };
        let measured = Measured {
            drawn,
            fixed,
            change: Change::between(drawn, fixed),
        };
        let proof = record(-45.0, -22.0).grade(measured);
        assert_eq!(proof.p50_pct(), -50.0);
        assert_eq!(proof.p99_pct(), -25.0);
        assert_eq!(proof.points, HELD_POINTS);
        assert_eq!(record(-45.0, -50.0).grade(measured).points, 0);
        assert_eq!(record(-10.0, -25.0).grade(measured).points, 0);
    }

    #[test]
    fn the_grade_reads_the_change_measured_not_the_change_between_the_medians() {
        let record = PredictionRecord {
            problem: "lock".to_owned(),
            p50_pct: -30.0,
            p99_pct: -10.0,
            after_secs: 0,
            proof: None,
        };
        // The medians of each side say -50 % and -25 %; the median of the
        // pairs' changes, -30 % and -10 %.
        let measured = Measured {
            drawn: Latency {
                p50_ms: 100.0,
                p99_ms: 400.0,
            },
            fixed: Latency {
                p50_ms: 50.0,
                p99_ms: 300.0,
            },
            change: Change {
                p50_pct: -30.0,
                p99_pct: -10.0,
            },
        };
        let proof = record.grade(measured);
        assert_eq!((proof.p50_pct(), proof.p99_pct()), (-30.0, -10.0));
        assert_eq!(proof.points, HELD_POINTS);
    }

    #[test]
    fn a_percent_reads_with_or_without_its_sign_and_its_percent_sign() {
        assert_eq!(percent("-30"), Percent(-30.0));
        assert_eq!(percent("+5"), Percent(5.0));
        assert_eq!(percent("5"), Percent(5.0));
        assert_eq!(percent("-12.5%"), Percent(-12.5));
        assert_eq!(percent(" -100% "), Percent(-100.0));
        for wrong in ["", "%", "-30%%", "thirty", "NaN", "inf", "-101", "5 %x"] {
            assert!(wrong.parse::<Percent>().is_err(), "{wrong:?}");
        }
        assert_eq!(Percent(-30.0).to_string(), "-30%");
        assert_eq!(Percent(5.0).to_string(), "+5%");
    }

    #[test]
    fn a_prediction_is_refused_for_a_problem_not_solved_or_not_drawn() {
        let mut drill = drill();
        let not_solved = drill
            .predict(1, percent("-30"), percent("-10"), 1_200)
            .unwrap_err()
            .to_string();
        assert!(not_solved.contains("not solved yet"), "{not_solved}");
        for number in [0, 4] {
            let none = drill
                .predict(number, percent("-30"), percent("-10"), 1_200)
                .unwrap_err()
                .to_string();
            assert!(none.contains(&format!("no problem {number}")), "{none}");
        }
        assert!(drill.predictions.is_empty());
        assert_eq!(
            drill
                .predict(2, percent("-30"), percent("-10"), 1_200)
                .unwrap(),
            Problem::LockAcrossIo
        );
    }

    #[test]
    fn a_prediction_is_replaced_until_measured_and_stored_with_its_proof() {
        let mut drill = drill();
        drill
            .predict(2, percent("-10"), percent("+5"), 1_150)
            .unwrap();
        drill
            .predict(2, percent("-30"), percent("-60%"), 1_200)
            .unwrap();
        assert_eq!(drill.predictions.len(), 1, "the second replaces the first");
        assert_eq!(drill.unproven(), [Problem::LockAcrossIo]);
        let prediction = drill.prediction(Problem::LockAcrossIo).unwrap();
        assert_eq!((prediction.p50_pct, prediction.p99_pct), (-30.0, -60.0));
        assert_eq!(prediction.after_secs, 200);
        assert_eq!(drill.number_of(Problem::LockAcrossIo), Some(2));

        let points_before = drill.points;
        let (drawn, fixed) = (
            Latency {
                p50_ms: 20.0,
                p99_ms: 200.0,
            },
            Latency {
                p50_ms: 14.0,
                p99_ms: 80.0,
            },
        );
        let measured = Measured {
            drawn,
            fixed,
            change: Change::between(drawn, fixed),
        };
        let proof = drill.record_proof(Problem::LockAcrossIo, measured).unwrap();
        assert_eq!(proof.points, HELD_POINTS, "-30% and -60%, as predicted");
        assert_eq!(drill.points, points_before + HELD_POINTS);
        assert!(drill.unproven().is_empty());
        assert!(
            drill
                .record_proof(Problem::LockAcrossIo, proof.measured)
                .is_none(),
            "measured once"
        );
        let refused = drill
            .predict(2, percent("-31"), percent("-60"), 1_300)
            .unwrap_err()
            .to_string();
        assert!(refused.contains("has been measured"), "{refused}");

        let folder =
            std::env::temp_dir().join(format!("incident-prediction-{}", std::process::id()));
        let file = folder.join("drill.json");
        drill.save(&file).unwrap();
        assert_eq!(Drill::load(&file).unwrap(), drill);
        std::fs::remove_dir_all(&folder).unwrap();
    }
}
