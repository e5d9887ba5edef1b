//! The switches that turn the planted problems off.
//!
//! Like the `--fix-*` flags of Jaeger's HotROD demo: every problem is on by
//! default, so the demo shows it, and each has a flag (or environment
//! variable) that fixes it, so the same tools can show the difference.
//! `--fixed` turns every fix on. The environment variables take the usual
//! spellings of yes and no (`1`, `true`, `yes`, `0`, `false`, `no`).
//!
//! The first seven problems of the catalogue ([`crate::problems`]) are
//! planted by default; the others only when `--planted` (`PLANTED`) names
//! them. `--planted LIST` plants exactly the problems it lists and fixes
//! every other: the incident drill starts the shop with the problems it
//! drew this way. A `--fix-…` flag, or `--fixed`, fixes a problem even
//! when it is listed.

use clap::builder::BoolishValueParser;

use crate::problems::{Planted, Problem};

/// Fix switches, shared by every service's command line; each service reads
/// the ones that concern it.
#[derive(clap::Args, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Fixes {
    /// Turn every fix on.
    #[arg(long, env = "FIX_ALL", value_parser = BoolishValueParser::new())]
    pub fixed: bool,
    /// gateway: look up talks, availability and prices concurrently, not one after another.
    #[arg(long, env = "FIX_FANOUT", value_parser = BoolishValueParser::new())]
    pub fix_fanout: bool,
    /// inventory: release the seat lock before recording the reservation in the database.
    #[arg(long, env = "FIX_LOCK", value_parser = BoolishValueParser::new())]
    pub fix_lock: bool,
    /// pricing: index the coupon book once, not on every quote.
    #[arg(long, env = "FIX_HOTSPOT", value_parser = BoolishValueParser::new())]
    pub fix_hotspot: bool,
    /// gateway: retry a failed payment with exponential backoff and jitter.
    #[arg(long, env = "FIX_RETRIES", value_parser = BoolishValueParser::new())]
    pub fix_retries: bool,
    /// pricing: format the price list only when the trace level is on.
    #[arg(long, env = "FIX_LOGGING", value_parser = BoolishValueParser::new())]
    pub fix_logging: bool,
    /// catalog: read the talks with their speakers and prices in one query,
    /// not a query per talk.
    #[arg(long, env = "FIX_N_PLUS_ONE", value_parser = BoolishValueParser::new())]
    pub fix_n_plus_one: bool,
    /// gateway: place each order as a saga that gives its seats back by
    /// idempotency key whenever it fails, even after its client has gone.
    #[arg(long, env = "FIX_CANCELLATION", value_parser = BoolishValueParser::new())]
    pub fix_cancellation: bool,
    /// gateway: give pricing the usual timeout, and do not ask again at once.
    #[arg(long, env = "FIX_RETRY_STORM", value_parser = BoolishValueParser::new())]
    pub fix_retry_storm: bool,
    /// payments: build the fraud model once, not for every charge.
    #[arg(long, env = "FIX_FRAUD_MODEL", value_parser = BoolishValueParser::new())]
    pub fix_fraud_model: bool,
    /// inventory: keep the audit log's index.
    #[arg(long, env = "FIX_INDEX", value_parser = BoolishValueParser::new())]
    pub fix_index: bool,
    /// Plant exactly these problems (their short names, comma-separated:
    /// fanout, lock, hotspot, retries, logging, n-plus-one, cancellation,
    /// retry-storm, fraud-model, index, clock, export-queue) and fix every
    /// other.
    #[arg(long, env = "PLANTED")]
    pub planted: Option<Planted>,
}

impl Fixes {
    /// Every fix on.
    pub fn all() -> Self {
        Self {
            fixed: true,
            ..Self::default()
        }
    }

    /// Exactly `problems` planted, every other fixed.
    pub fn planting(problems: &[Problem]) -> Self {
        Self {
            planted: Some(Planted::of(problems)),
            ..Self::default()
        }
    }

    /// Whether `problem` is planted in a service started with these fixes.
    pub fn is_planted(&self, problem: Problem) -> bool {
        let fix_flag = match problem {
            Problem::SerialFanOut => self.fix_fanout,
            Problem::LockAcrossIo => self.fix_lock,
            Problem::CouponIndexPerQuote => self.fix_hotspot,
            Problem::RetriesWithoutBackoff => self.fix_retries,
            Problem::EagerLogging => self.fix_logging,
            Problem::NPlusOne => self.fix_n_plus_one,
            Problem::WorkNobodyWaitsFor => self.fix_cancellation,
            Problem::RetryStorm => self.fix_retry_storm,
            Problem::FraudModelPerCharge => self.fix_fraud_model,
            Problem::MissingIndex => self.fix_index,
            // Planted by the environment a service is started in (see
            // `Problem::environment`), not by a switch of its own.
            Problem::ClockSkew | Problem::ExportQueueOverflow => false,
        };
        if self.fixed || fix_flag {
            return false;
        }
        match self.planted {
            Some(listed) => listed.contains(problem),
            None => problem.in_the_demo(),
        }
    }

    /// Whether `problem` is fixed.
    pub fn fixes(&self, problem: Problem) -> bool {
        !self.is_planted(problem)
    }

    pub fn fanout(&self) -> bool {
        self.fixes(Problem::SerialFanOut)
    }
    pub fn lock(&self) -> bool {
        self.fixes(Problem::LockAcrossIo)
    }
    pub fn hotspot(&self) -> bool {
        self.fixes(Problem::CouponIndexPerQuote)
    }
    pub fn retries(&self) -> bool {
        self.fixes(Problem::RetriesWithoutBackoff)
    }
    pub fn logging(&self) -> bool {
        self.fixes(Problem::EagerLogging)
    }
    pub fn n_plus_one(&self) -> bool {
        self.fixes(Problem::NPlusOne)
    }
    pub fn cancellation(&self) -> bool {
        self.fixes(Problem::WorkNobodyWaitsFor)
    }
    pub fn retry_storm(&self) -> bool {
        self.fixes(Problem::RetryStorm)
    }
    pub fn fraud_model(&self) -> bool {
        self.fixes(Problem::FraudModelPerCharge)
    }
    pub fn index(&self) -> bool {
        self.fixes(Problem::MissingIndex)
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Parser)]
    struct Args {
        #[command(flatten)]
        fixes: Fixes,
    }

    #[test]
    fn flags_turn_fixes_on_and_fixed_turns_them_all_on() {
        let one = Args::parse_from(["svc", "--fix-lock"]).fixes;
        assert!(one.lock() && !one.fanout());
        let all = Args::parse_from(["svc", "--fixed"]).fixes;
        assert!(all.fanout() && all.lock() && all.hotspot() && all.retries() && all.logging());
        assert!(all.n_plus_one() && all.cancellation());
        let n_plus_one = Args::parse_from(["svc", "--fix-n-plus-one"]).fixes;
        assert!(n_plus_one.n_plus_one() && !n_plus_one.lock());
        let cancellation = Args::parse_from(["svc", "--fix-cancellation"]).fixes;
        assert!(cancellation.cancellation() && !cancellation.retries());
        assert_eq!(Args::parse_from(["svc"]).fixes, Fixes::default());
    }

    #[test]
    fn the_demo_plants_seven_and_planted_plants_exactly_its_list() {
        let demo = Args::parse_from(["svc"]).fixes;
        for problem in Problem::ALL {
            assert_eq!(demo.is_planted(problem), problem.in_the_demo(), "{problem}");
        }
        let drawn = Args::parse_from(["svc", "--planted", "index,lock"]).fixes;
        let planted: Vec<Problem> = Problem::ALL
            .into_iter()
            .filter(|p| drawn.is_planted(*p))
            .collect();
        assert_eq!(planted, [Problem::LockAcrossIo, Problem::MissingIndex]);
        let fixed_anyway = Args::parse_from(["svc", "--planted", "index,lock", "--fix-lock"]).fixes;
        assert!(fixed_anyway.lock() && !fixed_anyway.index());
        let none = Args::parse_from(["svc", "--planted", ""]).fixes;
        assert!(Problem::ALL.into_iter().all(|p| none.fixes(p)));
        assert_eq!(
            Fixes::planting(&[Problem::ClockSkew]),
            Args::parse_from(["svc", "--planted", "clock"]).fixes
        );
    }
}
