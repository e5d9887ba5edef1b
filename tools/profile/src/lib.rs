//! `just profile TARGET`: where the time goes, as a flamegraph.
//!
//! The profiler is pprof-rs, in process: it samples the running thread's
//! stack about a thousand times a second (a `SIGPROF` timer) while the
//! target's workload runs, then folds the stacks and draws them with
//! inferno. No `perf`, no kernel settings, no system library: it works on
//! a fresh laptop, offline. The price is that only this process is seen,
//! which is all a hot function needs.

use std::path::Path;
use std::time::{Duration, Instant};

use clap::ValueEnum;

/// What to profile: each is a workload that runs until time is up.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Target {
    /// Your pricer from lab 08 (`labs/08-hot-spot/src/pricer.rs`).
    Lab8,
    /// Lab 08's original pricer, the baseline.
    Lab8Original,
    /// The demo's pricing service's quote path, with its planted hot spot.
    Pricing,
}

impl Target {
    /// Runs one round of the workload.
    fn workload(self) -> Box<dyn FnMut()> {
        match self {
            Target::Lab8 | Target::Lab8Original => {
                let book = lab08::book::conference_book(2_000);
                let orders = lab8_orders(&book);
                if self == Target::Lab8 {
                    let pricer = lab08::pricer::Pricer::new(&book);
                    quote_all(orders, move |order| pricer.quote(order))
                } else {
                    let pricer = lab08::original::OriginalPricer::new(&book);
                    quote_all(orders, move |order| pricer.quote(order))
                }
            }
            Target::Pricing => {
                let book = pricing::coupon_book();
                Box::new(move || {
                    // What every quote did with the hot spot on: index the
                    // whole book, then look one code up.
                    let index = pricing::CouponIndex::new(&book);
                    std::hint::black_box(index.find("guest-00042"));
                })
            }
        }
    }
}

/// A round of lab 08's workload: every order quoted once.
fn quote_all(
    orders: Vec<lab08::book::Order>,
    quote: impl Fn(&lab08::book::Order) -> Result<lab08::book::Quote, lab08::book::PriceError> + 'static,
) -> Box<dyn FnMut()> {
    Box::new(move || {
        for order in &orders {
            std::hint::black_box(quote(order)).ok();
        }
    })
}

fn lab8_orders(book: &lab08::book::Book) -> Vec<lab08::book::Order> {
    use lab08::book::{Line, Order};
    (0..16_u32)
        .map(|n| Order {
            lines: (1..=n % 4 + 1)
                .map(|talk_id| Line { talk_id, seats: 2 })
                .collect(),
            coupon: Some(
                book.coupons[n as usize * 97 % book.coupons.len()]
                    .code
                    .clone(),
            ),
        })
        .collect()
}

/// Profiles `target` for `duration` and writes the flamegraph to `svg`;
/// returns how many rounds of the workload ran.
pub fn profile(target: Target, duration: Duration, svg: &Path) -> Result<u64, String> {
    let mut workload = target.workload();
    let guard = pprof::ProfilerGuardBuilder::default()
        .frequency(997)
        // Frames inside the C library and the signal trampoline say
        // nothing about the workload.
        .blocklist(&["libc", "libgcc", "pthread", "vdso"])
        .build()
        .map_err(|error| format!("cannot start the profiler: {error}"))?;
    let started = Instant::now();
    let mut rounds = 0;
    while started.elapsed() < duration {
        workload();
        rounds += 1;
    }
    let report = guard
        .report()
        .build()
        .map_err(|error| format!("cannot build the profile: {error}"))?;
    if let Some(dir) = svg.parent() {
        std::fs::create_dir_all(dir).map_err(|error| format!("{}: {error}", dir.display()))?;
    }
    let file = std::fs::File::create(svg).map_err(|error| format!("{}: {error}", svg.display()))?;
    report
        .flamegraph(file)
        .map_err(|error| format!("cannot draw the flamegraph: {error}"))?;
    Ok(rounds)
}
