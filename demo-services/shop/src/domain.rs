//! The shop's domain: talks, order lines, quotes, reservations, charges.
//! These are the JSON bodies the services exchange.

use serde::{Deserialize, Serialize};

pub type TalkId = u32;

/// No order line may ask for more seats than this.
pub const MAX_SEATS_PER_LINE: u32 = 10;
/// No order may have more lines than this.
pub const MAX_LINES_PER_ORDER: usize = 10;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Talk {
    pub id: TalkId,
    pub title: String,
    pub speaker: String,
    pub room: String,
    pub price_cents: u64,
    /// Seats in the room when the shop opens.
    pub capacity: u32,
}

/// The programme. Every service starts from it: the catalog serves it,
/// inventory counts its seats, pricing reads its prices.
pub fn programme() -> Vec<Talk> {
    let talk = |id, title: &str, speaker: &str, room: &str, price_cents, capacity| Talk {
        id,
        title: title.to_owned(),
        speaker: speaker.to_owned(),
        room: room.to_owned(),
        price_cents,
        capacity,
    };
    vec![
        talk(
            1,
            "Spans, events and why logs are not enough",
            "Ada",
            "Main hall",
            4_500,
            400,
        ),
        talk(2, "Context across services", "Grace", "Room A", 4_500, 120),
        talk(3, "Reading a critical path", "Edsger", "Room B", 3_500, 80),
        talk(
            4,
            "Semantic logging: actions, not messages",
            "Barbara",
            "Room A",
            3_500,
            120,
        ),
        talk(
            5,
            "Profiling in production",
            "Donald",
            "Main hall",
            5_000,
            400,
        ),
        talk(
            6,
            "The cost of observability",
            "Frances",
            "Room B",
            3_000,
            80,
        ),
        talk(
            7,
            "Business lines versus admin lines",
            "Niklaus",
            "Room C",
            2_500,
            60,
        ),
        talk(
            8,
            "Workshop: Observable Rust",
            "Margaret",
            "Lab",
            12_000,
            30,
        ),
    ]
}

/// Some seats at one talk.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderLine {
    pub talk_id: TalkId,
    pub quantity: u32,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Availability {
    pub talk_id: TalkId,
    pub available: u32,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReservationRequest {
    pub talk_id: TalkId,
    pub quantity: u32,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reservation {
    pub reservation_id: u64,
    pub talk_id: TalkId,
    pub quantity: u32,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuoteRequest {
    pub lines: Vec<OrderLine>,
    #[serde(default)]
    pub coupon: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuoteLine {
    pub talk_id: TalkId,
    pub quantity: u32,
    pub unit_cents: u64,
    pub discount_cents: u64,
    pub total_cents: u64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Quote {
    pub lines: Vec<QuoteLine>,
    pub discount_cents: u64,
    pub total_cents: u64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChargeRequest {
    pub order_id: u64,
    pub amount_cents: u64,
    pub card_number: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Charge {
    pub charge_id: u64,
    pub amount_cents: u64,
    pub card_last4: String,
}
