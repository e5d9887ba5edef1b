//! Flame graphs of critical paths, drawn by inferno (the Rust port of
//! Brendan Gregg's FlameGraph, which CRISP calls).
//!
//! The input is folded stacks ([`crate::aggregate::Analysis::folded`]):
//! one line per calling context, its mean exclusive critical-path time as
//! the count. A frame's width is then the mean time the endpoint's critical
//! path spent in that operation and everything it called.
//!
//! CPU samples are drawn the same way ([`profile_flame_graph`]): one line
//! per stack of functions, its samples as the count, so a frame's width is
//! the samples taken in that function and everything it called.

use std::io::{self, Write};

use inferno::differential;
use inferno::flamegraph::{self, Options};

/// A flame graph of `folded` stacks as SVG.
pub fn flame_graph(
    folded: &[String],
    title: &str,
    subtitle: &str,
    out: impl Write,
) -> io::Result<()> {
    if folded.is_empty() {
        return Err(io::Error::other("no critical-path time to draw"));
    }
    let mut options = options(title, subtitle);
    flamegraph::from_lines(&mut options, folded.iter().map(String::as_str), out)
        .map_err(io::Error::other)
}

/// A flame graph of CPU samples as SVG: `folded` stacks of function names,
/// root first, each counted in `unit` (`samples`, or the unit the
/// profiler weighed them in, such as `ns`). The options are the critical
/// paths' own, so the two kinds of graph read alike.
pub fn profile_flame_graph(
    folded: &[String],
    title: &str,
    subtitle: &str,
    unit: &str,
    out: impl Write,
) -> io::Result<()> {
    if folded.is_empty() {
        return Err(io::Error::other("no CPU samples to draw"));
    }
    let mut options = options(title, subtitle);
    options.count_name = unit.to_owned();
    flamegraph::from_lines(&mut options, folded.iter().map(String::as_str), out)
        .map_err(io::Error::other)
}

/// A differential flame graph: the frames are `after`'s, coloured by how
/// each context's time changed from `before` (red: grew, blue: shrank).
pub fn differential_flame_graph(
    before: &[String],
    after: &[String],
    title: &str,
    subtitle: &str,
    out: impl Write,
) -> io::Result<()> {
    let mut both = Vec::new();
    differential::from_readers(
        differential::Options::default(),
        before.join("\n").as_bytes(),
        after.join("\n").as_bytes(),
        &mut both,
    )?;
    let both = String::from_utf8(both).map_err(io::Error::other)?;
    if both.trim().is_empty() {
        return Err(io::Error::other("no critical-path time to draw"));
    }
    let mut options = options(title, subtitle);
    flamegraph::from_lines(&mut options, both.lines(), out).map_err(io::Error::other)
}

fn options(title: &str, subtitle: &str) -> Options<'static> {
    let mut options = Options::default();
    options.title = title.to_owned();
    options.subtitle = Some(subtitle.to_owned());
    options.count_name = "µs".to_owned();
    // The same operation gets the same colour in every graph.
    options.hash = true;
    options
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frames(svg: &str) -> Vec<String> {
        svg.split("<title>")
            .skip(1)
            .filter_map(|rest| rest.split("</title>").next())
            .map(str::to_owned)
            .collect()
    }

    #[test]
    fn every_context_becomes_a_frame_with_its_time() {
        let folded = vec![
            "gw POST /orders 20".to_owned(),
            "gw POST /orders;inv SELECT 30".to_owned(),
        ];
        let mut svg = Vec::new();
        flame_graph(&folded, "POST /orders", "all traces", &mut svg).unwrap();
        let frames = frames(&String::from_utf8(svg).unwrap());
        assert!(
            frames.iter().any(|f| f.starts_with("inv SELECT (30 µs")),
            "{frames:?}"
        );
        assert!(
            frames
                .iter()
                .any(|f| f.starts_with("gw POST /orders (50 µs")),
            "{frames:?}"
        );
    }

    #[test]
    fn a_differential_graph_shows_the_change() {
        let before = vec!["gw POST /orders;inv SELECT 100".to_owned()];
        let after = vec!["gw POST /orders;inv SELECT 40".to_owned()];
        let mut svg = Vec::new();
        differential_flame_graph(&before, &after, "POST /orders", "fixed", &mut svg).unwrap();
        let frames = frames(&String::from_utf8(svg).unwrap());
        assert!(
            frames
                .iter()
                // inferno gives the change relative to the new time:
                // (40 - 100) / 40.
                .any(|f| f.starts_with("inv SELECT (40 µs") && f.contains("-150.00%")),
            "{frames:?}"
        );
    }

    #[test]
    fn nothing_to_draw_is_an_error_not_an_empty_picture() {
        assert!(flame_graph(&[], "t", "s", Vec::new()).is_err());
        assert!(profile_flame_graph(&[], "t", "s", "samples", Vec::new()).is_err());
    }

    #[test]
    fn a_profiles_frames_count_its_samples() {
        let folded = vec![
            "main;serve;quote 7".to_owned(),
            "main;serve;parse 2".to_owned(),
        ];
        let mut svg = Vec::new();
        profile_flame_graph(&folded, "pricing quote", "CPU", "samples", &mut svg).unwrap();
        let frames = frames(&String::from_utf8(svg).unwrap());
        assert!(
            frames.iter().any(|f| f.starts_with("quote (7 samples")),
            "{frames:?}"
        );
        assert!(
            frames.iter().any(|f| f.starts_with("serve (9 samples")),
            "{frames:?}"
        );
    }
}
