//! Lab 05's given code: the shop the learner's order handling runs against.
//! Not the learner's to edit; the grader relies on it as it is.
//!
//! - [`Inventory`]: seats per talk behind an async lock, and the audit log
//!   every reservation is written to (a slow, durable write).
//! - [`render_invoice`]: CPU-bound work, for the blocking pool.
//! - [`deliver`]: sending a receipt, which the mailer task does.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, LazyLock};
use std::time::Duration;

use tokio::sync::{Mutex, watch};
use tracing::instrument;

/// How long the audit log takes to make one reservation durable.
pub const AUDIT_WRITE: Duration = Duration::from_millis(60);

/// An order for some seats, one per entry of `talks` (a talk id each).
#[derive(Clone, Debug)]
pub struct Order {
    pub id: u64,
    pub email: String,
    pub talks: Vec<u32>,
}

/// What an order costs, rendered for the customer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Invoice {
    pub order_id: u64,
    pub text: String,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ShopError {
    UnknownTalk(u32),
    SoldOut(u32),
}

impl fmt::Display for ShopError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ShopError::UnknownTalk(talk) => write!(f, "there is no talk {talk}"),
            ShopError::SoldOut(talk) => write!(f, "talk {talk} is sold out"),
        }
    }
}

impl std::error::Error for ShopError {}

/// Seats left per talk, and the audit log of reservations. Cheap to clone:
/// every clone is the same inventory, as a task needs.
#[derive(Clone, Debug)]
pub struct Inventory {
    pub seats: Arc<Mutex<HashMap<u32, u32>>>,
    pub audit: AuditLog,
}

impl Inventory {
    /// An inventory with `seats` left at each of `talks`.
    pub fn new(talks: impl IntoIterator<Item = (u32, u32)>) -> Self {
        Self {
            seats: Arc::new(Mutex::new(talks.into_iter().collect())),
            audit: AuditLog::default(),
        }
    }

    /// Seats left at `talk`.
    pub async fn seats_left(&self, talk: u32) -> Option<u32> {
        self.seats.lock().await.get(&talk).copied()
    }
}

/// The durable record of every reservation.
#[derive(Clone, Debug, Default)]
pub struct AuditLog {
    entries: Arc<std::sync::Mutex<Vec<(u64, u32)>>>,
}

impl AuditLog {
    /// Makes the reservation of a seat at `talk` for `order_id` durable.
    /// Slow, as a disk or a database is: it waits without blocking a thread.
    #[instrument(name = "audit_write", skip(self))]
    pub async fn write(&self, order_id: u64, talk: u32) {
        tokio::time::sleep(AUDIT_WRITE).await;
        self.entries
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push((order_id, talk));
    }

    /// Every reservation made durable, in the order written.
    pub fn entries(&self) -> Vec<(u64, u32)> {
        self.entries
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }
}

/// Renders the order's invoice: CPU-bound work (a PDF, say), which belongs
/// on the blocking pool, not on an async worker thread.
#[instrument(skip_all, fields(order_id = order.id))]
pub fn render_invoice(order: &Order) -> Invoice {
    let mut text = format!("Invoice for order {}\n", order.id);
    for talk in &order.talks {
        text.push_str(&format!("  1 seat at talk {talk}\n"));
    }
    Invoice {
        order_id: order.id,
        text,
    }
}

/// Whether the post office takes mail. Open unless closed: the grader
/// closes it to see what waits for the mail to go.
static POST_OFFICE: LazyLock<watch::Sender<bool>> = LazyLock::new(|| watch::channel(true).0);

/// Opens (`true`) or closes the post office; [`deliver`] waits while it is
/// closed.
pub fn set_post_office_open(open: bool) {
    POST_OFFICE.send_replace(open);
}

/// Sends the receipt of `order_id` to `email` (here: nowhere, once the post
/// office is open).
#[instrument(skip(email))]
pub async fn deliver(order_id: u64, email: &str) {
    let mut open = POST_OFFICE.subscribe();
    // The sender lives in a static: it is never dropped, so this never fails.
    let _ = open.wait_for(|open| *open).await;
    std::hint::black_box(email);
}
