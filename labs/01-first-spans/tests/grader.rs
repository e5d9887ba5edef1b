//! The grader of lab 01. `just lab 1` runs it and explains each result;
//! `cargo test -p lab01` runs it too.
//!
//! Each check draws a handful of orders (ids, customers, tickets, cards and
//! how each order ends are drawn afresh on every run), places each one under
//! its own in-memory subscriber, and inspects every span and every event it
//! produced. A property that holds for one order and not the next is broken:
//! the checks read all of the evidence, never only the first sample. A
//! failure says what your code recorded and which property it breaks.

use grader_kit::checks::evidence;
use grader_kit::scenario::Dice;
use grader_kit::{Captured, EventRecord, SpanRecord, Value, capture};
use lab01::{CardNumber, MAX_SEATS_PER_ORDER, Order, OrderError, Receipt, Ticket, place_order};
use tracing::Level;

grader_kit::checks![
    place_order_has_a_span,
    span_records_order_id,
    each_step_is_a_child_span,
    price_span_records_total,
    success_emits_info_event,
    rejection_emits_warn_event,
    declined_charge_emits_error_event,
    card_number_never_logged,
];

// ---------------------------------------------------------------------------
// Scenarios
// ---------------------------------------------------------------------------

/// How an order ends, which decides the telemetry it owes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Fate {
    Placed,
    NoTickets,
    TooManySeats,
    Declined,
}

use Fate::{Declined, NoTickets, Placed, TooManySeats};

/// One order of a scenario, and what placing it should give.
struct Case {
    fate: Fate,
    order: Order,
    /// The card's digits, which no telemetry may show.
    card: String,
    seats: u32,
    total_cents: u64,
    expected: Result<Receipt, OrderError>,
}

impl Case {
    /// The order in a few words, for a failure message.
    fn what(&self) -> String {
        let how = match self.fate {
            Placed => format!("{} seats, a card that is accepted", self.seats),
            NoTickets => "no tickets at all, so `validate` refuses it".to_owned(),
            TooManySeats => format!(
                "{} seats, more than the {MAX_SEATS_PER_ORDER} allowed, so `validate` refuses it",
                self.seats
            ),
            Declined => format!("{} seats, a card that is declined", self.seats),
        };
        format!(
            "order {} (customer {:?}, {how})",
            self.order.id, self.order.customer
        )
    }

    /// Whether `price` and `charge` run for this order.
    fn gets_priced(&self) -> bool {
        matches!(self.fate, Placed | Declined)
    }

    /// Why `validate` refused it, as its `Display` and as its `Debug` say it.
    fn reasons(&self) -> [String; 2] {
        match self.fate {
            NoTickets => [
                "the order has no tickets".to_owned(),
                "NoTickets".to_owned(),
            ],
            TooManySeats => [
                format!(
                    "{} seats requested, at most {MAX_SEATS_PER_ORDER} allowed",
                    self.seats
                ),
                format!("TooManySeats {{ requested: {} }}", self.seats),
            ],
            Placed | Declined => unreachable!("only a refused order has a reason"),
        }
    }
}

const TALKS: [&str; 4] = [
    "Tracing in Rust",
    "Workshop: Observable Rust",
    "Async without tears",
    "Metrics that matter",
];

/// Orders meeting `fates`, in that order, with distinct ids and cards.
fn draw_cases(dice: &mut Dice, fates: &[Fate]) -> Vec<Case> {
    let mut ids: Vec<u64> = Vec::new();
    let mut cases = Vec::new();
    for &fate in fates {
        let id = loop {
            let id = dice.between(1, 99_999_999);
            if !ids.contains(&id) {
                ids.push(id);
                break id;
            }
        };
        let len = dice.between(3, 8);
        let mut customer = dice.word(len);
        if dice.one_in(3) {
            customer = format!("{customer} {}", dice.word(5));
        }
        let max = u64::from(MAX_SEATS_PER_ORDER);
        let tickets = match fate {
            NoTickets => Vec::new(),
            TooManySeats => {
                // Exactly one seat too many, now and then: the edge of the rule.
                let seats = if dice.one_in(2) {
                    max + 1
                } else {
                    dice.between(max + 2, max + 20)
                };
                draw_tickets(dice, seats)
            }
            Placed | Declined => {
                // Exactly the most an order may hold, now and then.
                let seats = if dice.one_in(3) {
                    max
                } else {
                    dice.between(1, max - 1)
                };
                draw_tickets(dice, seats)
            }
        };
        let seats: u32 = tickets.iter().map(|t| t.quantity).sum();
        let total_cents: u64 = tickets
            .iter()
            .map(|t| t.unit_price_cents * u64::from(t.quantity))
            .sum();
        // What the order may show: a card whose digits turn up in these is
        // drawn again, so that an ordinary number is never taken for a leak.
        let mut shown: Vec<String> = vec![
            id.to_string(),
            customer.clone(),
            seats.to_string(),
            total_cents.to_string(),
            MAX_SEATS_PER_ORDER.to_string(),
        ];
        for t in &tickets {
            shown.push(t.unit_price_cents.to_string());
            shown.push(t.quantity.to_string());
            shown.push((t.unit_price_cents * u64::from(t.quantity)).to_string());
        }
        let card = draw_card(dice, fate == Declined, &shown);
        let expected = match fate {
            Placed => Ok(Receipt {
                order_id: id,
                total_cents,
                card_last4: card[card.len() - 4..].to_owned(),
            }),
            NoTickets => Err(OrderError::NoTickets),
            TooManySeats => Err(OrderError::TooManySeats { requested: seats }),
            Declined => Err(OrderError::Declined),
        };
        cases.push(Case {
            fate,
            order: Order {
                id,
                customer,
                tickets,
                card: CardNumber::new(card.clone()),
            },
            card,
            seats,
            total_cents,
            expected,
        });
    }
    cases
}

/// One to three tickets holding `seats` seats between them.
fn draw_tickets(dice: &mut Dice, seats: u64) -> Vec<Ticket> {
    let count = dice.between(1, seats.min(3));
    let mut quantities = vec![1_u64; count as usize];
    for _ in count..seats {
        let at = dice.between(0, count - 1) as usize;
        quantities[at] += 1;
    }
    quantities
        .into_iter()
        .map(|quantity| Ticket {
            talk: dice.pick(&TALKS).to_owned(),
            unit_price_cents: dice.between(1, 400) * 50,
            quantity: quantity as u32,
        })
        .collect()
}

/// Sixteen digits; a declined card ends in 0002 (the gateway's test card),
/// an accepted one never does. No digit comes three times in a row outside
/// that ending, and no six of the card's digits in a row appear in what the
/// order may show (`shown`), so that a run of six card digits found in the
/// telemetry can only have come from the card.
fn draw_card(dice: &mut Dice, declined: bool, shown: &[String]) -> String {
    loop {
        let mut digits: Vec<u8> = vec![if dice.one_in(2) { b'4' } else { b'5' }];
        while digits.len() < 16 {
            digits.push(b'0' + dice.between(0, 9) as u8);
        }
        let free = if declined {
            digits[12..].copy_from_slice(b"0002");
            if digits[11] == b'0' {
                continue;
            }
            12
        } else {
            if &digits[12..] == b"0002" {
                continue;
            }
            16
        };
        let repeats = digits[..free]
            .windows(3)
            .any(|w| w[0] == w[1] && w[1] == w[2]);
        let card = String::from_utf8(digits).expect("digits");
        let collides = (0..=card.len() - 6)
            .map(|at| &card[at..at + 6])
            .any(|run| shown.iter().any(|s| s.contains(run)));
        if !repeats && !collides {
            return card;
        }
    }
}

/// One case placed, with what it returned and what it recorded.
struct Placement<'a> {
    case: &'a Case,
    result: Result<Receipt, OrderError>,
    captured: Captured,
}

/// Places every case, one after another, each under a capture of its own.
/// The first failure to keep what the code does is reported here: telemetry
/// only records, so every order must end as it did without it.
fn place_all(cases: &[Case]) -> Vec<Placement<'_>> {
    cases
        .iter()
        .map(|case| {
            let (result, captured) = capture(|| place_order(&case.order));
            evidence("What your code recorded", captured.describe());
            assert_eq!(
                result,
                case.expected,
                "Placing {} returned {result:?}, but the code before your change returns \
                 {:?}. Telemetry only records what the code does: an order must end \
                 exactly as it did without it.",
                case.what(),
                case.expected
            );
            Placement {
                case,
                result,
                captured,
            }
        })
        .collect()
}

// ---------------------------------------------------------------------------
// Reading the records
// ---------------------------------------------------------------------------

fn spans_named(captured: &Captured, name: &str) -> Vec<SpanRecord> {
    captured
        .spans()
        .into_iter()
        .filter(|s| s.name == name)
        .collect()
}

/// The one `place_order` span of a placement, or a failure that says what
/// was recorded instead.
fn place_order_span(placed: &Placement<'_>) -> SpanRecord {
    evidence("What your code recorded", placed.captured.describe());
    let spans = spans_named(&placed.captured, "place_order");
    match spans.as_slice() {
        [span] => span.clone(),
        [] => panic!(
            "Placing {} recorded no span named `place_order`, so nothing tells this \
             order's telemetry apart from any other's (README step 1). What your code \
             recorded is shown below.",
            placed.case.what()
        ),
        more => panic!(
            "Placing {} recorded {} spans named `place_order`. One call is one \
             operation: it should open exactly one span (README step 1).",
            placed.case.what(),
            more.len()
        ),
    }
}

/// Every event that says an order was placed, at any level.
fn order_placed_events(captured: &Captured) -> Vec<EventRecord> {
    captured
        .events()
        .into_iter()
        .filter(|e| {
            e.message
                .as_deref()
                .is_some_and(|m| m.to_lowercase().contains("order placed"))
        })
        .collect()
}

/// A number field: `Ok(n)` when it is an integer, `Err` with what was
/// recorded instead (nothing, text, a float...).
fn integer(value: Option<&Value>) -> Result<u64, String> {
    match value {
        Some(v) => v.as_u64().ok_or_else(|| match v {
            Value::Str(s) | Value::Debug(s) => format!("the text {s:?}, not a number"),
            Value::F64(f) => format!("the float {f}, not an integer"),
            other => format!("{other:?}"),
        }),
        None => Err("no such field".to_owned()),
    }
}

// ---------------------------------------------------------------------------
// Checks
// ---------------------------------------------------------------------------

fn place_order_has_a_span() {
    let mut dice = Dice::new();
    let mut fates = vec![
        Placed,
        Placed,
        dice.pick(&[NoTickets, TooManySeats]),
        Declined,
    ];
    if dice.one_in(2) {
        fates.push(Placed);
    }
    dice.shuffle(&mut fates);
    let cases = draw_cases(&mut dice, &fates);
    for placed in place_all(&cases) {
        let span = place_order_span(&placed);
        assert_eq!(
            span.level,
            Level::INFO,
            "The `place_order` span of {} is at {}. An order is a business operation, \
             recorded at INFO, where a service's default filter keeps it (README step 1).",
            placed.case.what(),
            span.level
        );
        assert!(
            span.closed,
            "The `place_order` span of {} was still open after `place_order` returned. \
             A span ends with its operation: one left open has no duration and is never \
             exported.",
            placed.case.what()
        );
    }
}

fn span_records_order_id() {
    let mut dice = Dice::new();
    // Failed orders too: an order that fails is the one someone searches for.
    let mut fates = vec![
        Placed,
        Placed,
        dice.pick(&[NoTickets, TooManySeats]),
        Declined,
    ];
    dice.shuffle(&mut fates);
    let cases = draw_cases(&mut dice, &fates);
    for placed in place_all(&cases) {
        let span = place_order_span(&placed);
        let case = placed.case;
        match integer(span.field("order_id")) {
            Ok(id) if id == case.order.id => {}
            Ok(id) => panic!(
                "The `place_order` span of {} records `order_id` = {id}, another order's id: \
                 the field must hold the id of the order being placed (README step 1).",
                case.what()
            ),
            Err(found) => panic!(
                "The `place_order` span of {} should record `order_id` = {} as an integer, \
                 so that an order can be searched for by its number; it recorded {found} \
                 (README step 1).",
                case.what(),
                case.order.id
            ),
        }
        let customer = span.field("customer");
        assert!(
            customer.is_some_and(|v| v.is_text(&case.order.customer)),
            "The `place_order` span of {} should record `customer` = {:?}, the order's \
             customer; it recorded {} (README step 1).",
            case.what(),
            case.order.customer,
            customer.map_or("no such field".to_owned(), |v| format!("{v:?}"))
        );
    }
}

fn each_step_is_a_child_span() {
    let mut dice = Dice::new();
    let mut fates = vec![Placed, Declined, dice.pick(&[NoTickets, TooManySeats])];
    if dice.one_in(2) {
        fates.push(Placed);
    }
    dice.shuffle(&mut fates);
    let cases = draw_cases(&mut dice, &fates);
    for placed in place_all(&cases) {
        let parent = place_order_span(&placed);
        let case = placed.case;
        for step in ["validate", "price", "charge"] {
            let spans = spans_named(&placed.captured, step);
            let runs = step == "validate" || case.gets_priced();
            if !runs {
                assert!(
                    spans.is_empty(),
                    "Placing {} recorded {} `{step}` span(s), yet `{step}` never runs for \
                     an order that `validate` refuses. A span stands for work that ran.",
                    case.what(),
                    spans.len()
                );
                continue;
            }
            let span = match spans.as_slice() {
                [span] => span,
                [] => panic!(
                    "Placing {} recorded no span named `{step}`. Each step of an order is \
                     one traceable operation with a span of its own (README step 2).",
                    case.what()
                ),
                more => panic!(
                    "Placing {} recorded {} spans named `{step}`; the step ran once, so \
                     it should have one span (README step 2).",
                    case.what(),
                    more.len()
                ),
            };
            assert_eq!(
                span.parent,
                Some(parent.index),
                "The `{step}` span of {} is not a child of its `place_order` span (its \
                 parent is {}). A step runs inside the order, so its span belongs under \
                 the order's span (README step 2).",
                case.what(),
                placed
                    .captured
                    .parent(span)
                    .map_or("none: it is a root".to_owned(), |p| format!("`{}`", p.name))
            );
            assert!(
                span.closed,
                "The `{step}` span of {} was still open after the order was placed: a \
                 step's span ends when the step does.",
                case.what()
            );
        }
    }
}

fn price_span_records_total() {
    let mut dice = Dice::new();
    // A declined order is priced too, and its total is what was refused.
    let mut fates = vec![Placed, Placed, Declined];
    if dice.one_in(2) {
        fates.push(Placed);
    }
    dice.shuffle(&mut fates);
    let cases = draw_cases(&mut dice, &fates);
    for placed in place_all(&cases) {
        place_order_span(&placed);
        let case = placed.case;
        let spans = spans_named(&placed.captured, "price");
        let [span] = spans.as_slice() else {
            panic!(
                "Placing {} recorded {} spans named `price`, where the step ran once: one \
                 run of a step is one span, and the total belongs on that one (README step 2).",
                case.what(),
                spans.len()
            )
        };
        match integer(span.field("total_cents")) {
            Ok(total) if total == case.total_cents => {}
            Ok(total) => panic!(
                "The `price` span of {} records `total_cents` = {total}, but its tickets \
                 come to {} cents. The field must hold the total that `price` computed for \
                 this order (README step 2).",
                case.what(),
                case.total_cents
            ),
            Err(found) => panic!(
                "The `price` span of {} should carry `total_cents` = {}, as an integer, \
                 recorded on the span once the total is known; it has {found} (README \
                 step 2).",
                case.what(),
                case.total_cents
            ),
        }
    }
}

fn success_emits_info_event() {
    let mut dice = Dice::new();
    // "order placed" is said for exactly the orders that were placed: the
    // refused and declined ones are here to show that it is not said for them.
    let mut fates = vec![
        Placed,
        Placed,
        Declined,
        dice.pick(&[NoTickets, TooManySeats]),
    ];
    if dice.one_in(2) {
        fates.push(Placed);
    }
    dice.shuffle(&mut fates);
    let cases = draw_cases(&mut dice, &fates);
    for placed in place_all(&cases) {
        let parent = place_order_span(&placed);
        let case = placed.case;
        let said = order_placed_events(&placed.captured);
        if case.fate != Placed {
            assert!(
                said.is_empty(),
                "Placing {} failed with {:?}, yet your code said \"order placed\" {} time(s). \
                 An order that was refused or declined was not placed: the event may only \
                 follow a successful charge (README step 3).",
                case.what(),
                placed.result,
                said.len()
            );
            continue;
        }
        let [event] = said.as_slice() else {
            panic!(
                "Placing {} should say \"order placed\" exactly once; your code said it {} \
                 times (README step 3).",
                case.what(),
                said.len()
            )
        };
        assert_eq!(
            event.level,
            Level::INFO,
            "The \"order placed\" event of {} is at {}; an order placed is business as \
             usual, an INFO event (README step 3).",
            case.what(),
            event.level
        );
        assert!(
            placed.captured.is_within(event, &parent),
            "The \"order placed\" event of {} happened outside the order's `place_order` \
             span, so it does not carry the order's id and customer (README step 3).",
            case.what()
        );
        match integer(event.field("total_cents")) {
            Ok(total) if total == case.total_cents => {}
            Ok(total) => panic!(
                "The \"order placed\" event of {} says `total_cents` = {total}, but the order \
                 came to {} cents (README step 3).",
                case.what(),
                case.total_cents
            ),
            Err(found) => panic!(
                "The \"order placed\" event of {} should carry `total_cents` = {} as an \
                 integer; it has {found} (README step 3).",
                case.what(),
                case.total_cents
            ),
        }
    }
}

fn rejection_emits_warn_event() {
    let mut dice = Dice::new();
    let mut fates = vec![NoTickets, TooManySeats];
    fates.push(dice.pick(&[NoTickets, TooManySeats, TooManySeats]));
    dice.shuffle(&mut fates);
    let cases = draw_cases(&mut dice, &fates);
    for placed in place_all(&cases) {
        let parent = place_order_span(&placed);
        let case = placed.case;
        // Every WARN event, not the first: a rejection reported twice is
        // two alerts for one mistake.
        let warnings = placed.captured.events_at(Level::WARN);
        let warning = match warnings.as_slice() {
            [warning] => warning,
            [] => panic!(
                "Placing {} was refused without a WARN event. A refused order is the \
                 customer's mistake: worth seeing, at WARN, with the reason (README step 4).",
                case.what()
            ),
            more => panic!(
                "Placing {} was refused once but reported {} times at WARN: one customer's \
                 mistake, reported again wherever the error passed, raises as many alerts \
                 (README step 4).",
                case.what(),
                more.len()
            ),
        };
        // `#[instrument(err(level = "warn"))]` on `validate` says why too:
        // its event records the error in a field named `error`, in either
        // of its modes (Display or Debug).
        let why = warning.field("reason").or_else(|| warning.field("error"));
        let reasons = case.reasons();
        assert!(
            why.is_some_and(|v| reasons.iter().any(|r| v.is_text(r))),
            "The WARN event of {} should say why the order was refused, {:?}, in a field \
             `reason` (or `error`); it says {} (README step 4).",
            case.what(),
            reasons[0],
            why.map_or("nothing in either field".to_owned(), |v| format!("{v:?}"))
        );
        assert!(
            placed.captured.is_within(warning, &parent),
            "The WARN event of {} happened outside its `place_order` span, so it does not \
             say which order was refused.",
            case.what()
        );
        let errors = placed.captured.events_at(Level::ERROR);
        assert!(
            errors.is_empty(),
            "Placing {} emitted {} ERROR event(s). A refused order is not a fault of ours, \
             and an ERROR pages someone: the refusal is a WARN, and nothing else reports \
             it (README step 4).",
            case.what(),
            errors.len()
        );
        let said = order_placed_events(&placed.captured);
        assert!(
            said.is_empty(),
            "Placing {} was refused, yet your code said \"order placed\" (README step 3).",
            case.what()
        );
    }
}

fn declined_charge_emits_error_event() {
    let mut dice = Dice::new();
    // Accepted cards among the declined ones: an ERROR is for a decline only.
    let mut fates = vec![Declined, Declined, Placed];
    if dice.one_in(2) {
        fates.push(dice.pick(&[Declined, Placed]));
    }
    dice.shuffle(&mut fates);
    let cases = draw_cases(&mut dice, &fates);
    for placed in place_all(&cases) {
        place_order_span(&placed);
        let case = placed.case;
        // Every ERROR event of the order, not the first one.
        let errors = placed.captured.events_at(Level::ERROR);
        if case.fate == Placed {
            assert!(
                errors.is_empty(),
                "Placing {} succeeded, yet your code emitted {} ERROR event(s). An ERROR \
                 pages someone: it is for a card that was declined (README step 4).",
                case.what(),
                errors.len()
            );
            continue;
        }
        let error = match errors.as_slice() {
            [error] => error,
            [] => panic!(
                "The card of {} was declined without an ERROR event. A declined card is a \
                 failed payment, an error of the `charge` step (README step 4).",
                case.what()
            ),
            more => panic!(
                "The card of {} was declined once but reported {} times at ERROR: one failed \
                 payment, reported again wherever the error passed, pages someone as many \
                 times (README step 4).",
                case.what(),
                more.len()
            ),
        };
        let charges = spans_named(&placed.captured, "charge");
        let [charge] = charges.as_slice() else {
            panic!(
                "Placing {} recorded {} spans named `charge`, where the step ran once \
                 (README step 2).",
                case.what(),
                charges.len()
            )
        };
        assert!(
            placed.captured.is_within(error, charge),
            "The ERROR event of {} happened outside the `charge` span, where the card was \
             declined: it should say which step failed, from inside it (README step 4).",
            case.what()
        );
        let warnings = placed.captured.events_at(Level::WARN);
        assert!(
            warnings.is_empty(),
            "The declined card of {} was reported at ERROR and again at WARN ({} event(s)): \
             one failure, one report (README step 4).",
            case.what(),
            warnings.len()
        );
        let said = order_placed_events(&placed.captured);
        assert!(
            said.is_empty(),
            "The card of {} was declined, yet your code said \"order placed\": the event \
             may only follow a successful charge (README step 3).",
            case.what()
        );
    }
}

fn card_number_never_logged() {
    let mut dice = Dice::new();
    // Every way an order can end: a card may leak on any path.
    let mut fates = vec![Placed, NoTickets, TooManySeats, Declined];
    fates.push(dice.pick(&[Placed, Declined]));
    dice.shuffle(&mut fates);
    let cases = draw_cases(&mut dice, &fates);
    for placed in place_all(&cases) {
        // A check on secrets is only worth something once there is
        // telemetry that could hold them.
        place_order_span(&placed);
        let case = placed.case;
        let leaks = placed.captured.secret_leaks(&case.card);
        assert!(
            leaks.is_empty(),
            "The card number of {} ({}), or six or more of its digits in a row, appeared in \
             its telemetry:\n  {}\nA span records what it is given, and the order holds the \
             card: the card must stay out of every span name, field and message, whatever \
             way the order ends. Its last four digits are all that may be shown (README \
             step 5).",
            case.what(),
            case.card,
            leaks.join("\n  ")
        );
    }
}
