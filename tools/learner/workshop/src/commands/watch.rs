//! `just watch N`: grade once, then again each time a file of the lab's
//! `src/` changes what it contains.

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anstream::println;
use anyhow::{Context, Result};
use notify_debouncer_mini::notify::{self, EventKind, RecommendedWatcher, RecursiveMode, Watcher};

use crate::catalog::{Lab, Workspace};
use crate::commands;
use crate::grade::Subject;
use crate::report::DIM;

/// How long the files must be left alone before their contents are read.
/// Editors save in bursts (a temp file, a rename, a metadata change), and a
/// file caught between being truncated and written again would look like a
/// change that never happened.
const SETTLED: Duration = Duration::from_millis(400);

pub fn run(ws: &Workspace, lab: &Lab, verbose: bool) -> Result<()> {
    let src = ws.root.join(&lab.dir).join("src");
    let mut watch = ContentWatch::new(&src)?;
    let terminal = std::io::stdout().is_terminal();
    loop {
        if terminal {
            // Clear the screen so the newest report is the only one in view.
            print!("\x1b[2J\x1b[H");
        }
        commands::lab::run(ws, ws, lab, Subject::Starter, verbose)?;
        println!();
        println!(
            "{DIM}Watching {} for changes. Ctrl-C to stop.{DIM:#}",
            lab.dir.join("src").display()
        );
        if !watch.wait_for_change()? {
            return Ok(());
        }
        if !terminal {
            println!("\n{DIM}── a file changed: grading again ──{DIM:#}\n");
        }
    }
}

/// Waits, costing nothing, until what the files under a folder contain
/// changes. File-system events are only a prompt to look. Reading a file is
/// an event too (an open, an access), and every look reads every file, so
/// those are ignored: otherwise each look would prompt the next, forever.
/// Editors touch files without changing them, and a compiler reads them, so
/// a change is a difference in the files' contents from the last one
/// reported, and it must still be there once the files have settled.
pub struct ContentWatch {
    dir: PathBuf,
    events: mpsc::Receiver<notify::Result<notify::Event>>,
    last: BTreeMap<PathBuf, Vec<u8>>,
    _watcher: RecommendedWatcher,
}

/// What waiting for an event gave.
enum Next {
    /// Something was written, created, removed or renamed.
    Event,
    /// Nothing of the kind within the time given.
    Quiet,
    /// The watcher stopped: nothing more will come.
    Closed,
}

impl ContentWatch {
    pub fn new(dir: &Path) -> Result<Self> {
        let (tx, events) = mpsc::channel();
        let mut watcher = notify::recommended_watcher(tx).context("cannot watch files")?;
        watcher
            .watch(dir, RecursiveMode::Recursive)
            .with_context(|| format!("cannot watch {}", dir.display()))?;
        Ok(Self {
            dir: dir.to_path_buf(),
            events,
            last: contents(dir),
            _watcher: watcher,
        })
    }

    /// Blocks until the contents differ from the last ones seen; `false`
    /// when the watcher has stopped and no change will ever come.
    pub fn wait_for_change(&mut self) -> Result<bool> {
        loop {
            if let Next::Closed = self.next_event(None) {
                return Ok(false);
            }
            loop {
                // Look once the files are left alone; whatever else arrives
                // meanwhile is covered by that one look.
                if let Next::Closed = self.settle() {
                    return Ok(false);
                }
                let now = contents(&self.dir);
                if now == self.last {
                    break;
                }
                // It counts once it is still there, untouched, one quiet
                // time later: a busy machine can stretch the moment between
                // a truncation and the write after it past the quiet time.
                match self.next_event(Some(SETTLED)) {
                    Next::Event => continue,
                    Next::Closed => return Ok(false),
                    Next::Quiet if contents(&self.dir) == now => {
                        self.last = now;
                        return Ok(true);
                    }
                    Next::Quiet => continue,
                }
            }
        }
    }

    /// Waits until no event has come for [`SETTLED`].
    fn settle(&self) -> Next {
        loop {
            match self.next_event(Some(SETTLED)) {
                Next::Event => continue,
                other => return other,
            }
        }
    }

    /// The next event that may change what a file contains, within
    /// `timeout` (or whenever it comes, with `None`). Opens and reads are
    /// passed over.
    fn next_event(&self, timeout: Option<Duration>) -> Next {
        let deadline = timeout.map(|t| Instant::now() + t);
        loop {
            let received = match deadline {
                None => self
                    .events
                    .recv()
                    .map_err(|_| mpsc::RecvTimeoutError::Disconnected),
                Some(deadline) => self
                    .events
                    .recv_timeout(deadline.saturating_duration_since(Instant::now())),
            };
            match received {
                Ok(Ok(event)) if matches!(event.kind, EventKind::Access(_)) => continue,
                Ok(Ok(_)) => return Next::Event,
                Ok(Err(err)) => println!("{DIM}watch error: {err}{DIM:#}"),
                Err(mpsc::RecvTimeoutError::Timeout) => return Next::Quiet,
                Err(mpsc::RecvTimeoutError::Disconnected) => return Next::Closed,
            }
        }
    }
}

/// Every file under `dir` with what it contains. A lab's sources are a few
/// kilobytes: holding them is simpler than hashing them and as exact.
fn contents(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut files = BTreeMap::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(dir) = pending.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                pending.push(path);
            } else if let Ok(bytes) = std::fs::read(&path) {
                files.insert(path, bytes);
            }
        }
    }
    files
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};

    #[test]
    fn idle_while_files_are_only_read_or_touched_and_once_per_save() {
        let dir = std::env::temp_dir().join(format!("workshop-watch-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("nested")).unwrap();
        let lib = dir.join("lib.rs");
        std::fs::write(&lib, "pub fn answer() -> u32 { 41 }\n").unwrap();
        std::fs::write(dir.join("nested/mod.rs"), "// given\n").unwrap();

        let mut watch = ContentWatch::new(&dir).unwrap();
        let (changed, changes) = mpsc::channel();
        std::thread::spawn(move || {
            while watch.wait_for_change().unwrap() {
                if changed.send(()).is_err() {
                    break;
                }
            }
        });

        // What a compiler and an editor do without changing anything:
        // open and read every file, rewrite one with the same bytes.
        let busy = Arc::new(AtomicBool::new(true));
        let reader = {
            let (busy, dir, lib) = (busy.clone(), dir.clone(), lib.clone());
            std::thread::spawn(move || {
                let mut rounds = 0;
                while busy.load(Ordering::Relaxed) {
                    contents(&dir);
                    let same = std::fs::read(&lib).unwrap();
                    std::fs::write(&lib, same).unwrap();
                    rounds += 1;
                    std::thread::sleep(Duration::from_millis(100));
                }
                rounds
            })
        };
        assert_eq!(
            changes.recv_timeout(Duration::from_secs(10)),
            Err(mpsc::RecvTimeoutError::Timeout),
            "no grading in 10 s of reads and same-content writes"
        );
        busy.store(false, Ordering::Relaxed);
        assert!(reader.join().unwrap() > 10, "the files were really read");

        // One save that changes the code: exactly one more grading.
        std::fs::write(&lib, "pub fn answer() -> u32 { 42 }\n").unwrap();
        changes
            .recv_timeout(Duration::from_secs(60))
            .expect("a save that changes the code is noticed");
        assert_eq!(
            changes.recv_timeout(Duration::from_secs(2)),
            Err(mpsc::RecvTimeoutError::Timeout),
            "one save, one grading"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}
