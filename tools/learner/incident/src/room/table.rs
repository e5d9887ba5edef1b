//! The room's table: one row per learner, in counts and times only (the
//! problems solved of those drawn, the score, the wrong answers, the hints,
//! the minutes since joining, when each problem was solved, and whether
//! their shop runs). Never which problems, not even solved ones: the
//! table is projected, and the room works on the same catalogue. The room's
//! page shows it ([`super::page`]), and the room prints it as it stops.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::shop::ShopState;
use crate::state::Drill;

/// Every learner's row, in the order they joined.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Table {
    pub learners: Vec<Row>,
}

/// One learner's row.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Row {
    pub name: String,
    /// Problems solved.
    pub solved: usize,
    /// Problems drawn.
    pub drawn: usize,
    pub score: i64,
    /// Answers that solved nothing.
    pub wrong_answers: usize,
    pub hints: usize,
    /// Whole minutes since they joined.
    pub minutes: u64,
    /// Seconds from their joining to each solve, in the order solved.
    pub solves_after_secs: Vec<u64>,
    pub shop: ShopState,
}

impl Row {
    /// The row of the learner `name`, whose drill is `drill` and whose
    /// shop is `shop`, at `now`.
    pub fn of(name: &str, drill: &Drill, shop: ShopState, now: u64) -> Self {
        Self {
            name: name.to_owned(),
            solved: drill.solved().len(),
            drawn: drill.drawn.len(),
            score: drill.points,
            wrong_answers: drill
                .answers
                .iter()
                .filter(|answer| answer.solved.is_none())
                .count(),
            hints: drill.hints.len(),
            minutes: drill.elapsed(now) / 60,
            solves_after_secs: drill
                .solve_times()
                .into_iter()
                .map(|(_, after)| after)
                .collect(),
            shop,
        }
    }
}

impl fmt::Display for Table {
    /// The table as the room prints it: a line per learner.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "{:<20} {:>8} {:>6} {:>6} {:>6} {:>8}  solved after",
            "learner", "solved", "score", "wrong", "hints", "minutes"
        )?;
        for row in &self.learners {
            let solves: Vec<String> = row
                .solves_after_secs
                .iter()
                .map(|secs| format!("{}:{:02}", secs / 60, secs % 60))
                .collect();
            let solved = format!("{} of {}", row.solved, row.drawn);
            writeln!(
                f,
                "{:<20} {solved:>8} {:>6} {:>6} {:>6} {:>8}  {}",
                row.name,
                row.score,
                row.wrong_answers,
                row.hints,
                row.minutes,
                solves.join(", ")
            )?;
        }
        if self.learners.is_empty() {
            writeln!(f, "nobody joined")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use shop::Problem;

    use super::*;
    use crate::state::AnswerRecord;

    #[test]
    fn a_row_counts_and_times_and_names_no_problem() {
        let drawn = [Problem::MissingIndex, Problem::LockAcrossIo];
        let mut drill = Drill::new(5, &drawn, 1_000, 20_005, 20_000);
        let answer = AnswerRecord {
            service: "inventory".to_owned(),
            operation: "reserve".to_owned(),
            cause: "lock-convoy".to_owned(),
            evidence: "4bf92f3577b34da6a3ce929d0e0e4736".to_owned(),
            after_secs: 0,
            solved: None,
        };
        drill.record_answer(answer.clone(), None, 1_060);
        drill.take_hint(Problem::MissingIndex, 1_100);
        drill.record_answer(answer, Some(Problem::LockAcrossIo), 1_245);
        let row = Row::of("alice", &drill, ShopState::Running, 1_400);
        assert_eq!(
            row,
            Row {
                name: "alice".to_owned(),
                solved: 1,
                drawn: 2,
                score: 45,
                wrong_answers: 1,
                hints: 1,
                minutes: 6,
                solves_after_secs: vec![245],
                shop: ShopState::Running,
            }
        );
        let table = Table {
            learners: vec![row],
        };
        let json = serde_json::to_string(&table).unwrap();
        assert!(json.contains("\"shop\":\"running\""), "{json}");
        let printed = table.to_string();
        assert!(printed.contains("alice"), "{printed}");
        assert!(printed.contains("1 of 2"), "{printed}");
        assert!(printed.contains("4:05"), "{printed}");
        for problem in Problem::ALL {
            assert!(!json.contains(problem.slug()), "{json}");
            assert!(!printed.contains(problem.slug()), "{printed}");
        }
    }
}
