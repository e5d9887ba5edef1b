//! This crate has no code. Its only job is in its `Cargo.toml`: see there.
