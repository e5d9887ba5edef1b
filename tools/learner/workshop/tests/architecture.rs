//! The arrows between the workspace's crates point one way. The top-level
//! folder a crate lives in says what it is, and what it may depend on:
//!
//! | layer | folders | may depend on |
//! |---|---|---|
//! | library | `libs/` | libraries |
//! | service | `demo-services/` | libraries, services |
//! | tool | `tools/` | libraries, services, tools |
//! | lab | `labs/`, `solutions/` | libraries, services, tools, and its own lab's crates |
//!
//! A lab's crates are used only within that lab: the learner's crate from
//! inside its own folder (a learner's code may not compile while they
//! work), the lab's given code by the starter and the solution alike. The
//! shop never depends on the workshop's machinery, and the libraries the
//! labs teach stand alone. The root README's "What is where" says the same.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use workshop::members::{LabCrate, Members, Role};

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Layer {
    Library,
    Service,
    Tool,
    Lab,
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../..")
        .canonicalize()
        .expect("the workspace root")
}

/// The layer of a crate from its folder, relative to the root: the folder's
/// first component alone decides it.
fn layer(folder: &Path) -> Layer {
    let first = folder
        .components()
        .next()
        .map(|c| c.as_os_str().to_string_lossy().into_owned());
    match first.as_deref() {
        Some("libs") => Layer::Library,
        Some("demo-services") => Layer::Service,
        Some("tools") => Layer::Tool,
        Some("labs" | "solutions") => Layer::Lab,
        _ => panic!(
            "{} is in no layer: add its folder to this test",
            folder.display()
        ),
    }
}

/// Every workspace crate's folder, and the workspace crates it depends on
/// (normal, dev and build dependencies alike).
fn workspace() -> BTreeMap<String, (PathBuf, Vec<String>)> {
    let members = Members::read(&root()).expect("cargo metadata reads the workspace");
    members
        .crates
        .iter()
        .map(|member| {
            let deps = member
                .dependencies
                .iter()
                .filter(|d| d.path.is_some() && members.get(&d.package).is_some())
                // Every crate depends on it by design, to build shared crates
                // with one set of features; it holds no code.
                .filter(|d| d.package != "workspace-hack")
                .map(|d| d.package.clone())
                .collect();
            (member.name.clone(), (member.dir.clone(), deps))
        })
        .collect()
}

/// Why `from` may not depend on `to`, if it may not.
fn forbidden(from: &Path, to: &Path) -> Option<String> {
    let (from_layer, to_layer) = (layer(from), layer(to));
    if let Some(used) = LabCrate::of(to) {
        // A lab's crates are used within its own lab: the learner's crate
        // (`labs/NN-slug`) only from inside its folder, its given code
        // (`labs/NN-slug/given`) by the starter and the solution alike.
        let same_lab = LabCrate::of(from).is_some_and(|user| user.lab == used.lab);
        let learners = used.role == Role::Starter;
        let allowed = same_lab && (!learners || from.starts_with(to));
        return (!allowed).then(|| {
            "a lab's crates are used only within that lab, and a learner's crate only from its own folder"
                .to_owned()
        });
    }
    (to_layer > from_layer).then(|| format!("a {from_layer:?} may not depend on a {to_layer:?}"))
}

#[test]
fn every_arrow_points_down_the_layers() {
    let crates = workspace();
    let mut violations = Vec::new();
    for (name, (folder, deps)) in &crates {
        for dep in deps {
            let (dep_folder, _) = &crates[dep];
            if let Some(why) = forbidden(folder, dep_folder) {
                violations.push(format!(
                    "{name} ({}) -> {dep} ({}): {why}",
                    folder.display(),
                    dep_folder.display()
                ));
            }
        }
    }
    assert!(
        violations.is_empty(),
        "arrows against the layers (see tools/learner/workshop/tests/architecture.rs):\n{}",
        violations.join("\n")
    );
}

#[test]
fn the_rule_itself_rejects_what_it_should() {
    let p = Path::new;
    assert!(forbidden(p("tools/learner/profile"), p("labs/12-hot-spot")).is_some());
    assert!(
        forbidden(
            p("demo-services/system-tests"),
            p("tools/learner/grader-kit")
        )
        .is_some()
    );
    assert!(forbidden(p("libs/telemetry"), p("demo-services/shop")).is_some());
    assert!(forbidden(p("solutions/12-hot-spot"), p("labs/12-hot-spot")).is_some());
    assert!(forbidden(p("labs/10-statistics-sink"), p("labs/12-hot-spot")).is_some());
    assert!(forbidden(p("labs/12-hot-spot/profile"), p("labs/12-hot-spot")).is_none());
    assert!(forbidden(p("solutions/12-hot-spot"), p("labs/12-hot-spot/given")).is_none());
    assert!(forbidden(p("labs/12-hot-spot"), p("labs/12-hot-spot/given")).is_none());
    assert!(forbidden(p("solutions/09-cost"), p("labs/12-hot-spot/given")).is_some());
    assert!(forbidden(p("tools/learner/profile"), p("labs/12-hot-spot/given")).is_some());
    assert!(forbidden(p("labs/06-export"), p("tools/learner/collector")).is_none());
    assert!(forbidden(p("tools/learner/collector"), p("demo-services/shop")).is_none());
    assert!(forbidden(p("demo-services/gateway"), p("libs/telemetry")).is_none());
}
