//! The talk, rendered: `slides/talk.md` to one self-contained HTML page.
//!
//! The talk is Markdown (so it diffs and reviews like code) with three
//! conventions, each handled by one module:
//!
//! - [`deck`]: a line `---` separates slides; a line starting `Note:` begins
//!   the slide's speaker notes.
//! - [`include`]: a Rust code block holds only `{{#include path:anchor}}`
//!   lines, which pull the code between `// ANCHOR: anchor` and
//!   `// ANCHOR_END: anchor` from a file the workspace compiles. A changed
//!   API breaks the build, or the render, never silently the talk. The
//!   same line outside a code block pulls in Markdown, such as the table
//!   of figures `just bench` writes.
//! - [`markdown`]: code is highlighted at render time and local SVG diagrams
//!   are inlined, so the page loads nothing: it works with the Wi-Fi off.
//!
//! [`page`] wraps the slides with the stylesheet and the navigation script;
//! [`serve`] serves the page, rendered afresh on every request.

pub mod deck;
pub mod include;
pub mod markdown;
pub mod page;
pub mod serve;

use std::path::Path;

use anyhow::{Context, Result};

/// A rendered talk.
pub struct Rendered {
    /// The whole page: HTML with its CSS and script inline.
    pub html: String,
    /// How many slides it has.
    pub slides: usize,
}

/// Renders the talk at `source` into one HTML page.
pub fn render_file(source: &Path) -> Result<Rendered> {
    let text = std::fs::read_to_string(source)
        .with_context(|| format!("cannot read the talk at {}", source.display()))?;
    let base = source.parent().unwrap_or(Path::new("."));
    render(&text, base)
}

/// Renders talk `text`, whose includes and images are relative to `base`.
pub fn render(text: &str, base: &Path) -> Result<Rendered> {
    let slides = deck::split(text);
    let renderer = markdown::Renderer::new(base);
    let mut rendered = Vec::with_capacity(slides.len());
    for (index, slide) in slides.iter().enumerate() {
        let number = index + 1;
        let content = renderer
            .render(&slide.content)
            .with_context(|| format!("slide {number} (from line {})", slide.line))?;
        let notes = renderer
            .render(&slide.notes)
            .with_context(|| format!("the notes of slide {number}"))?;
        rendered.push(page::Slide {
            kind: slide.kind(index),
            content,
            notes,
        });
    }
    Ok(Rendered {
        html: page::assemble(&deck::title(text), &rendered, &renderer.stylesheet()?),
        slides: rendered.len(),
    })
}
