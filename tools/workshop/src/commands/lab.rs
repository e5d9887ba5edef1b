//! `just lab N`: show the lab, grade it, say what to do next.

use anyhow::Result;

use crate::catalog::{Lab, Workspace};
use crate::grade::{self, LabReport, Options, Subject};
use crate::report;
use crate::store::Store;
use crate::todos;

/// Grades the learner's lab (or, for an instructor, the reference solution)
/// and prints the intro and the report.
pub fn run(ws: &Workspace, lab: &Lab, subject: Subject, verbose: bool) -> Result<LabReport> {
    report::intro(lab);
    let options = Options {
        verbose,
        ..Options::default()
    };
    let result = grade::grade(ws, lab, subject, &options)?;
    // Progress is the learner's: grading the solution must not mark a lab done.
    if subject == Subject::Starter {
        Store::new(ws).save_result(lab, &result)?;
    }
    let labs = ws.labs()?;
    let next = labs.iter().find(|l| l.number > lab.number);
    report::report(lab, &result, next, verbose);
    if subject == Subject::Starter && !result.passed() {
        report::next_todo(todos::first_todo(&ws.root, &lab.dir).as_ref());
    }
    Ok(result)
}
