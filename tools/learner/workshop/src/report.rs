//! Everything the CLI prints for people.
//!
//! Output goes through `anstream`, which drops the colours when stdout is not
//! a terminal or `NO_COLOR` is set, so the same code serves a learner's
//! terminal, a CI log and a file.

use anstream::println;
use anstyle::{AnsiColor, Style};

use crate::catalog::Lab;
use crate::grade::{CheckGrade, CheckStatus, LabReport, LabStatus};

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
        LabStatus::Tampered => tampered(lab, &report.tampered),
        LabStatus::CompileError => compile_error(lab, report.compile_error.as_deref(), verbose),
        LabStatus::Passed | LabStatus::Failing | LabStatus::Disturbed => {
            show_checks(&report.checks, verbose);
            println!();
            let style = if report.passed() { GREEN } else { YELLOW };
            println!(
                "{style}{}/{} checks passed · {}/{} points{style:#}",
                report.checks_passed(),
                report.checks.len(),
                report.points,
                report.max_points
            );
            println!("{}", closing_line(lab.number, report.passed(), next));
        }
    }
}

/// Why nothing was graded: grading files the learner changed.
fn tampered(lab: &Lab, files: &[String]) {
    println!("{RED}Tampered:{RED:#} these grading files differ from the workshop's:");
    for file in files {
        println!("  {file}");
    }
    println!(
        "Restore them (`git checkout -- {}`); they decide the grade, and are \
         not part of the exercise: only the files under {}/src are yours.",
        files.join(" "),
        lab.dir.display()
    );
}

/// Why nothing was graded: the learner's code does not compile.
fn compile_error(lab: &Lab, error: Option<&str>, verbose: bool) {
    println!("{RED}Your code does not compile yet.{RED:#} The first error:");
    println!();
    if let Some(error) = error {
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
}

/// Each check: its mark, its message and evidence (or a pointer to the
/// check above that showed the same), its measurement, and with `verbose`
/// what it printed.
fn show_checks(checks: &[CheckGrade], verbose: bool) {
    // Several checks often fail for one cause (no span at all yet): say it
    // once, and point back to it, rather than repeat a paragraph six times.
    let mut said = FirstMentions::default();
    // Checks that inspect the same thing (one trace, say) show it once.
    let mut shown = FirstMentions::default();
    for check in checks {
        let (mark, style) = check_mark(check.status);
        println!(
            "{style}{mark}{style:#} {}  {DIM}{} pt · {} ms{DIM:#}",
            check.name, check.max_points, check.duration_ms
        );
        if let Some(message) = &check.message {
            match said.mention(message, &check.name) {
                Mention::SameAs(first) => println!("{DIM}    same cause as `{first}` above{DIM:#}"),
                Mention::First => println!("{}", indent(&wrap_prose(message, 74), "    ")),
            }
        }
        if let Some(evidence) = &check.evidence {
            match shown.mention(&evidence.title, &check.name) {
                Mention::SameAs(first) => println!(
                    "{DIM}    {}: as shown under `{first}` above{DIM:#}",
                    evidence.title
                ),
                Mention::First => {
                    println!("    {}:", evidence.title);
                    println!("{}", indent(evidence.text.trim_end(), "      "));
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
}

/// A check's mark, and its colour.
fn check_mark(status: CheckStatus) -> (&'static str, Style) {
    match status {
        CheckStatus::Passed => ("✓", GREEN),
        CheckStatus::TimedOut => ("⏱", YELLOW),
        CheckStatus::Disturbed => ("≈", YELLOW),
        _ => ("✗", RED),
    }
}

/// Whether a text is shown in full, or as a pointer back to the check that
/// showed it first.
#[derive(Debug, PartialEq, Eq)]
enum Mention<'a> {
    First,
    /// The name of the check that showed it first.
    SameAs(&'a str),
}

/// The texts shown so far, each with the check that showed it first.
#[derive(Default)]
struct FirstMentions<'a> {
    seen: Vec<(&'a str, &'a str)>,
}

impl<'a> FirstMentions<'a> {
    /// How `text` is shown under `check`: in full the first time, a
    /// pointer back after that.
    fn mention(&mut self, text: &'a str, check: &'a str) -> Mention<'a> {
        let first = self
            .seen
            .iter()
            .find(|(seen, _)| *seen == text)
            .map(|&(_, first)| first);
        match first {
            Some(first) => Mention::SameAs(first),
            None => {
                self.seen.push((text, check));
                Mention::First
            }
        }
    }
}

/// The report's last line: what the learner does next.
fn closing_line(lab: u32, passed: bool, next: WhatNext<'_>) -> String {
    match (passed, next) {
        (true, WhatNext::Lab(next)) => format!(
            "Lab {lab:02} done. Next: {BOLD}`just lab {}`{BOLD:#}: {}",
            next.number, next.meta.title
        ),
        (true, WhatNext::Unfinished(labs)) => format!(
            "Lab {lab:02} done. Still to do: lab{} {} (`just list` shows where each stands).",
            if labs.len() == 1 { "" } else { "s" },
            labs.iter()
                .map(|n| format!("{n:02}"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        (true, WhatNext::AllDone) => {
            format!("Lab {lab:02} done, and with it every lab. Well done!")
        }
        (true, WhatNext::NothingRecorded) => format!(
            "The reference solution of lab {lab:02} passes. Nothing was recorded: \
             your own progress is as it was."
        ),
        (false, WhatNext::NothingRecorded) => format!(
            "The reference solution of lab {lab:02} does not pass here: the grader and \
             the solution disagree (nothing was recorded)."
        ),
        (false, _) => format!(
            "Work on the first failing check above; `just hint {lab}` gives a hint, \
             `just watch {lab}` re-grades on every save."
        ),
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

    #[test]
    fn a_text_is_shown_once_then_pointed_back_to() {
        let mut mentions = FirstMentions::default();
        assert_eq!(mentions.mention("no span", "a"), Mention::First);
        assert_eq!(mentions.mention("other", "b"), Mention::First);
        assert_eq!(mentions.mention("no span", "c"), Mention::SameAs("a"));
        assert_eq!(mentions.mention("other", "d"), Mention::SameAs("b"));
    }

    #[test]
    fn only_a_pass_is_green_and_only_a_wait_or_a_disturbance_is_yellow() {
        assert_eq!(check_mark(CheckStatus::Passed).0, "✓");
        assert_eq!(check_mark(CheckStatus::TimedOut).0, "⏱");
        assert_eq!(check_mark(CheckStatus::Disturbed).0, "≈");
        for status in [
            CheckStatus::Failed,
            CheckStatus::Panicked,
            CheckStatus::Crashed,
            CheckStatus::Missing,
            CheckStatus::NotRun,
        ] {
            assert_eq!(check_mark(status).0, "✗", "{status:?}");
        }
    }

    #[test]
    fn the_closing_line_follows_the_grade_and_what_is_left() {
        assert_eq!(
            closing_line(3, true, WhatNext::Unfinished(vec![1])),
            "Lab 03 done. Still to do: lab 01 (`just list` shows where each stands)."
        );
        assert_eq!(
            closing_line(14, true, WhatNext::Unfinished(vec![1, 2])),
            "Lab 14 done. Still to do: labs 01, 02 (`just list` shows where each stands)."
        );
        assert_eq!(
            closing_line(14, true, WhatNext::AllDone),
            "Lab 14 done, and with it every lab. Well done!"
        );
        assert!(closing_line(2, true, WhatNext::NothingRecorded).contains(" passes. "));
        assert!(closing_line(2, false, WhatNext::NothingRecorded).contains("does not pass"));
        assert_eq!(
            closing_line(2, false, WhatNext::AllDone),
            "Work on the first failing check above; `just hint 2` gives a hint, \
             `just watch 2` re-grades on every save."
        );
    }
}
