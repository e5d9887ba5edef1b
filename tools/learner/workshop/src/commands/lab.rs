//! `just lab N`: show the lab, grade it, say what to do next.

use anyhow::Result;

use crate::catalog::{Lab, Workspace};
use crate::grade::{self, LabReport, Options, Subject};
use crate::pristine;
use crate::report::{self, WhatNext};
use crate::store::Store;
use crate::todos;

/// Grades the learner's lab (or, for an instructor, the reference solution)
/// and prints the intro and the report. `grading` is where it is built and
/// graded: `ws` itself, or a pristine copy of it (`--pristine`).
pub fn run(
    ws: &Workspace,
    grading: &Workspace,
    lab: &Lab,
    subject: Subject,
    verbose: bool,
) -> Result<LabReport> {
    pristine::record_start(ws);
    report::intro(lab);
    let options = Options {
        verbose,
        ..Options::default()
    };
    let result = grade::grade(grading, lab, subject, &options)?;
    let store = Store::new(ws);
    // Progress is the learner's: grading the solution must not mark a lab done.
    if subject == Subject::Starter {
        store.save_result(lab, &result)?;
    }
    // This lab's result is saved by now, so "done" reads the same for all.
    let labs = ws.labs()?;
    let done = |l: &Lab| store.last_result(l).is_some_and(|r| r.passed());
    let next = if subject == Subject::Solution {
        WhatNext::NothingRecorded
    } else if let Some(next) = labs.iter().find(|l| l.number > lab.number && !done(l)) {
        WhatNext::Lab(next)
    } else {
        let unfinished: Vec<u32> = labs.iter().filter(|l| !done(l)).map(|l| l.number).collect();
        if unfinished.is_empty() {
            WhatNext::AllDone
        } else {
            WhatNext::Unfinished(unfinished)
        }
    };
    report::report(lab, &result, next, verbose);
    if subject == Subject::Starter && !result.passed() {
        report::next_todo(todos::first_todo(&ws.root, &lab.dir).as_ref());
    }
    Ok(result)
}
