//! Whether a text a learner reads before solving a lab gives its answer
//! away: the README's steps, the short steps and all hints but the last in
//! `lab.toml`, and the starter's failure messages.
//!
//! A lab makes the learner decide something; a step that shows the code to
//! type turns it into transcription. The answer's code is what the
//! reference solution adds to the starter: each line of it that does
//! something (a call, a macro, an attribute). A text gives it away when it
//! quotes such code: a fenced block, or an inline code span long enough to
//! be more than the name of an API item, that appears in one of those
//! lines. Naming where to look (`Instrument`, `Span::record`) stays fine.

use std::collections::BTreeSet;

use anyhow::{Context, Result};

use crate::catalog::{Lab, Workspace};
use crate::checksums::files_under;

/// Shorter spans are names (`Span::current()`), not code to type.
const SHORTEST_CODE: usize = 16;

/// The answer's code: the lines the reference solution adds to the
/// starter that do something, each without its whitespace.
pub struct Answer {
    lines: BTreeSet<String>,
}

impl Answer {
    pub fn of(ws: &Workspace, lab: &Lab) -> Result<Self> {
        let mut lines = BTreeSet::new();
        for file in files_under(&ws.root, &lab.solution_dir.join("src"))? {
            let solution = std::fs::read_to_string(ws.root.join(&file))
                .with_context(|| format!("cannot read {}", file.display()))?;
            let relative = file.strip_prefix(&lab.solution_dir).unwrap_or(&file);
            // A file the starter lacks is the answer's whole.
            let starter =
                std::fs::read_to_string(ws.root.join(&lab.dir).join(relative)).unwrap_or_default();
            let given: BTreeSet<String> = starter.lines().map(squeeze).collect();
            lines.extend(solution.lines().map(squeeze).filter(|line| {
                line.chars().count() >= SHORTEST_CODE
                    && does_something(line)
                    && !given.contains(line)
            }));
        }
        Ok(Self { lines })
    }

    /// The pieces of `text` that quote the answer's code.
    fn quoted_in(&self, text: &str) -> Vec<String> {
        code_in(text)
            .into_iter()
            .filter(|code| {
                let code = squeeze(code);
                code.chars().count() >= SHORTEST_CODE
                    && does_something(&code)
                    && !is_a_name(&code)
                    && self
                        .lines
                        .iter()
                        .any(|line| line.contains(&code) || code.contains(line.as_str()))
            })
            .collect()
    }

    /// Where the texts read before the lab is solved give the answer away:
    /// the README's steps, `lab.toml`'s steps and every hint but the last.
    pub fn text_problems(&self, lab: &Lab, readme: &str) -> Vec<String> {
        let steps = steps_section(readme);
        let mut problems = Vec::new();
        if steps
            .lines()
            .any(|line| line.trim_start().starts_with("```"))
        {
            problems.push(
                "README.md's steps hold a fenced code block: say where to look instead".to_owned(),
            );
        }
        let mut texts = vec![("README.md's steps".to_owned(), steps)];
        for (i, step) in lab.meta.steps.iter().enumerate() {
            texts.push((format!("lab.toml's step {}", i + 1), step));
        }
        let but_last = lab.meta.hints.len().saturating_sub(1);
        for (i, hint) in lab.meta.hints.iter().enumerate().take(but_last) {
            let place = format!("lab.toml's hint {} (only the last may show code)", i + 1);
            texts.push((place, hint));
        }
        for (place, text) in texts {
            for code in self.quoted_in(text) {
                problems.push(format!(
                    "{place} shows the answer's code: `{}`",
                    code.trim()
                ));
            }
        }
        problems
    }

    /// Where a failure message the starter gets gives the answer away.
    pub fn message_problems(&self, check: &str, message: &str) -> Vec<String> {
        self.quoted_in(message)
            .into_iter()
            .map(|code| {
                format!(
                    "the starter's failure of `{check}` shows the answer's code: `{}`; say \
                     what was observed and which property it breaks",
                    code.trim()
                )
            })
            .collect()
    }
}

/// Every fenced block's lines and every inline code span of a Markdown text.
fn code_in(text: &str) -> Vec<String> {
    let mut code = Vec::new();
    let mut fenced = false;
    for line in text.lines() {
        if line.trim_start().starts_with("```") {
            fenced = !fenced;
            continue;
        }
        if fenced {
            code.push(line.to_owned());
            continue;
        }
        code.extend(
            line.split('`')
                .skip(1)
                .step_by(2)
                .map(str::to_owned)
                .collect::<Vec<_>>(),
        );
    }
    code
}

/// The `## Steps` section of a README, up to the next `## ` heading.
fn steps_section(readme: &str) -> &str {
    let Some(start) = readme.find("## Steps") else {
        return "";
    };
    let rest = &readme[start + "## Steps".len()..];
    rest.find("\n## ").map_or(rest, |end| &rest[..end])
}

/// Whether a squeezed line of Rust does something: calls, a macro, an
/// attribute. Imports, comments and lone braces do not.
fn does_something(line: &str) -> bool {
    !line.starts_with("//")
        && !line.starts_with("use")
        && (line.contains('(') || line.contains('!') || line.contains("#["))
}

/// An API item named as a place to look: a path, perhaps with `!` or an
/// empty `()` after it (`tokio::try_join!`, `TraceLayer::new_for_http()`).
/// A call applied to something (`.in_current_span()`) is code.
fn is_a_name(code: &str) -> bool {
    let path = code
        .strip_suffix("()")
        .or_else(|| code.strip_suffix('!'))
        .unwrap_or(code);
    !path.starts_with('.')
        && !path.is_empty()
        && path
            .chars()
            .all(|c| c.is_alphanumeric() || c == '_' || c == ':')
}

fn squeeze(line: &str) -> String {
    line.chars().filter(|c| !c.is_whitespace()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(lines: &[&str]) -> Answer {
        Answer {
            lines: lines.iter().map(|l| squeeze(l)).collect(),
        }
    }

    #[test]
    fn code_from_the_solution_is_found_in_steps_and_messages() {
        let answer = answer(&[
            "let (a, b) = tokio::try_join!(tracing::Span::in_current_span(), f())?;",
            "#[instrument(skip_all, fields(readings = readings.len()))]",
            "reservations.spawn(reserve(order.id).in_current_span());",
        ]);
        let step = "Replace it with one span for the batch: \
                    `#[instrument(skip_all, fields(readings = readings.len()))]`.";
        assert_eq!(answer.quoted_in(step).len(), 1);
        // The exact call, named in a failure message, is the answer too.
        let message = "The reservation lost its span: use `.in_current_span()`.";
        assert_eq!(answer.quoted_in(message).len(), 1);
        // Names of API items are where to look, not the answer.
        let pointer = "Look at `Instrument`, `Span::current()`, `tracing::Span::in_current_span()` \
                       and `tokio::try_join!`; the `#[instrument]` docs.";
        assert!(answer.quoted_in(pointer).is_empty());
        // Code that is not the solution's is an illustration.
        let other = "`info_span!(\"checkout\", cart = cart.id)` makes a span.";
        assert!(answer.quoted_in(other).is_empty());
    }

    #[test]
    fn fenced_blocks_count_line_by_line() {
        let answer = answer(&["let span = info_span!(\"reserve\", talk = talk.id);"]);
        let text =
            "Like this:\n```rust\nlet span = info_span!(\"reserve\", talk = talk.id);\n```\n";
        assert_eq!(answer.quoted_in(text).len(), 1);
    }

    #[test]
    fn the_steps_section_ends_at_the_next_heading() {
        let readme = "# Lab\n## Goal\ng\n## Steps\n1. one\n2. two\n## Done when\nd\n";
        assert_eq!(steps_section(readme).trim(), "1. one\n2. two");
    }
}
