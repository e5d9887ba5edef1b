//! Lab 03, context across services: the reference solution. Only
//! `propagation.rs` differs from the starter; the services are the lab's own
//! files.

#[path = "../../../labs/03-context-propagation/src/frontend.rs"]
pub mod frontend;
#[path = "../../../labs/03-context-propagation/src/prices.rs"]
pub mod prices;
pub mod propagation;
#[path = "../../../labs/03-context-propagation/src/server.rs"]
pub mod server;
