//! What a drill is and what has happened in it, kept in
//! `target/incident/drill.json`: `just incident` writes it as it starts,
//! and `answer`, `hint`, `predict`, `fix` and `status`, each a process of
//! its own (run while the drill runs, or after it stopped), read it and
//! record in it. The score is kept here too, with the rules that make it
//! (a prediction's, with the predictions: [`crate::prediction`]).

use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::Context;
use serde::{Deserialize, Serialize};
use shop::Problem;

use crate::prediction::PredictionRecord;

/// Points for a problem solved.
pub const SOLVED_POINTS: i64 = 100;
/// Points for an answer that solves nothing: more than a problem is worth
/// over the guesses it takes, so that answering every entry of the
/// catalogue in turn scores below zero (three drawn of twelve: 3 x 100 -
/// 9 x 40).
pub const WRONG_POINTS: i64 = -40;
/// Points for a hint taken.
pub const HINT_POINTS: i64 = -15;

/// The folder of the drill's files, logs and state, in the workspace.
pub const FOLDER: &str = "target/incident";

/// [`FOLDER`] in the workspace at `root`.
pub fn folder(root: &Path) -> PathBuf {
    root.join(FOLDER)
}

/// Where the drill's state is kept.
pub fn path(root: &Path) -> PathBuf {
    folder(root).join("drill.json")
}

/// Now, in seconds since the Unix epoch.
pub fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| since.as_secs())
}

/// One drill: what was drawn, where it runs, and what the learner did.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Drill {
    pub seed: u64,
    /// The problems planted, by their slugs, in the order drawn.
    pub drawn: Vec<String>,
    /// When it started, in seconds since the Unix epoch.
    pub started_at: u64,
    /// Where the collector answers queries: where evidence traces are read.
    pub collector_ui_port: u16,
    /// The gateway's port; the other services take the next four.
    pub base_port: u16,
    pub answers: Vec<AnswerRecord>,
    pub hints: Vec<HintRecord>,
    pub points: i64,
    /// The drill's own process, that runs the shop on these ports: `fix`
    /// needs them, and refuses while it lives. Absent from the files of
    /// drills that did not record it.
    #[serde(default)]
    pub pid: Option<u32>,
    /// What the learner predicted fixing each solved problem would do,
    /// and what `fix` measured. Absent from the files of drills older than
    /// predictions.
    #[serde(default)]
    pub predictions: Vec<PredictionRecord>,
}

/// An answer given, and what it solved.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AnswerRecord {
    pub service: String,
    pub operation: String,
    pub cause: String,
    pub evidence: String,
    /// Seconds from the drill's start.
    pub after_secs: u64,
    /// The slug of the problem it solved, if it solved one.
    pub solved: Option<String>,
}

/// A hint taken.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HintRecord {
    /// The slug of the problem it was about.
    pub problem: String,
    /// Which of the problem's hints: 0 the idea, 1 the tool, 2 the code.
    pub level: usize,
    /// Seconds from the drill's start.
    pub after_secs: u64,
}

impl Drill {
    /// A drill of `drawn`, started at `started_at`, nothing done yet.
    pub fn new(
        seed: u64,
        drawn: &[Problem],
        started_at: u64,
        collector_ui_port: u16,
        base_port: u16,
    ) -> Self {
        Self {
            seed,
            drawn: drawn.iter().map(|p| p.slug().to_owned()).collect(),
            started_at,
            collector_ui_port,
            base_port,
            answers: Vec::new(),
            hints: Vec::new(),
            points: 0,
            pid: None,
            predictions: Vec::new(),
        }
    }

    /// The drill, run by process `pid`.
    pub fn running_as(self, pid: u32) -> Self {
        Self {
            pid: Some(pid),
            ..self
        }
    }

    /// The drill in `path`, or why there is none.
    pub fn load(path: &Path) -> anyhow::Result<Self> {
        let text = std::fs::read_to_string(path).with_context(|| {
            format!(
                "no drill has been started ({} cannot be read): `just incident` starts one",
                path.display()
            )
        })?;
        serde_json::from_str(&text).with_context(|| format!("{} is not a drill", path.display()))
    }

    pub fn save(&self, path: &Path) -> anyhow::Result<()> {
        if let Some(folder) = path.parent() {
            std::fs::create_dir_all(folder)
                .with_context(|| format!("cannot create {}", folder.display()))?;
        }
        let text = serde_json::to_string_pretty(self)?;
        std::fs::write(path, text + "\n")
            .with_context(|| format!("cannot write {}", path.display()))
    }

    /// The problems planted, in the order drawn.
    pub fn problems(&self) -> Vec<Problem> {
        self.drawn
            .iter()
            .filter_map(|slug| Problem::from_slug(slug))
            .collect()
    }

    /// The problems solved so far, in the order solved.
    pub fn solved(&self) -> Vec<Problem> {
        self.answers
            .iter()
            .filter_map(|answer| answer.solved.as_deref())
            .filter_map(Problem::from_slug)
            .collect()
    }

    /// The problems not solved yet, in the order drawn.
    pub fn unsolved(&self) -> Vec<Problem> {
        let solved = self.solved();
        self.problems()
            .into_iter()
            .filter(|p| !solved.contains(p))
            .collect()
    }

    /// Seconds from the drill's start to `now`.
    pub fn elapsed(&self, now: u64) -> u64 {
        now.saturating_sub(self.started_at)
    }

    /// Records an answer given at `now`, which solved `solved` (or
    /// nothing), and scores it.
    pub fn record_answer(&mut self, mut answer: AnswerRecord, solved: Option<Problem>, now: u64) {
        answer.after_secs = self.elapsed(now);
        answer.solved = solved.map(|p| p.slug().to_owned());
        self.points += match solved {
            Some(_) => SOLVED_POINTS,
            None => WRONG_POINTS,
        };
        self.answers.push(answer);
    }

    /// How many of `problem`'s hints have been taken.
    pub fn hints_taken(&self, problem: Problem) -> usize {
        self.hints
            .iter()
            .filter(|hint| hint.problem == problem.slug())
            .count()
    }

    /// Records that `problem`'s next hint was taken at `now`, scores it,
    /// and returns its level; `None`, recording nothing, when every one
    /// of its hints has been taken.
    pub fn take_hint(&mut self, problem: Problem, now: u64) -> Option<usize> {
        let level = self.hints_taken(problem);
        if level >= problem.hints().len() {
            return None;
        }
        self.hints.push(HintRecord {
            problem: problem.slug().to_owned(),
            level,
            after_secs: self.elapsed(now),
        });
        self.points += HINT_POINTS;
        Some(level)
    }

    /// Each problem solved, with the seconds from the start to its solve.
    pub fn solve_times(&self) -> Vec<(Problem, u64)> {
        self.answers
            .iter()
            .filter_map(|answer| {
                let problem = Problem::from_slug(answer.solved.as_deref()?)?;
                Some((problem, answer.after_secs))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer() -> AnswerRecord {
        AnswerRecord {
            service: "inventory".to_owned(),
            operation: "reserve".to_owned(),
            cause: "lock-convoy".to_owned(),
            evidence: "4bf92f3577b34da6a3ce929d0e0e4736".to_owned(),
            after_secs: 0,
            solved: None,
        }
    }

    #[test]
    fn the_state_round_trips_through_its_file() {
        let mut drill = Drill::new(
            1234,
            &[Problem::LockAcrossIo, Problem::ClockSkew],
            1_000,
            16686,
            8080,
        );
        drill.record_answer(answer(), Some(Problem::LockAcrossIo), 1_090);
        drill.take_hint(Problem::ClockSkew, 1_100);
        let folder = std::env::temp_dir().join(format!("incident-state-{}", std::process::id()));
        let file = folder.join("drill.json");
        drill.save(&file).unwrap();
        assert_eq!(Drill::load(&file).unwrap(), drill);
        std::fs::remove_dir_all(&folder).unwrap();
        assert!(
            Drill::load(&file)
                .unwrap_err()
                .to_string()
                .contains("just incident")
        );
    }

    #[test]
    fn a_file_written_before_pids_and_predictions_still_loads() {
        let drill = Drill::new(7, &[Problem::NPlusOne], 10, 16686, 8080);
        let mut json = serde_json::to_value(&drill).unwrap();
        let fields = json.as_object_mut().unwrap();
        assert!(fields.remove("pid").is_some());
        assert!(fields.remove("predictions").is_some());
        assert_eq!(serde_json::from_value::<Drill>(json).unwrap(), drill);
        assert_eq!(drill.running_as(42).pid, Some(42));
    }

    #[test]
    fn solving_wrong_answers_and_hints_score_as_the_rules_say() {
        let mut drill = Drill::new(1, &[Problem::NPlusOne, Problem::MissingIndex], 100, 1, 2);
        drill.record_answer(answer(), None, 130);
        assert_eq!(drill.points, WRONG_POINTS);
        assert_eq!(drill.take_hint(Problem::NPlusOne, 140), Some(0));
        assert_eq!(drill.take_hint(Problem::NPlusOne, 150), Some(1));
        assert_eq!(drill.points, WRONG_POINTS + 2 * HINT_POINTS);
        drill.record_answer(answer(), Some(Problem::NPlusOne), 160);
        assert_eq!(drill.points, SOLVED_POINTS + WRONG_POINTS + 2 * HINT_POINTS);
        assert_eq!(drill.points, 30);
        assert_eq!(drill.solved(), [Problem::NPlusOne]);
        assert_eq!(drill.unsolved(), [Problem::MissingIndex]);
        assert_eq!(drill.solve_times(), [(Problem::NPlusOne, 60)]);
    }

    #[test]
    fn a_problem_has_three_hints_and_no_fourth() {
        let mut drill = Drill::new(1, &[Problem::RetryStorm], 0, 1, 2);
        let levels: Vec<Option<usize>> = (0..4)
            .map(|_| drill.take_hint(Problem::RetryStorm, 5))
            .collect();
        assert_eq!(levels, [Some(0), Some(1), Some(2), None]);
        assert_eq!(
            drill.points,
            3 * HINT_POINTS,
            "the refused hint costs nothing"
        );
        assert_eq!(drill.hints_taken(Problem::RetryStorm), 3);
    }
}
