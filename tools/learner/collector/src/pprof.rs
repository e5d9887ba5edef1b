//! pprof's profile format (`perftools.profiles`, `profile.proto` of
//! github.com/google/pprof): the messages of the `.pb.gz` files the
//! collector answers, which `go tool pprof` and speedscope read.
//!
//! They are declared here, with the field numbers and types of
//! `profile.proto`, rather than taken from the `pprof` crate (the services'
//! sampler): its generated messages need prost 0.12, a second protobuf
//! runtime beside the one OTLP's messages are built on (prost 0.14). Only
//! the fields the collector fills, and that a reader needs, are declared:
//! a reader skips none it expects (proto3 leaves an absent field at its
//! default), and no mapping is needed (`go tool pprof` takes a profile of
//! named functions without one).
//!
//! The conventions of the format that a writer must keep: `string_table[0]`
//! is `""`; ids of locations and functions are nonzero; a sample's
//! locations are listed leaf first; every sample has one value per
//! `sample_type`. On disk, the message is gzip-compressed.

/// A profile: its samples, their locations and functions, and the strings
/// every other field indexes.
#[derive(Clone, PartialEq, Eq, prost::Message)]
pub struct Profile {
    /// What each of a sample's values counts, in order:
    /// `[("samples","count"), ("cpu","nanoseconds")]` for a CPU profile.
    #[prost(message, repeated, tag = "1")]
    pub sample_type: Vec<ValueType>,
    #[prost(message, repeated, tag = "2")]
    pub sample: Vec<Sample>,
    #[prost(message, repeated, tag = "4")]
    pub location: Vec<Location>,
    #[prost(message, repeated, tag = "5")]
    pub function: Vec<Function>,
    /// Every string of the profile, each indexed by its place; the first
    /// is always `""`.
    #[prost(string, repeated, tag = "6")]
    pub string_table: Vec<String>,
    /// When the profiled time began, in Unix nanoseconds.
    #[prost(int64, tag = "9")]
    pub time_nanos: i64,
    /// How long the profiled time lasted, in nanoseconds.
    #[prost(int64, tag = "10")]
    pub duration_nanos: i64,
    /// What counts between two samples: `("cpu","nanoseconds")`.
    #[prost(message, optional, tag = "11")]
    pub period_type: Option<ValueType>,
    /// How much of [`Profile::period_type`] passes between two samples.
    #[prost(int64, tag = "12")]
    pub period: i64,
    /// Free text about the profile, as indices into the string table.
    #[prost(int64, repeated, tag = "13")]
    pub comment: Vec<i64>,
    /// The type (an index into the string table) of the value a reader
    /// shows unless told otherwise; unset, the last of
    /// [`Profile::sample_type`].
    #[prost(int64, tag = "14")]
    pub default_sample_type: i64,
}

/// What a value counts: its type and its unit, as indices into the string
/// table.
#[derive(Clone, PartialEq, Eq, prost::Message)]
pub struct ValueType {
    #[prost(int64, tag = "1")]
    pub r#type: i64,
    #[prost(int64, tag = "2")]
    pub unit: i64,
}

/// Values counted in one stack.
#[derive(Clone, PartialEq, Eq, prost::Message)]
pub struct Sample {
    /// Ids of [`Location`]s, the leaf first.
    #[prost(uint64, repeated, tag = "1")]
    pub location_id: Vec<u64>,
    /// One value per [`Profile::sample_type`], in its order.
    #[prost(int64, repeated, tag = "2")]
    pub value: Vec<i64>,
    #[prost(message, repeated, tag = "3")]
    pub label: Vec<Label>,
}

/// A sample's label: a key and a string value, as indices into the string
/// table (what `go tool pprof -tagfocus key=value` selects by).
#[derive(Clone, PartialEq, Eq, prost::Message)]
pub struct Label {
    #[prost(int64, tag = "1")]
    pub key: i64,
    #[prost(int64, tag = "2")]
    pub str: i64,
}

/// A place in the program: here one function's, with no address.
#[derive(Clone, PartialEq, Eq, prost::Message)]
pub struct Location {
    /// Nonzero, unique among the locations.
    #[prost(uint64, tag = "1")]
    pub id: u64,
    /// The functions at this place, a function inlined into the next
    /// before it (one here).
    #[prost(message, repeated, tag = "4")]
    pub line: Vec<Line>,
}

/// A function at a location.
#[derive(Clone, PartialEq, Eq, prost::Message)]
pub struct Line {
    /// The id of a [`Function`].
    #[prost(uint64, tag = "1")]
    pub function_id: u64,
}

/// A function: its names and file, as indices into the string table.
#[derive(Clone, PartialEq, Eq, prost::Message)]
pub struct Function {
    /// Nonzero, unique among the functions.
    #[prost(uint64, tag = "1")]
    pub id: u64,
    /// Its name as a person reads it.
    #[prost(int64, tag = "2")]
    pub name: i64,
    /// Its name as the system knows it (the same, here: the samples carry
    /// names already demangled).
    #[prost(int64, tag = "3")]
    pub system_name: i64,
    #[prost(int64, tag = "4")]
    pub filename: i64,
}
