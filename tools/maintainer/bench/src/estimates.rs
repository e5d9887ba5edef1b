//! Criterion's results, read back from the files it writes for each
//! benchmark: `<target>/criterion/<group>/<bench>/new/estimates.json`.

use std::path::{Path, PathBuf};

use serde_json::Value;

/// A benchmark's mean time per iteration and criterion's confidence
/// interval around it (95 %, its default), in nanoseconds.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Mean {
    pub ns: f64,
    pub lower_ns: f64,
    pub upper_ns: f64,
}

/// Where criterion writes the estimates of `group/bench` (`id`).
pub fn file(target_dir: &Path, id: &str) -> PathBuf {
    target_dir
        .join("criterion")
        .join(id)
        .join("new/estimates.json")
}

/// The mean of `group/bench` (`id`), if it ran.
pub fn mean(target_dir: &Path, id: &str) -> Option<Mean> {
    let estimates: Value =
        serde_json::from_str(&std::fs::read_to_string(file(target_dir, id)).ok()?).ok()?;
    let mean = &estimates["mean"];
    let interval = &mean["confidence_interval"];
    Some(Mean {
        ns: mean["point_estimate"].as_f64()?,
        lower_ns: interval["lower_bound"].as_f64()?,
        upper_ns: interval["upper_bound"].as_f64()?,
    })
}
