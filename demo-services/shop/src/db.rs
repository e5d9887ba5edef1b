//! Where a service keeps its data: SQLite by default, a file of the
//! service's own under `target/demo/`, created on start; any database
//! `DATABASE_URL` names otherwise (`postgres://…`: the way to run the shop
//! on several machines against one database).
//!
//! sqlx, with its `Any` driver: one pool type whatever the database, and
//! statements written once, with `$1` placeholders, which SQLite and
//! PostgreSQL both read. Its statement log is where the database spans come
//! from (`telemetry::db`), so nothing here opens a span.

use std::path::Path;
use std::time::Duration;

use sqlx::AnyPool;
use sqlx::any::AnyPoolOptions;

pub use sqlx::Error;

/// A service's database.
pub type Db = AnyPool;

/// The database `service` uses when `DATABASE_URL` names none: a SQLite
/// file of its own, created if missing.
pub fn default_url(service: &str) -> String {
    format!("sqlite://target/demo/{service}.db?mode=rwc")
}

/// Opens a pool on `url`, creating a SQLite file's folder if need be.
pub async fn connect(url: &str) -> Result<Db, Error> {
    sqlx::any::install_default_drivers();
    if let Some(folder) = sqlite_file(url).and_then(|file| Path::new(file).parent()) {
        std::fs::create_dir_all(folder).map_err(Error::Io)?;
    }
    AnyPoolOptions::new()
        .max_connections(8)
        .acquire_timeout(Duration::from_secs(5))
        .connect(url)
        .await
}

/// A database of its own in memory, for tests: SQLite's in-memory database
/// lives in its one connection, so the pool keeps exactly that one, for as
/// long as the pool lives.
pub async fn in_memory() -> Result<Db, Error> {
    sqlx::any::install_default_drivers();
    AnyPoolOptions::new()
        .min_connections(1)
        .max_connections(1)
        .idle_timeout(None)
        .max_lifetime(None)
        .connect("sqlite::memory:")
        .await
}

/// The database for a test: the one `DATABASE_URL` names, if set (CI runs
/// the system tests once against PostgreSQL that way), else a database of
/// its own in memory.
pub async fn for_tests() -> Result<Db, Error> {
    match std::env::var("DATABASE_URL") {
        Ok(url) if !url.is_empty() => connect(&url).await,
        _ => in_memory().await,
    }
}

/// The file a `sqlite://PATH?…` URL names, if it names one.
fn sqlite_file(url: &str) -> Option<&str> {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))?;
    let path = rest.split('?').next().unwrap_or(rest);
    (!path.is_empty() && !path.starts_with(':')).then_some(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sqlite_url_names_its_file() {
        assert_eq!(
            sqlite_file("sqlite://target/demo/catalog.db?mode=rwc"),
            Some("target/demo/catalog.db")
        );
        assert_eq!(sqlite_file("sqlite::memory:"), None);
        assert_eq!(sqlite_file("postgres://shop@localhost/shop"), None);
    }
}
