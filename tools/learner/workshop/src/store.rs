//! What the CLI remembers between runs, under `.workshop/` at the workshop's
//! root: the last grading result of each lab, how many hints were shown, and
//! the backups `just reset` makes. Keyed by lab slug, so adding or
//! renumbering labs keeps a learner's progress. It used to live under
//! `target/workshop/`, where `cargo clean` deleted it; the first run of a
//! newer CLI moves it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use crate::catalog::{Lab, Workspace};
use crate::grade::LabReport;

pub struct Store {
    dir: PathBuf,
}

/// What the store holds, by name under its folder.
const ENTRIES: [&str; 3] = ["results", "hints.json", "backups"];

impl Store {
    pub fn new(ws: &Workspace) -> Self {
        let store = Self {
            dir: ws.state_dir(),
        };
        match store.move_from(&ws.reports_dir()) {
            Ok(true) => anstream::eprintln!(
                "Moved your progress and backups from {} to {}, where `cargo clean` cannot delete them.",
                relative(&ws.root, &ws.reports_dir()),
                relative(&ws.root, &store.dir),
            ),
            Ok(false) => {}
            Err(err) => anstream::eprintln!(
                "Your earlier progress is still in {}; moving it failed: {err:#}",
                relative(&ws.root, &ws.reports_dir()),
            ),
        }
        store
    }

    /// Moves what an older CLI kept in `old` here, entry by entry, never
    /// over something already here. Returns whether anything moved.
    fn move_from(&self, old: &Path) -> Result<bool> {
        let mut moved = false;
        for entry in ENTRIES {
            let (from, to) = (old.join(entry), self.dir.join(entry));
            if !from.exists() || to.exists() {
                continue;
            }
            std::fs::create_dir_all(&self.dir)
                .with_context(|| format!("cannot create {}", self.dir.display()))?;
            // A rename is one step; across file systems it fails, and a copy
            // (then removing the original) does the same in two.
            if std::fs::rename(&from, &to).is_err() {
                copy_all(&from, &to)?;
                remove_all(&from)?;
            }
            moved = true;
        }
        Ok(moved)
    }

    fn result_path(&self, lab: &Lab) -> PathBuf {
        self.dir.join("results").join(format!("{}.json", lab.slug))
    }

    pub fn save_result(&self, lab: &Lab, report: &LabReport) -> Result<()> {
        write_json(&self.result_path(lab), report)
    }

    /// Forgets the lab's last result: after `just reset`, the lab is the
    /// starter again, and `just list` must not call it done.
    pub fn forget_result(&self, lab: &Lab) -> Result<()> {
        match std::fs::remove_file(self.result_path(lab)) {
            Err(err) if err.kind() != std::io::ErrorKind::NotFound => Err(err)
                .with_context(|| format!("cannot remove {}", self.result_path(lab).display())),
            _ => Ok(()),
        }
    }

    /// The last result, if the lab was ever graded. An unreadable file (from
    /// an older CLI, say) counts as never graded rather than as an error.
    pub fn last_result(&self, lab: &Lab) -> Option<LabReport> {
        let text = std::fs::read_to_string(self.result_path(lab)).ok()?;
        serde_json::from_str(&text).ok()
    }

    fn hints_path(&self) -> PathBuf {
        self.dir.join("hints.json")
    }

    pub fn hints_shown(&self, lab: &Lab) -> usize {
        self.hint_counts().get(&lab.slug).copied().unwrap_or(0)
    }

    pub fn set_hints_shown(&self, lab: &Lab, count: usize) -> Result<()> {
        let mut counts = self.hint_counts();
        counts.insert(lab.slug.clone(), count);
        write_json(&self.hints_path(), &counts)
    }

    fn hint_counts(&self) -> BTreeMap<String, usize> {
        std::fs::read_to_string(self.hints_path())
            .ok()
            .and_then(|text| serde_json::from_str(&text).ok())
            .unwrap_or_default()
    }

    /// The newest backup of a lab's sources, if `just reset` made one.
    pub fn last_backup(&self, lab: &Lab) -> Option<PathBuf> {
        let prefix = format!("{}-", lab.id());
        std::fs::read_dir(self.dir.join("backups"))
            .ok()?
            .filter_map(|entry| entry.ok())
            .filter_map(|entry| {
                let name = entry.file_name().to_string_lossy().into_owned();
                let stamp: u128 = name.strip_prefix(&prefix)?.parse().ok()?;
                Some((stamp, entry.path()))
            })
            .max()
            .map(|(_, path)| path)
    }

    /// A fresh folder for a backup of a lab's sources, named by the time in
    /// milliseconds (never one that exists: two resets in the same
    /// millisecond must not mix their files).
    pub fn backup_dir(&self, lab: &Lab) -> PathBuf {
        let mut stamp = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis());
        loop {
            let dir = self
                .dir
                .join("backups")
                .join(format!("{}-{stamp}", lab.id()));
            if !dir.exists() {
                return dir;
            }
            stamp += 1;
        }
    }
}

fn relative(root: &Path, path: &Path) -> String {
    format!("{}/", path.strip_prefix(root).unwrap_or(path).display())
}

fn copy_all(from: &Path, to: &Path) -> Result<()> {
    if from.is_dir() {
        std::fs::create_dir_all(to)?;
        for entry in std::fs::read_dir(from)? {
            let entry = entry?;
            copy_all(&entry.path(), &to.join(entry.file_name()))?;
        }
    } else {
        std::fs::copy(from, to)
            .with_context(|| format!("cannot copy {} to {}", from.display(), to.display()))?;
    }
    Ok(())
}

fn remove_all(path: &Path) -> Result<()> {
    if path.is_dir() {
        std::fs::remove_dir_all(path)?;
    } else {
        std::fs::remove_file(path)?;
    }
    Ok(())
}

pub fn write_json(path: &std::path::Path, value: &impl serde::Serialize) -> Result<()> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("cannot create {}", parent.display()))?;
    }
    let text = serde_json::to_string_pretty(value)?;
    std::fs::write(path, text + "\n").with_context(|| format!("cannot write {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A workshop root of its own, with a target folder inside.
    fn scratch(name: &str) -> Workspace {
        let root =
            std::env::temp_dir().join(format!("workshop-store-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        std::fs::create_dir_all(&root).unwrap();
        Workspace {
            target_dir: root.join("target"),
            root,
        }
    }

    fn write(path: &Path, text: &str) {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }

    #[test]
    fn progress_under_target_moves_out_once_and_survives_cargo_clean() {
        let ws = scratch("move");
        let old = ws.reports_dir();
        write(&old.join("results/first-spans.json"), "{}");
        write(&old.join("hints.json"), r#"{"first-spans": 2}"#);
        write(
            &old.join("backups/01-first-spans-1/src/lib.rs"),
            "// my work",
        );
        write(&old.join("grades.json"), "{}");

        let store = Store::new(&ws);
        let new = ws.state_dir();
        assert_eq!(store.dir, new);
        for moved in [
            "results/first-spans.json",
            "hints.json",
            "backups/01-first-spans-1/src/lib.rs",
        ] {
            assert!(new.join(moved).is_file(), "{moved} moved to .workshop/");
            assert!(!old.join(moved).exists(), "{moved} left target/");
        }
        assert!(
            old.join("grades.json").is_file(),
            "reports stay build output"
        );

        // What `cargo clean` does to the target folder.
        std::fs::remove_dir_all(&ws.target_dir).unwrap();
        let text =
            std::fs::read_to_string(new.join("backups/01-first-spans-1/src/lib.rs")).unwrap();
        assert_eq!(text, "// my work");
        assert_eq!(store.hint_counts().get("first-spans"), Some(&2));
        let _ = std::fs::remove_dir_all(&ws.root);
    }

    #[test]
    fn nothing_already_in_the_store_is_overwritten() {
        let ws = scratch("keep");
        write(
            &ws.reports_dir().join("hints.json"),
            r#"{"first-spans": 1}"#,
        );
        write(&ws.state_dir().join("hints.json"), r#"{"first-spans": 3}"#);
        let store = Store::new(&ws);
        assert_eq!(store.hint_counts().get("first-spans"), Some(&3));
        assert!(
            ws.reports_dir().join("hints.json").is_file(),
            "the old copy is left alone"
        );
        let _ = std::fs::remove_dir_all(&ws.root);
    }
}
