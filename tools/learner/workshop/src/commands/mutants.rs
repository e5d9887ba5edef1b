//! `just mutants [N]`, for maintainers: is every check the reason some
//! plausible wrong solution fails?
//!
//! cargo-mutants makes small wrong versions of a lab's reference solution
//! (a function that returns a default, a `>` that became `>=`) and runs the
//! lab's grader on each. A mutant the grader fails is caught. One it passes
//! has survived: either a check is missing, or the mutant changes nothing
//! the lab teaches. The second kind is written down, with the reason, in
//! the lab's `equivalent-mutants.toml`; any other survivor fails this
//! command, and so does an entry that no longer survives (the file stays
//! true).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus};

use anstream::println;
use anyhow::{Context, Result, bail};
use serde::Deserialize;

use crate::catalog::{Lab, Workspace};
use crate::report::{GREEN, RED, YELLOW};

/// The file, in a lab's folder, of the mutants that change nothing it teaches.
pub const EQUIVALENTS: &str = "equivalent-mutants.toml";

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Equivalents {
    #[serde(default)]
    equivalent: Vec<Equivalent>,
}

/// A surviving mutant accepted as changing nothing the lab teaches.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Equivalent {
    /// Relative to the solution's folder, e.g. `src/lib.rs`.
    file: String,
    /// cargo-mutants' description without its position, e.g.
    /// `replace > with >= in validate`.
    mutant: String,
    /// One line on why no learner is taught what it changes.
    why: String,
}

/// What cargo-mutants wrote to `mutants.out/outcomes.json`, the parts read here.
#[derive(Debug, Deserialize)]
struct Outcomes {
    outcomes: Vec<Outcome>,
}

#[derive(Debug, Deserialize)]
struct Outcome {
    scenario: Scenario,
    summary: String,
}

#[derive(Debug, Deserialize)]
enum Scenario {
    Baseline,
    Mutant(Mutant),
}

#[derive(Debug, Deserialize)]
struct Mutant {
    package: String,
    file: String,
    name: String,
}

/// One lab's tally.
#[derive(Debug, Default, PartialEq)]
pub struct Tally {
    pub generated: usize,
    pub caught: usize,
    pub unviable: usize,
    pub equivalent: usize,
    /// Survivors with no entry: a check is missing.
    pub unexplained: Vec<String>,
    /// Entries that no longer survive: the file says something untrue.
    pub stale: Vec<String>,
}

/// Runs cargo-mutants on the reference solutions of `labs` (all of them in
/// one run, which builds the copy once) and reports per lab.
pub fn run(ws: &Workspace, labs: &[Lab]) -> Result<bool> {
    let available = Command::new("cargo")
        .args(["mutants", "--version"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !available {
        bail!(
            "`just mutants` needs cargo-mutants: cargo install --locked cargo-mutants \
             (then run it again)"
        );
    }
    let out = ws.root.join("target/mutants");
    let (status, outcomes) = mutate(ws, labs, &out)?;
    // Mutants mean nothing unless the unmutated solutions pass their
    // graders first.
    if !outcomes.baseline_passed() {
        bail!(
            "the reference solutions do not pass their graders unmutated ({status}): \
             `just verify` says which; the log is in {}",
            out.join("mutants.out/log/baseline.log").display()
        );
    }

    println!();
    println!(
        "{:<30} {:>9} {:>6} {:>9} {:>10} {:>11}",
        "lab", "generated", "caught", "unviable", "equivalent", "unexplained"
    );
    let mut good = true;
    for lab in labs {
        let equivalents = load_equivalents(&ws.root, lab)?;
        let tally = tally(lab, &outcomes, &equivalents);
        good &= tally.is_clean();
        show_tally(lab, &tally);
    }
    if !good {
        println!();
        println!(
            "A survivor is a wrong solution the grader accepts: strengthen a check so that it \
             fails, or, if it changes nothing the lab teaches, add it to the lab's {EQUIVALENTS} \
             with one line on why. Logs: {}",
            out.join("mutants.out/log").display()
        );
    }
    Ok(good)
}

/// Runs cargo-mutants on the reference solutions of `labs`, its output in
/// `out`; returns how it exited, and the outcomes it wrote.
fn mutate(ws: &Workspace, labs: &[Lab], out: &Path) -> Result<(ExitStatus, Outcomes)> {
    let mut command = Command::new("cargo");
    command.arg("mutants").current_dir(&ws.root);
    for lab in labs {
        command.args(["--package", &lab.solution_package()]);
    }
    // One build at a time: a mutant's build already uses every core.
    command
        .args(["--jobs", "1", "--timeout", "180", "--output"])
        .arg(out);
    println!(
        "Running cargo-mutants on {} reference solution(s)…",
        labs.len()
    );
    // A previous run's outcomes must not pass for this run's.
    let outcomes_file = out.join("mutants.out/outcomes.json");
    let _ = std::fs::remove_file(&outcomes_file);
    // cargo-mutants exits non-zero when a mutant survives: the tally
    // judges, so its status only matters if it wrote no outcomes.
    let status = command.status().context("cannot run cargo mutants")?;
    let text = std::fs::read_to_string(&outcomes_file).with_context(|| {
        format!(
            "cargo mutants ({status}) wrote no {}",
            outcomes_file.display()
        )
    })?;
    let outcomes: Outcomes = serde_json::from_str(&text).with_context(|| {
        format!(
            "{} is not what cargo-mutants writes",
            outcomes_file.display()
        )
    })?;
    Ok((status, outcomes))
}

/// One lab's row of the table, and its survivors and stale entries below.
fn show_tally(lab: &Lab, tally: &Tally) {
    let style = if tally.is_clean() { GREEN } else { RED };
    println!(
        "{style}{:<30}{style:#} {:>9} {:>6} {:>9} {:>10} {:>11}",
        lab.id(),
        tally.generated,
        tally.caught,
        tally.unviable,
        tally.equivalent,
        tally.unexplained.len()
    );
    for survivor in &tally.unexplained {
        println!("    {YELLOW}survived:{YELLOW:#} {survivor}");
    }
    for entry in &tally.stale {
        println!(
            "    {YELLOW}no longer survives:{YELLOW:#} {entry} (remove it from {})",
            lab.dir.join(EQUIVALENTS).display()
        );
    }
}

impl Outcomes {
    /// Whether the unmutated solutions passed their graders.
    fn baseline_passed(&self) -> bool {
        self.outcomes
            .iter()
            .any(|o| matches!(o.scenario, Scenario::Baseline) && o.summary == "Success")
    }
}

impl Tally {
    /// Every survivor explained, and every entry still true.
    fn is_clean(&self) -> bool {
        self.unexplained.is_empty() && self.stale.is_empty()
    }
}

fn load_equivalents(root: &Path, lab: &Lab) -> Result<Equivalents> {
    let path: PathBuf = root.join(&lab.dir).join(EQUIVALENTS);
    match std::fs::read_to_string(&path) {
        Ok(text) => {
            toml::from_str(&text).with_context(|| format!("{} is malformed", path.display()))
        }
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(Equivalents::default()),
        Err(err) => Err(err).with_context(|| format!("cannot read {}", path.display())),
    }
}

/// `replace > with >= in validate` from
/// `solutions/01-first-spans/src/lib.rs:104:18: replace > with >= in validate`.
fn description(name: &str) -> &str {
    name.split_once(": ").map_or(name, |(_, rest)| rest)
}

fn tally(lab: &Lab, outcomes: &Outcomes, equivalents: &Equivalents) -> Tally {
    let package = lab.solution_package();
    let prefix = format!("{}/", lab.solution_dir.display());
    let mut tally = Tally::default();
    // How many survivors each entry explains.
    let mut used: BTreeMap<usize, usize> = BTreeMap::new();
    for outcome in &outcomes.outcomes {
        let Scenario::Mutant(mutant) = &outcome.scenario else {
            continue;
        };
        if mutant.package != package {
            continue;
        }
        tally.generated += 1;
        match outcome.summary.as_str() {
            "CaughtMutant" | "Timeout" => tally.caught += 1,
            "Unviable" => tally.unviable += 1,
            _ => {
                let file = mutant.file.strip_prefix(&prefix).unwrap_or(&mutant.file);
                let entry = equivalents
                    .equivalent
                    .iter()
                    .position(|e| e.file == file && e.mutant == description(&mutant.name));
                match entry {
                    Some(i) => {
                        tally.equivalent += 1;
                        *used.entry(i).or_default() += 1;
                    }
                    None => tally.unexplained.push(mutant.name.clone()),
                }
            }
        }
    }
    tally.stale = equivalents
        .equivalent
        .iter()
        .enumerate()
        .filter(|(i, _)| !used.contains_key(i))
        .map(|(_, e)| format!("{}: {} ({})", e.file, e.mutant, e.why))
        .collect();
    tally
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lab() -> Lab {
        Lab {
            number: 1,
            slug: "first-spans".to_owned(),
            dir: PathBuf::from("labs/01-first-spans"),
            solution_dir: PathBuf::from("solutions/01-first-spans"),
            meta: toml::from_str(
                "title = 't'\nminutes = 1\ngoal = 'g'\nsteps = []\nhints = []\nchecks = []",
            )
            .unwrap(),
        }
    }

    #[test]
    fn survivors_are_explained_by_an_entry_or_reported() {
        let outcomes: Outcomes = serde_json::from_str(
            r#"{"outcomes": [
                {"scenario": "Baseline", "summary": "Success"},
                {"scenario": {"Mutant": {"package": "lab01-solution", "file": "solutions/01-first-spans/src/lib.rs",
                  "name": "solutions/01-first-spans/src/lib.rs:104:18: replace > with >= in validate"}}, "summary": "MissedMutant"},
                {"scenario": {"Mutant": {"package": "lab01-solution", "file": "solutions/01-first-spans/src/lib.rs",
                  "name": "solutions/01-first-spans/src/lib.rs:114:5: replace price -> u64 with 0"}}, "summary": "MissedMutant"},
                {"scenario": {"Mutant": {"package": "lab01-solution", "file": "solutions/01-first-spans/src/lib.rs",
                  "name": "solutions/01-first-spans/src/lib.rs:128:5: replace charge with Ok(())"}}, "summary": "CaughtMutant"},
                {"scenario": {"Mutant": {"package": "lab01-solution", "file": "solutions/01-first-spans/src/lib.rs",
                  "name": "solutions/01-first-spans/src/lib.rs:35:9: replace last4 with \"\""}}, "summary": "Unviable"},
                {"scenario": {"Mutant": {"package": "lab02-solution", "file": "solutions/02-structured-output/src/lib.rs",
                  "name": "x"}}, "summary": "MissedMutant"}
            ]}"#,
        )
        .unwrap();
        let equivalents: Equivalents = toml::from_str(
            r#"
            [[equivalent]]
            file = "src/lib.rs"
            mutant = "replace > with >= in validate"
            why = "the seat limit is not taught"

            [[equivalent]]
            file = "src/lib.rs"
            mutant = "replace < with <= in gone"
            why = "a mutant that no longer survives"
            "#,
        )
        .unwrap();
        let tally = tally(&lab(), &outcomes, &equivalents);
        assert_eq!(
            (
                tally.generated,
                tally.caught,
                tally.unviable,
                tally.equivalent
            ),
            (4, 1, 1, 1)
        );
        assert_eq!(
            tally.unexplained,
            ["solutions/01-first-spans/src/lib.rs:114:5: replace price -> u64 with 0"]
        );
        assert_eq!(tally.stale.len(), 1);
        assert!(tally.stale[0].contains("gone"));
        assert!(!tally.is_clean());
    }

    #[test]
    fn mutants_count_only_after_the_unmutated_solutions_pass() {
        let outcomes = |baseline: &str| -> Outcomes {
            serde_json::from_str(&format!(
                r#"{{"outcomes": [{{"scenario": "Baseline", "summary": "{baseline}"}}]}}"#
            ))
            .unwrap()
        };
        assert!(outcomes("Success").baseline_passed());
        assert!(!outcomes("Failure").baseline_passed());
        let no_baseline: Outcomes = serde_json::from_str(r#"{"outcomes": []}"#).unwrap();
        assert!(!no_baseline.baseline_passed());
    }
}
