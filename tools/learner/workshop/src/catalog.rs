//! Where things are: the workspace, its labs, and each lab's metadata.
//!
//! A lab is a folder `labs/NN-slug/` with a `lab.toml`; its solution is the
//! folder of the same name under `solutions/`. Progress is keyed by the slug,
//! not the number, so renumbering labs keeps a learner's progress.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use serde::Deserialize;

/// The workshop checkout and the places the CLI reads and writes in it.
#[derive(Clone, Debug)]
pub struct Workspace {
    pub root: PathBuf,
    pub target_dir: PathBuf,
}

/// Names the checkout that builds in a target folder.
const CHECKOUT_MARK: &str = ".workshop-checkout";

/// The target folder this checkout grades in: `target_dir`, unless another
/// checkout builds there (a `CARGO_TARGET_DIR` shared by two clones). Cargo
/// names a workspace's sources by workspace-relative paths, so the other
/// clone's binaries would look up to date here and be graded as this one's;
/// this checkout then builds in a folder of its own inside it. The first
/// checkout to use a folder marks it as its own.
fn own_target_dir(root: &Path, target_dir: PathBuf) -> PathBuf {
    let me = root.canonicalize().unwrap_or_else(|_| root.to_path_buf());
    let mark = target_dir.join(CHECKOUT_MARK);
    match std::fs::read_to_string(&mark) {
        Ok(owner) if Path::new(owner.trim()) == me => target_dir,
        Ok(_) => {
            let digest = crate::checksums::sha256_hex(me.to_string_lossy().as_bytes());
            let own = target_dir.join("checkouts").join(&digest[..16]);
            let _ = std::fs::create_dir_all(&own);
            let _ = std::fs::write(own.join(CHECKOUT_MARK), me.to_string_lossy().as_bytes());
            own
        }
        Err(_) => {
            let _ = std::fs::create_dir_all(&target_dir);
            let _ = std::fs::write(&mark, me.to_string_lossy().as_bytes());
            target_dir
        }
    }
}

impl Workspace {
    /// Finds the workshop from the current folder or any folder above it.
    pub fn discover() -> Result<Self> {
        let start = std::env::current_dir().context("cannot read the current folder")?;
        let root = start
            .ancestors()
            .find(|dir| dir.join("labs").is_dir() && dir.join("Cargo.toml").is_file())
            .with_context(|| {
                format!(
                    "{} is not inside the workshop: run this from the folder you cloned it into",
                    start.display()
                )
            })?
            .to_path_buf();
        let target_dir = std::env::var_os("CARGO_TARGET_DIR")
            .map(PathBuf::from)
            .map(|dir| {
                if dir.is_absolute() {
                    dir
                } else {
                    root.join(dir)
                }
            })
            .unwrap_or_else(|| root.join("target"));
        let target_dir = own_target_dir(&root, target_dir);
        Ok(Self { root, target_dir })
    }

    /// Where the learner's progress lives: grading results, hint counters
    /// and the backups `just reset` makes. Beside the sources, not in the
    /// target folder, so that `cargo clean` (which learners run when a build
    /// misbehaves) cannot delete it; git ignores it.
    pub fn state_dir(&self) -> PathBuf {
        self.root.join(".workshop")
    }

    /// Where `just grade` writes its reports for robots (JSON and JUnit):
    /// build output, made again by every `just grade`.
    pub fn reports_dir(&self) -> PathBuf {
        self.target_dir.join("workshop")
    }

    /// Every lab, in number order.
    pub fn labs(&self) -> Result<Vec<Lab>> {
        let labs_dir = self.root.join("labs");
        let mut labs = Vec::new();
        for entry in std::fs::read_dir(&labs_dir)
            .with_context(|| format!("cannot read {}", labs_dir.display()))?
        {
            let dir = entry?.path();
            if dir.join("lab.toml").is_file() {
                labs.push(Lab::load(&self.root, &dir)?);
            }
        }
        labs.sort_by_key(|lab| lab.number);
        Ok(labs)
    }

    /// A lab by number (`3`, `03`) or by slug (`first-spans`).
    pub fn lab(&self, wanted: &str) -> Result<Lab> {
        let labs = self.labs()?;
        let number = wanted.parse::<u32>().ok();
        let found = labs
            .iter()
            .position(|lab| Some(lab.number) == number || lab.slug == wanted || lab.id() == wanted);
        match found {
            Some(i) => Ok(labs.into_iter().nth(i).expect("index from position")),
            None => {
                let known: Vec<String> = labs.iter().map(|l| l.number.to_string()).collect();
                bail!(
                    "there is no lab {wanted:?}; the labs are {}. `just list` shows them all",
                    known.join(", ")
                )
            }
        }
    }
}

/// One lab: where it is and what its `lab.toml` says.
#[derive(Clone, Debug)]
pub struct Lab {
    pub number: u32,
    pub slug: String,
    /// `labs/NN-slug`, relative to the workspace root.
    pub dir: PathBuf,
    /// `solutions/NN-slug`, relative to the workspace root.
    pub solution_dir: PathBuf,
    pub meta: LabMeta,
}

/// The contents of a `lab.toml`: everything the CLI knows about a lab that
/// is not code.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LabMeta {
    pub title: String,
    pub minutes: u32,
    /// How long the lab's checks may run in all before those still running
    /// are stopped as likely infinite loops.
    #[serde(default = "default_timeout")]
    pub timeout_secs: u64,
    pub goal: String,
    pub steps: Vec<String>,
    pub hints: Vec<String>,
    pub checks: Vec<CheckMeta>,
}

fn default_timeout() -> u64 {
    20
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CheckMeta {
    /// The grader's check function of the same name.
    pub name: String,
    pub points: u32,
    /// Set when the starter is expected to pass this check (a guard against
    /// breaking what already works); `just verify` rejects any other check the
    /// starter passes, since a check the starter passes teaches nothing.
    #[serde(default)]
    pub starter_passes: bool,
}

impl Lab {
    fn load(root: &Path, dir: &Path) -> Result<Self> {
        let name = dir
            .file_name()
            .and_then(|n| n.to_str())
            .context("lab folder name is not UTF-8")?;
        let (number, slug) = name
            .split_once('-')
            .and_then(|(n, slug)| Some((n.parse::<u32>().ok()?, slug.to_owned())))
            .with_context(|| format!("lab folder {name:?} is not named NN-slug"))?;
        let manifest = dir.join("lab.toml");
        let text = std::fs::read_to_string(&manifest)
            .with_context(|| format!("cannot read {}", manifest.display()))?;
        let meta: LabMeta = toml::from_str(&text)
            .with_context(|| format!("{} is malformed", manifest.display()))?;
        let relative = dir.strip_prefix(root).unwrap_or(dir).to_path_buf();
        Ok(Self {
            number,
            slug,
            solution_dir: Path::new("solutions").join(name),
            dir: relative,
            meta,
        })
    }

    /// `01-first-spans`: the folder name, unique and stable.
    pub fn id(&self) -> String {
        format!("{:02}-{}", self.number, self.slug)
    }

    /// The cargo package of the starter, e.g. `lab01`.
    pub fn package(&self) -> String {
        format!("lab{:02}", self.number)
    }

    /// The cargo package of the reference solution, e.g. `lab01-solution`.
    pub fn solution_package(&self) -> String {
        format!("lab{:02}-solution", self.number)
    }

    pub fn max_points(&self) -> u32 {
        self.meta.checks.iter().map(|c| c.points).sum()
    }

    /// "Lab 01 · First spans"
    pub fn heading(&self) -> String {
        format!("Lab {:02} · {}", self.number, self.meta.title)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_target_folder_shared_by_two_checkouts_grades_each_apart() {
        let scratch =
            std::env::temp_dir().join(format!("workshop-target-mark-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&scratch);
        let (first, second) = (scratch.join("first"), scratch.join("second"));
        std::fs::create_dir_all(&first).unwrap();
        std::fs::create_dir_all(&second).unwrap();
        let shared = scratch.join("shared-target");

        // The first checkout to build there owns the folder, and keeps it.
        assert_eq!(own_target_dir(&first, shared.clone()), shared);
        assert_eq!(own_target_dir(&first, shared.clone()), shared);
        // The other builds in a folder of its own, the same every time,
        // never in the first one's.
        let elsewhere = own_target_dir(&second, shared.clone());
        assert_ne!(elsewhere, shared);
        assert!(elsewhere.starts_with(&shared));
        assert_eq!(own_target_dir(&second, shared.clone()), elsewhere);
        assert_eq!(own_target_dir(&first, shared.clone()), shared);
        std::fs::remove_dir_all(&scratch).unwrap();
    }
}
