//! The workspace's crates as cargo reads their manifests (`cargo metadata`,
//! which builds and fetches nothing): each crate's folder, targets and
//! dependencies, and what it is to the workshop. The command-line program
//! and its tests learn what the members' manifests say here, and nowhere
//! else.
//!
//! What a crate is follows from where it lies, in the layout
//! `labs/README.md` sets out: `labs/NN-slug` is a lab's starter,
//! `labs/NN-slug/given` the code the lab gives, any other crate in a lab's
//! folder a program beside it (lab 12's profiler); `solutions/NN-slug` is
//! the reference solution, `solutions/NN-slug/alternatives/NAME` another
//! correct design, `solutions/NN-slug/wrong/NAME` a wrong solution kept as a
//! fixture.

use std::path::{Component, Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};
use serde::Deserialize;

use crate::paths::lexically_normal;

/// Every crate of the workspace, in the order of their folders.
#[derive(Clone, Debug)]
pub struct Members {
    pub crates: Vec<Member>,
}

/// One crate, as its manifest declares it.
#[derive(Clone, Debug)]
pub struct Member {
    /// The package's name, e.g. `lab01-alt-span-macros`.
    pub name: String,
    /// The crate's folder, relative to the workspace root.
    pub dir: PathBuf,
    /// The manifest's `description`; empty when it has none.
    pub description: String,
    pub targets: Vec<Target>,
    pub dependencies: Vec<Dependency>,
    /// `[package.metadata.workshop] caught-by`: for a wrong solution, the
    /// checks that must fail on it.
    pub caught_by: Vec<String>,
    /// The lab the crate belongs to and what it is there; `None` for a crate
    /// outside the labs.
    pub lab: Option<LabCrate>,
}

/// One of a crate's targets: its library, a binary, a test.
#[derive(Clone, Debug)]
pub struct Target {
    pub name: String,
    pub kind: TargetKind,
    /// Its root source file, relative to the workspace root when inside it.
    pub src_path: PathBuf,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TargetKind {
    Lib,
    Test,
    /// A binary, a benchmark, an example or a build script.
    Other,
}

/// One dependency, with what cargo made of the manifest's line for it (a
/// `workspace = true` line already replaced by the workspace's pin).
#[derive(Clone, Debug)]
pub struct Dependency {
    /// The package depended on.
    pub package: String,
    /// The name the code calls it by, when not the package's (`reference`
    /// for a lab's reference solution).
    pub rename: Option<String>,
    pub kind: DependencyKind,
    /// The version requirement as cargo reads it (`^1.2.3`; `*` for a path).
    pub req: String,
    /// A path dependency's folder, relative to the workspace root when
    /// inside it.
    pub path: Option<PathBuf>,
    pub features: Vec<String>,
    pub default_features: bool,
    pub optional: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DependencyKind {
    Normal,
    Dev,
    Build,
}

/// The lab a crate belongs to, and what it is there.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LabCrate {
    /// The lab's folder name, `NN-slug`.
    pub lab: String,
    pub role: Role,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Role {
    /// `labs/NN-slug`: the learner's starter.
    Starter,
    /// `labs/NN-slug/given`: code the lab gives the starter and the
    /// solution alike.
    Given,
    /// Any other crate in a lab's folders: a program beside the lab, such
    /// as lab 12's profiler (`labs/12-hot-spot/profile`).
    Program,
    /// `solutions/NN-slug`: the reference solution.
    Solution,
    /// `solutions/NN-slug/alternatives/NAME`: another correct design.
    Alternative(String),
    /// `solutions/NN-slug/wrong/NAME`: a wrong solution kept as a fixture.
    Wrong(String),
}

impl Members {
    /// Reads the manifests of the workspace at `root` with `cargo metadata`.
    pub fn read(root: &Path) -> Result<Self> {
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let output = Command::new(cargo)
            .args([
                "metadata",
                "--format-version",
                "1",
                "--no-deps",
                "--offline",
            ])
            .current_dir(root)
            .output()
            .context("cannot run `cargo metadata`: is the Rust toolchain installed and on PATH?")?;
        if !output.status.success() {
            bail!(
                "`cargo metadata` cannot read the workspace's manifests:\n{}",
                String::from_utf8_lossy(&output.stderr).trim()
            );
        }
        Self::from_json(&output.stdout)
    }

    fn from_json(json: &[u8]) -> Result<Self> {
        let metadata: Metadata = serde_json::from_slice(json)
            .context("`cargo metadata` answered in a shape this program does not know")?;
        let root = metadata.workspace_root;
        let mut crates: Vec<Member> = metadata
            .packages
            .into_iter()
            .map(|package| Member::new(&root, package))
            .collect();
        crates.sort_by(|a, b| a.dir.cmp(&b.dir));
        Ok(Self { crates })
    }

    /// The crate whose package is named `name`.
    pub fn get(&self, name: &str) -> Option<&Member> {
        self.crates.iter().find(|member| member.name == name)
    }

    /// The crates of the lab in the folder named `lab` (`01-first-spans`),
    /// each with what it is there.
    pub fn of_lab(&self, lab: &str) -> impl Iterator<Item = (&Member, &Role)> {
        self.crates.iter().filter_map(move |member| {
            member
                .lab
                .as_ref()
                .filter(|of| of.lab == lab)
                .map(|of| (member, &of.role))
        })
    }
}

impl Member {
    fn new(root: &Path, package: Package) -> Self {
        let dir = relative(root, package.manifest_path.parent().unwrap_or(root));
        Self {
            lab: LabCrate::of(&dir),
            name: package.name,
            description: package.description.unwrap_or_default(),
            targets: package
                .targets
                .into_iter()
                .map(|target| Target {
                    kind: TargetKind::of(&target.kind),
                    src_path: relative(root, &target.src_path),
                    name: target.name,
                })
                .collect(),
            dependencies: package
                .dependencies
                .into_iter()
                .map(|dependency| Dependency {
                    package: dependency.name,
                    rename: dependency.rename,
                    kind: dependency.kind.unwrap_or(DependencyKind::Normal),
                    req: dependency.req,
                    path: dependency.path.map(|path| relative(root, &path)),
                    features: dependency.features,
                    default_features: dependency.uses_default_features,
                    optional: dependency.optional,
                })
                .collect(),
            caught_by: package
                .metadata
                .and_then(|metadata| metadata.workshop)
                .map(|workshop| workshop.caught_by)
                .unwrap_or_default(),
            dir,
        }
    }

    /// The library target, when the crate has one.
    pub fn lib(&self) -> Option<&Target> {
        self.targets.iter().find(|t| t.kind == TargetKind::Lib)
    }

    /// The test targets: each `[[test]]`, and each file cargo found in the
    /// crate's `tests/`.
    pub fn tests(&self) -> impl Iterator<Item = &Target> {
        self.targets.iter().filter(|t| t.kind == TargetKind::Test)
    }

    /// Whether the crate's own code, not only its tests, depends on
    /// `package`.
    pub fn uses(&self, package: &str) -> bool {
        self.dependencies
            .iter()
            .any(|d| d.package == package && d.kind == DependencyKind::Normal)
    }
}

impl Dependency {
    /// The name the manifest gives it: its rename, or the package's name.
    pub fn key(&self) -> &str {
        self.rename.as_deref().unwrap_or(&self.package)
    }
}

impl TargetKind {
    fn of(kinds: &[String]) -> Self {
        if kinds
            .iter()
            .any(|kind| kind.ends_with("lib") || kind == "proc-macro")
        {
            Self::Lib
        } else if kinds.iter().any(|kind| kind == "test") {
            Self::Test
        } else {
            Self::Other
        }
    }
}

impl LabCrate {
    /// What the crate in `dir` (relative to the workspace root) is to its
    /// lab; `None` when it is no lab's.
    pub fn of(dir: &Path) -> Option<Self> {
        let parts: Vec<&str> = dir
            .components()
            .map(|component| match component {
                Component::Normal(part) => part.to_str(),
                _ => None,
            })
            .collect::<Option<_>>()?;
        let role = match parts.as_slice() {
            ["labs", _] => Role::Starter,
            ["labs", _, "given"] => Role::Given,
            ["solutions", _] => Role::Solution,
            ["solutions", _, "alternatives", name] => Role::Alternative((*name).to_owned()),
            ["solutions", _, "wrong", name] => Role::Wrong((*name).to_owned()),
            ["labs" | "solutions", _, ..] => Role::Program,
            _ => return None,
        };
        Some(Self {
            lab: parts[1].to_owned(),
            role,
        })
    }
}

/// `path` relative to `root` when inside it, without `..`.
fn relative(root: &Path, path: &Path) -> PathBuf {
    lexically_normal(path.strip_prefix(root).unwrap_or(path))
}

/// What `cargo metadata --format-version 1` writes, as far as it is read.
#[derive(Deserialize)]
struct Metadata {
    packages: Vec<Package>,
    workspace_root: PathBuf,
}

#[derive(Deserialize)]
struct Package {
    name: String,
    description: Option<String>,
    manifest_path: PathBuf,
    targets: Vec<RawTarget>,
    dependencies: Vec<RawDependency>,
    /// `[package.metadata]`.
    metadata: Option<PackageMetadata>,
}

#[derive(Deserialize)]
struct PackageMetadata {
    workshop: Option<WorkshopMetadata>,
}

#[derive(Deserialize)]
struct WorkshopMetadata {
    #[serde(rename = "caught-by", default)]
    caught_by: Vec<String>,
}

#[derive(Deserialize)]
struct RawTarget {
    name: String,
    kind: Vec<String>,
    src_path: PathBuf,
}

#[derive(Deserialize)]
struct RawDependency {
    name: String,
    rename: Option<String>,
    /// `null` for a normal dependency.
    kind: Option<DependencyKind>,
    req: String,
    path: Option<PathBuf>,
    features: Vec<String>,
    uses_default_features: bool,
    optional: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_crate_is_what_its_folder_says() {
        let of = |dir: &str| LabCrate::of(Path::new(dir)).map(|of| (of.lab, of.role));
        let lab = |role: Role| Some(("12-hot-spot".to_owned(), role));
        assert_eq!(of("labs/12-hot-spot"), lab(Role::Starter));
        assert_eq!(of("labs/12-hot-spot/given"), lab(Role::Given));
        assert_eq!(of("labs/12-hot-spot/profile"), lab(Role::Program));
        assert_eq!(of("solutions/12-hot-spot"), lab(Role::Solution));
        assert_eq!(
            of("solutions/12-hot-spot/alternatives/btree-index"),
            lab(Role::Alternative("btree-index".to_owned()))
        );
        assert_eq!(
            of("solutions/12-hot-spot/wrong/memoised-quotes"),
            lab(Role::Wrong("memoised-quotes".to_owned()))
        );
        assert_eq!(of("tools/learner/profile"), None);
        assert_eq!(of("labs"), None);
    }

    #[test]
    fn cargo_metadata_is_read_relative_to_the_workspace() {
        let json = r#"{
            "workspace_root": "/ws",
            "packages": [{
                "name": "lab01-wrong-card-in-charge-span",
                "description": "Lab 01, a wrong solution.",
                "manifest_path": "/ws/solutions/01-first-spans/wrong/card-in-charge-span/Cargo.toml",
                "targets": [
                    {"name": "lab01", "kind": ["lib"], "src_path": "/ws/solutions/01-first-spans/wrong/card-in-charge-span/src/lib.rs"},
                    {"name": "grader", "kind": ["test"], "src_path": "/ws/solutions/01-first-spans/wrong/card-in-charge-span/../../../../labs/01-first-spans/tests/grader.rs"}
                ],
                "dependencies": [
                    {"name": "lab01-solution", "rename": "reference", "kind": null, "req": "*",
                     "path": "/ws/solutions/01-first-spans", "features": [],
                     "uses_default_features": true, "optional": false},
                    {"name": "grader-kit", "rename": null, "kind": "dev", "req": "*",
                     "path": "/ws/tools/learner/grader-kit", "features": [],
                     "uses_default_features": true, "optional": false}
                ],
                "metadata": {"workshop": {"caught-by": ["card_number_never_recorded"]}}
            }]
        }"#;
        let members = Members::from_json(json.as_bytes()).unwrap();
        let wrong = members.get("lab01-wrong-card-in-charge-span").unwrap();
        assert_eq!(
            wrong.dir,
            Path::new("solutions/01-first-spans/wrong/card-in-charge-span")
        );
        assert_eq!(
            wrong.lab.as_ref().map(|of| &of.role),
            Some(&Role::Wrong("card-in-charge-span".to_owned()))
        );
        assert_eq!(wrong.lib().map(|lib| lib.name.as_str()), Some("lab01"));
        let graders: Vec<&Path> = wrong.tests().map(|t| t.src_path.as_path()).collect();
        assert_eq!(graders, [Path::new("labs/01-first-spans/tests/grader.rs")]);
        assert!(wrong.uses("lab01-solution"));
        assert!(!wrong.uses("grader-kit"));
        assert_eq!(wrong.dependencies[0].key(), "reference");
        assert_eq!(wrong.caught_by, ["card_number_never_recorded"]);
        assert_eq!(members.of_lab("01-first-spans").count(), 1);
    }
}
