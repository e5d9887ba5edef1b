//! What the demo's services share.
//!
//! The demo is a conference ticket shop split into five services, each its
//! own process on its own port:
//!
//! ```text
//!                 ┌──────────► catalog   :8081  talks and prices
//! client ──► gateway :8080 ──► inventory :8082  seats left, reservations
//!                 ├──────────► pricing   :8083  quotes and coupons
//!                 └──────────► payments  :8084  card charges
//! ```
//!
//! Every service is built from the same parts, kept here: the domain types
//! ([`domain`]), errors that answer with a JSON reason ([`error`]),
//! extractors that turn malformed input into such errors ([`extract`]), a
//! client for calling another service with a timeout and trace context
//! ([`peer`]), serving with graceful shutdown ([`server`]), the database a service
//! keeps its data in ([`db`]), the switches
//! that turn each planted problem off ([`fixes`]) and their catalogue
//! ([`problems`]), and work a handler runs
//! to its end whoever still waits for it ([`to_the_end()`]).

pub mod action;
pub mod db;
pub mod domain;
pub mod error;
pub mod extract;
pub mod fixes;
pub mod peer;
pub mod problems;
pub mod server;
pub mod to_the_end;

pub use action::action;
pub use error::ApiError;
pub use extract::{ApiJson, ApiPath};
pub use fixes::Fixes;
pub use peer::Peer;
pub use problems::{Cause, Problem};
pub use to_the_end::{InFlight, to_the_end};
