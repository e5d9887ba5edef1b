//! What the CLI remembers between runs, under `target/workshop/`: the last
//! grading result of each lab and how many hints were shown. Keyed by lab
//! slug, so adding or renumbering labs keeps a learner's progress.

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::{Context, Result};

use crate::catalog::{Lab, Workspace};
use crate::grade::LabReport;

pub struct Store {
    dir: PathBuf,
}

impl Store {
    pub fn new(ws: &Workspace) -> Self {
        Self {
            dir: ws.state_dir(),
        }
    }

    fn result_path(&self, lab: &Lab) -> PathBuf {
        self.dir.join("results").join(format!("{}.json", lab.slug))
    }

    pub fn save_result(&self, lab: &Lab, report: &LabReport) -> Result<()> {
        write_json(&self.result_path(lab), report)
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

    /// A fresh folder for a backup of a lab's sources.
    pub fn backup_dir(&self, lab: &Lab) -> PathBuf {
        let stamp = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        self.dir
            .join("backups")
            .join(format!("{}-{stamp}", lab.id()))
    }

    pub fn dir(&self) -> &std::path::Path {
        &self.dir
    }
}

pub fn write_json(path: &std::path::Path, value: &impl serde::Serialize) -> Result<()> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("cannot create {}", parent.display()))?;
    }
    let text = serde_json::to_string_pretty(value)?;
    std::fs::write(path, text + "\n").with_context(|| format!("cannot write {}", path.display()))
}
