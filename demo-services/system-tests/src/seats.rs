//! The inventory on a database of the test's own, and its seats as its
//! counts and its database have them: however its clients give up, the
//! two must agree once no change is under way.

use std::collections::HashMap;

use axum::Router;
use in_process::Service;
use shop::Fixes;
use shop::db::Db;
use shop::domain::{Availability, TalkId, programme};
use sqlx::Row;
use sqlx::any::AnyRow;
use tokio::sync::watch;

/// The inventory on the database at `url`, every talk with `stock` seats,
/// its app wrapped by `around`; and its count of changes in flight.
pub fn start_inventory(
    url: &str,
    stock: u32,
    fixes: Fixes,
    around: impl FnOnce(Router) -> Router + Send + 'static,
) -> (Service, watch::Receiver<usize>) {
    let (opened, changes) = std::sync::mpsc::channel();
    let url = url.to_owned();
    let service = Service::spawn_with("inventory", move || async move {
        let db = shop::db::connect_for_writes(&url)
            .await
            .expect("the inventory's database");
        let inventory = inventory::open(db, inventory::Stock::PerTalk(stock), fixes)
            .await
            .expect("the inventory's tables");
        opened
            .send(inventory.changes_in_flight())
            .expect("the test waits for the count");
        around(inventory::app(inventory, fixes))
    });
    let changes = changes
        .try_recv()
        .expect("the inventory opens before it listens");
    (service, changes)
}

/// Each talk's seats left, as the inventory counts them and as its
/// database's table has them.
pub struct SeatsLeft {
    /// As `GET /seats` counts them...
    pub counted: HashMap<TalkId, i64>,
    /// ...and as the database's seats table has them.
    pub table: HashMap<TalkId, i64>,
}

impl SeatsLeft {
    /// Every talk's, from the inventory at `inventory` and its `database`.
    pub async fn read(client: &reqwest::Client, inventory: &str, database: &Db) -> Self {
        let mut counted = HashMap::new();
        for talk in programme() {
            let count = seats_counted(client, inventory, talk.id).await;
            counted.insert(talk.id, i64::from(count));
        }
        let table = sqlx::query("SELECT talk_id, available FROM seats")
            .fetch_all(database)
            .await
            .expect("the seats")
            .iter()
            .map(|row| (talk_of(row, 0), row.get::<i64, _>(1)))
            .collect();
        Self { counted, table }
    }

    /// Every talk whose seats left, counted or in the table, are not its
    /// `stock` less the seats its reservations hold in the database
    /// (`reserved`).
    pub fn drift(&self, stock: u32, reserved: &HashMap<TalkId, i64>) -> Vec<String> {
        programme()
            .iter()
            .filter_map(|talk| {
                let counted = self.counted.get(&talk.id).copied();
                let left = i64::from(stock) - reserved.get(&talk.id).copied().unwrap_or(0);
                let table = self.table.get(&talk.id).copied();
                (counted != Some(left) || table != Some(left)).then(|| {
                    format!(
                        "talk {}: {counted:?} left by the counts, {left} by the database's \
                         reservations, {table:?} in its seats table",
                        talk.id
                    )
                })
            })
            .collect()
    }
}

/// The seats the inventory counts left for `talk_id` (`GET /seats`).
async fn seats_counted(client: &reqwest::Client, inventory: &str, talk_id: TalkId) -> u32 {
    client
        .get(format!("{inventory}/seats/{talk_id}"))
        .send()
        .await
        .expect("the inventory answers")
        .json::<Availability>()
        .await
        .expect("a count of seats")
        .available
}

/// The talk in a row's column.
pub fn talk_of(row: &AnyRow, column: usize) -> TalkId {
    TalkId::try_from(row.get::<i64, _>(column)).expect("a talk's id")
}
