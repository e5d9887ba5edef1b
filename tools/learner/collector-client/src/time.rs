//! Time as the query API spells it: Unix microseconds, and durations in
//! Go's syntax (`250ms`, `1.5s`, `10m`), as Jaeger takes them.

/// Now, in Unix microseconds: the collector's unit of time.
pub fn now_us() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as u64)
}

/// Go's duration syntax, as Jaeger takes it: a number and a unit (`us`,
/// `µs`, `ms`, `s`, `m`, `h`), in microseconds. Too long a duration
/// saturates at `u64::MAX` µs (over 500,000 years): longer than any span,
/// and reaching back before the epoch.
pub fn duration_us(text: &str) -> Option<u64> {
    let split = text.find(|c: char| !(c.is_ascii_digit() || c == '.'))?;
    let (number, unit) = text.split_at(split);
    // Only digits and dots: no sign, exponent, NaN or infinity is spelled
    // out, but enough digits still make the product infinite.
    let number: f64 = number.parse().ok()?;
    let scale = match unit {
        "us" | "µs" => 1.0,
        "ms" => 1e3,
        "s" => 1e6,
        "m" => 60e6,
        "h" => 3600e6,
        _ => return None,
    };
    // A float-to-integer `as` saturates (infinity to u64::MAX), never wraps.
    Some((number * scale).round() as u64)
}
