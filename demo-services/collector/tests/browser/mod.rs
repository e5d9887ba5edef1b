//! The waterfall, rendered by a real browser: Debian's Chromium, headless.
//!
//! Chromium loads the trace page, runs its script, and dumps the resulting
//! DOM, in which the rows are counted; it also takes a screenshot, which is
//! checked to be a real PNG of the requested size (and kept under
//! `target/` for a person to look at).

use std::path::{Path, PathBuf};
use std::process::Command;

use prost::Message;

use crate::common::{self, request};

/// The browser to drive: `$CHROMIUM`, or the first of the usual names on PATH.
fn chromium() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("CHROMIUM") {
        return Some(PathBuf::from(path));
    }
    let path = std::env::var_os("PATH")?;
    ["chromium", "chromium-browser", "google-chrome"]
        .iter()
        .flat_map(|name| std::env::split_paths(&path).map(move |dir| dir.join(name)))
        .find(|candidate| candidate.is_file())
}

fn headless(browser: &Path, profile: &Path) -> Command {
    let mut command = Command::new(browser);
    // A closed network answers Chromium's background requests with refusals:
    // turn them off, and give it a throwaway profile.
    command.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--hide-scrollbars",
        "--virtual-time-budget=5000",
    ]);
    command.arg(format!("--user-data-dir={}", profile.display()));
    command
}

/// Width and height from a PNG's header, if it is one.
fn png_size(bytes: &[u8]) -> Option<(u32, u32)> {
    let signature = b"\x89PNG\r\n\x1a\n";
    if bytes.len() < 24 || &bytes[..8] != signature || &bytes[12..16] != b"IHDR" {
        return None;
    }
    let word = |at: usize| u32::from_be_bytes(bytes[at..at + 4].try_into().unwrap());
    Some((word(16), word(20)))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_waterfall_renders_one_row_per_span_in_chromium() {
    let Some(browser) = chromium() else {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI must have Chromium: .ci/run installs Debian's chromium package"
        );
        eprintln!(
            "SKIPPED: no Chromium here (install Debian's chromium, or set CHROMIUM=/path/to/it)"
        );
        return;
    };
    let collector = common::start(100).await;
    let spans = super::known_trace();
    let expected_rows = spans.len();
    let response = reqwest::Client::new()
        .post(format!("{}/v1/traces", collector.otlp))
        .header("content-type", "application/x-protobuf")
        .body(request("shop", spans).encode_to_vec())
        .send()
        .await
        .unwrap();
    assert!(response.status().is_success());
    let page = format!("{}/trace/{}", collector.ui, "07".repeat(16));

    let scratch = Path::new(env!("CARGO_TARGET_TMPDIR")).join("waterfall");
    std::fs::create_dir_all(&scratch).unwrap();
    let profile = scratch.join("profile");
    let (dom, screenshot) = tokio::task::spawn_blocking({
        let (browser, page, scratch, profile) = (
            browser.clone(),
            page.clone(),
            scratch.clone(),
            profile.clone(),
        );
        move || {
            let dom = headless(&browser, &profile)
                .arg("--dump-dom")
                .arg(&page)
                .output()
                .expect("chromium runs");
            let png = scratch.join("waterfall.png");
            let _ = std::fs::remove_file(&png);
            let shot = headless(&browser, &profile)
                .arg("--window-size=1280,720")
                .arg(format!("--screenshot={}", png.display()))
                .arg(&page)
                .output()
                .expect("chromium runs");
            assert!(
                shot.status.success(),
                "{}",
                String::from_utf8_lossy(&shot.stderr)
            );
            (
                String::from_utf8_lossy(&dom.stdout).into_owned(),
                std::fs::read(png).expect("a screenshot"),
            )
        }
    })
    .await
    .unwrap();

    // Count in the rendered page only, not in the script that renders it.
    let main = dom
        .split("<main")
        .nth(1)
        .and_then(|m| m.split("</main>").next())
        .unwrap_or("");
    let rows = main.matches("class=\"span-row").count();
    assert_eq!(
        rows, expected_rows,
        "one waterfall row per span; the page was:\n{dom}"
    );
    let on_path = main.matches("class=\"span-row on-path").count();
    assert_eq!(on_path, 3, "root, b and b1 are on the critical path");
    assert!(
        main.contains("class=\"critical\""),
        "the critical path is drawn"
    );
    assert_eq!(
        png_size(&screenshot),
        Some((1280, 720)),
        "a real 1280×720 PNG"
    );
    assert!(
        screenshot.len() > 10_000,
        "the screenshot has content, not a blank page"
    );
}
