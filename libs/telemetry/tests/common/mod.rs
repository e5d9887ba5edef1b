//! What the span-profile tests share: CPU burned in a function a profile
//! can name, and the profiler's own counts of its samples.

use std::hint::black_box;

use nix::time::{ClockId, clock_gettime};

fn thread_cpu_ms() -> f64 {
    let now = clock_gettime(ClockId::CLOCK_THREAD_CPUTIME_ID).expect("a thread CPU clock");
    now.tv_sec() as f64 * 1e3 + now.tv_nsec() as f64 / 1e6
}

/// Burns `ms` of this thread's CPU time, in a function a profile can name:
/// its own CPU clock, not the wall clock, so a busy machine cannot make it
/// burn less.
#[inline(never)]
pub fn burn_in_a_named_function(ms: f64) -> u64 {
    let until = thread_cpu_ms() + ms;
    let mut x = 1u64;
    while thread_cpu_ms() < until {
        // Mostly arithmetic: the clock is a system call, in the C library,
        // where samples are skipped.
        for _ in 0..100_000 {
            x = black_box(x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1));
        }
    }
    x
}

/// This process's count of samples with `outcome` (`sent`, `not_sent`…),
/// from its own metrics.
pub fn samples(outcome: &str) -> u64 {
    let prefix = format!("span_profile_samples_total{{outcome=\"{outcome}\"}} ");
    telemetry::metrics::encode()
        .lines()
        .find_map(|line| line.strip_prefix(prefix.as_str()))
        .and_then(|count| count.trim().parse().ok())
        .unwrap_or(0)
}
