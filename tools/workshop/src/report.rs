//! Everything the CLI prints for people.
//!
//! Output goes through `anstream`, which drops the colours when stdout is not
//! a terminal or `NO_COLOR` is set, so the same code serves a learner's
//! terminal, a CI log and a file.

use anstream::println;
use anstyle::{AnsiColor, Style};

use crate::catalog::Lab;
use crate::grade::{CheckStatus, LabReport, LabStatus};

pub const BOLD: Style = Style::new().bold();
pub const DIM: Style = Style::new().dimmed();
pub const GREEN: Style = AnsiColor::Green.on_default().bold();
pub const RED: Style = AnsiColor::Red.on_default().bold();
pub const YELLOW: Style = AnsiColor::Yellow.on_default().bold();
pub const CYAN: Style = AnsiColor::Cyan.on_default();

/// The lab's title, goal and short steps, before it is graded.
pub fn intro(lab: &Lab) {
    println!(
        "{BOLD}{}{BOLD:#} {DIM}({} min, {} points){DIM:#}",
        lab.heading(),
        lab.meta.minutes,
        lab.max_points()
    );
    println!("{}", wrap(&lab.meta.goal, 78, ""));
    println!();
    for (i, step) in lab.meta.steps.iter().enumerate() {
        let prefix = format!("  {}. ", i + 1);
        let text = wrap(step, 78 - prefix.len(), &" ".repeat(prefix.len()));
        println!("{prefix}{text}");
    }
    println!(
        "{DIM}  Full instructions: {}/README.md{DIM:#}",
        lab.dir.display()
    );
    println!();
}

/// What the learner does after a passing grade.
pub enum WhatNext<'a> {
    /// The next lab not done yet, after this one.
    Lab(&'a Lab),
    /// This was the last lab, but these earlier ones are not done.
    Unfinished(Vec<u32>),
    /// Every lab is done.
    AllDone,
    /// The reference solution was graded: nothing was recorded.
    NothingRecorded,
}

/// Each check with its result, then the score and what to do next.
pub fn report(lab: &Lab, report: &LabReport, next: WhatNext<'_>, verbose: bool) {
    match report.status {
        LabStatus::Tampered => {
            println!("{RED}Tampered:{RED:#} these grading files differ from the workshop's:");
            for file in &report.tampered {
                println!("  {file}");
            }
            println!(
                "Restore them (`git checkout -- {}`); they decide the grade, and are \
                 not part of the exercise: only the files under {}/src are yours.",
                report.tampered.join(" "),
                lab.dir.display()
            );
            return;
        }
        LabStatus::CompileError => {
            println!("{RED}Your code does not compile yet.{RED:#} The first error:");
            println!();
            if let Some(error) = &report.compile_error {
                println!("{}", indent(error, "  "));
            }
            println!();
            println!(
                "Fix it, then run `just lab {}` again{}.",
                lab.number,
                if verbose {
                    ""
                } else {
                    " (`--verbose` shows every error in full)"
                }
            );
            return;
        }
        LabStatus::Passed | LabStatus::Failing | LabStatus::Disturbed => {}
    }

    // Several checks often fail for one cause (no span at all yet): say it
    // once, and point back to it, rather than repeat a paragraph six times.
    let mut said: Vec<(&str, &str)> = Vec::new();
    // Checks that inspect the same thing (one trace, say) show it once.
    let mut shown: Vec<(&str, &str)> = Vec::new();
    for check in &report.checks {
        let (mark, style) = match check.status {
            CheckStatus::Passed => ("✓", GREEN),
            CheckStatus::TimedOut => ("⏱", YELLOW),
            CheckStatus::Disturbed => ("≈", YELLOW),
            _ => ("✗", RED),
        };
        println!(
            "{style}{mark}{style:#} {}  {DIM}{} pt · {} ms{DIM:#}",
            check.name, check.max_points, check.duration_ms
        );
        if let Some(message) = &check.message {
            match said.iter().find(|(m, _)| m == message) {
                Some((_, first)) => println!("{DIM}    same cause as `{first}` above{DIM:#}"),
                None => {
                    println!("{}", indent(&wrap_prose(message, 74), "    "));
                    said.push((message, &check.name));
                }
            }
        }
        if let Some(evidence) = &check.evidence {
            match shown.iter().find(|(title, _)| *title == evidence.title) {
                Some((title, first)) => {
                    println!("{DIM}    {title}: as shown under `{first}` above{DIM:#}");
                }
                None => {
                    println!("    {}:", evidence.title);
                    println!("{}", indent(evidence.text.trim_end(), "      "));
                    shown.push((&evidence.title, &check.name));
                }
            }
        }
        if let Some(measurement) = &check.measurement {
            println!("    {CYAN}{}{CYAN:#}", measurement.summary);
        }
        if verbose && !check.output.trim().is_empty() {
            println!("{DIM}    --- output ---{DIM:#}");
            println!("{}", indent(check.output.trim_end(), "    "));
        }
    }
    println!();
    let passed = report.checks_passed();
    let style = if report.passed() { GREEN } else { YELLOW };
    println!(
        "{style}{passed}/{} checks passed · {}/{} points{style:#}",
        report.checks.len(),
        report.points,
        report.max_points
    );
    if report.passed() {
        match next {
            WhatNext::Lab(next) => println!(
                "Lab {:02} done. Next: {BOLD}`just lab {}`{BOLD:#}: {}",
                lab.number, next.number, next.meta.title
            ),
            WhatNext::Unfinished(labs) => println!(
                "Lab {:02} done. Still to do: lab{} {} (`just list` shows where each stands).",
                lab.number,
                if labs.len() == 1 { "" } else { "s" },
                labs.iter()
                    .map(|n| format!("{n:02}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            WhatNext::AllDone => println!(
                "Lab {:02} done, and with it every lab. Well done!",
                lab.number
            ),
            WhatNext::NothingRecorded => println!(
                "The reference solution of lab {:02} passes. Nothing was recorded: \
                 your own progress is as it was.",
                lab.number
            ),
        }
    } else if matches!(next, WhatNext::NothingRecorded) {
        println!(
            "The reference solution of lab {:02} does not pass here: the grader and \
             the solution disagree (nothing was recorded).",
            lab.number
        );
    } else {
        println!(
            "Work on the first failing check above; `just hint {}` gives a hint, \
             `just watch {}` re-grades on every save.",
            lab.number, lab.number
        );
    }
}

/// Where to look next: the first TODO left in the learner's files.
pub fn next_todo(todo: Option<&crate::todos::Todo>) {
    if let Some(todo) = todo {
        println!("The first TODO left in your code: {BOLD}{todo}{BOLD:#}");
    }
}

/// Indents every line of `text`.
pub fn indent(text: &str, prefix: &str) -> String {
    text.lines()
        .map(|line| format!("{prefix}{line}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Word-wraps `text` to `width`, indenting continuation lines with `hang`.
pub fn wrap(text: &str, width: usize, hang: &str) -> String {
    let mut out = String::new();
    let mut line_len = 0;
    for word in text.split_whitespace() {
        if line_len > 0 && line_len + 1 + word.chars().count() > width {
            out.push('\n');
            out.push_str(hang);
            line_len = 0;
        } else if line_len > 0 {
            out.push(' ');
            line_len += 1;
        }
        out.push_str(word);
        line_len += word.chars().count();
    }
    out
}

/// Wraps the unindented lines of a message (its prose), leaving indented
/// ones (trees of recorded spans, code) exactly as they are.
fn wrap_prose(text: &str, width: usize) -> String {
    text.lines()
        .map(|line| {
            if line.starts_with(' ') || line.chars().count() <= width {
                line.to_owned()
            } else {
                wrap(line, width, "")
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// `[██████░░░░]` for `done` out of `total`.
pub fn bar(done: u32, total: u32, width: usize) -> String {
    let filled = if total == 0 {
        0
    } else {
        (done as usize * width).div_ceil(total as usize).min(width)
    };
    format!("[{}{}]", "█".repeat(filled), "░".repeat(width - filled))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrap_breaks_between_words_and_hangs() {
        assert_eq!(wrap("aa bb cc", 5, "  "), "aa bb\n  cc");
    }

    #[test]
    fn bar_fills_in_proportion() {
        assert_eq!(bar(0, 4, 4), "[░░░░]");
        assert_eq!(bar(2, 4, 4), "[██░░]");
        assert_eq!(bar(4, 4, 4), "[████]");
        assert_eq!(bar(0, 0, 2), "[░░]");
    }
}
