//! The original pricer's flamegraph names its hot function, as the lab's
//! README promises: what a learner sees first with `just profile
//! lab12-original`.

use std::path::Path;
use std::time::Duration;

use lab12::book::conference_book;
use lab12::original::OriginalPricer;

#[test]
fn the_original_pricers_flamegraph_names_its_hot_function() {
    let book = conference_book(2_000);
    let pricer = OriginalPricer::new(&book);
    let svg_path = Path::new(env!("CARGO_TARGET_TMPDIR")).join("profile/lab12-original.svg");
    let workload = lab12_profile::quote_all(&book, |order| pricer.quote(order));
    let rounds = profile::profile(workload, Duration::from_millis(1_500), &svg_path).unwrap();
    assert!(rounds > 0, "the workload ran");
    let svg = std::fs::read_to_string(&svg_path).unwrap();
    let frames = profile::frames(&svg);
    let (frame, percent) = profile::hottest_frame(&frames, "OriginalPricer::quote")
        .unwrap_or_else(|| panic!("no frame names OriginalPricer::quote: {frames:?}"));
    assert!(
        percent > 50.0,
        "OriginalPricer::quote is the hot spot: {frame}"
    );
}
