//! The aggregate critical paths, checked against CRISP itself:
//! `fixtures/crisp-orders/` is 30 `POST /orders` traces of a `just demo`
//! run with its planted problems (its 10 slowest and 20 others), as the
//! demo recorded them, and `fixtures/crisp-orders.P100.cct` is what
//! uber-research/CRISP
//! (`crisp-trace -s gateway -a "POST /orders" -i crisp-orders`) wrote for
//! them: the mean exclusive critical-path time per calling context. (The
//! `crisp` command's own tests, in `tools/learner/trace-tools`, read them too.)

use std::path::{Path, PathBuf};

use trace_analysis::aggregate::{Analysis, Endpoint};
use trace_analysis::crisp_reference::{Agreement, parse_cct};
use trace_analysis::recording;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

fn orders() -> Endpoint {
    Endpoint {
        service: "gateway".to_owned(),
        operation: "POST /orders".to_owned(),
    }
}

fn analysis_of_the_recording() -> Analysis {
    let read = recording::analyse(&[fixtures().join("crisp-orders")], &orders()).unwrap();
    assert!(read.skipped.is_empty(), "{:?}", read.skipped);
    assert_eq!(
        read.aggregator.len(),
        read.traces,
        "every trace is an order"
    );
    read.aggregator.finish()
}

fn crisps_tree() -> Vec<(Vec<String>, f64)> {
    let text = std::fs::read_to_string(fixtures().join("crisp-orders.P100.cct")).unwrap();
    parse_cct(&text).unwrap()
}

#[test]
fn the_analysis_agrees_with_crisps_own_context_by_context() {
    let analysis = analysis_of_the_recording();
    assert_eq!(analysis.traces, 30);
    let agreement = Agreement::of(&analysis, &crisps_tree());
    assert_eq!(agreement.contexts.len(), 25, "{:#?}", agreement.contexts);
    let largest = agreement.largest_difference_us();
    assert!(
        agreement.agrees(),
        "the largest difference is {largest:.1} µs, beyond {:.1} µs: {:#?}",
        agreement.tolerance_us,
        agreement.contexts
    );
    // The operation that owns the most critical-path time is the same.
    assert_eq!(agreement.operations[0].name, {
        let top = &analysis.operations[0];
        format!("{} {}", top.service, top.operation)
    });
}

#[test]
fn an_analysis_off_by_one_percent_in_one_context_disagrees() {
    // The check can fail: the largest context made 1 % larger.
    let mut analysis = analysis_of_the_recording();
    analysis.contexts[0].mean_critical_path_us *= 1.01;
    assert!(!Agreement::of(&analysis, &crisps_tree()).agrees());
}
