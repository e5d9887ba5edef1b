//! A tail sampler's answer: given, do not change.

/// Whether a complete trace is stored, every span of it, or dropped, every
/// span of it: a tail sampler never keeps half a trace.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Keep {
    /// Stored.
    Yes,
    /// Dropped.
    No,
}
