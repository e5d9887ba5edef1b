//! The real talk, rendered: its shape, its promises (offline, notes on
//! every slide, a lab slide per lab), and a real browser's view of it.

use std::path::{Path, PathBuf};

use chromium::{Chromium, png_size};

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../..")
}

fn talk() -> PathBuf {
    workspace().join("slides/talk.md")
}

fn rendered() -> slides::Rendered {
    slides::render_file(&talk()).unwrap_or_else(|error| panic!("the talk renders: {error:#}"))
}

/// The separators, counted here by hand rather than by the renderer's own
/// splitter, so that the two can disagree.
fn separators(text: &str) -> usize {
    let mut in_code = false;
    let mut count = 0;
    for line in text.lines() {
        if line.trim_start().starts_with("```") {
            in_code = !in_code;
        } else if !in_code && line.trim() == "---" {
            count += 1;
        }
    }
    count
}

#[test]
fn renders_one_slide_per_section_separator() {
    let text = std::fs::read_to_string(talk()).unwrap();
    let page = rendered();
    let sections = page.html.matches("<section class=\"slide ").count();
    assert_eq!(sections, separators(&text) + 1);
    assert_eq!(page.slides, sections);
    assert!(
        sections >= 20,
        "a whole talk, not a stub: {sections} slides"
    );
}

#[test]
fn the_page_loads_nothing_from_the_network() {
    let html = rendered().html;
    for needle in [" src=", "<link", "@import"] {
        assert!(
            !html.contains(needle),
            "the page must be self-contained: found `{needle}`"
        );
    }
    // `url(#arrow)` is a marker inside a diagram; any other `url(` loads.
    for (at, _) in html.match_indices("url(") {
        assert!(
            html[at + 4..].starts_with('#'),
            "the page must be self-contained: {}",
            &html[at..(at + 40).min(html.len())]
        );
    }
    // Addresses on loopback are the demo's, shown to the audience; any
    // other address would be a request the conference Wi-Fi may refuse.
    for scheme in ["http://", "https://"] {
        for (at, _) in html.match_indices(scheme) {
            let rest = &html[at + scheme.len()..];
            assert!(
                rest.starts_with("127.0.0.1") || rest.starts_with("localhost"),
                "an external URL: {}",
                &html[at..(at + 60).min(html.len())]
            );
        }
    }
}

#[test]
fn every_slide_has_speaker_notes() {
    let html = rendered().html;
    for (index, slide) in html.split("<section class=\"slide ").skip(1).enumerate() {
        let notes = slide
            .split("<aside class=\"notes\">")
            .nth(1)
            .and_then(|rest| rest.split("</aside>").next())
            .unwrap_or("");
        assert!(
            notes.contains("<p>"),
            "slide {} has no speaker notes (a `Note:` line)",
            index + 1
        );
    }
}

#[test]
fn every_lab_has_a_now_slide() {
    let text = std::fs::read_to_string(talk()).unwrap();
    let now_slides: Vec<String> = slides::deck::split(&text)
        .into_iter()
        .filter(|slide| slide.content.trim_start().starts_with("## Now:"))
        .map(|slide| slide.content)
        .collect();
    let labs = std::fs::read_dir(workspace().join("labs")).unwrap();
    let mut numbers: Vec<u32> = labs
        .filter_map(|entry| {
            let name = entry.ok()?.file_name().into_string().ok()?;
            name.split_once('-')?.0.parse().ok()
        })
        .collect();
    numbers.sort();
    assert!(!numbers.is_empty());
    for number in numbers {
        let command = format!("`just lab {number}`");
        assert!(
            now_slides.iter().any(|slide| slide.contains(&command)),
            "no \"Now:\" slide sends the room to {command}"
        );
    }
}

#[test]
fn rust_on_slides_is_included_from_the_workspace() {
    let text = std::fs::read_to_string(talk()).unwrap();
    let rust_blocks = text.matches("```rust").count();
    let includes = text.matches("{{#include ../").count();
    assert!(
        rust_blocks >= 5,
        "the talk shows code: {rust_blocks} Rust blocks"
    );
    assert!(
        includes >= rust_blocks,
        "every Rust block includes its code"
    );
    let html = rendered().html;
    assert_eq!(
        html.matches("data-language=\"rust\"").count(),
        rust_blocks,
        "every Rust block rendered, highlighted"
    );
    assert!(!html.contains("{{#include"), "every include was expanded");
    assert!(
        !html.contains("ANCHOR"),
        "anchor comments stay in the sources"
    );
}

#[test]
fn a_broken_include_names_the_slide_and_the_anchor() {
    let error = slides::render(
        "# Title\nNote: n\n---\n## Code\n```rust\n{{#include ../demo-services/catalog/src/main.rs:no_such_anchor}}\n```\n",
        &workspace().join("slides"),
    )
    .err()
    .expect("a missing anchor fails the render");
    let message = format!("{error:#}");
    assert!(message.contains("slide 2"), "{message}");
    assert!(message.contains("no_such_anchor"), "{message}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serves_the_talk_and_explains_a_broken_one() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/", listener.local_addr().unwrap());
    tokio::spawn(slides::serve::serve(listener, talk()));
    let response = reqwest::get(&url).await.unwrap();
    assert_eq!(response.status(), 200);
    let html = response.text().await.unwrap();
    assert_eq!(
        html.matches("<section class=\"slide ").count(),
        rendered().slides
    );

    let scratch = Path::new(env!("CARGO_TARGET_TMPDIR")).join("broken-talk");
    std::fs::create_dir_all(&scratch).unwrap();
    let broken = scratch.join("talk.md");
    std::fs::write(&broken, "# Title\n```rust\nfn typed_in() {}\n```\n").unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/", listener.local_addr().unwrap());
    tokio::spawn(slides::serve::serve(listener, broken));
    let response = reqwest::get(&url).await.unwrap();
    assert_eq!(response.status(), 500);
    let reason = response.text().await.unwrap();
    assert!(reason.contains("#include"), "{reason}");
}

#[test]
fn chromium_shows_the_title_and_a_code_slide() {
    let scratch = Path::new(env!("CARGO_TARGET_TMPDIR")).join("slides");
    std::fs::create_dir_all(&scratch).unwrap();
    let Some(browser) = Chromium::find_or_skip(scratch.join("profile")) else {
        return;
    };
    let page = rendered();
    let file = scratch.join("index.html");
    std::fs::write(&file, &page.html).unwrap();
    let file = file.canonicalize().unwrap();
    // The first slide with Rust on it.
    let code_slide = page
        .html
        .split("<section class=\"slide ")
        .skip(1)
        .position(|slide| slide.contains("data-language=\"rust\""))
        .expect("a code slide")
        + 1;

    for (slide, name) in [(1, "title"), (code_slide, "code")] {
        let url = format!("file://{}#{slide}", file.display());
        let dom = browser.dump_dom(&url).expect("chromium dumps the DOM");
        let active: Vec<&str> = dom
            .match_indices("<section class=\"slide ")
            .map(|(at, _)| &dom[at..at + 60])
            .filter(|tag| tag.contains(" active"))
            .collect();
        assert_eq!(active.len(), 1, "exactly one slide shows: {active:?}");
        assert!(
            active[0].contains(&format!("id=\"slide-{slide}\"")),
            "the script shows slide {slide} for #{slide}: {active:?}"
        );
        let png = browser
            .screenshot(&url, (1280, 720), &scratch.join(format!("{name}.png")))
            .expect("chromium takes a screenshot");
        assert_eq!(png_size(&png), Some((1280, 720)), "a real 1280×720 PNG");
        assert!(
            png.len() > 10_000,
            "the {name} slide has content, not a blank page"
        );
    }
    let title = std::fs::read(scratch.join("title.png")).unwrap();
    let code = std::fs::read(scratch.join("code.png")).unwrap();
    assert_ne!(title, code, "the two slides look different");
}
