//! The headline figures: read back from criterion's results and the
//! throughput comparison, printed as one table and saved as JSON.

use std::path::Path;

use serde_json::{Value, json};

use crate::spread::Spread;

/// Criterion's mean time per iteration of `group/bench`, in nanoseconds.
pub fn criterion_mean_ns(target_dir: &Path, id: &str) -> Option<f64> {
    crate::estimates::mean(target_dir, id).map(|mean| mean.ns)
}

/// One row of the table.
pub struct Headline {
    pub figure: String,
    pub value: f64,
    pub unit: &'static str,
    /// The goal, as (`>=` or `<=`, bound).
    pub goal: Option<(&'static str, f64)>,
    /// For a figure measured round after round, its spread over the
    /// rounds: `value` is their median, and whether it meets its goal is
    /// only as sure as the spread is narrow.
    pub spread: Option<Spread>,
}

/// A figure against its goal.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    Met,
    Missed,
    /// The goal lies within the median's 95 % interval: another run could
    /// land either side of it, so neither is claimed.
    WithinTheSpread,
}

impl Verdict {
    /// As the table prints it.
    pub fn word(self) -> &'static str {
        match self {
            Verdict::Met => "met",
            Verdict::Missed => "MISSED",
            Verdict::WithinTheSpread => "unsure",
        }
    }
}

impl Headline {
    /// Whether the median meets the goal, whatever its spread.
    pub fn meets_goal(&self) -> Option<bool> {
        self.goal.map(|(op, bound)| meets(op, bound, self.value))
    }

    /// The goal judged over the median's 95 % interval: met or missed
    /// only when the whole interval is on one side of the bound.
    pub fn verdict(&self) -> Option<Verdict> {
        let (op, bound) = self.goal?;
        let half_width = self.spread.map_or(0.0, |spread| spread.half_width).max(0.0);
        let ends = [self.value - half_width, self.value + half_width];
        Some(match ends.map(|end| meets(op, bound, end)) {
            [true, true] => Verdict::Met,
            [false, false] => Verdict::Missed,
            _ => Verdict::WithinTheSpread,
        })
    }
}

/// Whether `value` is on the goal's side of `bound` (`>=` or `<=`).
fn meets(op: &str, bound: f64, value: f64) -> bool {
    if op == ">=" {
        value >= bound
    } else {
        value <= bound
    }
}

pub fn print(headlines: &[Headline]) {
    println!();
    println!(
        "{:<44} {:>16}  {:<14} {:<6}  spread over the rounds",
        "headline figure", "measured", "goal", ""
    );
    for h in headlines {
        let goal = h
            .goal
            .map(|(op, bound)| format!("{op} {}", number(bound)))
            .unwrap_or_default();
        let verdict = h.verdict().map_or("", Verdict::word);
        let spread = h
            .spread
            .map(|spread| spread.to_string())
            .unwrap_or_default();
        let line = format!(
            "{:<44} {:>9} {:<6}  {:<14} {verdict:<6}  {spread}",
            h.figure,
            number(h.value),
            h.unit,
            goal
        );
        println!("{}", line.trim_end());
    }
}

pub fn save(path: &Path, headlines: &[Headline]) -> std::io::Result<()> {
    let rows: Vec<Value> = headlines
        .iter()
        .map(|h| {
            json!({
                "figure": h.figure, "value": h.value, "unit": h.unit,
                "goal": h.goal.map(|(op, bound)| format!("{op} {bound}")), "met": h.meets_goal(),
                "verdict": h.verdict().map(Verdict::word),
                "spread": h.spread.map(|spread| json!({
                    "median": spread.median,
                    "lower_quartile": spread.lower_quartile,
                    "upper_quartile": spread.upper_quartile,
                    "min": spread.min,
                    "max": spread.max,
                    "half_width_95": spread.half_width,
                    "rounds": spread.rounds,
                })),
            })
        })
        .collect();
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(path, serde_json::to_string_pretty(&rows)? + "\n")
}

/// A figure as the tables print it: two decimals below 10, one below
/// 1,000, none from there on, with its thousands grouped.
pub(crate) fn number(value: f64) -> String {
    if value >= 1000.0 {
        let digits = format!("{value:.0}");
        let mut out = String::new();
        for (i, c) in digits.chars().enumerate() {
            if i > 0 && (digits.len() - i) % 3 == 0 {
                out.push(',');
            }
            out.push(c);
        }
        out
    } else if value >= 10.0 {
        format!("{value:.1}")
    } else {
        format!("{value:.2}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_read_well() {
        assert_eq!(number(1_234_567.8), "1,234,568");
        assert_eq!(number(21.34), "21.3");
        assert_eq!(number(0.934), "0.93");
    }

    #[test]
    fn goals_are_judged_in_their_direction() {
        let at_least = Headline {
            figure: "x".into(),
            value: 5.0,
            unit: "",
            goal: Some((">=", 4.0)),
            spread: None,
        };
        let at_most = Headline {
            figure: "y".into(),
            value: 5.0,
            unit: "",
            goal: Some(("<=", 4.0)),
            spread: None,
        };
        assert_eq!(at_least.meets_goal(), Some(true));
        assert_eq!(at_most.meets_goal(), Some(false));
        assert_eq!(at_least.verdict(), Some(Verdict::Met));
        assert_eq!(at_most.verdict(), Some(Verdict::Missed));
    }

    #[test]
    fn a_goal_within_the_medians_interval_is_neither_met_nor_missed() {
        let judged = |value: f64, half_width: f64| {
            Headline {
                figure: "x".into(),
                value,
                unit: "ratio",
                goal: Some((">=", 0.98)),
                spread: Some(Spread {
                    median: value,
                    lower_quartile: value,
                    upper_quartile: value,
                    min: value,
                    max: value,
                    half_width,
                    rounds: 15,
                }),
            }
            .verdict()
        };
        assert_eq!(judged(1.05, 0.11), Some(Verdict::WithinTheSpread));
        assert_eq!(judged(0.90, 0.11), Some(Verdict::WithinTheSpread));
        assert_eq!(judged(1.09, 0.05), Some(Verdict::Met));
        assert_eq!(judged(0.90, 0.05), Some(Verdict::Missed));
        // No interval to judge with (a NaN half-width): the median alone.
        assert_eq!(judged(1.09, f64::NAN), Some(Verdict::Met));
    }
}
