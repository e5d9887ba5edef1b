//! What the workshop's command-line program shares with its own tests: the
//! workspace's crates as cargo reads their manifests, and the paths those
//! manifests write.

pub mod members;
pub mod paths;
