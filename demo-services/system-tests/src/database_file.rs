//! A SQLite file of a test's own: a database the test can open beside the
//! service that writes it (one in memory lives in the service's one
//! connection), whatever `DATABASE_URL` names.

use std::path::PathBuf;

/// A SQLite file of the test's own in the system's temporary folder,
/// removed with its write-ahead log when dropped.
pub struct DatabaseFile(PathBuf);

impl DatabaseFile {
    /// The file `NAME-PID.db`, removed first if an earlier run left it.
    pub fn new(name: &str) -> Self {
        let file = Self(std::env::temp_dir().join(format!("{name}-{}.db", std::process::id())));
        // A file of an earlier run with the same process id would keep its
        // reservations.
        file.remove();
        file
    }

    /// Its URL, which creates the file when first opened.
    pub fn url(&self) -> String {
        format!("sqlite://{}?mode=rwc", self.0.display())
    }

    fn remove(&self) {
        for suffix in ["", "-wal", "-shm"] {
            let mut path = self.0.clone().into_os_string();
            path.push(suffix);
            // A file already gone is as good as removed.
            let _ = std::fs::remove_file(path);
        }
    }
}

impl Drop for DatabaseFile {
    fn drop(&mut self) {
        self.remove();
    }
}
