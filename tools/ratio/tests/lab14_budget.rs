//! Lab 14's grader caps a learner's business lines at the starter's count,
//! written in the grader as a constant: this keeps that constant true of the
//! starter as the analyzer measures it today.

use std::path::PathBuf;

#[test]
fn lab14_grader_states_the_starters_business_lines() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let lab = root.join("labs/14-admin-ratio");
    let grader = std::fs::read_to_string(lab.join("tests/grader.rs")).expect("lab 14's grader");
    let stated: usize = grader
        .lines()
        .find_map(|line| line.strip_prefix("const STARTER_BUSINESS_LINES: usize = "))
        .and_then(|rest| rest.trim_end_matches(';').parse().ok())
        .expect("the grader states `const STARTER_BUSINESS_LINES: usize = N;`");
    let measured = ratio::analyze_paths(&[lab.join("src")], &ratio::Rules::default())
        .expect("the starter parses")
        .business;
    let readme = std::fs::read_to_string(lab.join("README.md")).expect("lab 14's README");
    assert!(
        readme.contains(&format!("the starter's {measured}")),
        "labs/14-admin-ratio/README.md should say \"the starter's {measured}\" business lines"
    );
    assert_eq!(
        stated, measured,
        "labs/14-admin-ratio/tests/grader.rs says the starter has {stated} business lines; \
         the analyzer counts {measured}"
    );
}
