//! The switches that turn the planted problems off.
//!
//! Like the `--fix-*` flags of Jaeger's HotROD demo: every problem is on by
//! default, so the demo shows it, and each has a flag (or environment
//! variable) that fixes it, so the same tools can show the difference.
//! `--fixed` turns every fix on.

/// Fix switches, shared by every service's command line; each service reads
/// the ones that concern it.
#[derive(clap::Args, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Fixes {
    /// Turn every fix on.
    #[arg(long, env = "FIX_ALL")]
    pub fixed: bool,
    /// gateway: look up talks, availability and prices concurrently, not one after another.
    #[arg(long, env = "FIX_FANOUT")]
    pub fix_fanout: bool,
    /// inventory: release the seat lock before writing the audit record.
    #[arg(long, env = "FIX_LOCK")]
    pub fix_lock: bool,
    /// pricing: index the coupon book once, not on every quote.
    #[arg(long, env = "FIX_HOTSPOT")]
    pub fix_hotspot: bool,
    /// gateway: retry a failed payment with exponential backoff and jitter.
    #[arg(long, env = "FIX_RETRIES")]
    pub fix_retries: bool,
    /// pricing: format the price list only when the trace level is on.
    #[arg(long, env = "FIX_LOGGING")]
    pub fix_logging: bool,
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
}
