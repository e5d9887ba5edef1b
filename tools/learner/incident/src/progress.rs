//! What the learner does during a drill: `answer`, `hint`, `predict` and
//! `status`. Each is a function of the drill's state that records in it
//! and returns what to tell the learner ([`answered`], [`hinted`],
//! [`report`]), shared by the drill of one's own, where each command is a
//! process of its own that reads `target/incident/drill.json` and saves
//! what changed, and by a room ([`crate::room`]), where the instructor's
//! machine keeps every learner's drill. The drill need not be running: an
//! answer is judged whenever the collector still answers (and, for a
//! metric, the shop).

use std::path::Path;

use shop::Problem;

use crate::answer::{self, Answer};
use crate::evidence;
use crate::prediction::{self, Predict};
use crate::state::{self, Drill};

/// Where a drill runs, which changes what its status may tell.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Place {
    /// On the learner's own machine: its seed is theirs to replay, and it
    /// has predictions to prove.
    OwnMachine,
    /// In a room: the seed stays on the instructor's machine (replayed
    /// alone, it would plant the same problems in a drill whose state the
    /// learner can read), and there is nothing to predict.
    Room,
}

/// `just incident answer …`: judged, recorded (unless it names a problem
/// already solved, or its evidence cannot be read), scored.
pub async fn answer(root: &Path, given: &Answer) -> anyhow::Result<()> {
    let path = state::path(root);
    let mut drill = Drill::load(&path)?;
    let before = drill.clone();
    let told = answered(&mut drill, given, state::now_secs()).await?;
    save_if_changed(&drill, &before, &path)?;
    println!("{told}");
    Ok(())
}

/// An answer given at `now`, judged on the evidence read from the drill's
/// collector or shop, recorded in `drill` (unless it names a problem
/// already solved) and scored; what the learner is told. An error, with
/// nothing recorded, when the evidence cannot be read.
pub async fn answered(drill: &mut Drill, given: &Answer, now: u64) -> anyhow::Result<String> {
    let material = evidence::gather(&given.evidence, drill).await?;
    let verdict = given.judge(&drill.problems(), &drill.solved(), &material);
    if verdict.is_recorded() {
        drill.record_answer(given.record(), verdict.solved(), now);
    }
    let mut told = answer::message(&verdict, drill.points);
    if verdict.solved().is_some() && drill.unsolved().is_empty() {
        told.push_str("\nEvery problem is solved: `just incident status` explains them all.");
    }
    Ok(told)
}

/// `just incident hint`: the next hint on the first problem not solved,
/// recorded and scored.
pub fn hint(root: &Path) -> anyhow::Result<()> {
    let path = state::path(root);
    let mut drill = Drill::load(&path)?;
    let before = drill.clone();
    let told = hinted(&mut drill, state::now_secs());
    save_if_changed(&drill, &before, &path)?;
    println!("{told}");
    Ok(())
}

/// The next hint on the first problem not solved, taken at `now`,
/// recorded in `drill` and scored; what the learner is told.
pub fn hinted(drill: &mut Drill, now: u64) -> String {
    let Some(problem) = drill.unsolved().first().copied() else {
        return "Every problem is solved: no hint needed.".to_owned();
    };
    match drill.take_hint(problem, now) {
        Some(level) => {
            let hints = problem.hints();
            format!(
                "Hint {} of {} on an unsolved problem ({} points): {}",
                level + 1,
                hints.len(),
                state::HINT_POINTS,
                hints[level]
            )
        }
        None => "Every hint on this problem has been taken: the last one says where in the code to look."
            .to_owned(),
    }
}

/// Saves `drill` in `path` if it differs from `before`: a command that
/// recorded nothing leaves the file as it was.
fn save_if_changed(drill: &Drill, before: &Drill, path: &Path) -> anyhow::Result<()> {
    match drill == before {
        true => Ok(()),
        false => drill.save(path),
    }
}

/// `just incident predict …`: what fixing a solved problem does to `POST
/// /orders`, recorded for `fix` to measure.
pub fn predict(root: &Path, given: &Predict) -> anyhow::Result<()> {
    let path = state::path(root);
    let mut drill = Drill::load(&path)?;
    let problem = drill.predict(given.problem, given.p50, given.p99, state::now_secs())?;
    drill.save(&path)?;
    println!(
        "Predicted: with problem {} ({} {}) fixed, POST /orders' p50 changes by {} and its p99 by {}.",
        given.problem,
        problem.service(),
        problem.cause(),
        given.p50,
        given.p99
    );
    println!(
        "Once the drill is stopped, `just incident fix` measures it: +{} when both hold.",
        prediction::HELD_POINTS
    );
    Ok(())
}

/// `just incident status`: the score so far, each problem by its number;
/// once all is solved, what each problem was and how it is fixed.
pub fn status(root: &Path) -> anyhow::Result<()> {
    let drill = Drill::load(&state::path(root))?;
    let now = state::now_secs();
    print!("{}", report(&drill, now, Place::OwnMachine));
    Ok(())
}

/// The status of `drill` at `now`, as printed: the score so far, each
/// problem by its number; once all is solved, what each problem was and
/// how it is fixed. In a room, neither the seed nor predictions.
pub fn report(drill: &Drill, now: u64, place: Place) -> String {
    let elapsed = drill.elapsed(now);
    let solved = drill.solve_times();
    let which = match place {
        Place::OwnMachine => format!("Drill of seed {}", drill.seed),
        Place::Room => "Your drill in the room".to_owned(),
    };
    let mut text = format!(
        "{which}: {} of {} solved, {} points, {} min {:02} s in; {} hint{} taken, {} answer{} given.\n",
        solved.len(),
        drill.drawn.len(),
        drill.points,
        elapsed / 60,
        elapsed % 60,
        drill.hints.len(),
        if drill.hints.len() == 1 { "" } else { "s" },
        drill.answers.len(),
        if drill.answers.len() == 1 { "" } else { "s" },
    );
    text.push_str(&numbered(drill, place));
    if !drill.unsolved().is_empty() {
        return text;
    }
    text.push_str("Every problem is solved:\n");
    for (problem, after) in solved {
        text.push_str(&format!(
            "  after {} min {:02} s, {} {} ({}): {}.\n    The fix: {}.\n",
            after / 60,
            after % 60,
            problem.service(),
            problem.operations().join(" / "),
            problem.cause(),
            problem.explanation(),
            problem.fix_switch()
        ));
    }
    text
}

/// Each drawn problem by its number, as `predict` names it: not solved
/// yet, or solved, by the answer that solved it (nothing the learner does
/// not know), with its prediction and what `fix` measured of it (on the
/// learner's own machine: a room has no predictions).
fn numbered(drill: &Drill, place: Place) -> String {
    let mut text = String::new();
    for (index, slug) in drill.drawn.iter().enumerate() {
        let number = index + 1;
        let solving = drill
            .answers
            .iter()
            .find(|answer| answer.solved.as_deref() == Some(slug.as_str()));
        let Some(answer) = solving else {
            text.push_str(&format!("  {number}. not solved yet\n"));
            continue;
        };
        text.push_str(&format!(
            "  {number}. solved after {} min {:02} s: {} {} ({})",
            answer.after_secs / 60,
            answer.after_secs % 60,
            answer.service,
            answer.operation,
            answer.cause
        ));
        if place == Place::Room {
            text.push('\n');
            continue;
        }
        let prediction = Problem::from_slug(slug).and_then(|problem| drill.prediction(problem));
        text.push_str(&match prediction {
            None => "; no prediction yet\n".to_owned(),
            Some(prediction) => {
                let predicted = format!(
                    "; predicted p50 {:+}%, p99 {:+}%",
                    prediction.p50_pct, prediction.p99_pct
                );
                match &prediction.proof {
                    None => format!("{predicted}, not measured yet\n"),
                    Some(proof) => format!(
                        "{predicted}; measured {:+.1}%, {:+.1}%: {:+} points\n",
                        proof.p50_pct(),
                        proof.p99_pct(),
                        proof.points
                    ),
                }
            }
        });
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::prediction::{Change, Latency, Measured, Percent};
    use crate::state::AnswerRecord;

    fn solving(problem: Problem) -> AnswerRecord {
        AnswerRecord {
            service: problem.service().to_owned(),
            operation: problem.operations()[0].to_owned(),
            cause: problem.cause().word().to_owned(),
            evidence: "metric:gateway:otel_sdk_processor_span_pending".to_owned(),
            after_secs: 0,
            solved: None,
        }
    }

    #[test]
    fn the_status_explains_the_problems_only_once_all_are_solved() {
        let drawn = [Problem::ExportQueueOverflow, Problem::MissingIndex];
        let mut drill = Drill::new(42, &drawn, 1_000, 16686, 8080);
        drill.record_answer(solving(drawn[0]), Some(drawn[0]), 1_125);
        let halfway = report(&drill, 1_200, Place::OwnMachine);
        assert!(halfway.starts_with("Drill of seed 42: 1 of 2 solved, 100 points, 3 min 20 s in"));
        for problem in drawn {
            assert!(!halfway.contains(problem.explanation()), "{halfway}");
        }
        drill.record_answer(solving(drawn[1]), Some(drawn[1]), 1_300);
        let done = report(&drill, 1_400, Place::OwnMachine);
        for problem in drawn {
            assert!(done.contains(problem.explanation()), "{done}");
            assert!(done.contains(&problem.fix_switch()), "{done}");
        }
        assert!(done.contains("after 2 min 05 s"), "{done}");
    }

    #[test]
    fn the_status_numbers_the_problems_with_their_predictions() {
        let drawn = [Problem::ExportQueueOverflow, Problem::MissingIndex];
        let mut drill = Drill::new(42, &drawn, 1_000, 16686, 8080);
        drill.record_answer(solving(drawn[1]), Some(drawn[1]), 1_125);
        let solved = report(&drill, 1_200, Place::OwnMachine);
        assert!(solved.contains("\n  1. not solved yet\n"), "{solved}");
        assert!(
            solved.contains(
                "\n  2. solved after 2 min 05 s: inventory write_audit_record (missing-index); \
                 no prediction yet\n"
            ),
            "{solved}"
        );
        drill
            .predict(2, Percent(-30.0), Percent(-50.0), 1_130)
            .unwrap();
        let predicted = report(&drill, 1_200, Place::OwnMachine);
        assert!(
            predicted.contains("; predicted p50 -30%, p99 -50%, not measured yet\n"),
            "{predicted}"
        );
        let as_drawn = Latency {
            p50_ms: 100.0,
            p99_ms: 400.0,
        };
        let fixed = Latency {
            p50_ms: 75.0,
            p99_ms: 200.0,
        };
        let measured = Measured {
            drawn: as_drawn,
            fixed,
            change: Change::between(as_drawn, fixed),
        };
        drill.record_proof(drawn[1], measured).unwrap();
        let proven = report(&drill, 1_300, Place::OwnMachine);
        assert!(
            proven
                .contains("; predicted p50 -30%, p99 -50%; measured -25.0%, -50.0%: +50 points\n"),
            "{proven}"
        );
        assert!(proven.contains(", 150 points,"), "{proven}");
    }

    #[test]
    fn in_a_room_the_status_tells_neither_the_seed_nor_predictions() {
        let drawn = [Problem::ExportQueueOverflow, Problem::MissingIndex];
        let mut drill = Drill::new(42, &drawn, 1_000, 16686, 8080);
        drill.record_answer(solving(drawn[1]), Some(drawn[1]), 1_125);
        let told = report(&drill, 1_200, Place::Room);
        assert!(
            told.starts_with("Your drill in the room: 1 of 2 solved, 100 points, 3 min 20 s in"),
            "{told}"
        );
        assert!(!told.contains("seed") && !told.contains("42"), "{told}");
        assert!(
            told.contains(
                "\n  2. solved after 2 min 05 s: inventory write_audit_record (missing-index)\n"
            ),
            "{told}"
        );
        assert!(!told.contains("prediction"), "{told}");
    }

    #[test]
    fn a_hint_is_told_and_recorded_until_there_is_none_left() {
        let mut drill = Drill::new(3, &[Problem::RetryStorm], 0, 1, 2);
        let first = hinted(&mut drill, 10);
        assert!(
            first.starts_with("Hint 1 of 3 on an unsolved problem (-15 points): "),
            "{first}"
        );
        assert!(first.ends_with(Problem::RetryStorm.hints()[0]), "{first}");
        hinted(&mut drill, 20);
        hinted(&mut drill, 30);
        let spent = drill.clone();
        let none_left = hinted(&mut drill, 40);
        assert!(none_left.starts_with("Every hint on this problem has been taken"));
        assert_eq!(drill, spent, "nothing recorded");
        drill.record_answer(solving(Problem::RetryStorm), Some(Problem::RetryStorm), 50);
        assert_eq!(
            hinted(&mut drill, 60),
            "Every problem is solved: no hint needed."
        );
    }
}
