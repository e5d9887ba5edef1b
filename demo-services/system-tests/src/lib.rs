//! The whole shop in one process, for tests: each service on its own port,
//! thread and tracer, with its spans in memory (see `in_process`, which the
//! labs' graders use too).
//!
//! And what the tests of clients that give up share: a burst of requests
//! given up at random moments ([`burst`]), its random choices made again
//! from a seed ([`dice`]), the inventory on a database file of the test's
//! own ([`DatabaseFile`]) and its seats, counted and recorded ([`seats`]).

pub mod burst;
mod database_file;
pub mod dice;
pub mod seats;

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use axum::Router;
use axum::extract::Request;
use axum::middleware::{self, Next};
pub use database_file::DatabaseFile;
use in_process::Service;
pub use in_process::{Spans, attr, overlap};
use shop::db::Db;
use shop::{Fixes, Peer};
use sqlx::pool::PoolConnection;
use sqlx::{Any, Transaction};
use tokio::sync::watch;

/// How to start the shop.
#[derive(Clone, Debug)]
pub struct Options {
    pub fixes: Fixes,
    pub processor: payments::Processor,
    pub peer_timeout: Duration,
    /// Holds every request to the payments service until the test opens it.
    pub payments_gate: Option<Gate>,
    /// The URL of the catalog's database (a file of the test's own, say);
    /// `None`: the one `shop::db::for_tests` opens.
    pub catalog_database: Option<String>,
    /// The URL of the inventory's database, opened for writes; `None`: the
    /// one `shop::db::for_tests` opens.
    pub inventory_database: Option<String>,
    /// Records of history in the inventory's audit log (`AUDIT_HISTORY`).
    pub audit_history: Option<u32>,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            fixes: Fixes::default(),
            // No random failures unless a test asks for them.
            processor: payments::Processor {
                failure_rate: 0.0,
                ..payments::Processor::default()
            },
            peer_timeout: shop::peer::DEFAULT_TIMEOUT,
            payments_gate: None,
            catalog_database: None,
            inventory_database: None,
            audit_history: None,
        }
    }
}

/// The five services, running.
pub struct Shop {
    services: Vec<Service>,
    stopped: Spans,
    inventory_db: Arc<OnceLock<Db>>,
}

/// Keeps the inventory's database from taking its writes, until dropped.
pub enum DatabaseHold {
    /// SQLite in memory: the pool's one connection, taken.
    Connection(PoolConnection<Any>),
    /// PostgreSQL: the seats table, locked against writes by a transaction
    /// of the test's own.
    Lock(Transaction<'static, Any>),
}

impl Shop {
    pub fn start(options: Options) -> Self {
        let fixes = options.fixes;
        let catalog_database = options.catalog_database;
        let catalog = Service::spawn_with("catalog", move || async move {
            let db = match catalog_database {
                Some(url) => shop::db::connect(&url).await,
                None => shop::db::for_tests().await,
            }
            .expect("a database");
            catalog::open(&db).await.expect("the catalog's tables");
            catalog::app(db, fixes)
        });
        let inventory_db = Arc::new(OnceLock::new());
        let kept = Arc::clone(&inventory_db);
        let inventory_database = options.inventory_database;
        let audit_history = options.audit_history;
        let inventory = Service::spawn_with("inventory", move || async move {
            let db = match inventory_database {
                Some(url) => shop::db::connect_for_writes(&url).await,
                None => shop::db::for_tests().await,
            }
            .expect("a database");
            let _ = kept.set(db.clone());
            // A database CI shares between tests keeps what earlier tests
            // reserved: every talk starts afresh.
            let inventory = inventory::open(db, inventory::Stock::RoomCapacity, fixes)
                .await
                .expect("the inventory's tables");
            if let Some(rows) = audit_history {
                inventory::audit::seed_history(inventory.db(), rows)
                    .await
                    .expect("the audit log's history");
            }
            inventory::app(inventory, fixes)
        });
        let pricing = Service::spawn("pricing", pricing::app(fixes));
        let mut payments_app = payments::app(options.processor, fixes);
        if let Some(gate) = &options.payments_gate {
            payments_app = gate.hold(payments_app);
        }
        let payments = Service::spawn("payments", payments_app);
        let peer = |service: &Service| {
            Peer::with_timeout(service.name(), service.url(), options.peer_timeout)
        };
        let peers = gateway::Peers {
            catalog: peer(&catalog),
            inventory: peer(&inventory),
            pricing: peer(&pricing),
            payments: peer(&payments),
        };
        let gateway = Service::spawn("gateway", gateway::app(peers, fixes));
        Self {
            services: vec![gateway, catalog, inventory, pricing, payments],
            stopped: Spans::default(),
            inventory_db,
        }
    }

    /// Holds the inventory's database: its transactions wait until the
    /// hold is dropped, so a test can have several in flight at once.
    pub async fn hold_inventory_database(&self) -> DatabaseHold {
        let db = self.inventory_db.get().expect("the inventory started");
        if shop::db::is_postgres(db) {
            let other = shop::db::for_tests().await.expect("a database");
            let mut lock = other.begin().await.expect("a transaction");
            sqlx::query("LOCK TABLE seats IN SHARE MODE")
                .execute(&mut *lock)
                .await
                .expect("the seats locked");
            DatabaseHold::Lock(lock)
        } else {
            DatabaseHold::Connection(db.acquire().await.expect("the one connection"))
        }
    }

    /// The services running, the gateway first.
    pub fn services(&self) -> &[Service] {
        &self.services
    }

    /// The base URL of a running service, e.g. `http://127.0.0.1:40123`.
    pub fn url(&self, name: &str) -> String {
        self.services
            .iter()
            .find(|s| s.name() == name)
            .map(Service::url)
            .unwrap_or_else(|| panic!("{name} is not running"))
    }

    /// Tells one service to stop and returns once it refuses new
    /// connections; its requests in flight go on (see [`Service::begin_stop`]).
    pub async fn begin_stop(&mut self, name: &str) {
        let service = self
            .services
            .iter_mut()
            .find(|s| s.name() == name)
            .unwrap_or_else(|| panic!("{name} is not running"));
        service.begin_stop().await;
    }

    /// Stops one service gracefully (requests in flight finish) and keeps
    /// its spans.
    pub fn stop_service(&mut self, name: &str) {
        let index = self
            .services
            .iter()
            .position(|s| s.name() == name)
            .unwrap_or_else(|| panic!("{name} is not running"));
        let service = self.services.remove(index);
        self.stopped.insert(service.name(), service.stop());
    }

    /// Stops every service, the gateway first, and returns every span each
    /// one exported.
    pub fn stop(mut self) -> Spans {
        for service in self.services {
            self.stopped.insert(service.name(), service.stop());
        }
        self.stopped
    }
}

/// Holds the requests that reach a service until the test opens it, and
/// counts them: a test can then know that requests are in flight, and how
/// many, instead of hoping a sleep was long enough.
#[derive(Clone, Debug)]
pub struct Gate {
    arrived: watch::Sender<usize>,
    open: watch::Sender<bool>,
}

impl Default for Gate {
    fn default() -> Self {
        Self {
            arrived: watch::Sender::new(0),
            open: watch::Sender::new(false),
        }
    }
}

impl Gate {
    /// `app` with every request held at the gate.
    fn hold(&self, app: Router) -> Router {
        let gate = self.clone();
        app.layer(middleware::from_fn(move |request: Request, next: Next| {
            let gate = gate.clone();
            async move {
                gate.arrived.send_modify(|n| *n += 1);
                // Only fails if the gate is gone, and then nothing holds the request.
                let _ = gate.open.subscribe().wait_for(|open| *open).await;
                next.run(request).await
            }
        }))
    }

    /// Returns once `count` requests are held (or have passed) here.
    pub async fn arrived(&self, count: usize) {
        let _ = self.arrived.subscribe().wait_for(|n| *n >= count).await;
    }

    /// How many requests have reached the gate so far.
    pub fn count(&self) -> usize {
        *self.arrived.borrow()
    }

    /// Lets every held request, and every later one, through.
    pub fn open(&self) {
        self.open.send_replace(true);
    }
}
