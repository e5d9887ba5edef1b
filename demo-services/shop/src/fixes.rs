//! The switches that turn the planted problems off.
//!
//! Like the `--fix-*` flags of Jaeger's HotROD demo: every problem is on by
//! default, so the demo shows it, and each has a flag (or environment
//! variable) that fixes it, so the same tools can show the difference.
//! `--fixed` turns every fix on. The environment variables take the usual
//! spellings of yes and no (`1`, `true`, `yes`, `0`, `false`, `no`).

use clap::builder::BoolishValueParser;

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
}

impl Fixes {
    /// Every fix on.
    pub fn all() -> Self {
        Self {
            fixed: true,
            ..Self::default()
        }
    }

    pub fn fanout(&self) -> bool {
        self.fixed || self.fix_fanout
    }
    pub fn lock(&self) -> bool {
        self.fixed || self.fix_lock
    }
    pub fn hotspot(&self) -> bool {
        self.fixed || self.fix_hotspot
    }
    pub fn retries(&self) -> bool {
        self.fixed || self.fix_retries
    }
    pub fn logging(&self) -> bool {
        self.fixed || self.fix_logging
    }
    pub fn n_plus_one(&self) -> bool {
        self.fixed || self.fix_n_plus_one
    }
    pub fn cancellation(&self) -> bool {
        self.fixed || self.fix_cancellation
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
}
