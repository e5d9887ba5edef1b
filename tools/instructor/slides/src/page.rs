//! The page around the slides: one HTML file, its stylesheet and script
//! inline, so it can be mailed, copied to a USB stick, or opened from disk.

use std::fmt::Write;

const STYLE: &str = include_str!("../assets/slides.css");
const SCRIPT: &str = include_str!("../assets/slides.js");

/// One rendered slide.
pub struct Slide {
    pub kind: &'static str,
    pub content: String,
    pub notes: String,
}

pub fn assemble(title: &str, slides: &[Slide], highlight_css: &str) -> String {
    let title = crate::markdown::escape(title);
    let mut html = String::new();
    let _ = write!(
        html,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{title}</title>\n<style>\n{STYLE}\n{highlight_css}</style>\n</head>\n<body>\n\
         <main id=\"deck\">\n"
    );
    for (index, slide) in slides.iter().enumerate() {
        let number = index + 1;
        let _ = write!(
            html,
            "<section class=\"slide {kind}\" id=\"slide-{number}\">\n\
             <div class=\"content\">\n{content}</div>\n\
             <aside class=\"notes\">\n{notes}</aside>\n</section>\n",
            kind = slide.kind,
            content = slide.content,
            notes = slide.notes,
        );
    }
    let _ = write!(
        html,
        "</main>\n<footer id=\"progress\"></footer>\n\
         <div id=\"help\" hidden>→ / space: next · ← : back · Home / End · \
         n: notes · s: speaker view · p: print</div>\n\
         <script>\n{SCRIPT}</script>\n</body>\n</html>\n"
    );
    html
}
