//! `just verify`, for maintainers and CI: every lab keeps its contract.
//!
//! For every lab: the starter compiles and fails its grader, every check it
//! passes is one declared to pass, the solution passes every check, the
//! README and hints exist, the solution is graded by the lab's own grader
//! file, every alternative design its README lists passes too, and the
//! checksums are current. Also: every dependency is pinned in
//! the workspace and unified by `workspace-hack`.

use std::collections::BTreeSet;
use std::path::Path;
use std::time::Instant;

use anstream::println;
use anyhow::{Context, Result};

use crate::build::{self, Progress};
use crate::catalog::{Lab, Workspace};
use crate::checksums;
use crate::grade::{self, CheckStatus, LabReport, LabStatus, Options};
use crate::report::{GREEN, RED, indent};

/// Dependencies that stay out of `workspace-hack` on purpose: they switch on
/// extra features of shared crates, and belong to members no lab builds with
/// (the benchmarks, the slides renderer), so they never force a lab rebuild.
const NOT_SHARED: &[&str] = &["criterion", "pprof", "pulldown-cmark", "syntect"];

/// Returns whether everything holds.
pub fn run(ws: &Workspace, verbose: bool) -> Result<bool> {
    let started = Instant::now();
    let labs = ws.labs()?;
    let mut problems: Vec<String> = Vec::new();

    problems.extend(check_checksums(ws, &labs)?);
    problems.extend(check_dependencies(ws)?);
    for lab in &labs {
        problems.extend(
            check_files(ws, lab)?
                .into_iter()
                .map(|p| format!("lab {:02}: {p}", lab.number)),
        );
    }

    let mut alternatives = Vec::new();
    for lab in &labs {
        alternatives.push(lab.alternatives(&ws.root)?);
    }
    let packages: Vec<String> = labs
        .iter()
        .zip(&alternatives)
        .flat_map(|(lab, alternatives)| {
            [lab.package(), lab.solution_package()]
                .into_iter()
                .chain(alternatives.iter().map(|a| a.package.clone()))
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
    let manifest = checksums::load(ws)?;
    let options = Options {
        verbose,
        ..Options::default()
    };
    for (lab, alternatives) in labs.iter().zip(&alternatives) {
        let starter = grade::grade_built(
            ws,
            lab,
            &lab.package(),
            &build,
            &manifest,
            &options,
            Instant::now(),
        );
        let solution = grade::grade_built(
            ws,
            lab,
            &lab.solution_package(),
            &build,
            &manifest,
            &options,
            Instant::now(),
        );
        let mut lab_problems = Vec::new();
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
            LabStatus::Failing => {}
        }
        for check in &starter.checks {
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
        let readme =
            std::fs::read_to_string(ws.root.join(&lab.dir).join("README.md")).unwrap_or_default();
        for alternative in alternatives {
            let graded = grade::grade_built(
                ws,
                lab,
                &alternative.package,
                &build,
                &manifest,
                &options,
                Instant::now(),
            );
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
        println!(
            "{style}{mark}{style:#} {}: starter fails {}/{} checks, solution passes {}/{}{others}",
            lab.heading(),
            starter.checks.len() - starter.checks_passed(),
            starter.checks.len(),
            solution.checks_passed(),
            solution.checks.len()
        );
        problems.extend(
            lab_problems
                .into_iter()
                .map(|p| format!("lab {:02}: {p}", lab.number)),
        );
    }

    println!();
    if problems.is_empty() {
        println!(
            "{GREEN}verify: {} labs keep their contract{GREEN:#} ({:.1} s)",
            labs.len(),
            started.elapsed().as_secs_f64()
        );
        Ok(true)
    } else {
        println!("{RED}verify found {} problem(s):{RED:#}", problems.len());
        for problem in &problems {
            println!("{}", indent(&format!("- {problem}"), "  "));
        }
        Ok(false)
    }
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
