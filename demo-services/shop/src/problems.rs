//! The catalogue of planted problems: what each one is, where it lives,
//! and the words an answer names it with.
//!
//! `just demo` plants the first seven (the ones the labs and slides walk
//! through); the incident drill (`just incident`) draws from all of them,
//! and plants exactly the ones it drew (`PLANTED`, see [`crate::Fixes`]).
//! A learner names a problem by the service it lives in, the operation (a
//! span's name in that service) that shows it, and its cause, one of
//! [`Cause`]'s fixed words: the answer is checked against this table.

use std::fmt;
use std::str::FromStr;

/// One planted problem.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Problem {
    SerialFanOut,
    LockAcrossIo,
    CouponIndexPerQuote,
    RetriesWithoutBackoff,
    EagerLogging,
    NPlusOne,
    WorkNobodyWaitsFor,
    RetryStorm,
    FraudModelPerCharge,
    MissingIndex,
    ClockSkew,
    ExportQueueOverflow,
}

/// The fixed words a cause is named with.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Cause {
    /// Independent calls made one after another.
    SerialCalls,
    /// A lock held across slow work (a convoy).
    LockConvoy,
    /// CPU burnt on work that could be done once.
    CpuHotSpot,
    /// Failed calls retried at once, with no backoff.
    RetriesWithoutBackoff,
    /// Log arguments formatted for a level that is off.
    EagerLogging,
    /// A query per item instead of one query.
    NPlusOneQueries,
    /// Work that goes on, or is left half done, after its caller gave up.
    AbandonedWork,
    /// Short timeouts retried at once multiply the calls to a slow peer.
    RetryStorm,
    /// A statement that scans a table its index would search.
    MissingIndex,
    /// Two services' clocks disagree: a child starts before its parent.
    ClockSkew,
    /// Spans dropped before export: the traces are incomplete.
    DroppedSpans,
}

impl Cause {
    pub const ALL: [Cause; 11] = [
        Cause::SerialCalls,
        Cause::LockConvoy,
        Cause::CpuHotSpot,
        Cause::RetriesWithoutBackoff,
        Cause::EagerLogging,
        Cause::NPlusOneQueries,
        Cause::AbandonedWork,
        Cause::RetryStorm,
        Cause::MissingIndex,
        Cause::ClockSkew,
        Cause::DroppedSpans,
    ];

    /// The word an answer uses.
    pub fn word(self) -> &'static str {
        match self {
            Cause::SerialCalls => "serial-calls",
            Cause::LockConvoy => "lock-convoy",
            Cause::CpuHotSpot => "cpu-hot-spot",
            Cause::RetriesWithoutBackoff => "retries-without-backoff",
            Cause::EagerLogging => "eager-logging",
            Cause::NPlusOneQueries => "n-plus-one-queries",
            Cause::AbandonedWork => "abandoned-work",
            Cause::RetryStorm => "retry-storm",
            Cause::MissingIndex => "missing-index",
            Cause::ClockSkew => "clock-skew",
            Cause::DroppedSpans => "dropped-spans",
        }
    }

    /// What the word means, for the list an answer is chosen from.
    pub fn meaning(self) -> &'static str {
        match self {
            Cause::SerialCalls => "independent calls made one after another",
            Cause::LockConvoy => "a lock held across slow work, so callers queue for it",
            Cause::CpuHotSpot => "CPU burnt, on every request, on work that could be done once",
            Cause::RetriesWithoutBackoff => "failed calls retried at once, with no wait between",
            Cause::EagerLogging => "log arguments built for a level that is off",
            Cause::NPlusOneQueries => "a query per item instead of one query",
            Cause::AbandonedWork => "work left half done after its caller gave up",
            Cause::RetryStorm => {
                "a short timeout retried at once multiplies the calls to a slow peer"
            }
            Cause::MissingIndex => "a statement that scans a table an index would search",
            Cause::ClockSkew => "two services' clocks disagree",
            Cause::DroppedSpans => "spans dropped before they were exported",
        }
    }
}

impl fmt::Display for Cause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.word())
    }
}

impl FromStr for Cause {
    type Err = String;

    fn from_str(word: &str) -> Result<Self, Self::Err> {
        Cause::ALL
            .into_iter()
            .find(|cause| cause.word().eq_ignore_ascii_case(word.trim()))
            .ok_or_else(|| {
                let words: Vec<&str> = Cause::ALL.iter().map(|c| c.word()).collect();
                format!(
                    "no cause is called {word:?}; the causes: {}",
                    words.join(", ")
                )
            })
    }
}

impl Problem {
    pub const ALL: [Problem; 12] = [
        Problem::SerialFanOut,
        Problem::LockAcrossIo,
        Problem::CouponIndexPerQuote,
        Problem::RetriesWithoutBackoff,
        Problem::EagerLogging,
        Problem::NPlusOne,
        Problem::WorkNobodyWaitsFor,
        Problem::RetryStorm,
        Problem::FraudModelPerCharge,
        Problem::MissingIndex,
        Problem::ClockSkew,
        Problem::ExportQueueOverflow,
    ];

    /// Its short name: the word `PLANTED` lists it by, and the `--fix-`
    /// flag's ending.
    pub fn slug(self) -> &'static str {
        match self {
            Problem::SerialFanOut => "fanout",
            Problem::LockAcrossIo => "lock",
            Problem::CouponIndexPerQuote => "hotspot",
            Problem::RetriesWithoutBackoff => "retries",
            Problem::EagerLogging => "logging",
            Problem::NPlusOne => "n-plus-one",
            Problem::WorkNobodyWaitsFor => "cancellation",
            Problem::RetryStorm => "retry-storm",
            Problem::FraudModelPerCharge => "fraud-model",
            Problem::MissingIndex => "index",
            Problem::ClockSkew => "clock",
            Problem::ExportQueueOverflow => "export-queue",
        }
    }

    /// Its name in the catalogue `just incident --list` prints: what kind
    /// of problem it is, not where.
    pub fn title(self) -> &'static str {
        match self {
            Problem::SerialFanOut => "calls in series that need not be",
            Problem::LockAcrossIo => "a lock held across I/O",
            Problem::CouponIndexPerQuote => "a CPU hot spot with a span of its own",
            Problem::RetriesWithoutBackoff => "retries without backoff",
            Problem::EagerLogging => "logging that costs when it is off",
            Problem::NPlusOne => "N+1 queries",
            Problem::WorkNobodyWaitsFor => "work nobody waits for",
            Problem::RetryStorm => "a retry storm after a slow peer",
            Problem::FraudModelPerCharge => "a CPU hot spot that only a profile explains",
            Problem::MissingIndex => "a query without its index",
            Problem::ClockSkew => "clock skew between two services",
            Problem::ExportQueueOverflow => "an exporter that drops spans",
        }
    }

    /// Planted in `just demo` unless fixed: the problems the labs and the
    /// slides walk through. The others are planted only when drawn.
    pub fn in_the_demo(self) -> bool {
        matches!(
            self,
            Problem::SerialFanOut
                | Problem::LockAcrossIo
                | Problem::CouponIndexPerQuote
                | Problem::RetriesWithoutBackoff
                | Problem::EagerLogging
                | Problem::NPlusOne
                | Problem::WorkNobodyWaitsFor
        )
    }

    /// The service the problem lives in, as an answer names it.
    pub fn service(self) -> &'static str {
        match self {
            Problem::SerialFanOut
            | Problem::RetriesWithoutBackoff
            | Problem::WorkNobodyWaitsFor
            | Problem::RetryStorm
            | Problem::ExportQueueOverflow => "gateway",
            Problem::LockAcrossIo | Problem::MissingIndex => "inventory",
            Problem::CouponIndexPerQuote | Problem::EagerLogging => "pricing",
            Problem::NPlusOne => "catalog",
            Problem::FraudModelPerCharge | Problem::ClockSkew => "payments",
        }
    }

    /// The operations (span names in [`Problem::service`]) an answer may
    /// name: the one whose time or shape shows the problem, and the ones
    /// around it that are as right.
    pub fn operations(self) -> &'static [&'static str] {
        match self {
            Problem::SerialFanOut => &["look_up", "POST /orders"],
            Problem::LockAcrossIo => &["reserve", "record_reservation", "POST /reservations"],
            Problem::CouponIndexPerQuote => &["index_coupons", "price", "POST /quote"],
            Problem::RetriesWithoutBackoff => &["charge", "POST /orders"],
            Problem::EagerLogging => &["price", "POST /quote"],
            Problem::NPlusOne => &["GET /talks/{talk_id}", "GET /talks"],
            Problem::WorkNobodyWaitsFor => &["POST /orders", "place_order", "reserve"],
            Problem::RetryStorm => &["look_up", "POST /orders", "POST"],
            Problem::FraudModelPerCharge => &["charge", "POST /charges"],
            Problem::MissingIndex => &["write_audit_record", "record_reservation", "reserve"],
            Problem::ClockSkew => &["charge", "POST /charges"],
            Problem::ExportQueueOverflow => &["POST /orders"],
        }
    }

    pub fn cause(self) -> Cause {
        match self {
            Problem::SerialFanOut => Cause::SerialCalls,
            Problem::LockAcrossIo => Cause::LockConvoy,
            Problem::CouponIndexPerQuote | Problem::FraudModelPerCharge => Cause::CpuHotSpot,
            Problem::RetriesWithoutBackoff => Cause::RetriesWithoutBackoff,
            Problem::EagerLogging => Cause::EagerLogging,
            Problem::NPlusOne => Cause::NPlusOneQueries,
            Problem::WorkNobodyWaitsFor => Cause::AbandonedWork,
            Problem::RetryStorm => Cause::RetryStorm,
            Problem::MissingIndex => Cause::MissingIndex,
            Problem::ClockSkew => Cause::ClockSkew,
            Problem::ExportQueueOverflow => Cause::DroppedSpans,
        }
    }

    /// What it is, in a sentence: the answer, not for the learner's eyes
    /// before they have given theirs.
    pub fn explanation(self) -> &'static str {
        match self {
            Problem::SerialFanOut => {
                "the gateway looks up talks, seats and the quote one after another, though none needs another's answer"
            }
            Problem::LockAcrossIo => {
                "the inventory holds its seat lock across the reservation's database transaction"
            }
            Problem::CouponIndexPerQuote => "pricing rebuilds its coupon index for every quote",
            Problem::RetriesWithoutBackoff => {
                "the gateway retries a failed payment at once, while the processor is still busy"
            }
            Problem::EagerLogging => {
                "pricing formats its price list for a trace-level log line, even with TRACE off"
            }
            Problem::NPlusOne => {
                "the catalog reads each talk's speaker and price with a query each"
            }
            Problem::WorkNobodyWaitsFor => {
                "a reservation whose order timed out or was given up is never released"
            }
            Problem::RetryStorm => {
                "the gateway gives pricing 25 ms and asks again at once, up to 4 times; when pricing pauses, every pending quote is asked for again"
            }
            Problem::FraudModelPerCharge => {
                "payments rebuilds its fraud model for every charge, on the CPU, in no span of its own"
            }
            Problem::MissingIndex => {
                "the inventory's audit check scans the whole audit log: its index is missing, and the log grows with every reservation"
            }
            Problem::ClockSkew => {
                "the payments machine's clock is 250 ms behind the others': its spans start before their parents"
            }
            Problem::ExportQueueOverflow => {
                "the gateway's span queue holds 64 spans: under load most of its spans are dropped, and its traces lie"
            }
        }
    }

    /// What a service is started with to plant the problems that live in
    /// its surroundings, not its code: the service, the variable, its value.
    /// The fix is to start it without.
    pub fn environment(self) -> Option<(&'static str, &'static str, &'static str)> {
        match self {
            // Read by the telemetry crate: every span the service exports
            // is stamped this far off, as a machine whose clock is wrong
            // would stamp it.
            Problem::ClockSkew => Some(("payments", "CLOCK_SKEW_MS", "-250")),
            // The OpenTelemetry SDK's own setting (the telemetry crate makes
            // it 65,536 when unset).
            Problem::ExportQueueOverflow => Some(("gateway", "OTEL_BSP_MAX_QUEUE_SIZE", "64")),
            _ => None,
        }
    }

    /// How the problem is fixed: the switch `--fix-…` and its variable, or
    /// the environment to start the service without.
    pub fn fix_switch(self) -> String {
        match self.environment() {
            Some((service, variable, _)) => format!("{service} started without {variable}"),
            None => format!(
                "--fix-{} (FIX_{})",
                self.slug(),
                self.slug().replace('-', "_").to_uppercase()
            ),
        }
    }

    /// The hints, from the idea to the tool to the place to look.
    pub fn hints(self) -> [&'static str; 3] {
        match self {
            Problem::SerialFanOut => [
                "Look at what the gateway does before it reserves: does the critical path of an order run through several calls in turn?",
                "`just crisp` and the waterfall (`just trace --slowest`): the gateway's client spans, do they overlap?",
                "In `look_up`, calls that need no other's answer wait for each other.",
            ],
            Problem::LockAcrossIo => [
                "Reservations wait for each other: what do they share?",
                "In a trace under load, do the inventory's `record_reservation` spans ever overlap? What does `GET /seats` wait on?",
                "The inventory's `reserve` holds something across an `.await` on the database.",
            ],
            Problem::CouponIndexPerQuote => [
                "A quote costs CPU: find the pricing operation that owns its time.",
                "Is there a span under every quote that need not be there? `just profile pricing` says where the CPU goes.",
                "Pricing's `index_coupons` runs per quote.",
            ],
            Problem::RetriesWithoutBackoff => [
                "Orders fail or take long around payments: what does a failed charge lead to?",
                "Count the gateway's client spans to payments in one order's trace, and the time between them.",
                "The gateway's `charge` asks again at once.",
            ],
            Problem::EagerLogging => [
                "Pricing spends CPU on something nobody reads.",
                "A profile of pricing (`just profile pricing`): which frames are not pricing at all?",
                "Pricing's `price` formats for a `trace!` that is off.",
            ],
            Problem::NPlusOne => [
                "Count the database statements under one catalog request.",
                "The waterfall of `GET /talks`: a ladder of identical statements?",
                "The catalog reads a talk's speaker and price one query each.",
            ],
            Problem::WorkNobodyWaitsFor => [
                "Look at what happens to an order after its client, or the gateway, gave up.",
                "Search for server spans that ended with `error.type = cancelled`, and for seats that no order holds.",
                "The gateway's `place_order` leaves reservations behind when it fails.",
            ],
            Problem::RetryStorm => [
                "One order, how many calls to the same peer? Does it grow when that peer is slow?",
                "In a slow order's trace, count the gateway's client spans to one service, and their durations.",
                "The gateway's calls to pricing time out early and are asked again at once.",
            ],
            Problem::FraudModelPerCharge => [
                "One service's own time grows, with no child span to explain it: where does the CPU go?",
                "Compare a service's span duration with its children's; a profile of that service says which code.",
                "Payments' `charge` spends milliseconds on the CPU before it calls the processor.",
            ],
            Problem::MissingIndex => [
                "Something gets slower the longer the shop runs.",
                "Which database statement's duration grows? The inventory's spans, in traces from the start and from now.",
                "The inventory's `write_audit_record` reads the audit log with a statement that scans it.",
            ],
            Problem::ClockSkew => [
                "Look at the shape of a trace, not only its length: does every child sit inside its parent?",
                "In the waterfall, a span that starts before the span that called it.",
                "Payments' spans start before the gateway's calls to it.",
            ],
            Problem::ExportQueueOverflow => [
                "Do the traces tell the whole story? Count the spans of one order, and compare with the requests served.",
                "Each service's `/metrics`: `otel_sdk_span_..._dropped`-style counters, or spans handed versus exported.",
                "The gateway drops spans: its queue is too small for its load.",
            ],
        }
    }

    /// The problem named `slug` (see [`Problem::slug`]).
    pub fn from_slug(slug: &str) -> Option<Self> {
        Problem::ALL
            .into_iter()
            .find(|p| p.slug().eq_ignore_ascii_case(slug.trim()))
    }

    /// `problems` for people: their slugs, separated by commas
    /// (`lock, retry-storm`), or "nothing".
    pub fn names(problems: &[Problem]) -> String {
        match problems {
            [] => "nothing".to_owned(),
            _ => problems
                .iter()
                .map(|problem| problem.slug())
                .collect::<Vec<_>>()
                .join(", "),
        }
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.slug())
    }
}

/// A set of problems, as `PLANTED` spells it: slugs separated by commas
/// (`lock,retry-storm`); empty plants none. A set of bits, so that the
/// fix switches it sits in stay `Copy`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Planted(u16);

impl Planted {
    pub fn of(problems: &[Problem]) -> Self {
        Planted(problems.iter().fold(0, |bits, p| bits | p.bit()))
    }

    pub fn contains(self, problem: Problem) -> bool {
        self.0 & problem.bit() != 0
    }

    /// The problems in the set, in the catalogue's order.
    pub fn problems(self) -> Vec<Problem> {
        Problem::ALL
            .into_iter()
            .filter(|p| self.contains(*p))
            .collect()
    }
}

impl Problem {
    fn bit(self) -> u16 {
        let index = Problem::ALL.iter().position(|p| *p == self).unwrap_or(0);
        1 << index
    }
}

impl FromStr for Planted {
    type Err = String;

    fn from_str(list: &str) -> Result<Self, Self::Err> {
        let problems = list
            .split(',')
            .map(str::trim)
            .filter(|slug| !slug.is_empty())
            .map(|slug| {
                Problem::from_slug(slug).ok_or_else(|| {
                    format!(
                        "no planted problem is called {slug:?}; the problems: {}",
                        Problem::names(&Problem::ALL)
                    )
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Planted::of(&problems))
    }
}

impl fmt::Display for Planted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let slugs: Vec<&str> = self.problems().iter().map(|p| p.slug()).collect();
        f.write_str(&slugs.join(","))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_and_causes_read_back() {
        for problem in Problem::ALL {
            assert_eq!(Problem::from_slug(problem.slug()), Some(problem));
            assert_eq!(problem.cause().word().parse(), Ok(problem.cause()));
            assert!(!problem.operations().is_empty());
        }
        let planted: Planted = "lock, RETRY-STORM,".parse().unwrap();
        assert_eq!(
            planted.problems(),
            [Problem::LockAcrossIo, Problem::RetryStorm]
        );
        assert_eq!(planted.to_string(), "lock,retry-storm");
        assert!("lock,nope".parse::<Planted>().unwrap_err().contains("nope"));
    }

    #[test]
    fn at_least_twelve_and_the_demo_plants_the_first_seven() {
        assert!(Problem::ALL.len() >= 12);
        let demo: Vec<Problem> = Problem::ALL
            .into_iter()
            .filter(|p| p.in_the_demo())
            .collect();
        assert_eq!(demo, Problem::ALL[..7]);
    }
}
