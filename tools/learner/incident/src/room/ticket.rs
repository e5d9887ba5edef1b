//! What a learner's machine keeps of the room they joined,
//! `target/incident/room.json`: the room's address, their name, their key
//! and where their collector is. Never a problem, a seed or a port plan
//! that would tell one: those stay on the instructor's machine. While it
//! exists, `answer`, `hint` and `status` go to the room.

use std::io::ErrorKind;
use std::path::{Path, PathBuf};

use anyhow::Context;
use serde::{Deserialize, Serialize};

use super::store;
use crate::state;

/// What the learner's machine keeps.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ticket {
    /// The room, as joined: `http://HOST:PORT`.
    pub url: String,
    pub name: String,
    pub key: String,
    /// Their collector, through the room.
    pub collector: String,
}

/// Where it is kept, in the workspace at `root`.
pub fn path(root: &Path) -> PathBuf {
    state::folder(root).join("room.json")
}

impl Ticket {
    /// The room joined from the workspace at `root`, if one is.
    pub fn load(root: &Path) -> anyhow::Result<Option<Self>> {
        let path = path(root);
        match std::fs::read_to_string(&path) {
            Ok(text) => serde_json::from_str(&text).map(Some).with_context(|| {
                format!(
                    "{} is not a room's ticket: `just incident leave` forgets it",
                    path.display()
                )
            }),
            Err(err) if err.kind() == ErrorKind::NotFound => Ok(None),
            Err(err) => Err(err).with_context(|| format!("cannot read {}", path.display())),
        }
    }

    pub fn save(&self, root: &Path) -> anyhow::Result<()> {
        let text = serde_json::to_string_pretty(self)?;
        store::write_atomically(&path(root), &(text + "\n"))
    }

    /// Forgets the room joined from `root`; the one forgotten, if any.
    pub fn forget(root: &Path) -> anyhow::Result<Option<Self>> {
        let path = path(root);
        if !path.exists() {
            return Ok(None);
        }
        // A ticket that cannot be read is forgotten all the same.
        let ticket = Self::load(root).ok().flatten();
        std::fs::remove_file(&path).with_context(|| format!("cannot remove {}", path.display()))?;
        Ok(ticket)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_ticket_is_kept_read_and_forgotten() {
        let root = std::env::temp_dir().join(format!("incident-ticket-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        assert_eq!(Ticket::load(&root).unwrap(), None);
        let ticket = Ticket {
            url: "http://10.0.0.5:7900".to_owned(),
            name: "alice".to_owned(),
            key: "0123456789abcdef0123456789abcdef".to_owned(),
            collector: "http://10.0.0.5:7901".to_owned(),
        };
        ticket.save(&root).unwrap();
        assert_eq!(Ticket::load(&root).unwrap(), Some(ticket.clone()));
        let kept = std::fs::read_to_string(path(&root)).unwrap();
        for field in ["\"url\"", "\"name\"", "\"key\"", "\"collector\""] {
            assert!(kept.contains(field), "{kept}");
        }
        assert!(!kept.contains("seed") && !kept.contains("drawn"), "{kept}");
        assert_eq!(Ticket::forget(&root).unwrap(), Some(ticket));
        assert_eq!(Ticket::forget(&root).unwrap(), None);
        std::fs::remove_dir_all(&root).unwrap();
    }
}
