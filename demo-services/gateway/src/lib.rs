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

use std::collections::HashMap;
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
use shop::{ApiError, ApiJson, ApiPath, Fixes, Peer};
use tokio::sync::Mutex;
use tracing::{Span, instrument};

pub const DEFAULT_PORT: u16 = 8080;

/// Attempts at charging a card before the order fails.
pub const MAX_PAYMENT_ATTEMPTS: u32 = 4;
/// The first backoff between payment attempts, doubled at each attempt.
pub const BACKOFF_BASE: Duration = Duration::from_millis(10);

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

struct Gateway {
    peers: Peers,
    fixes: Fixes,
    orders: Mutex<HashMap<u64, Order>>,
    next_order_id: AtomicU64,
}

pub fn app(peers: Peers, fixes: Fixes) -> Router {
    let gateway = Gateway {
        peers,
        fixes,
        orders: Mutex::new(HashMap::new()),
        next_order_id: AtomicU64::new(1),
    };
    let routes = Router::new()
        .route("/talks", get(list_talks))
        .route("/orders", post(place_order))
        .route("/orders/{order_id}", get(get_order))
        .with_state(Arc::new(gateway));
    shop::server::with_defaults("gateway", routes)
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
    let reservations = gateway.reserve(&request.lines).await?;
    let charge = if quote.total_cents == 0 {
        None
    } else {
        match gateway
            .charge(order_id, quote.total_cents, &request.card_number)
            .await
        {
            Ok(charge) => Some(charge),
            Err(err) => {
                // Give the seats back: an unpaid order must not keep them.
                gateway.release(&reservations).await;
                return Err(err);
            }
        }
    };
    let order = Order {
        order_id,
        customer: request.customer,
        lines: quote.lines,
        total_cents: quote.total_cents,
        charge_id: charge.map(|c| c.charge_id),
    };
    gateway.orders.lock().await.insert(order_id, order.clone());
    Ok((StatusCode::CREATED, Json(order)))
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
            let quote = self
                .peers
                .pricing
                .post::<_, Quote>("/quote", &quote_request);
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
            let quote = self.peers.pricing.post("/quote", &quote_request).await?;
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

/// Waits before the next payment attempt; a span of its own, so that a
/// trace shows the wait between attempts.
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
