//! Each of a lab's crates is shaped as its kind requires (the table in
//! `labs/README.md`, "What `just verify` checks"): named as the contract
//! names it; a crate the lab's grader grades (the starter, the reference,
//! an alternative, a wrong solution) is a library called `labNN` graded by
//! the lab's own grader file and no copy of it; the lab's given code is
//! used by the starter and the solution alike; a crate nobody grades (the
//! given code, a program beside the lab) holds no grader.

use std::path::Path;

use crate::catalog::{Lab, Workspace};
use workshop::members::{Member, Members, Role};

/// What is wrong with the shape of `lab`'s crates.
pub fn problems(ws: &Workspace, lab: &Lab, members: &Members) -> Vec<String> {
    let crates: Vec<(&Member, &Role)> = members.of_lab(&lab.id()).collect();
    let mut problems = Vec::new();
    for (role, folder) in [
        (Role::Starter, &lab.dir),
        (Role::Solution, &lab.solution_dir),
    ] {
        if !crates.iter().any(|(_, of)| **of == role) {
            problems.push(format!(
                "{} holds no crate: the lab needs its {}",
                folder.display(),
                kind(&role)
            ));
        }
    }
    for (member, role) in crates {
        problems.extend(
            crate_problems(ws, lab, member, role, members)
                .into_iter()
                .map(|problem| format!("{}: {problem}", member.dir.display())),
        );
    }
    problems
}

fn crate_problems(
    ws: &Workspace,
    lab: &Lab,
    member: &Member,
    role: &Role,
    members: &Members,
) -> Vec<String> {
    let mut problems = Vec::new();
    if let Some(name) = package_name(lab, role)
        && member.name != name
    {
        problems.push(format!(
            "its package is named `{}`; as the lab's {} it is `{name}`",
            member.name,
            kind(role)
        ));
    }
    let graders = lab.dir.join("tests");
    match role {
        Role::Starter | Role::Solution | Role::Alternative(_) | Role::Wrong(_) => {
            problems.extend(graded_problems(ws, lab, member, role));
        }
        Role::Given | Role::Program => {
            if member
                .tests()
                .any(|test| test.src_path.starts_with(&graders))
            {
                problems.push(format!(
                    "a [[test]] of it is in {}/: the lab's grader grades the starter and the \
                     solutions only",
                    graders.display()
                ));
            }
        }
    }
    if *role == Role::Given {
        for user in [lab.package(), lab.solution_package()] {
            if members
                .get(&user)
                .is_some_and(|found| !found.uses(&member.name))
            {
                problems.push(format!(
                    "`{user}` does not depend on it: the lab's given code is used by the \
                     starter and the solution alike"
                ));
            }
        }
    }
    problems
}

/// A crate the lab's grader grades: its library is `labNN`, and its tests
/// are the lab's grader file, not a copy.
fn graded_problems(ws: &Workspace, lab: &Lab, member: &Member, role: &Role) -> Vec<String> {
    let mut problems = Vec::new();
    let library = lab.package();
    if member.lib().is_none_or(|lib| lib.name != library) {
        problems.push(format!(
            "its library is not named `{library}`, so the lab's grader cannot use it: \
             `[lib] name = \"{library}\"`"
        ));
    }
    let graders = lab.dir.join("tests");
    let tests: Vec<&Path> = member.tests().map(|test| test.src_path.as_path()).collect();
    if tests.is_empty() || !tests.iter().all(|test| test.starts_with(&graders)) {
        problems.push(format!(
            "its Cargo.toml must point every [[test]] at {}/ so that one grader checks \
             every subject",
            graders.display()
        ));
    }
    if *role != Role::Starter && ws.root.join(&member.dir).join("tests").exists() {
        problems.push(format!(
            "{}/tests exists: graders must not be copied",
            member.dir.display()
        ));
    }
    problems
}

/// The package name the contract gives a lab's crate of this kind.
fn package_name(lab: &Lab, role: &Role) -> Option<String> {
    let number = lab.number;
    match role {
        Role::Starter => Some(lab.package()),
        Role::Solution => Some(lab.solution_package()),
        Role::Given => Some(format!("lab{number:02}-given")),
        Role::Alternative(name) => Some(format!("lab{number:02}-alt-{name}")),
        Role::Wrong(name) => Some(format!("lab{number:02}-wrong-{name}")),
        Role::Program => None,
    }
}

fn kind(role: &Role) -> &'static str {
    match role {
        Role::Starter => "starter",
        Role::Solution => "reference solution",
        Role::Given => "given code",
        Role::Program => "program",
        Role::Alternative(_) => "alternative",
        Role::Wrong(_) => "wrong solution",
    }
}
