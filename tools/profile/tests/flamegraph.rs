//! `just profile` draws a real flamegraph, whose frames name the hot
//! function. One test, on purpose: the sampler is process-wide, and two
//! profiles at once would see each other's work.

use std::path::Path;
use std::time::Duration;

use profile::{Target, profile};

fn frames(svg: &str) -> Vec<&str> {
    svg.split("<title>")
        .skip(1)
        .filter_map(|rest| rest.split("</title>").next())
        .collect()
}

#[test]
fn flamegraphs_name_the_hot_function() {
    let scratch = Path::new(env!("CARGO_TARGET_TMPDIR")).join("profile");
    for (target, hot) in [
        (Target::Pricing, "CouponIndex::new"),
        (Target::Lab8Original, "OriginalPricer::quote"),
    ] {
        let svg_path = scratch.join(format!("{target:?}.svg"));
        let rounds = profile(target, Duration::from_millis(1_500), &svg_path).unwrap();
        assert!(rounds > 0, "the workload ran");
        let svg = std::fs::read_to_string(&svg_path).unwrap();
        assert!(svg.starts_with("<?xml") && svg.contains("<svg"), "an SVG");
        let frames = frames(&svg);
        assert!(frames.len() > 3, "a flamegraph with frames: {frames:?}");
        // inferno's titles end with "(N samples, P%)": the hot function's
        // own frame (not a closure inside it) holds most of them.
        let share = |frame: &str| -> f64 {
            frame
                .rsplit(", ")
                .next()
                .and_then(|p| p.trim_end_matches("%)").parse().ok())
                .unwrap_or(0.0)
        };
        let (hot_frame, percent) = frames
            .iter()
            .filter(|frame| frame.contains(hot))
            .map(|frame| (*frame, share(frame)))
            .max_by(|a, b| a.1.total_cmp(&b.1))
            .unwrap_or_else(|| panic!("no frame names {hot}: {frames:?}"));
        assert!(percent > 50.0, "{hot} is the hot spot: {hot_frame}");
    }
}
