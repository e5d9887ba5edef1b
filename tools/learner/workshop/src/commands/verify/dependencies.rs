//! Every member's dependencies are the workspace's pins, and every shared
//! third-party one is unified by `workspace-hack`, so that no member's
//! build selects a feature set of its own and building one lab rebuilds no
//! shared dependency.
//!
//! What cargo reads from a member's manifest has its `workspace = true`
//! already replaced by the pin, so a dependency is the pin's when it asks
//! for the pin's version (or path) with the pin's default features and at
//! least the pin's features (a member may add some, as `workspace = true,
//! features = [...]` does).

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use anyhow::{Context, Result};
use serde::Deserialize;

use crate::catalog::Workspace;
use workshop::members::{Dependency, Member, Members, Role};
use workshop::paths::lexically_normal;

/// Dependencies that stay out of `workspace-hack` on purpose: they switch on
/// extra features of shared crates, and belong to members no lab builds with
/// (the benchmarks, the slides renderer), so they never force a lab rebuild.
const NOT_SHARED: &[&str] = &["criterion", "pulldown-cmark", "syntect"];

/// Where a member's dependency is not the workspace's pin, or a shared one
/// is missing from `workspace-hack`.
pub fn problems(ws: &Workspace, members: &Members) -> Result<Vec<String>> {
    let pins = pins(ws)?;
    let unified: BTreeSet<&str> = members
        .get("workspace-hack")
        .map(|hack| hack.dependencies.iter().map(Dependency::key).collect())
        .unwrap_or_default();
    let mut problems = Vec::new();
    for member in &members.crates {
        for dependency in &member.dependencies {
            if let Some(problem) = problem(member, dependency, &pins, &unified) {
                problems.push(format!(
                    "{}: {problem}",
                    member.dir.join("Cargo.toml").display()
                ));
            }
        }
    }
    Ok(problems)
}

fn problem(
    member: &Member,
    dependency: &Dependency,
    pins: &BTreeMap<String, Pin>,
    unified: &BTreeSet<&str>,
) -> Option<String> {
    let key = dependency.key();
    if is_own_reference(member, dependency) {
        return None;
    }
    let Some(pin) = pins.get(key) else {
        return Some(format!(
            "`{key}` is not pinned in [workspace.dependencies]; pin it there and use \
             `{key}.workspace = true`"
        ));
    };
    if !pin.is_met_by(dependency) {
        return Some(format!(
            "`{key}` is not the workspace's pin (another version, path or feature set); \
             use `{key}.workspace = true`"
        ));
    }
    // An optional dependency is built only when a feature asks for it,
    // never in a lab's build: sharing it would build it for everyone.
    let shared = pin.path.is_none() && !dependency.optional && !NOT_SHARED.contains(&key);
    (shared && !unified.contains(key)).then(|| {
        format!(
            "`{key}` is missing from tools/maintainer/workspace-hack/Cargo.toml, so \
             building this member alone would rebuild shared dependencies"
        )
    })
}

/// Whether `dependency` is the lab's reference solution, which its
/// alternatives and wrong solutions depend on by path (`reference = {
/// package = "labNN-solution", path = "../.." }`): a lab's own crate, for
/// no other member to use, so not pinned.
fn is_own_reference(member: &Member, dependency: &Dependency) -> bool {
    member.lab.as_ref().is_some_and(|of| {
        matches!(of.role, Role::Alternative(_) | Role::Wrong(_))
            && dependency.path.as_deref()
                == Some(PathBuf::from("solutions").join(&of.lab).as_path())
    })
}

/// One line of the root manifest's `[workspace.dependencies]`.
#[derive(Deserialize)]
#[serde(rename_all = "kebab-case")]
struct Pin {
    version: Option<String>,
    /// Relative to the workspace root.
    path: Option<PathBuf>,
    #[serde(default)]
    features: Vec<String>,
    #[serde(default = "on")]
    default_features: bool,
}

fn on() -> bool {
    true
}

impl Pin {
    fn is_met_by(&self, dependency: &Dependency) -> bool {
        if let Some(path) = &self.path {
            return dependency.path.as_deref() == Some(lexically_normal(path).as_path());
        }
        let version = self.version.as_deref().unwrap_or("*");
        dependency.path.is_none()
            && dependency.req == requirement(version)
            && dependency.default_features == self.default_features
            && self
                .features
                .iter()
                .all(|feature| dependency.features.contains(feature))
    }
}

/// A version as cargo reads it: a bare `1.2` means `^1.2`.
fn requirement(version: &str) -> String {
    if version.starts_with(|c: char| c.is_ascii_digit()) {
        format!("^{version}")
    } else {
        version.to_owned()
    }
}

/// The root manifest's `[workspace.dependencies]`: what cargo metadata
/// reports only once inherited.
fn pins(ws: &Workspace) -> Result<BTreeMap<String, Pin>> {
    #[derive(Deserialize)]
    struct Root {
        workspace: WorkspaceTable,
    }
    #[derive(Deserialize)]
    struct WorkspaceTable {
        dependencies: BTreeMap<String, PinLine>,
    }
    /// `name = "1.2"` or `name = { version = "1.2", ... }`.
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum PinLine {
        Version(String),
        Table(Pin),
    }

    let path = ws.root.join("Cargo.toml");
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("cannot read {}", path.display()))?;
    let root: Root =
        toml::from_str(&text).with_context(|| format!("{} is malformed", path.display()))?;
    Ok(root
        .workspace
        .dependencies
        .into_iter()
        .map(|(name, line)| {
            let pin = match line {
                PinLine::Version(version) => Pin {
                    version: Some(version),
                    path: None,
                    features: Vec::new(),
                    default_features: true,
                },
                PinLine::Table(pin) => pin,
            };
            (name, pin)
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bare_version_is_a_caret_requirement() {
        assert_eq!(requirement("1.54.1"), "^1.54.1");
        assert_eq!(requirement("0.5"), "^0.5");
        assert_eq!(requirement("=0.5.1"), "=0.5.1");
    }
}
