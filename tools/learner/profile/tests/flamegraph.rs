//! `just profile pricing` draws a real flamegraph, whose frames name the hot
//! function. (Lab 12's own profiling program has the same test for its
//! pricers.)

use std::path::Path;
use std::time::Duration;

#[test]
fn the_pricing_flamegraph_names_the_hot_function() {
    let svg_path = Path::new(env!("CARGO_TARGET_TMPDIR")).join("profile/pricing.svg");
    let rounds = profile::profile(
        profile::pricing_workload(),
        Duration::from_millis(1_500),
        &svg_path,
    )
    .unwrap();
    assert!(rounds > 0, "the workload ran");
    let svg = std::fs::read_to_string(&svg_path).unwrap();
    assert!(svg.starts_with("<?xml") && svg.contains("<svg"), "an SVG");
    let frames = profile::frames(&svg);
    assert!(frames.len() > 3, "a flamegraph with frames: {frames:?}");
    // The hot function's own frame (not a closure inside it) holds most of
    // the samples.
    let (frame, percent) = profile::hottest_frame(&frames, "CouponIndex::new")
        .unwrap_or_else(|| panic!("no frame names CouponIndex::new: {frames:?}"));
    assert!(percent > 50.0, "CouponIndex::new is the hot spot: {frame}");
}
