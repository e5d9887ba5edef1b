//! The grader of lab 12. `just lab 12` runs it and explains each result.
//!
//! Two things are checked, both against the original code in the same
//! process: that your pricer gives the very same result for every order
//! (property-based: hundreds of generated orders), and that it is at least
//! five times faster. Speed is judged as a ratio of the two, measured in
//! alternating rounds, never as an absolute time: a busy laptop slows both.

use grader_kit::timing::{Side, median_cost_ratio};
use lab12::book::{Book, Line, Order, conference_book};
use lab12::original::OriginalPricer;
use lab12::pricer::Pricer;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestError, TestRunner};

grader_kit::checks![same_quotes_as_the_original, at_least_five_times_faster,];

/// How many times faster than the original the pricer must be.
const TARGET: f64 = 5.0;
const ROUNDS: usize = 7;
const ORDERS_PER_ROUND: usize = 16;

/// Orders as people place them: known and unknown talks, any number of
/// seats, and a coupon that is real (in any case), made up, or absent.
fn orders(book: &Book) -> impl Strategy<Value = Order> {
    let codes: Vec<String> = book.coupons.iter().map(|c| c.code.clone()).collect();
    let line = (0_u32..=9, 1_u64..=20).prop_map(|(talk_id, seats)| Line { talk_id, seats });
    let real = (prop::sample::select(codes), any::<bool>()).prop_map(|(code, shout)| {
        if shout {
            code.to_uppercase()
        } else {
            code.to_lowercase()
        }
    });
    let coupon = prop_oneof![
        Just(None),
        real.prop_map(Some),
        "[a-zA-Z0-9-]{0,12}".prop_map(Some),
    ];
    (prop::collection::vec(line, 0..6), coupon).prop_map(|(lines, coupon)| Order { lines, coupon })
}

fn same_quotes_as_the_original() {
    let book = conference_book(300);
    let (original, pricer) = (OriginalPricer::new(&book), Pricer::new(&book));
    // No regression files: a learner's lab folder is not the place for them.
    let config = Config {
        cases: 400,
        failure_persistence: None,
        ..Config::default()
    };
    let result = TestRunner::new(config).run(&orders(&book), |order| {
        prop_assert!(pricer.quote(&order) == original.quote(&order));
        Ok(())
    });
    if let Err(failure) = result {
        let TestError::Fail(_, order) = failure else {
            panic!("the generated orders were all rejected: {failure}");
        };
        panic!(
            "Your pricer and the original disagree. The smallest order found where they \
             differ:\n  order:        {order:?}\n  the original: {:?}\n  your pricer:  {:?}\n\
             A faster pricer must give the very same quote, error and applied coupon for every \
             order (README, step 4).",
            original.quote(&order),
            pricer.quote(&order),
        );
    }
}

/// A fresh batch of orders per round, so that remembering past answers
/// does not pass for speed.
fn batch(book: &Book, round: usize) -> Vec<Order> {
    let mut rng = fastrand::Rng::with_seed(round as u64);
    (0..ORDERS_PER_ROUND)
        .map(|_| Order {
            lines: (0..rng.usize(1..5))
                .map(|_| Line {
                    talk_id: rng.u32(1..=8),
                    seats: rng.u64(1..=4),
                })
                .collect(),
            coupon: rng
                .bool()
                .then(|| book.coupons[rng.usize(..book.coupons.len())].code.clone()),
        })
        .collect()
}

fn at_least_five_times_faster() {
    let book = conference_book(2_000);
    let (original, pricer) = (OriginalPricer::new(&book), Pricer::new(&book));
    let batches: Vec<Vec<Order>> = (0..ROUNDS).map(|round| batch(&book, round)).collect();
    let cost = median_cost_ratio(ROUNDS, |round, side| {
        for order in &batches[round] {
            let order = std::hint::black_box(order);
            let quote = match side {
                Side::Baseline => original.quote(order),
                Side::Yours => pricer.quote(order),
            };
            std::hint::black_box(quote).ok();
        }
    });
    let median = 1.0 / cost;
    grader_kit::checks::measured(
        format!("your pricer: {median:.1}x as fast as the original; target {TARGET}x"),
        median,
        TARGET,
    );
    assert!(
        median >= TARGET,
        "your pricer is {median:.1}x as fast as the original (median of {ROUNDS} alternating \
         rounds of {ORDERS_PER_ROUND} orders); the target is {TARGET}x. Find what each quote \
         recomputes that depends only on the book (README, step 2), and build it once, in \
         `Pricer::new` (step 3)."
    );
}
