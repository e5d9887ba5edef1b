//! `just verify`, for maintainers and CI: every lab keeps its contract.
//!
//! For every lab: the starter compiles and fails its grader, every check it
//! passes is one declared to pass, the solution passes every check, the
//! README and hints exist, the solution is graded by the lab's own grader
//! file, every alternative design its README lists passes too, every wrong
//! solution kept under `wrong/` compiles and fails the checks that catch
//! it, no text read before the lab is solved shows the answer's code
//! (`answers`), and the checksums are current. Also: every dependency is pinned in
//! the workspace and unified by `workspace-hack`.

use std::collections::BTreeSet;
use std::path::Path;
use std::time::Instant;

use anstream::println;
use anyhow::{Context, Result};

use crate::answers;
use crate::build::{self, Progress};
use crate::catalog::{Lab, Workspace, WrongSolution};
use crate::checksums;
use crate::grade::{self, CheckStatus, LabReport, LabStatus, Options};
use crate::report::{GREEN, RED, indent};

/// Dependencies that stay out of `workspace-hack` on purpose: they switch on
/// extra features of shared crates, and belong to members no lab builds with
/// (the benchmarks, the slides renderer), so they never force a lab rebuild.
const NOT_SHARED: &[&str] = &["criterion", "pprof", "pulldown-cmark", "syntect"];

/// Returns whether everything holds for `labs` (every lab, for CI).
pub fn run(ws: &Workspace, labs: &[Lab], verbose: bool) -> Result<bool> {
    let started = Instant::now();
    let mut problems: Vec<String> = Vec::new();

    problems.extend(check_checksums(ws, &ws.labs()?)?);
    problems.extend(check_dependencies(ws)?);
    for lab in labs {
        problems.extend(
            check_files(ws, lab)?
                .into_iter()
                .map(|p| format!("lab {:02}: {p}", lab.number)),
        );
    }
    for problem in &problems {
        println!("{RED}✗{RED:#} {problem}");
    }

    let mut alternatives = Vec::new();
    let mut wrong_solutions = Vec::new();
    for lab in labs {
        alternatives.push(lab.alternatives(&ws.root)?);
        wrong_solutions.push(lab.wrong_solutions(&ws.root)?);
    }
    let packages: Vec<String> = labs
        .iter()
        .zip(alternatives.iter().zip(&wrong_solutions))
        .flat_map(|(lab, (alternatives, wrong))| {
            [lab.package(), lab.solution_package()]
                .into_iter()
                .chain(alternatives.iter().map(|a| a.package.clone()))
                .chain(wrong.iter().map(|w| w.package.clone()))
        })
        .collect();
    let build = build::build_tests(
        ws,
        &packages,
        Progress {
            label: "Building every lab and solution".to_owned(),
            total: None,
        },
    )?;
    // A failure of cargo itself (a full disk, a killed compiler, a broken
    // manifest) is no verdict on any lab: say it once, not as every check
    // of every lab failing.
    if let Some(failure) = &build.cargo_failure {
        println!(
            "{RED}verify: cargo could not build the labs, so nothing was graded:{RED:#}\n{}",
            indent(failure, "  ")
        );
        return Ok(false);
    }
    let manifest = checksums::load(ws)?;
    let options = Options {
        verbose,
        ..Options::default()
    };
    for (lab, (alternatives, wrong_solutions)) in
        labs.iter().zip(alternatives.iter().zip(&wrong_solutions))
    {
        // Every package of the lab is graded alike, from the one build.
        let grade = |package: &str| {
            grade::grade_built(
                ws,
                lab,
                package,
                &build,
                &manifest,
                &options,
                Instant::now(),
            )
        };
        let starter = grade(&lab.package());
        let solution = grade(&lab.solution_package());
        let readme =
            std::fs::read_to_string(ws.root.join(&lab.dir).join("README.md")).unwrap_or_default();
        // The lab makes the learner decide: no text read before it is
        // solved, the starter's failure messages included, shows the
        // answer's code.
        let answer = answers::Answer::of(ws, lab)?;
        let mut lab_problems = answer.text_problems(lab, &readme);
        match starter.status {
            LabStatus::CompileError => lab_problems.push(format!(
                "the starter does not compile:\n{}",
                indent(starter.compile_error.as_deref().unwrap_or(""), "  ")
            )),
            LabStatus::Tampered => lab_problems.push(format!(
                "grading files differ from the checksums: {}",
                starter.tampered.join(", ")
            )),
            LabStatus::Passed => {
                lab_problems.push("the starter passes its grader: it must fail".to_owned())
            }
            LabStatus::Failing | LabStatus::Disturbed => {}
        }
        for check in &starter.checks {
            if let Some(message) = &check.message {
                lab_problems.extend(answer.message_problems(&check.name, message));
            }
            let declared = lab.meta.checks.iter().find(|c| c.name == check.name);
            match declared {
                None => lab_problems.push(format!(
                    "the grader has a check `{}` that lab.toml does not list",
                    check.name
                )),
                Some(meta) if check.status == CheckStatus::Passed && !meta.starter_passes => {
                    lab_problems.push(format!(
                        "the starter passes `{}`; a check must fail on the starter \
                         (or be declared `starter_passes = true`)",
                        check.name
                    ));
                }
                Some(_) => {}
            }
            if check.status == CheckStatus::Missing {
                lab_problems.push(format!(
                    "lab.toml lists `{}`, which the grader lacks",
                    check.name
                ));
            }
        }
        if !solution.passed() {
            lab_problems.push(format!(
                "the solution does not pass:\n{}",
                indent(&why_not_passed(&solution), "  ")
            ));
        }
        // Every other correct design the lab's README lists passes too.
        for alternative in alternatives {
            let graded = grade(&alternative.package);
            if !graded.passed() {
                lab_problems.push(format!(
                    "the alternative {} does not pass:\n{}",
                    alternative.dir.display(),
                    indent(&why_not_passed(&graded), "  ")
                ));
            }
            let named = format!("alternatives/{}", alternative.name);
            if !readme.contains(&named) {
                lab_problems.push(format!(
                    "its README does not list the alternative `{named}` that the grader accepts"
                ));
            }
        }
        // Every wrong solution kept as a fixture stays caught, by the
        // checks that caught it.
        for wrong in wrong_solutions {
            let graded = grade(&wrong.package);
            lab_problems.extend(
                wrong_solution_problems(wrong, &graded)
                    .into_iter()
                    .map(|p| format!("the wrong solution {}: {p}", wrong.dir.display())),
            );
        }
        let (mark, style) = if lab_problems.is_empty() {
            ("✓", GREEN)
        } else {
            ("✗", RED)
        };
        let others = match alternatives.len() {
            0 => String::new(),
            1 => ", and so does 1 alternative".to_owned(),
            n => format!(", and so do {n} alternatives"),
        };
        let wrong = match wrong_solutions.len() {
            0 => String::new(),
            n => format!("; {n} wrong solution{} kept", if n == 1 { "" } else { "s" }),
        };
        println!(
            "{style}{mark}{style:#} {}: starter fails {}/{} checks, solution passes {}/{}{others}{wrong}",
            lab.heading(),
            starter.checks.len() - starter.checks_passed(),
            starter.checks.len(),
            solution.checks_passed(),
            solution.checks.len()
        );
        // Said at once, under the lab's line, so that the first problem is
        // near the top of a long log.
        for problem in &lab_problems {
            println!("{}", indent(&format!("- {problem}"), "  "));
        }
        problems.extend(
            lab_problems
                .into_iter()
                .map(|p| format!("lab {:02}: {p}", lab.number)),
        );
    }

    println!();
    if problems.is_empty() {
        println!(
            "{GREEN}verify: {} keep{} their contract{GREEN:#} ({:.1} s)",
            match labs.len() {
                1 => "1 lab".to_owned(),
                n => format!("{n} labs"),
            },
            if labs.len() == 1 { "s" } else { "" },
            started.elapsed().as_secs_f64()
        );
        Ok(true)
    } else {
        // Each was printed in full where it was found; here, a line each.
        println!("{RED}verify found {} problem(s):{RED:#}", problems.len());
        for problem in &problems {
            println!("  - {}", problem.lines().next().unwrap_or_default());
        }
        Ok(false)
    }
}

/// What is wrong with a wrong solution's grade: it must compile (a compile
/// error proves nothing about the grader), name the checks that catch it,
/// and fail each of them.
fn wrong_solution_problems(wrong: &WrongSolution, graded: &LabReport) -> Vec<String> {
    if let Some(error) = &graded.compile_error {
        return vec![format!(
            "it does not compile, so it tests nothing:\n{}",
            indent(error, "  ")
        )];
    }
    if graded.status == LabStatus::Tampered {
        return vec![format!(
            "its grading files are not the manifest's: {}",
            graded.tampered.join(", ")
        )];
    }
    let failed: Vec<&str> = graded
        .checks
        .iter()
        .filter(|c| c.status != CheckStatus::Passed && c.status != CheckStatus::Disturbed)
        .map(|c| c.name.as_str())
        .collect();
    if failed.is_empty() {
        return vec![format!(
            "the grader accepts it, though {}",
            wrong.misconception.trim_end_matches('.')
        )];
    }
    if wrong.caught_by.is_empty() {
        return vec![format!(
            "its Cargo.toml names no checks that catch it; today these fail: \
             [package.metadata.workshop] caught-by = [{}]",
            failed
                .iter()
                .map(|n| format!("\"{n}\""))
                .collect::<Vec<_>>()
                .join(", ")
        )];
    }
    wrong
        .caught_by
        .iter()
        .filter(|name| !failed.contains(&name.as_str()))
        .map(|name| {
            format!(
                "`{name}` should catch it but passes (failing now: {})",
                failed.join(", ")
            )
        })
        .collect()
}

/// Why a subject that must pass did not: its compile error, or each
/// failing check with the first line of its message.
fn why_not_passed(report: &LabReport) -> String {
    report.compile_error.clone().unwrap_or_else(|| {
        report
            .checks
            .iter()
            .filter(|c| c.status != CheckStatus::Passed)
            .map(|c| {
                let message = c.message.as_deref().unwrap_or("");
                format!("{} ({})", c.name, message.lines().next().unwrap_or(""))
            })
            .collect::<Vec<_>>()
            .join("\n")
    })
}

fn check_checksums(ws: &Workspace, labs: &[Lab]) -> Result<Vec<String>> {
    let committed = checksums::load(ws)?;
    let now = checksums::compute(ws, labs)?;
    let mut stale: BTreeSet<&String> = BTreeSet::new();
    stale.extend(
        now.iter()
            .filter(|(f, h)| committed.get(*f) != Some(*h))
            .map(|(f, _)| f),
    );
    stale.extend(committed.keys().filter(|f| !now.contains_key(*f)));
    if stale.is_empty() {
        return Ok(Vec::new());
    }
    let files: Vec<&str> = stale.iter().map(|s| s.as_str()).collect();
    Ok(vec![format!(
        "{} is not current for: {}. After changing a grader or a starter on purpose, \
         run `just checksums --update` and commit the result.",
        checksums::MANIFEST,
        files.join(", ")
    )])
}

/// The lab's own files: README sections, hints, steps, and a solution that
/// uses the lab's grader rather than a copy of it.
fn check_files(ws: &Workspace, lab: &Lab) -> Result<Vec<String>> {
    let mut problems = Vec::new();
    let readme_path = ws.root.join(&lab.dir).join("README.md");
    match std::fs::read_to_string(&readme_path) {
        Err(_) => problems.push("README.md is missing".to_owned()),
        Ok(readme) => {
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
        }
    }
    if lab.meta.hints.len() < 2 {
        problems.push("lab.toml needs at least 2 hints".to_owned());
    }
    if lab.meta.steps.is_empty() || lab.meta.checks.is_empty() {
        problems.push("lab.toml needs steps and checks".to_owned());
    }

    let solution_manifest = ws.root.join(&lab.solution_dir).join("Cargo.toml");
    let text = std::fs::read_to_string(&solution_manifest).with_context(|| {
        format!(
            "lab {:02} has no solution at {}",
            lab.number,
            lab.solution_dir.display()
        )
    })?;
    let manifest: toml::Table = toml::from_str(&text)?;
    let tests = manifest
        .get("test")
        .and_then(|t| t.as_array())
        .cloned()
        .unwrap_or_default();
    let lab_tests = lab.dir.join("tests");
    let uses_lab_grader = !tests.is_empty()
        && tests.iter().all(|t| {
            t.get("path")
                .and_then(|p| p.as_str())
                .map(|p| checksums::lexically_normal(&lab.solution_dir.join(p)))
                .is_some_and(|p| p.starts_with(&lab_tests))
        });
    if !uses_lab_grader {
        problems.push(format!(
            "{} must point every [[test]] at {}/ so that one grader checks both",
            solution_manifest
                .strip_prefix(&ws.root)
                .unwrap_or(&solution_manifest)
                .display(),
            lab_tests.display()
        ));
    }
    if ws.root.join(&lab.solution_dir).join("tests").exists() {
        problems.push(format!(
            "{}/tests exists: graders must not be copied",
            lab.solution_dir.display()
        ));
    }
    Ok(problems)
}

/// Every member inherits its dependencies from `[workspace.dependencies]`,
/// and `workspace-hack` lists every shared third-party one, so that no
/// member's build selects a feature set of its own.
fn check_dependencies(ws: &Workspace) -> Result<Vec<String>> {
    let read = |path: &Path| -> Result<toml::Table> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        Ok(toml::from_str(&text)?)
    };
    let root = read(&ws.root.join("Cargo.toml"))?;
    let pinned = root
        .get("workspace")
        .and_then(|w| w.get("dependencies"))
        .and_then(|d| d.as_table())
        .cloned()
        .unwrap_or_default();
    let third_party = |name: &str| {
        pinned
            .get(name)
            .is_some_and(|spec| spec.get("path").is_none())
    };
    let hack = read(&ws.root.join("tools/workspace-hack/Cargo.toml"))?;
    let unified: BTreeSet<String> = hack
        .get("dependencies")
        .and_then(|d| d.as_table())
        .map(|t| t.keys().cloned().collect())
        .unwrap_or_default();

    // Every member's manifest: the crates under each group folder, and the
    // benchmarks' crate.
    let mut manifests = vec![ws.root.join("bench/Cargo.toml")];
    for group in [
        "labs",
        "solutions",
        "tools",
        "demo-services",
        "demo-services/libs",
    ] {
        let Ok(entries) = std::fs::read_dir(ws.root.join(group)) else {
            continue;
        };
        for entry in entries {
            manifests.push(entry?.path().join("Cargo.toml"));
        }
    }
    let mut problems = Vec::new();
    for manifest_path in manifests {
        if !manifest_path.is_file() {
            continue;
        }
        let member = read(&manifest_path)?;
        let shown = manifest_path
            .strip_prefix(&ws.root)
            .unwrap_or(&manifest_path)
            .display()
            .to_string();
        for section in ["dependencies", "dev-dependencies", "build-dependencies"] {
            let Some(deps) = member.get(section).and_then(|d| d.as_table()) else {
                continue;
            };
            for (name, spec) in deps {
                let inherited = spec.get("workspace").and_then(|w| w.as_bool()) == Some(true);
                // An optional dependency is built only when a feature asks
                // for it, never in a lab's build: sharing it would build it
                // for everyone.
                let optional = spec.get("optional").and_then(|o| o.as_bool()) == Some(true);
                if !inherited {
                    problems.push(format!(
                        "{shown}: `{name}` is not pinned in [workspace.dependencies]; \
                         pin it there and use `{name}.workspace = true`"
                    ));
                } else if third_party(name)
                    && !optional
                    && !NOT_SHARED.contains(&name.as_str())
                    && !unified.contains(name)
                {
                    problems.push(format!(
                        "{shown}: `{name}` is missing from tools/workspace-hack/Cargo.toml, \
                         so building this member alone would rebuild shared dependencies"
                    ));
                }
            }
        }
    }
    Ok(problems)
}
