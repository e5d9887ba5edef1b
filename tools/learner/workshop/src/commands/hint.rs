//! `just hint N`: the next hint, one at a time.

use anstream::println;
use anyhow::Result;

use crate::catalog::{Lab, Workspace};
use crate::report::{self, BOLD, DIM};
use crate::store::Store;

pub fn run(ws: &Workspace, lab: &Lab) -> Result<()> {
    let store = Store::new(ws);
    let hints = &lab.meta.hints;
    let shown = store.hints_shown(lab);
    // Past the last hint, show the last one again rather than nothing: the
    // learner asked because they are stuck.
    let index = shown.min(hints.len().saturating_sub(1));
    let Some(hint) = hints.get(index) else {
        println!(
            "Lab {:02} has no hints. `just solution {}` shows the solution.",
            lab.number, lab.number
        );
        return Ok(());
    };
    println!(
        "{BOLD}{} · hint {} of {}{BOLD:#}",
        lab.heading(),
        index + 1,
        hints.len()
    );
    println!("{}", report::wrap(hint, 78, ""));
    store.set_hints_shown(lab, (index + 1).min(hints.len()))?;
    if index + 1 < hints.len() {
        println!(
            "{DIM}Still stuck? `just hint {}` again for the next one.{DIM:#}",
            lab.number
        );
    } else {
        println!(
            "{DIM}That was the last hint. `just solution {}` shows the reference solution as a diff.{DIM:#}",
            lab.number
        );
    }
    Ok(())
}
