//! What a room saves, in its folder (`target/incident/room/` for `just
//! incident --room`): `secrets.json`, the room's join token and its
//! instructor's key, and a folder per
//! learner, named as they are, with `learner.json` (their name, key,
//! number and drill: the seed, the problems drawn, every answer and hint,
//! the points), their programs' `logs/`, their shop's `databases/` and
//! their orders' `recordings/`. Each file is written whole, beside its
//! place, flushed to the disk, then renamed into it: a room stopped at any
//! moment, or a machine that loses its power, leaves every file as it was
//! before or after a change, never half written. Every file holds a
//! secret, so only its owner reads it (mode 0600, where files have one). A name
//! never holds a `.`, so no learner's folder is ever `secrets.json`.

use std::fs::OpenOptions;
use std::io::{ErrorKind, Write};
use std::path::{Path, PathBuf};

use anyhow::Context;
use serde::{Deserialize, Serialize};

use crate::state::Drill;

/// The room's own file, in its folder.
const ROOM_FILE: &str = "secrets.json";
/// A learner's file, in their folder.
const LEARNER_FILE: &str = "learner.json";

/// What the room keeps of itself: its two secrets, the same after a
/// restart.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoomFile {
    /// What learners join with.
    pub join_token: String,
    /// What shows the room's page and every learner's collector.
    pub instructor_key: String,
}

/// What the room keeps of a learner.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LearnerFile {
    pub name: String,
    pub key: String,
    /// In the order they joined, from 0: where their programs listen
    /// ([`super::plan`]).
    pub number: u16,
    pub drill: Drill,
}

/// The room saved in `folder`, if one is.
pub fn load_room(folder: &Path) -> anyhow::Result<Option<RoomFile>> {
    let path = folder.join(ROOM_FILE);
    match std::fs::read_to_string(&path) {
        Ok(text) => serde_json::from_str(&text)
            .map(Some)
            .with_context(|| format!("{} is not a room's secrets", path.display())),
        Err(err) if err.kind() == ErrorKind::NotFound => Ok(None),
        Err(err) => Err(err).with_context(|| format!("cannot read {}", path.display())),
    }
}

pub fn save_room(folder: &Path, room: &RoomFile) -> anyhow::Result<()> {
    write_json(&folder.join(ROOM_FILE), room)
}

/// The folder of the learner called `name`, in the room's `folder`.
pub fn learner_folder(folder: &Path, name: &str) -> PathBuf {
    folder.join(name)
}

pub fn save_learner(learner_folder: &Path, learner: &LearnerFile) -> anyhow::Result<()> {
    write_json(&learner_folder.join(LEARNER_FILE), learner)
}

/// Every learner saved in the room's `folder`, in the order they joined.
/// A file that cannot be read is an error: a learner's work is never
/// dropped in silence.
pub fn load_learners(folder: &Path) -> anyhow::Result<Vec<LearnerFile>> {
    let entries = match std::fs::read_dir(folder) {
        Ok(entries) => entries,
        Err(err) if err.kind() == ErrorKind::NotFound => return Ok(Vec::new()),
        Err(err) => return Err(err).with_context(|| format!("cannot read {}", folder.display())),
    };
    let mut learners = Vec::new();
    for entry in entries {
        let entry = entry.with_context(|| format!("cannot read {}", folder.display()))?;
        let path = entry.path().join(LEARNER_FILE);
        if !path.is_file() {
            continue;
        }
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        let learner: LearnerFile = serde_json::from_str(&text)
            .with_context(|| format!("{} is not a learner's state", path.display()))?;
        learners.push(learner);
    }
    learners.sort_by_key(|learner| learner.number);
    Ok(learners)
}

/// `value` as pretty JSON in `path`, written whole ([`write_atomically`]).
fn write_json(path: &Path, value: &impl Serialize) -> anyhow::Result<()> {
    let text = serde_json::to_string_pretty(value)?;
    write_atomically(path, &(text + "\n"))
}

/// `text` as the whole of `path`: written beside it (readable by its
/// owner alone), flushed to the disk, then renamed into its place, so
/// that whoever reads `path` meets the file before or after, never half
/// of it.
pub fn write_atomically(path: &Path, text: &str) -> anyhow::Result<()> {
    let folder = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(folder)
        .with_context(|| format!("cannot create {}", folder.display()))?;
    let file_name = path
        .file_name()
        .with_context(|| format!("{} names no file", path.display()))?;
    let mut beside = file_name.to_os_string();
    beside.push(".tmp");
    let beside = folder.join(beside);
    // A leftover of a write cut short goes first: the file is made anew,
    // with its mode.
    let _ = std::fs::remove_file(&beside);
    let mut options = OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options
        .open(&beside)
        .with_context(|| format!("cannot write {}", beside.display()))?;
    file.write_all(text.as_bytes())
        .and_then(|()| file.sync_all())
        .with_context(|| format!("cannot write {}", beside.display()))?;
    drop(file);
    std::fs::rename(&beside, path)
        .with_context(|| format!("cannot move {} into place", beside.display()))
}

#[cfg(test)]
mod tests {
    use shop::Problem;

    use super::*;

    #[test]
    fn a_room_and_its_learners_come_back_as_saved() {
        let folder =
            std::env::temp_dir().join(format!("incident-room-store-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&folder);
        assert_eq!(load_room(&folder).unwrap(), None);
        assert!(load_learners(&folder).unwrap().is_empty());

        let room = RoomFile {
            join_token: "0123456789abcdef0123456789abcdef".to_owned(),
            instructor_key: "fedcba9876543210fedcba9876543210".to_owned(),
        };
        save_room(&folder, &room).unwrap();
        let learner = |name: &str, number: u16| LearnerFile {
            name: name.to_owned(),
            key: format!("{number:032x}"),
            number,
            drill: Drill::new(7, &[Problem::NPlusOne], 100, 20_005, 20_000),
        };
        let (bob, alice) = (learner("bob", 1), learner("alice", 0));
        save_learner(&learner_folder(&folder, &bob.name), &bob).unwrap();
        save_learner(&learner_folder(&folder, &alice.name), &alice).unwrap();
        std::fs::create_dir_all(folder.join("alice/logs")).unwrap();

        assert_eq!(load_room(&folder).unwrap(), Some(room));
        assert_eq!(load_learners(&folder).unwrap(), [alice, bob]);
        let left: Vec<_> = std::fs::read_dir(folder.join("bob"))
            .unwrap()
            .map(|entry| entry.unwrap().file_name())
            .collect();
        assert_eq!(left, ["learner.json"], "nothing left beside");
        #[cfg(unix)]
        for kept in ["secrets.json", "bob/learner.json"] {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(folder.join(kept))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600, "{kept} is its owner's alone");
        }

        std::fs::write(folder.join("bob/learner.json"), "{").unwrap();
        let broken = load_learners(&folder).unwrap_err().to_string();
        assert!(broken.contains("is not a learner's state"), "{broken}");
        std::fs::remove_dir_all(&folder).unwrap();
    }

    /// Set in the copy of this test binary that the test below starts:
    /// the file that copy writes again and again until it is killed.
    const WRITE_UNTIL_KILLED: &str = "INCIDENT_STORE_WRITE_UNTIL_KILLED";

    /// The `n`th state the writer writes: long enough (a quarter of a
    /// megabyte) that writing, flushing and renaming it take many system
    /// calls, any of which the kill may land in.
    fn nth_state(n: u64) -> String {
        serde_json::json!({ "n": n, "padding": "x".repeat(256 * 1024) }).to_string()
    }

    /// The state in `path`, which must be whole: one of the states
    /// written, never part of one.
    fn whole_state(path: &Path) -> u64 {
        let text = std::fs::read_to_string(path).unwrap();
        let state: serde_json::Value = serde_json::from_str(&text).unwrap_or_else(|err| {
            panic!(
                "{} holds part of a state ({} bytes): {err}",
                path.display(),
                text.len()
            )
        });
        let n = state["n"].as_u64().expect("a state's number");
        assert_eq!(text, nth_state(n), "state {n}, whole");
        n
    }

    #[test]
    fn a_writer_killed_at_any_moment_leaves_the_file_whole() {
        if let Some(path) = std::env::var_os(WRITE_UNTIL_KILLED) {
            for n in 1.. {
                write_atomically(Path::new(&path), &nth_state(n)).unwrap();
            }
        }
        let folder =
            std::env::temp_dir().join(format!("incident-room-killed-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&folder);
        let path = folder.join(LEARNER_FILE);
        for _ in 0..10 {
            let mut writer = std::process::Command::new(std::env::current_exe().unwrap())
                .args([
                    "--exact",
                    "room::store::tests::a_writer_killed_at_any_moment_leaves_the_file_whole",
                ])
                .env(WRITE_UNTIL_KILLED, &path)
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .spawn()
                .unwrap();
            // Killed once it has replaced the file one to five times, at
            // whatever point of a write it has reached then. Each reading
            // meanwhile is of a whole state too.
            let replaced = 1 + fastrand::u64(..5);
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
            let mut seen = 0;
            let mut first = None;
            while seen < replaced {
                assert!(
                    std::time::Instant::now() < deadline,
                    "the writer replaced the file {seen} times in a minute"
                );
                if path.is_file() {
                    let n = whole_state(&path);
                    let first = *first.get_or_insert(n);
                    seen = n.saturating_sub(first);
                }
            }
            writer.kill().unwrap();
            writer.wait().unwrap();
            // Whatever the kill interrupted, the file holds a whole state;
            // the next writer starts from it.
            whole_state(&path);
        }
        std::fs::remove_dir_all(&folder).unwrap();
    }
}
