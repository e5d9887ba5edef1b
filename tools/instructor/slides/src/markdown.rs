//! One slide's Markdown to HTML: pulldown-cmark, plus the two things a slide
//! needs that plain Markdown does not do offline: highlighted code and
//! inline diagrams.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use pulldown_cmark::{CodeBlockKind, Event, Options, Parser, Tag, TagEnd, html};
use syntect::highlighting::ThemeSet;
use syntect::html::{ClassStyle, ClassedHTMLGenerator, css_for_theme_with_class_style};
use syntect::parsing::SyntaxSet;
use syntect::util::LinesWithEndings;

use crate::include;

/// Classes prefixed so that the highlighter's never clash with the page's.
const CLASSES: ClassStyle = ClassStyle::SpacedPrefixed { prefix: "hl-" };
const THEME: &str = "InspiredGitHub";

pub struct Renderer {
    base: PathBuf,
    syntaxes: SyntaxSet,
}

impl Renderer {
    /// A renderer whose includes and images are relative to `base`.
    pub fn new(base: &Path) -> Self {
        Self {
            base: base.to_path_buf(),
            syntaxes: SyntaxSet::load_defaults_newlines(),
        }
    }

    /// The CSS for highlighted code.
    pub fn stylesheet(&self) -> Result<String> {
        let themes = ThemeSet::load_defaults();
        let theme = themes.themes.get(THEME).context("syntect lost its theme")?;
        Ok(css_for_theme_with_class_style(theme, CLASSES)?)
    }

    pub fn render(&self, markdown: &str) -> Result<String> {
        let markdown = include::expand_outside_code(markdown, &self.base)?;
        let options = Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH;
        let mut events = Vec::new();
        let mut code: Option<(String, String)> = None;
        let mut image: Option<(String, String)> = None;
        for event in Parser::new_ext(&markdown, options) {
            match (event, &mut code, &mut image) {
                (Event::Start(Tag::CodeBlock(kind)), None, _) => {
                    let language = match kind {
                        CodeBlockKind::Fenced(info) => {
                            info.split([' ', ',']).next().unwrap_or("").to_owned()
                        }
                        CodeBlockKind::Indented => String::new(),
                    };
                    code = Some((language, String::new()));
                }
                (Event::Text(text), Some((_, body)), _) => body.push_str(&text),
                (Event::End(TagEnd::CodeBlock), Some((language, body)), _) => {
                    events.push(Event::Html(self.code_block(language, body)?.into()));
                    code = None;
                }
                (Event::Start(Tag::Image { dest_url, .. }), _, None) => {
                    image = Some((dest_url.into_string(), String::new()));
                }
                (Event::Text(text), _, Some((_, alt))) => alt.push_str(&text),
                (Event::End(TagEnd::Image), _, Some((path, alt))) => {
                    events.push(Event::Html(self.diagram(path, alt)?.into()));
                    image = None;
                }
                (_, _, Some(_)) => {}
                (event, _, _) => events.push(event),
            }
        }
        let mut out = String::new();
        html::push_html(&mut out, events.into_iter());
        Ok(out)
    }

    /// A highlighted `<pre>`. Rust must come from the workspace through
    /// `{{#include}}`: a snippet typed into the talk would rot unseen.
    fn code_block(&self, language: &str, body: &str) -> Result<String> {
        let body = if include::only_includes(body) {
            include::expand(body, &self.base)?
        } else if language == "rust" {
            bail!(
                "a Rust code block must include its code from the workspace \
                 (`{{{{#include ../path/to/file.rs:anchor}}}}`), so that it compiles; \
                 use ```text for pseudo-code"
            );
        } else {
            body.to_owned()
        };
        let token = match language {
            "console" | "shell" => "sh",
            "" => "txt",
            other => other,
        };
        let syntax = self
            .syntaxes
            .find_syntax_by_token(token)
            .unwrap_or_else(|| self.syntaxes.find_syntax_plain_text());
        let mut generator =
            ClassedHTMLGenerator::new_with_class_style(syntax, &self.syntaxes, CLASSES);
        for line in LinesWithEndings::from(&body) {
            generator.parse_html_for_line_which_includes_newline(line)?;
        }
        Ok(format!(
            "<pre class=\"code\" data-language=\"{}\"><code>{}</code></pre>\n",
            escape(language),
            generator.finalize()
        ))
    }

    /// A local SVG, inlined so that it scales with the slide and needs no
    /// request. Images from the network would break the offline promise.
    fn diagram(&self, path: &str, alt: &str) -> Result<String> {
        if path.contains("://") || !path.ends_with(".svg") {
            bail!("image `{path}`: slides inline local SVG diagrams only, to work offline");
        }
        let svg = std::fs::read_to_string(self.base.join(path))
            .with_context(|| format!("cannot read the diagram {path}"))?;
        let start = svg
            .find("<svg")
            .with_context(|| format!("{path} is not an SVG"))?;
        Ok(format!(
            "<figure class=\"diagram\" role=\"img\" aria-label=\"{}\">{}</figure>\n",
            escape(alt),
            // HTML knows SVG without its XML namespace; without it, the page
            // holds no URL at all.
            svg[start..].replacen(" xmlns=\"http://www.w3.org/2000/svg\"", "", 1)
        ))
    }
}

pub(crate) fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rust_typed_into_the_talk_is_refused() {
        let renderer = Renderer::new(Path::new("."));
        let error = renderer
            .render("```rust\nfn main() {}\n```\n")
            .unwrap_err()
            .to_string();
        assert!(error.contains("#include"), "{error}");
    }

    #[test]
    fn other_code_is_highlighted_in_classes() {
        let renderer = Renderer::new(Path::new("."));
        let html = renderer.render("```sh\njust lab 1\n```\n").unwrap();
        assert!(
            html.contains("<pre class=\"code\" data-language=\"sh\">"),
            "{html}"
        );
        assert!(html.contains("class=\"hl-"), "{html}");
    }

    #[test]
    fn remote_images_are_refused() {
        let renderer = Renderer::new(Path::new("."));
        let error = renderer
            .render("![map](https://example.com/map.svg)\n")
            .unwrap_err()
            .to_string();
        assert!(error.contains("offline"), "{error}");
    }
}
