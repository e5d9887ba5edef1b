//! Lab 14's grader caps a learner's business statements at the starter's count,
//! written in the grader as a constant: this keeps that constant true of the
//! starter as the analyzer measures it today.

use std::path::PathBuf;

#[test]
fn lab14_grader_states_the_starters_business_statements() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../..");
    let lab = root.join("labs/14-admin-ratio");
    let grader = std::fs::read_to_string(lab.join("tests/grader.rs")).expect("lab 14's grader");
    let stated: usize = grader
        .lines()
        .find_map(|line| line.strip_prefix("const STARTER_BUSINESS_STATEMENTS: usize = "))
        .and_then(|rest| rest.trim_end_matches(';').parse().ok())
        .expect("the grader states `const STARTER_BUSINESS_STATEMENTS: usize = N;`");
    let measured = ratio::analyze_paths(&[lab.join("src")], &ratio::Rules::default())
        .expect("the starter parses")
        .business;
    let readme = std::fs::read_to_string(lab.join("README.md")).expect("lab 14's README");
    assert!(
        readme.contains(&format!("the starter's {measured}")),
        "labs/14-admin-ratio/README.md should say \"the starter's {measured}\" business statements"
    );
    assert_eq!(
        stated, measured,
        "labs/14-admin-ratio/tests/grader.rs says the starter has {stated} business statements; \
         the analyzer counts {measured}"
    );
}

/// The grader's `const TARGET: f64 = X;`.
fn lab14_target(root: &std::path::Path) -> f64 {
    let grader = std::fs::read_to_string(root.join("labs/14-admin-ratio/tests/grader.rs"))
        .expect("lab 14's grader");
    grader
        .lines()
        .find_map(|line| line.strip_prefix("const TARGET: f64 = "))
        .and_then(|rest| rest.trim_end_matches(';').parse().ok())
        .expect("the grader states `const TARGET: f64 = X;`")
}

#[test]
fn lab14_solutions_pass_with_a_margin_and_the_starter_does_not() {
    // A reference exactly at the target would refuse a correct answer that
    // differs from it by one statement: keep a tenth of the target to spare.
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../..");
    let target = lab14_target(&root);
    let measure = |path: &str| {
        let report = ratio::analyze_paths(&[root.join(path)], &ratio::Rules::default())
            .expect("the crate parses");
        ratio::ratio(report.business, report.admin).unwrap_or(f64::INFINITY)
    };
    for solution in [
        "solutions/14-admin-ratio/src",
        "solutions/14-admin-ratio/alternatives/actions/src",
    ] {
        let measured = measure(solution);
        assert!(
            measured >= target * 1.1,
            "{solution} measures {measured:.2}: within a tenth of lab 14's target of {target}"
        );
    }
    let starter = measure("labs/14-admin-ratio/src");
    assert!(
        starter < target,
        "lab 14's starter measures {starter:.2}, already at the target of {target}"
    );
}
