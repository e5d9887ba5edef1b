//! The ratios the READMEs quote are measured, not remembered: when the demo
//! changes, this fails until the figures are updated.

use std::path::{Path, PathBuf};

use ratio::{Report, Rules, analyze_paths};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn measure(paths: &[&str]) -> Report {
    let paths: Vec<PathBuf> = paths.iter().map(|p| root().join(p)).collect();
    analyze_paths(&paths, &Rules::default()).expect("the demo parses")
}

fn read(file: &str) -> String {
    std::fs::read_to_string(root().join(file)).expect("the README exists")
}

#[test]
fn the_readmes_quote_the_measured_ratios() {
    let folder = measure(&["demo-services"]);
    let services = measure(&[
        "demo-services/catalog",
        "demo-services/inventory",
        "demo-services/pricing",
        "demo-services/payments",
        "demo-services/gateway",
        "demo-services/shop",
    ]);
    let figure = |report: &Report| format!("{:.2}", report.ratio.expect("some admin statements"));

    // The words around a figure wrap where they wrap; compare without line breaks.
    let rules = read("tools/ratio/README.md")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    for (report, quoted) in [
        (
            &folder,
            format!(
                "**{}** ({} business statements / {} admin statements) over the whole folder",
                figure(&folder),
                folder.business,
                folder.admin
            ),
        ),
        (
            &services,
            format!(
                "**{}** ({} / {}) over the five services",
                figure(&services),
                services.business,
                services.admin
            ),
        ),
    ] {
        assert!(
            rules.contains(&quoted),
            "tools/ratio/README.md should say \"{quoted}\" (measured: {} / {})",
            report.business,
            report.admin
        );
    }
    let quoted = format!(
        "the demo's services and their shared crate: {}",
        figure(&services)
    );
    assert!(
        read("README.md").contains(&quoted),
        "README.md should say \"{quoted}\""
    );
}
