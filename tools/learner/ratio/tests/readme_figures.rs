//! The ratios the READMEs quote are measured, not remembered: each quoted
//! figure must be within [`TOLERANCE`] of what the analyzer measures today.
//! A ratio moves a little with every change to the demo; rewriting the
//! figure at each one would be churn, not truth. A change that moves it
//! further fails here until the README says the new figure.

use std::path::{Path, PathBuf};

use ratio::{Report, Rules, analyze_paths};

/// How far, relative to today's measure, a quoted ratio may be.
const TOLERANCE: f64 = 0.15;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../..")
}

fn measure(paths: &[&str]) -> f64 {
    let paths: Vec<PathBuf> = paths.iter().map(|p| root().join(p)).collect();
    let report: Report = analyze_paths(&paths, &Rules::default()).expect("the demo parses");
    report.ratio.expect("some admin statements")
}

/// The README's text with its line breaks as spaces: a figure's words wrap
/// where they wrap.
fn read(file: &str) -> String {
    std::fs::read_to_string(root().join(file))
        .expect("the README exists")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

/// The number just after `before` in `text` (`**` around it allowed).
fn quoted_after(text: &str, before: &str, file: &str) -> f64 {
    let rest = text
        .split_once(before)
        .unwrap_or_else(|| panic!("{file} should say \"{before}\" followed by the ratio"))
        .1
        .trim_start()
        .trim_start_matches('*');
    let number: String = rest
        .chars()
        .take_while(|c| c.is_ascii_digit() || *c == '.')
        .collect();
    number
        .parse()
        .unwrap_or_else(|_| panic!("{file}: \"{before}\" is not followed by a ratio"))
}

fn assert_close(file: &str, what: &str, quoted: f64, measured: f64) {
    assert!(
        (quoted - measured).abs() <= TOLERANCE * measured,
        "{file} quotes {quoted:.2} for {what}; the analyzer measures {measured:.2} today \
         (more than {:.0} % apart): write {measured:.2}",
        TOLERANCE * 100.0
    );
}

#[test]
fn the_readmes_quote_the_measured_ratios_within_a_tolerance() {
    let folders = measure(&["demo-services", "libs"]);
    let services = measure(&[
        "demo-services/catalog",
        "demo-services/inventory",
        "demo-services/pricing",
        "demo-services/payments",
        "demo-services/gateway",
        "demo-services/shop",
    ]);
    let file = "tools/learner/ratio/README.md";
    let rules = read(file);
    let whole = quoted_after(&rules, "the shop and the libraries it is built on:", file);
    assert_close(file, "both folders", whole, folders);
    let five = quoted_after(&rules, "over both folders;", file);
    assert_close(file, "the five services", five, services);

    let file = "README.md";
    let quoted = quoted_after(
        &read(file),
        "the demo's services and their shared crate:",
        file,
    );
    assert_close(file, "the demo's services", quoted, services);
}

#[test]
fn a_figure_past_the_tolerance_is_caught() {
    let caught = std::panic::catch_unwind(|| assert_close("README.md", "x", 10.0, 12.0));
    assert!(caught.is_err(), "10.00 quoted for 12.00 measured passed");
    assert_close("README.md", "x", 11.0, 12.0);
}
