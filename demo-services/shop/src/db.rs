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

use axum::http::StatusCode;
use sqlx::any::AnyPoolOptions;
use sqlx::{AnyPool, Executor};
use tracing::Instrument;

use crate::ApiError;

pub use sqlx::Error;

/// A service's database.
pub type Db = AnyPool;

/// The database `service` uses when `DATABASE_URL` names none: a SQLite
/// file of its own, created if missing.
pub fn default_url(service: &str) -> String {
    format!("sqlite://target/demo/{service}.db?mode=rwc")
}

/// Opens a pool on `url` for a service that mostly reads, creating a
/// SQLite file's folder if need be.
pub async fn connect(url: &str) -> Result<Db, Error> {
    open(url, 8).await
}

/// Opens a pool on `url` for a service whose statements write. SQLite lets
/// one connection write at a time: a second writer is told "busy" and
/// retries after sleeps that grow to 100 ms, so on SQLite the pool keeps a
/// single connection and writers queue for it in turn instead. PostgreSQL
/// locks rows, not the whole database: there, writers share a pool.
pub async fn connect_for_writes(url: &str) -> Result<Db, Error> {
    let connections = if is_sqlite(url) { 1 } else { 8 };
    open(url, connections).await
}

async fn open(url: &str, max_connections: u32) -> Result<Db, Error> {
    sqlx::any::install_default_drivers();
    if let Some(folder) = sqlite_file(url).and_then(|file| Path::new(file).parent()) {
        std::fs::create_dir_all(folder).map_err(Error::Io)?;
    }
    let options = AnyPoolOptions::new()
        .max_connections(max_connections)
        .acquire_timeout(Duration::from_secs(5));
    if !is_sqlite(url) {
        return options.connect(url).await;
    }
    options
        // A connection to a server can break while it waits in the pool, so
        // sqlx pings it before lending it out; a SQLite file cannot, and the
        // ping is one more trip to the connection's thread, on every
        // statement.
        .test_before_acquire(false)
        .after_connect(|connection, _| {
            // A new connection's statements: one trace, not one each.
            let configure = tracing::info_span!("configure_connection");
            Box::pin(async move {
                connection
                    .execute(SQLITE_FOR_A_SERVER)
                    .instrument(configure)
                    .await?;
                Ok(())
            })
        })
        .connect(url)
        .await
}

/// SQLite as a server's database: write-ahead logging, so readers never
/// wait for a writer, and a sync to disk at each checkpoint rather than at
/// each commit (a crash of the service loses nothing; a power cut, the
/// last moments). Its defaults (a rollback journal, a sync per commit) are
/// for a file one program opens at a time.
const SQLITE_FOR_A_SERVER: &str = "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL";

/// Whether `db` is PostgreSQL, for the few statements whose words differ
/// (how a table numbers its rows).
pub fn is_postgres(db: &Db) -> bool {
    db.connect_options()
        .database_url
        .scheme()
        .starts_with("postgres")
}

/// A count or an id read from the database, which stores every whole number
/// as a signed `BIGINT`: an error if it does not fit the type it stands for.
pub fn unsigned<T: TryFrom<i64, Error = std::num::TryFromIntError>>(
    value: i64,
) -> Result<T, Error> {
    T::try_from(value).map_err(|err| Error::Decode(Box::new(err)))
}

/// A database that fails is the service's trouble, not the client's: 503,
/// with the cause in the service's log, not in the answer. `db.error`
/// with the database's own code says the database refused a statement,
/// which marks that statement's span failed (see `telemetry::db`): sqlx's
/// own log never says so.
impl From<Error> for ApiError {
    fn from(err: Error) -> Self {
        let code = err.as_database_error().and_then(|refused| refused.code());
        tracing::error!(db.error = %err, db.response.status_code = code.as_deref(), "the database failed");
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "the database is unavailable",
        )
    }
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

/// Whether `url` names a SQLite database (a file, or one in memory).
fn is_sqlite(url: &str) -> bool {
    url.starts_with("sqlite:")
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
        assert!(is_sqlite("sqlite://target/demo/catalog.db?mode=rwc"));
        assert!(is_sqlite("sqlite::memory:"));
        assert!(!is_sqlite("postgres://shop@localhost/shop"));
    }
}
