//! A lab's texts: its README has the sections every lab has, says the
//! minutes `lab.toml` says and lists every other design the grader
//! accepts; its `lab.toml` has steps, checks and hints enough.

use crate::catalog::{Lab, Workspace};
use workshop::members::{Members, Role};

/// What is missing from `lab`'s README and `lab.toml`.
pub fn problems(ws: &Workspace, lab: &Lab, members: &Members) -> Vec<String> {
    let mut problems = match std::fs::read_to_string(ws.root.join(&lab.dir).join("README.md")) {
        Err(_) => vec!["README.md is missing".to_owned()],
        Ok(readme) => readme_problems(lab, &readme, members),
    };
    if lab.meta.hints.len() < 2 {
        problems.push("lab.toml needs at least 2 hints".to_owned());
    }
    if lab.meta.steps.is_empty() || lab.meta.checks.is_empty() {
        problems.push("lab.toml needs steps and checks".to_owned());
    }
    problems
}

fn readme_problems(lab: &Lab, readme: &str, members: &Members) -> Vec<String> {
    let mut problems = Vec::new();
    for heading in ["## Goal", "## Steps", "## Done when"] {
        if !readme.contains(heading) {
            problems.push(format!("README.md has no `{heading}` section"));
        }
    }
    let minutes = format!("{} minutes", lab.meta.minutes);
    if !readme.contains(&minutes) {
        problems.push(format!(
            "README.md does not say `{minutes}` as lab.toml does"
        ));
    }
    // A learner reads there which other designs pass, and why.
    for (_, role) in members.of_lab(&lab.id()) {
        if let Role::Alternative(name) = role {
            let named = format!("alternatives/{name}");
            if !readme.contains(&named) {
                problems.push(format!(
                    "README.md does not list the alternative `{named}` that the grader accepts"
                ));
            }
        }
    }
    problems
}
