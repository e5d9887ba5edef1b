//! `{{#include path:anchor}}`: code on a slide, taken from code that compiles.
//!
//! The syntax is mdBook's, so the anchors in the sources read the same as in
//! any Rust book: `// ANCHOR: name` and `// ANCHOR_END: name` around the
//! lines to show. Other anchors nested inside are dropped from the snippet.
//!
//! Outside a code block, a directive on a line of its own takes Markdown
//! from another file, between `<!-- ANCHOR: name -->` and
//! `<!-- ANCHOR_END: name -->`: a table a program writes (`just bench`'s
//! `slides/measured/span-costs.md`), shown as it was last measured.

use std::path::Path;

use anyhow::{Context, Result, bail};

/// The directive on a line of its own, if the line is one.
fn directive(line: &str) -> Option<&str> {
    line.trim()
        .strip_prefix("{{#include ")?
        .strip_suffix("}}")
        .map(str::trim)
}

/// Whether `code` is made only of include directives (and blank lines).
pub fn only_includes(code: &str) -> bool {
    let mut lines = code.lines().filter(|line| !line.trim().is_empty());
    lines.clone().next().is_some() && lines.all(|line| directive(line).is_some())
}

/// `code` with every include directive replaced by what it names; paths are
/// relative to `base`.
pub fn expand(code: &str, base: &Path) -> Result<String> {
    let mut out = String::with_capacity(code.len());
    for line in code.lines() {
        match directive(line) {
            Some(target) => {
                let (path, anchor) = match target.rsplit_once(':') {
                    Some((path, anchor)) => (path, Some(anchor)),
                    None => (target, None),
                };
                let file = base.join(path);
                let source = std::fs::read_to_string(&file)
                    .with_context(|| format!("{{{{#include {target}}}}}: cannot read {path}"))?;
                let snippet = match anchor {
                    Some(anchor) => anchored(&source, anchor)
                        .with_context(|| format!("{{{{#include {target}}}}}"))?,
                    None => source,
                };
                out.push_str(&snippet);
            }
            None => {
                out.push_str(line);
                out.push('\n');
            }
        }
    }
    Ok(out)
}

/// `markdown` with every include directive outside its code blocks
/// replaced by what it names; paths are relative to `base`. The directives
/// inside a code block are the code block's ([`expand`]).
pub fn expand_outside_code(markdown: &str, base: &Path) -> Result<String> {
    let mut out = String::with_capacity(markdown.len());
    let mut in_code = false;
    for line in markdown.lines() {
        let fence = line.trim_start();
        if fence.starts_with("```") || fence.starts_with("~~~") {
            in_code = !in_code;
        }
        if in_code || directive(line).is_none() {
            out.push_str(line);
            out.push('\n');
        } else {
            out.push_str(&expand(line, base)?);
        }
    }
    Ok(out)
}

/// The lines between `ANCHOR: anchor` and `ANCHOR_END: anchor`, dedented.
/// The anchor's name is the word after the marker, as in mdBook, so that a
/// Markdown file can hide its markers in comments (`<!-- ANCHOR: name -->`).
fn anchored(source: &str, anchor: &str) -> Result<String> {
    let is_marker = |line: &str, kind: &str| {
        line.split_once(kind)
            .is_some_and(|(_, name)| name.split_whitespace().next() == Some(anchor))
    };
    let mut lines = source.lines();
    if !lines.any(|line| is_marker(line, "ANCHOR:")) {
        bail!("no `// ANCHOR: {anchor}` in the file");
    }
    let mut body = Vec::new();
    let mut closed = false;
    for line in lines {
        if is_marker(line, "ANCHOR_END:") {
            closed = true;
            break;
        }
        if !line.contains("ANCHOR:") && !line.contains("ANCHOR_END:") {
            body.push(line);
        }
    }
    if !closed {
        bail!("`// ANCHOR: {anchor}` has no `// ANCHOR_END: {anchor}`");
    }
    if body.iter().all(|line| line.trim().is_empty()) {
        bail!("anchor `{anchor}` is empty");
    }
    let indent = body
        .iter()
        .filter(|line| !line.trim().is_empty())
        .map(|line| line.len() - line.trim_start().len())
        .min()
        .unwrap_or(0);
    Ok(body
        .iter()
        .map(|line| format!("{}\n", line.get(indent..).unwrap_or("").trim_end()))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    const SOURCE: &str = "fn main() {\n    // ANCHOR: setup\n    let a = 1;\n    // ANCHOR: inner\n    let b = 2;\n    // ANCHOR_END: inner\n    // ANCHOR_END: setup\n}\n";

    #[test]
    fn takes_the_anchored_lines_dedented_without_nested_markers() {
        assert_eq!(
            anchored(SOURCE, "setup").unwrap(),
            "let a = 1;\nlet b = 2;\n"
        );
        assert_eq!(anchored(SOURCE, "inner").unwrap(), "let b = 2;\n");
    }

    #[test]
    fn a_missing_or_unclosed_anchor_is_an_error_naming_it() {
        let missing = anchored(SOURCE, "teardown").unwrap_err().to_string();
        assert!(missing.contains("ANCHOR: teardown"), "{missing}");
        let unclosed = anchored("// ANCHOR: a\nx\n", "a").unwrap_err().to_string();
        assert!(unclosed.contains("ANCHOR_END: a"), "{unclosed}");
    }

    #[test]
    fn recognises_blocks_made_only_of_includes() {
        assert!(only_includes("{{#include a.rs:x}}\n\n{{#include b.rs}}\n"));
        assert!(!only_includes(
            "{{#include a.rs:x}}\nlet typed_by_hand = 1;\n"
        ));
        assert!(!only_includes("\n"));
    }

    #[test]
    fn markdown_anchors_may_sit_in_html_comments() {
        let table = "# Costs\n<!-- ANCHOR: table -->\n| a | b |\n|---|---|\n| 1 | 2 |\n<!-- ANCHOR_END: table -->\n";
        assert_eq!(
            anchored(table, "table").unwrap(),
            "| a | b |\n|---|---|\n| 1 | 2 |\n"
        );
    }

    #[test]
    fn markdown_is_included_outside_code_blocks_and_code_blocks_keep_theirs() {
        let base = std::env::temp_dir().join(format!("slides-include-{}", std::process::id()));
        std::fs::create_dir_all(&base).unwrap();
        std::fs::write(
            base.join("table.md"),
            "<!-- ANCHOR: t -->\n| a |\n|---|\n<!-- ANCHOR_END: t -->\n",
        )
        .unwrap();
        let slide = "## Costs\n{{#include table.md:t}}\n```rust\n{{#include table.md:t}}\n```\n";
        let expanded = expand_outside_code(slide, &base).unwrap();
        std::fs::remove_dir_all(&base).unwrap();
        assert_eq!(
            expanded,
            "## Costs\n| a |\n|---|\n```rust\n{{#include table.md:t}}\n```\n"
        );
    }

    #[test]
    fn a_missing_file_is_an_error_naming_it() {
        let error = expand("{{#include nowhere.rs:x}}", Path::new("."))
            .unwrap_err()
            .to_string();
        assert!(error.contains("nowhere.rs"), "{error}");
    }
}
