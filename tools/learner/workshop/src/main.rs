//! `workshop`: the command behind every `just` recipe.
//!
//! The justfile is the front door and stays thin; everything it does is a
//! subcommand here, so that it behaves the same on every machine and can be
//! tested like any other Rust code.

mod answers;
mod build;
mod catalog;
mod checksums;
mod commands;
mod export;
mod grade;
mod pristine;
mod report;
mod runner;
mod starter;
mod store;
mod todos;

use std::process::ExitCode;

use anstream::eprintln;
use anyhow::Result;
use clap::{Parser, Subcommand};

use crate::catalog::Workspace;
use crate::grade::Subject;
use crate::report::RED;

#[derive(Parser)]
#[command(
    name = "workshop",
    about = "Observable Rust: labs, grading and tools",
    version
)]
struct Cli {
    /// Show everything: full compiler errors, each check's output, backtraces.
    #[arg(long, short, global = true)]
    verbose: bool,
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Show a lab's goal and steps, and grade it.
    Lab {
        lab: String,
        /// Grade the reference solution instead (for instructors).
        #[arg(long)]
        solution: bool,
        /// Grade only your `src/`, inside a pristine copy of everything else:
        /// the commit you started from, or the git ref or folder given.
        #[arg(long, value_name = "COMMIT_OR_FOLDER", num_args = 0..=1)]
        pristine: Option<Option<String>>,
    },
    /// Show the next hint for a lab.
    Hint { lab: String },
    /// Grade a lab again on every save.
    Watch { lab: String },
    /// List the labs with their status and your progress.
    List,
    /// Grade every lab; write target/workshop/grades.json and junit.xml.
    Grade {
        /// For a grading robot: grade only the labs' `src/` folders, inside a
        /// pristine copy of everything else (the commit the learner started
        /// from, or the git ref or folder given), so no edit elsewhere counts.
        #[arg(long, value_name = "COMMIT_OR_FOLDER", num_args = 0..=1)]
        pristine: Option<Option<String>>,
    },
    /// Restore a lab's starter code, backing up your work first.
    Reset {
        lab: String,
        /// Do not ask for confirmation.
        #[arg(long, short)]
        yes: bool,
        /// Bring back the files the last reset saved (what is there now is
        /// backed up first).
        #[arg(long)]
        restore: bool,
    },
    /// Show the diff from a lab's starter to its reference solution.
    Solution { lab: String },
    /// Check the toolchain, download and build everything for offline use.
    Setup {
        /// Also build what only maintainers and instructors run: the
        /// reference solutions and their tests, the slides, the W3C service,
        /// and the optimised builds (benchmarks, the load generator, the
        /// pricing profile).
        #[arg(long)]
        all: bool,
    },
    /// A flamegraph of a workload (lab 12's pricer, its original, or the demo's pricing), or of a running demo's operation from its span profiles.
    Profile {
        #[arg(value_enum, required_unless_present = "operation")]
        target: Option<commands::profile::Target>,
        /// How long to sample, in seconds.
        #[arg(long, default_value_t = 5)]
        seconds: u64,
        /// Instead of a workload: the CPU samples taken inside this
        /// operation's spans in the running demo (`just demo --profile`),
        /// "SERVICE OPERATION" as the critical-paths page names it.
        #[arg(long, conflicts_with = "target")]
        operation: Option<String>,
        /// With --operation: the same samples as a pprof profile too
        /// (target/profile/SERVICE-OPERATION.pb.gz), for `go tool pprof`
        /// or speedscope.
        #[arg(long, requires = "operation")]
        pprof: bool,
    },
    /// For maintainers and CI: every starter fails, every solution passes.
    Verify {
        /// Only these labs (all when none is given).
        labs: Vec<String>,
    },
    /// For maintainers: cargo-mutants on the reference solutions (all, or one lab's), graded by the labs' graders.
    Mutants { lab: Option<String> },
    /// For maintainers: check or update labs/checksums.txt.
    Checksums {
        /// Rewrite the manifest from the files as they are now.
        #[arg(long)]
        update: bool,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(err) => {
            eprintln!("{RED}error:{RED:#} {err:#}");
            ExitCode::from(2)
        }
    }
}

/// Runs a command; `Ok(false)` means it ran and the answer is "no" (a lab
/// failing, a verify problem), which is an exit code, not an error.
fn run(cli: Cli) -> Result<bool> {
    let ws = Workspace::discover()?;
    let verbose = cli.verbose;
    match cli.command {
        Cmd::Lab {
            lab,
            solution,
            pristine,
        } => {
            let subject = if solution {
                Subject::Solution
            } else {
                Subject::Starter
            };
            let grading = grading_workspace(&ws, pristine)?;
            let lab = ws.lab(&lab)?;
            Ok(commands::lab::run(&ws, &grading, &lab, subject, verbose)?.passed())
        }
        Cmd::Hint { lab } => commands::hint::run(&ws, &ws.lab(&lab)?).map(|()| true),
        Cmd::Watch { lab } => commands::watch::run(&ws, &ws.lab(&lab)?, verbose).map(|()| true),
        Cmd::List => commands::list::run(&ws).map(|()| true),
        Cmd::Grade { pristine } => {
            let grading = grading_workspace(&ws, pristine)?;
            commands::grade_all::run(&ws, &grading, verbose)
        }
        Cmd::Reset { lab, yes, restore } => {
            let lab = ws.lab(&lab)?;
            if restore {
                commands::reset::restore(&ws, &lab, yes)?;
            } else {
                commands::reset::run(&ws, &lab, yes)?;
            }
            Ok(true)
        }
        Cmd::Solution { lab } => commands::solution::run(&ws, &ws.lab(&lab)?).map(|()| true),
        Cmd::Setup { all } => commands::setup::run(&ws, all).map(|()| true),
        Cmd::Profile {
            target,
            seconds,
            operation,
            pprof,
        } => match (target, operation) {
            (_, Some(operation)) => commands::profile::operation(&ws, &operation, pprof),
            (Some(target), None) => commands::profile::run(&ws, target, seconds),
            (None, None) => unreachable!("clap requires a target or --operation"),
        },
        Cmd::Verify { labs } => {
            let chosen = if labs.is_empty() {
                ws.labs()?
            } else {
                labs.iter().map(|l| ws.lab(l)).collect::<Result<_>>()?
            };
            commands::verify::run(&ws, &chosen, verbose)
        }
        Cmd::Mutants { lab } => {
            let labs = match lab {
                Some(lab) => vec![ws.lab(&lab)?],
                None => ws.labs()?,
            };
            commands::mutants::run(&ws, &labs)
        }
        Cmd::Checksums { update } => checksums_command(&ws, update),
    }
}

fn checksums_command(ws: &Workspace, update: bool) -> Result<bool> {
    let labs = ws.labs()?;
    let now = checksums::compute(ws, &labs)?;
    if update {
        checksums::write(ws, &now)?;
        anstream::println!("Wrote {} ({} files).", checksums::MANIFEST, now.len());
        return Ok(true);
    }
    let committed = checksums::load(ws)?;
    let current = committed == now;
    if current {
        anstream::println!("{} is current ({} files).", checksums::MANIFEST, now.len());
    } else {
        anstream::println!(
            "{} is out of date; `just checksums --update` rewrites it.",
            checksums::MANIFEST
        );
    }
    Ok(current)
}

/// Where a lab is built and graded: this checkout, or with `--pristine` a
/// pristine copy of everything but the learner's `src/` folders.
fn grading_workspace(ws: &Workspace, pristine: Option<Option<String>>) -> Result<Workspace> {
    match pristine {
        None => Ok(ws.clone()),
        Some(source) => {
            let grading = pristine::prepare(ws, source.as_deref())?;
            anstream::eprintln!(
                "Grading your labs' src/ inside a pristine copy ({}); nothing else of this checkout counts.",
                grading
                    .root
                    .strip_prefix(&ws.root)
                    .unwrap_or(&grading.root)
                    .display()
            );
            Ok(grading)
        }
    }
}
