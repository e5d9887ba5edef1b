//! The gateway: the shop's public JSON API, which calls the other services.
//!
//! - `GET /talks`: the programme with the seats left for each talk.
//! - `POST /orders`: look the order up, reserve the seats, charge the card.
//! - `GET /orders/{order_id}`: a confirmed order.
//!
//! **Planted problem: a sequential fan-out.** Placing an order first looks
//! up, for each line, the talk (catalog) and the seats left (inventory), and
//! the quote (pricing). These lookups do not depend on each other, yet the
//! code waits for each before starting the next: the trace shows a staircase
//! of client spans, all of them on the critical path. `--fix-fanout` starts
//! them all at once.
//!
//! **Planted problem: retries without backoff** (with payments' injected
//! failures). A failed charge is retried at once, into a processor that is
//! still busy. `--fix-retries` waits an exponentially growing, jittered time
//! between attempts.
//!
//! **Planted problem 7: work nobody waits for.** An order reserves its
//! lines' seats one call to the inventory at a time, then charges the
//! card; when something fails, it gives back the reservations whose
//! answers arrived, by the ids in them. But a call the gateway gives up on
//! (its peer timeout: 504) goes on at the inventory, which makes the
//! reservation all the same: its answer, and its id, are lost, and nothing
//! ever gives its seats back. Nor are any of an order's reservations given
//! back when its own client goes away: hyper drops `place_order` at
//! whichever `.await` it is on. The seats leak, and a trace shows where:
//! the inventory's `POST /reservations` span ends `error.type =
//! "cancelled"` while its `record_reservation` goes on after the gateway's
//! call gave up.
//!
//! `--fix-cancellation` places each order as a **saga that compensates**.
//! The order gets a key prefix no other order has, even after a restart
//! (its id and 64 random bits); line `i` is reserved with the idempotency
//! key `PREFIX-i`. On any failure once the first reservation was sent (a
//! line refused, timed out or unreachable; the charge failed), every line
//! sent, the failed one included (its answer may be all that was lost), is
//! released by key: the inventory gives back what the key reserved, or, if
//! the reservation has not arrived yet, refuses it when it does. The
//! placement runs to its end on a task of its own (see `to_the_end`), so a
//! client that goes away stops neither a confirmation nor a compensation
//! half way; a release that fails is retried with backoff, and one that
//! still fails is an `error!` naming the keys that keep their seats.

use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use futures_util::future::try_join_all;
use futures_util::{StreamExt, TryStreamExt};
use serde::{Deserialize, Serialize};
use shop::domain::{
    Availability, Charge, ChargeRequest, MAX_LINES_PER_ORDER, OrderLine, Quote, QuoteLine,
    QuoteRequest, Reservation, ReservationRequest, Talk,
};
use shop::{ApiError, ApiJson, ApiPath, Fixes, InFlight, Peer};
use tokio::sync::{Mutex, watch};
use tracing::{Span, instrument};

mod impatient;

pub const DEFAULT_PORT: u16 = 8080;

/// Attempts at charging a card before the order fails.
pub const MAX_PAYMENT_ATTEMPTS: u32 = 4;
/// The first backoff between payment attempts, doubled at each attempt.
pub const BACKOFF_BASE: Duration = Duration::from_millis(10);
/// Attempts at giving a failed order's seats back, by key, before the
/// gateway logs that they stay held.
pub const MAX_RELEASE_ATTEMPTS: u32 = 5;

/// The services the gateway calls.
#[derive(Clone, Debug)]
pub struct Peers {
    pub catalog: Peer,
    pub inventory: Peer,
    pub pricing: Peer,
    pub payments: Peer,
}

/// An order as the public API receives it.
#[derive(Clone, Deserialize)]
pub struct PlaceOrder {
    pub customer: String,
    pub lines: Vec<OrderLine>,
    #[serde(default)]
    pub coupon: Option<String>,
    pub card_number: String,
}

/// A confirmed order.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Order {
    pub order_id: u64,
    pub customer: String,
    pub lines: Vec<QuoteLine>,
    pub total_cents: u64,
    /// `None` when nothing was due (a 100 % coupon).
    pub charge_id: Option<u64>,
}

/// A talk with the seats left.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TalkOnSale {
    #[serde(flatten)]
    pub talk: Talk,
    pub available: u32,
}

/// The gateway's state: its peers, its fixes, the confirmed orders.
pub struct Gateway {
    peers: Peers,
    fixes: Fixes,
    orders: Mutex<HashMap<u64, Order>>,
    next_order_id: AtomicU64,
    /// How many orders are being placed (see [`Gateway::orders_in_flight`]).
    placing: watch::Sender<usize>,
}

impl Gateway {
    pub fn new(peers: Peers, fixes: Fixes) -> Self {
        Self {
            peers,
            fixes,
            orders: Mutex::new(HashMap::new()),
            next_order_id: AtomicU64::new(1),
            placing: watch::Sender::new(0),
        }
    }

    /// How many orders past their look-up are being placed: reserving,
    /// charging or giving seats back, those whose clients have gone
    /// included. Whenever this reads zero, no order already begun sends
    /// the inventory or payments anything more.
    pub fn orders_in_flight(&self) -> watch::Receiver<usize> {
        self.placing.subscribe()
    }

    /// The gateway's routes, with every service's defaults around them.
    pub fn into_app(self) -> Router {
        let routes = Router::new()
            .route("/talks", get(list_talks))
            .route("/orders", post(place_order))
            .route("/orders/{order_id}", get(get_order))
            .with_state(Arc::new(self));
        shop::server::with_defaults("gateway", routes)
    }
}

/// The gateway's routes: [`Gateway::into_app`] of a new gateway.
pub fn app(peers: Peers, fixes: Fixes) -> Router {
    Gateway::new(peers, fixes).into_app()
}

async fn list_talks(
    State(gateway): State<Arc<Gateway>>,
) -> Result<Json<Vec<TalkOnSale>>, ApiError> {
    let talks: Vec<Talk> = gateway.peers.catalog.get("/talks").await?;
    // A bounded fan-out: concurrent, but never more than four calls at once
    // against inventory, whatever the size of the programme.
    let on_sale = futures_util::stream::iter(talks)
        .map(|talk| async {
            let seats: Availability = gateway
                .peers
                .inventory
                .get(&format!("/seats/{}", talk.id))
                .await?;
            Ok::<_, ApiError>(TalkOnSale {
                talk,
                available: seats.available,
            })
        })
        .buffered(4)
        .try_collect()
        .await?;
    Ok(Json(on_sale))
}

async fn get_order(
    State(gateway): State<Arc<Gateway>>,
    ApiPath(order_id): ApiPath<u64>,
) -> Result<Json<Order>, ApiError> {
    let orders = gateway.orders.lock().await;
    let order = orders
        .get(&order_id)
        .ok_or_else(|| ApiError::not_found(format!("there is no order {order_id}")))?;
    Ok(Json(order.clone()))
}

#[instrument(skip_all, fields(customer = %request.customer, lines = request.lines.len(), order_id))]
async fn place_order(
    State(gateway): State<Arc<Gateway>>,
    ApiJson(request): ApiJson<PlaceOrder>,
) -> Result<(StatusCode, Json<Order>), ApiError> {
    validate(&request)?;
    let order_id = gateway.next_order_id.fetch_add(1, Ordering::Relaxed);
    Span::current().record("order_id", order_id);

    let quote = gateway.look_up(&request).await?;
    let order = if gateway.fixes.cancellation() {
        // On a task of its own, counted in `orders_in_flight`: the order is
        // confirmed or compensated whoever still waits for it, as the
        // inventory's changes run to their end for the same reason.
        let placement = Arc::clone(&gateway).place_as_saga(order_id, request, quote);
        shop::to_the_end(&gateway.placing, placement).await?
    } else {
        // The problem: the placement is dropped with this handler when
        // its client goes away, whatever it had reserved.
        let _placing = InFlight::begin(&gateway.placing);
        gateway.place(order_id, request, quote).await?
    };
    Ok((StatusCode::CREATED, Json(order)))
}

/// An order's names for its reservations: line `i` is reserved with the
/// idempotency key `PREFIX-i`.
struct Saga {
    prefix: String,
    /// How many lines' reservations were sent: each may hold seats, even
    /// the one that failed, whose answer may be all that was lost.
    sent: usize,
}

impl Saga {
    fn new(order_id: u64) -> Self {
        // Order ids start again at 1 when the gateway restarts: 64 bits
        // of the operating system's randomness (which keys every
        // `RandomState`) keep the prefixes apart. fastrand's generator,
        // seeded from the clock, would do less well.
        let random = RandomState::new().hash_one(order_id);
        Self {
            prefix: format!("{order_id}-{random:016x}"),
            sent: 0,
        }
    }

    fn key(&self, line: usize) -> String {
        format!("{}-{line}", self.prefix)
    }

    /// The keys of every reservation sent.
    fn sent_keys(&self) -> Vec<String> {
        (0..self.sent).map(|line| self.key(line)).collect()
    }
}

fn validate(request: &PlaceOrder) -> Result<(), ApiError> {
    if request.customer.trim().is_empty() || request.customer.len() > 100 {
        return Err(ApiError::unprocessable(
            "customer must be 1 to 100 characters",
        ));
    }
    if request.lines.is_empty() || request.lines.len() > MAX_LINES_PER_ORDER {
        return Err(ApiError::unprocessable(format!(
            "an order has 1 to {MAX_LINES_PER_ORDER} lines, not {}",
            request.lines.len()
        )));
    }
    if request.card_number.trim().is_empty() {
        return Err(ApiError::unprocessable("card_number is required"));
    }
    Ok(())
}

impl Gateway {
    /// The order with the problem: reserves the seats, charges the card,
    /// confirms the order. A failure gives back the reservations whose
    /// answers arrived, by their ids, and only those.
    async fn place(
        &self,
        order_id: u64,
        request: PlaceOrder,
        quote: Quote,
    ) -> Result<Order, ApiError> {
        let reservations = self.reserve(&request.lines).await?;
        let charge = match self.pay(order_id, &quote, &request.card_number).await {
            Ok(charge) => charge,
            Err(err) => {
                // Give the seats back: an unpaid order must not keep them.
                self.release(&reservations).await;
                return Err(err);
            }
        };
        Ok(self.confirm(order_id, request, quote, charge).await)
    }

    // ANCHOR: saga
    /// The order as a saga: reserves the seats, each line by its key,
    /// charges the card, confirms the order; on any failure once a
    /// reservation was sent, releases every line sent, by key.
    async fn place_as_saga(
        self: Arc<Self>,
        order_id: u64,
        request: PlaceOrder,
        quote: Quote,
    ) -> Result<Order, ApiError> {
        let mut saga = Saga::new(order_id);
        let paid = match self.reserve_by_key(&mut saga, &request.lines).await {
            Ok(()) => self.pay(order_id, &quote, &request.card_number).await,
            Err(err) => Err(err),
        };
        match paid {
            Ok(charge) => Ok(self.confirm(order_id, request, quote, charge).await),
            Err(err) => {
                self.compensate(&saga.sent_keys()).await;
                Err(err)
            }
        }
    }
    // ANCHOR_END: saga

    /// Charges the card for the quote, unless nothing is due.
    async fn pay(
        &self,
        order_id: u64,
        quote: &Quote,
        card_number: &str,
    ) -> Result<Option<Charge>, ApiError> {
        if quote.total_cents == 0 {
            return Ok(None);
        }
        self.charge(order_id, quote.total_cents, card_number)
            .await
            .map(Some)
    }

    /// Records the order as confirmed.
    async fn confirm(
        &self,
        order_id: u64,
        request: PlaceOrder,
        quote: Quote,
        charge: Option<Charge>,
    ) -> Order {
        let order = Order {
            order_id,
            customer: request.customer,
            lines: quote.lines,
            total_cents: quote.total_cents,
            charge_id: charge.map(|c| c.charge_id),
        };
        self.orders.lock().await.insert(order_id, order.clone());
        order
    }

    /// Checks every talk exists and has the seats, and prices the order.
    #[instrument(skip_all)]
    async fn look_up(&self, request: &PlaceOrder) -> Result<Quote, ApiError> {
        let quote_request = QuoteRequest {
            lines: request.lines.clone(),
            coupon: request.coupon.clone(),
        };
        let (seats, quote) = if self.fixes.fanout() {
            let talks = try_join_all(request.lines.iter().map(|line| self.talk(line)));
            let seats = try_join_all(request.lines.iter().map(|line| self.seats(line)));
            let quote = self.quote(&quote_request);
            let (_talks, seats, quote) = tokio::try_join!(talks, seats, quote)?;
            (seats, quote)
        } else {
            // The problem: each call waits for the one before, though none
            // needs another's answer.
            let mut seats = Vec::with_capacity(request.lines.len());
            for line in &request.lines {
                self.talk(line).await?;
                seats.push(self.seats(line).await?);
            }
            let quote = self.quote(&quote_request).await?;
            (seats, quote)
        };
        for (line, seats) in request.lines.iter().zip(seats) {
            if seats.available < line.quantity {
                return Err(ApiError::conflict(format!(
                    "only {} seats left for talk {}, {} requested",
                    seats.available, line.talk_id, line.quantity
                )));
            }
        }
        Ok(quote)
    }

    async fn quote(&self, request: &QuoteRequest) -> Result<Quote, ApiError> {
        if self.fixes.retry_storm() {
            self.peers.pricing.post("/quote", request).await
        } else {
            impatient::quote(&self.peers.pricing, request).await
        }
    }

    async fn talk(&self, line: &OrderLine) -> Result<Talk, ApiError> {
        self.peers
            .catalog
            .get(&format!("/talks/{}", line.talk_id))
            .await
    }

    async fn seats(&self, line: &OrderLine) -> Result<Availability, ApiError> {
        self.peers
            .inventory
            .get(&format!("/seats/{}", line.talk_id))
            .await
    }

    /// Reserves every line, or none: a line that fails releases the others.
    #[instrument(skip_all)]
    async fn reserve(&self, lines: &[OrderLine]) -> Result<Vec<Reservation>, ApiError> {
        let mut reservations = Vec::with_capacity(lines.len());
        for line in lines {
            let request = ReservationRequest {
                talk_id: line.talk_id,
                quantity: line.quantity,
            };
            match self.peers.inventory.post("/reservations", &request).await {
                Ok(reservation) => reservations.push(reservation),
                Err(err) => {
                    self.release(&reservations).await;
                    return Err(err);
                }
            }
        }
        Ok(reservations)
    }

    /// Reserves every line with its key, one after another, until one
    /// fails. Each line is counted as sent before its call: from then on
    /// it may hold seats, whatever the gateway hears back.
    #[instrument(name = "reserve", skip_all, fields(key_prefix = %saga.prefix))]
    async fn reserve_by_key(&self, saga: &mut Saga, lines: &[OrderLine]) -> Result<(), ApiError> {
        for (line, order_line) in lines.iter().enumerate() {
            let request = ReservationRequest {
                talk_id: order_line.talk_id,
                quantity: order_line.quantity,
            };
            let key = saga.key(line);
            saga.sent += 1;
            self.peers
                .inventory
                .post_with_idempotency_key::<_, Reservation>("/reservations", &key, &request)
                .await?;
        }
        Ok(())
    }

    /// Gives back the seats of every reservation sent with these keys.
    /// A key the inventory has no reservation for yet is recorded as
    /// released, so that the reservation is refused if it still arrives.
    #[instrument(skip_all, fields(keys = %keys.join(", ")))]
    async fn compensate(&self, keys: &[String]) {
        let mut unreleased = Vec::new();
        let mut last_failure = None;
        for key in keys {
            if let Err(err) = self.release_by_key(key).await {
                unreleased.push(key.as_str());
                last_failure = Some(err);
            }
        }
        if let Some(err) = last_failure {
            tracing::error!(
                keys = %unreleased.join(", "),
                error = %err,
                "seats could not be released: the reservations with these idempotency keys keep them"
            );
        }
    }

    /// `DELETE /reservations/keys/{key}`, retried with backoff while it
    /// fails in a way that may pass (the inventory slow, down or failing).
    async fn release_by_key(&self, key: &str) -> Result<(), ApiError> {
        let path = format!("/reservations/keys/{key}");
        let mut attempt = 1;
        loop {
            match self.peers.inventory.delete(&path).await {
                Err(err) if is_transient(&err) && attempt < MAX_RELEASE_ATTEMPTS => {
                    tracing::warn!(attempt, key, error = %err.message, "releasing seats failed; retrying");
                    back_off(attempt).await;
                    attempt += 1;
                }
                result => return result,
            }
        }
    }

    #[instrument(skip_all)]
    async fn release(&self, reservations: &[Reservation]) {
        for reservation in reservations {
            let path = format!("/reservations/{}", reservation.reservation_id);
            if let Err(err) = self.peers.inventory.delete(&path).await {
                tracing::error!(reservation_id = reservation.reservation_id, error = %err, "seats could not be released");
            }
        }
    }

    /// Charges the card, retrying while the processor is unavailable.
    #[instrument(skip(self, card_number), fields(attempts))]
    async fn charge(
        &self,
        order_id: u64,
        amount_cents: u64,
        card_number: &str,
    ) -> Result<Charge, ApiError> {
        let request = ChargeRequest {
            order_id,
            amount_cents,
            card_number: card_number.to_owned(),
        };
        let mut attempt = 1;
        loop {
            let result = self.peers.payments.post("/charges", &request).await;
            match result {
                Err(err) if is_transient(&err) && attempt < MAX_PAYMENT_ATTEMPTS => {
                    tracing::warn!(attempt, error = %err.message, "payment attempt failed; retrying");
                    if self.fixes.retries() {
                        back_off(attempt).await;
                    }
                    attempt += 1;
                }
                result => {
                    Span::current().record("attempts", attempt);
                    return result;
                }
            }
        }
    }
}

/// A failure that may go away if asked again.
fn is_transient(err: &ApiError) -> bool {
    matches!(err.status.as_u16(), 502..=504)
}

/// Waits before the next attempt (at a payment, or a release); a span of
/// its own, so that a trace shows the wait between attempts.
#[instrument(fields(delay_ms))]
async fn back_off(attempt: u32) {
    let delay = backoff(attempt);
    Span::current().record("delay_ms", delay.as_millis() as u64);
    tokio::time::sleep(delay).await;
}

/// "Equal jitter": half of an exponentially growing cap, plus a random part
/// of the other half. The random part keeps clients that failed together
/// from retrying together; the fixed half guarantees a real pause.
pub fn backoff(attempt: u32) -> Duration {
    let half = BACKOFF_BASE * 2u32.saturating_pow(attempt.min(10)) / 2;
    half + half.mul_f64(fastrand::f64())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_stays_within_its_bounds() {
        for attempt in 1..6 {
            let cap = BACKOFF_BASE * 2u32.pow(attempt);
            for _ in 0..100 {
                let delay = backoff(attempt);
                assert!(
                    delay >= cap / 2 && delay <= cap,
                    "{delay:?} for attempt {attempt}"
                );
            }
        }
    }

    #[test]
    fn an_orders_keys_are_its_id_random_bits_and_the_line() {
        let saga = Saga::new(42);
        let (order_id, rest) = saga.prefix.split_once('-').expect("id-random");
        assert_eq!(order_id, "42");
        assert_eq!(rest.len(), 16, "64 bits in hex: {}", saga.prefix);
        assert!(
            rest.chars().all(|c| c.is_ascii_hexdigit()),
            "{}",
            saga.prefix
        );
        assert_eq!(saga.key(3), format!("{}-3", saga.prefix));
        assert_ne!(
            Saga::new(42).prefix,
            saga.prefix,
            "the same order id in another run gets another prefix"
        );
        let mut sent = Saga::new(u64::MAX);
        sent.sent = 2;
        let keys = sent.sent_keys();
        assert_eq!(keys, [sent.key(0), sent.key(1)]);
        assert!(
            keys.iter()
                .all(|key| key.len() <= 128 && key.bytes().all(|b| b.is_ascii_graphic()))
        );
    }

    #[test]
    fn only_gateway_failures_are_retried() {
        for (status, transient) in [
            (502, true),
            (503, true),
            (504, true),
            (402, false),
            (422, false),
            (500, false),
        ] {
            let err = ApiError::new(StatusCode::from_u16(status).unwrap(), "x");
            assert_eq!(is_transient(&err), transient, "{status}");
        }
    }
}
