//! The talk, cut into slides.

/// One slide's Markdown, before rendering.
#[derive(Debug, PartialEq, Eq)]
pub struct Slide {
    /// What the audience sees.
    pub content: String,
    /// What the speaker reads: everything after the slide's `Note:` line.
    pub notes: String,
    /// The 1-based line of the talk where the slide starts, for errors.
    pub line: usize,
}

impl Slide {
    /// The CSS class that lays the slide out: the first slide is the title,
    /// a slide that opens with a level-one heading starts a section.
    pub fn kind(&self, index: usize) -> &'static str {
        if index == 0 {
            "title"
        } else if self.content.trim_start().starts_with("# ") {
            "section"
        } else {
            "body"
        }
    }
}

/// Cuts the talk at every line that is exactly `---`, outside code blocks,
/// where a `---` is content, not a separator.
pub fn split(text: &str) -> Vec<Slide> {
    let mut slides = Vec::new();
    let mut current = Slide {
        content: String::new(),
        notes: String::new(),
        line: 1,
    };
    let mut in_notes = false;
    let mut fence: Option<&str> = None;
    for (index, line) in text.lines().enumerate() {
        let trimmed = line.trim();
        match fence {
            Some(open) if trimmed.starts_with(open) => fence = None,
            Some(_) => {}
            None if trimmed.starts_with("```") => fence = Some("```"),
            None if trimmed.starts_with("~~~") => fence = Some("~~~"),
            None if trimmed == "---" => {
                let next = Slide {
                    content: String::new(),
                    notes: String::new(),
                    line: index + 2,
                };
                slides.push(std::mem::replace(&mut current, next));
                in_notes = false;
                continue;
            }
            None => {
                if let Some(rest) = line.strip_prefix("Note:") {
                    in_notes = true;
                    current.notes.push_str(rest.trim_start());
                    current.notes.push('\n');
                    continue;
                }
            }
        }
        let target = if in_notes {
            &mut current.notes
        } else {
            &mut current.content
        };
        target.push_str(line);
        target.push('\n');
    }
    slides.push(current);
    slides
}

/// The talk's title: its first level-one heading.
pub fn title(text: &str) -> String {
    text.lines()
        .find_map(|line| line.strip_prefix("# "))
        .unwrap_or("Slides")
        .trim()
        .to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn separators_inside_code_blocks_are_content() {
        let talk = "# Title\n---\n## Two\n```text\n---\n```\nNote: say it\nslowly\n---\nthree";
        let slides = split(talk);
        assert_eq!(slides.len(), 3);
        assert_eq!(slides[1].content, "## Two\n```text\n---\n```\n");
        assert_eq!(slides[1].notes, "say it\nslowly\n");
        assert_eq!(slides[1].line, 3);
        assert_eq!(slides[2].content, "three\n");
        assert_eq!(
            slides.iter().map(|s| s.kind(0)).collect::<Vec<_>>(),
            ["title"; 3]
        );
        assert_eq!(slides[1].kind(1), "body");
        assert_eq!(slides[0].kind(1), "section");
    }

    #[test]
    fn the_title_is_the_first_level_one_heading() {
        assert_eq!(
            title("intro\n## not this\n# Observable Rust\n"),
            "Observable Rust"
        );
        assert_eq!(title("no heading"), "Slides");
    }
}
