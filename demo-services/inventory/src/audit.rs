//! The audit log's one rule, and the index that keeps it cheap.
//!
//! An action is audited once per reservation: before a record is written,
//! the inventory looks for one of the same action and reservation. That
//! look-up is one statement on a table that grows with every reservation
//! and release, forever: with its index it stays a search; without, a scan
//! whose time grows with the log.
//!
//! **Planted problem (incident drill): the missing index.** With the
//! problem planted ([`shop::Problem::MissingIndex`]) the index is dropped
//! on start, and the look-up under every reservation scans the whole log.
//! `--fix-index` creates it. A shop that has run for a while has a long
//! log: `AUDIT_HISTORY` gives a new database that many records of history.

use shop::Fixes;
use shop::db::Db;
use sqlx::{AnyConnection, Row};

const INDEX: &str = "audit_log_by_reservation";

/// Creates the look-up's index, or with the problem planted drops it.
pub async fn index(db: &Db, fixes: Fixes) -> Result<(), sqlx::Error> {
    let statement = if fixes.index() {
        format!("CREATE INDEX IF NOT EXISTS {INDEX} ON audit_log (reservation_id, action)")
    } else {
        format!("DROP INDEX IF EXISTS {INDEX}")
    };
    sqlx::query(&statement).execute(db).await?;
    Ok(())
}

/// Whether `reservation_id` already has a record of `action`.
pub async fn already_audited(
    connection: &mut AnyConnection,
    reservation_id: i64,
    action: &str,
) -> Result<bool, sqlx::Error> {
    let row =
        sqlx::query("SELECT COUNT(*) FROM audit_log WHERE reservation_id = $1 AND action = $2")
            .bind(reservation_id)
            .bind(action)
            .fetch_one(connection)
            .await?;
    Ok(row.try_get::<i64, _>(0)? > 0)
}

/// Gives the log `rows` records of history, if it has fewer records than
/// that: reservations of long ago (negative ids, which no new reservation
/// takes), so that the look-up meets a log of a shop that has run a while.
#[tracing::instrument(skip(db))]
pub async fn seed_history(db: &Db, rows: u32) -> Result<(), sqlx::Error> {
    let present: i64 = sqlx::query("SELECT COUNT(*) FROM audit_log")
        .fetch_one(db)
        .await?
        .try_get(0)?;
    let missing = i64::from(rows) - present;
    if missing <= 0 {
        return Ok(());
    }
    // One statement, however many rows: SQLite and PostgreSQL both count
    // with a recursive common table expression.
    sqlx::query(
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < $1) \
         INSERT INTO audit_log (reservation_id, action, talk_id, quantity) \
         SELECT -i, 'reserve', 1 + i % 12, 1 FROM n",
    )
    .bind(missing)
    .execute(db)
    .await?;
    Ok(())
}
