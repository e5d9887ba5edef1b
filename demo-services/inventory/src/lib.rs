//! Inventory: how many seats are left for each talk, and reservations of them.
//!
//! **Planted problem: a lock held across an `.await`.** Reserving seats
//! takes the lock on the seat counts, then writes an audit record (an I/O
//! wait) before letting go. Every other reservation waits for that write, so
//! under load reservations queue up one behind the other: in a trace, their
//! spans never overlap. `--fix-lock` updates the counts, releases the lock,
//! then writes the record.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use shop::domain::{
    Availability, MAX_SEATS_PER_LINE, Reservation, ReservationRequest, TalkId, programme,
};
use shop::{ApiError, ApiJson, ApiPath, Fixes};
use tokio::sync::Mutex;

pub const DEFAULT_PORT: u16 = 8082;

/// How long writing an audit record takes: a durable append, like a
/// database write or a message to a log service.
pub const AUDIT_WRITE: Duration = Duration::from_millis(5);

pub struct Inventory {
    seats: Mutex<HashMap<TalkId, u32>>,
    reservations: Mutex<HashMap<u64, Reservation>>,
    next_id: AtomicU64,
    fixes: Fixes,
}

impl Inventory {
    /// Every talk starts with its room's capacity, or with `seats_per_talk`
    /// when given (a load test would otherwise sell out in seconds).
    pub fn new(fixes: Fixes, seats_per_talk: Option<u32>) -> Self {
        let seats = programme()
            .into_iter()
            .map(|talk| (talk.id, seats_per_talk.unwrap_or(talk.capacity)))
            .collect();
        Self {
            seats: Mutex::new(seats),
            reservations: Mutex::new(HashMap::new()),
            next_id: AtomicU64::new(1),
            fixes,
        }
    }
}

pub fn app(fixes: Fixes, seats_per_talk: Option<u32>) -> Router {
    let routes = Router::new()
        .route("/seats/{talk_id}", get(availability))
        .route("/reservations", post(reserve))
        .route("/reservations/{reservation_id}", delete(release))
        .with_state(Arc::new(Inventory::new(fixes, seats_per_talk)));
    shop::server::with_defaults("inventory", routes)
}

async fn availability(
    State(inventory): State<Arc<Inventory>>,
    ApiPath(talk_id): ApiPath<TalkId>,
) -> Result<Json<Availability>, ApiError> {
    let seats = inventory.seats.lock().await;
    let available = *seats
        .get(&talk_id)
        .ok_or_else(|| ApiError::not_found(format!("there is no talk {talk_id}")))?;
    Ok(Json(Availability { talk_id, available }))
}

/// Reserving seats is the action `reserve`: sold out and unknown talks are
/// its failures.
async fn reserve(
    State(inventory): State<Arc<Inventory>>,
    ApiJson(request): ApiJson<ReservationRequest>,
) -> Result<(StatusCode, Json<Reservation>), ApiError> {
    shop::action("reserve", |act| async move {
        act.set("talk_id", request.talk_id);
        act.set("quantity", request.quantity);
        if !(1..=MAX_SEATS_PER_LINE).contains(&request.quantity) {
            return Err(ApiError::unprocessable(format!(
                "quantity must be from 1 to {MAX_SEATS_PER_LINE}, not {}",
                request.quantity
            )));
        }
        let reservation = if inventory.fixes.lock() {
            let reservation = take_seats(
                &mut *inventory.seats.lock().await,
                &inventory.next_id,
                &request,
            )?;
            write_audit_record(&reservation).await;
            reservation
        } else {
            // The problem: `seats` stays locked while the audit write waits.
            let mut seats = inventory.seats.lock().await;
            let reservation = take_seats(&mut seats, &inventory.next_id, &request)?;
            write_audit_record(&reservation).await;
            drop(seats);
            reservation
        };
        act.set("reservation_id", reservation.reservation_id);
        inventory
            .reservations
            .lock()
            .await
            .insert(reservation.reservation_id, reservation.clone());
        Ok((StatusCode::CREATED, Json(reservation)))
    })
    .await
}

fn take_seats(
    seats: &mut HashMap<TalkId, u32>,
    next_id: &AtomicU64,
    request: &ReservationRequest,
) -> Result<Reservation, ApiError> {
    let left = seats
        .get_mut(&request.talk_id)
        .ok_or_else(|| ApiError::not_found(format!("there is no talk {}", request.talk_id)))?;
    if *left < request.quantity {
        return Err(ApiError::conflict(format!(
            "only {left} seats left for talk {}, {} requested",
            request.talk_id, request.quantity
        )));
    }
    *left -= request.quantity;
    Ok(Reservation {
        reservation_id: next_id.fetch_add(1, Ordering::Relaxed),
        talk_id: request.talk_id,
        quantity: request.quantity,
    })
}

// ANCHOR: instrument
#[tracing::instrument(skip_all, fields(reservation_id = reservation.reservation_id))]
async fn write_audit_record(reservation: &Reservation) {
    tokio::time::sleep(AUDIT_WRITE).await;
}
// ANCHOR_END: instrument

/// Gives the seats of a reservation back (an order that failed to pay).
#[tracing::instrument(skip(inventory))]
async fn release(
    State(inventory): State<Arc<Inventory>>,
    ApiPath(reservation_id): ApiPath<u64>,
) -> Result<StatusCode, ApiError> {
    let reservation = inventory
        .reservations
        .lock()
        .await
        .remove(&reservation_id)
        .ok_or_else(|| ApiError::not_found(format!("there is no reservation {reservation_id}")))?;
    *inventory
        .seats
        .lock()
        .await
        .entry(reservation.talk_id)
        .or_default() += reservation.quantity;
    Ok(StatusCode::NO_CONTENT)
}
