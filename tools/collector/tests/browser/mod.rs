//! The waterfall, rendered by a real browser: Debian's Chromium, headless.
//!
//! Chromium loads the trace page, runs its script, and dumps the resulting
//! DOM, in which the rows are counted; it also takes a screenshot, which is
//! checked to be a real PNG of the requested size (and kept under
//! `target/` for a person to look at).

use std::path::Path;

use chromium::{Chromium, png_size};
use prost::Message;

use crate::common::{self, request};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_waterfall_renders_one_row_per_span_in_chromium() {
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
    let Some(browser) = Chromium::find_or_skip(scratch.join("profile")) else {
        return;
    };
    let (dom, screenshot) = tokio::task::spawn_blocking(move || {
        let dom = browser.dump_dom(&page).expect("chromium dumps the DOM");
        let png = browser
            .screenshot(&page, (1280, 720), &scratch.join("waterfall.png"))
            .expect("chromium takes a screenshot");
        (dom, png)
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
