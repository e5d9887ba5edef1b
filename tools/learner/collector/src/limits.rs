//! What the collector keeps of what it is sent.
//!
//! A sender decides how large its spans are, and a small export can carry a
//! great deal: ten gzip exports of 63 KB once held 150 spans with 4 MB
//! attributes and took 600 MB of the collector's memory, about 1,000 bytes
//! for each byte sent. So, as real backends and the OpenTelemetry SDK's own
//! span limits do, every span is trimmed as it arrives ([`Limits::trim`]):
//! long strings are cut, attributes, events and links past a count are
//! dropped. A trace takes at most so many spans, and the store holds an
//! estimate of its bytes within a budget besides its count of spans (both in
//! [`crate::store`]).
//!
//! CPU samples linked to spans (OTLP profiles) are bounded the same way: at
//! most so many, within a budget of estimated bytes, the oldest evicted
//! first; a stack at most so deep, a function's name as long as any string.
//!
//! Everything cut, dropped or evicted is counted (`Store::stats`) and logged
//! ([`Warnings`]), at most one line a kind every [`WARNING_INTERVAL`], with
//! the count since the kind's last line: a flood of spans must not become a
//! flood of log lines too.

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use trace_analysis::model::{Span, Value};

/// The longest string kept, in bytes of UTF-8: attribute values above all,
/// and keys, span names and event names, which a sender fills as freely.
/// A URL, an SQL statement or a stack trace a learner reads in the
/// waterfall fits in 4 KiB; a request body or a file does not, and a page
/// of it helps no one read a trace.
pub const MAX_VALUE_BYTES: usize = 4 * 1024;
/// Attributes kept per span, per event and per resource; the first ones are
/// kept. The OpenTelemetry SDK's default limit, which what an instrumented
/// service sends rarely comes near.
pub const MAX_ATTRIBUTES: usize = 128;
/// Events kept per span, the first ones, as the SDK keeps them: the SDK's
/// default.
pub const MAX_EVENTS: usize = 128;
/// Links kept per span, the first ones: the SDK's default.
pub const MAX_LINKS: usize = 128;
/// Spans kept per trace; a trace's later spans are dropped. A request of
/// the demo makes about 20; a trace of 10,000 is a loop instrumented once an
/// iteration, which no waterfall shows usefully, and without a bound one
/// runaway trace could fill the whole store.
pub const MAX_SPANS_PER_TRACE: usize = 10_000;
/// Spans kept in memory, all traces together.
pub const MAX_SPANS: usize = 1_000_000;
/// The store's budget, in estimated bytes (`Span::estimated_bytes`). A
/// span of the demo is estimated at about 1.1 KB, so this holds some
/// 450,000 of them, twenty times what a 20-second `just demo` sends. The
/// estimate leaves out the allocator's slack and the spare room of growing
/// lists, which may add half as much again: about 800 MB at the most, room
/// to spare on a laptop that also builds and runs the workshop.
pub const MAX_BYTES: usize = 512 * 1024 * 1024;
/// CPU samples kept in memory, all services together: each one a `Sample`
/// of an OTLP profile, linked to the span it was taken in. A service
/// sampled at 100 Hz sends at most 100 a second for each core it keeps
/// busy, so the demo's services, busy on a laptop, send a few hundred a
/// second: this holds the last twenty minutes or more of them, at some 50
/// bytes each (25 MB) when their stacks repeat, as a running service's do.
pub const MAX_SAMPLES: usize = 500_000;
/// The samples' budget, in estimated bytes: each sample, and each stack
/// and function name once, however many samples share it. Samples of
/// repeated stacks stay well within it ([`MAX_SAMPLES`] of them come to
/// about 25 MB); it bounds stacks and names that never repeat, a sender's
/// bug or an attack, which would otherwise grow with every sample.
pub const MAX_SAMPLE_BYTES: usize = 64 * 1024 * 1024;
/// The deepest stack kept, in frames (inlined functions each a frame of
/// their own). pprof-rs walks at most 128 frames of a stack; deeper is a
/// runaway recursion, whose middle says nothing a flame graph can show. A
/// deeper stack keeps its outermost and innermost frames around
/// `trace_analysis::aggregate::ELIDED`, as a deep calling context does.
pub const MAX_STACK_FRAMES: usize = 256;
/// Ends a string cut to [`Limits::max_value_bytes`], so that a reader
/// knows there was more.
pub const TRUNCATION_MARK: char = '…';
/// At most one log line of each kind this often.
pub const WARNING_INTERVAL: Duration = Duration::from_secs(10);

/// The bounds on what is kept.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    pub max_value_bytes: usize,
    pub max_attributes: usize,
    pub max_events: usize,
    pub max_links: usize,
    pub max_spans_per_trace: usize,
    pub max_spans: usize,
    pub max_bytes: usize,
    /// CPU samples kept; past this, the oldest are evicted.
    pub max_samples: usize,
    /// The samples' estimated bytes kept; past this, the oldest are evicted.
    pub max_sample_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_value_bytes: MAX_VALUE_BYTES,
            max_attributes: MAX_ATTRIBUTES,
            max_events: MAX_EVENTS,
            max_links: MAX_LINKS,
            max_spans_per_trace: MAX_SPANS_PER_TRACE,
            max_spans: MAX_SPANS,
            max_bytes: MAX_BYTES,
            max_samples: MAX_SAMPLES,
            max_sample_bytes: MAX_SAMPLE_BYTES,
        }
    }
}

/// What trimming cut and dropped.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Trimmed {
    /// Strings cut to the length limit.
    pub strings_truncated: u64,
    /// Attributes dropped from spans, events and resources.
    pub attributes_dropped: u64,
    pub events_dropped: u64,
    pub links_dropped: u64,
}

type Attributes = Vec<(String, Value)>;

impl Limits {
    /// Trims every span of a batch to the limits, in place.
    ///
    /// The spans of one export share their resource: it is trimmed (and
    /// counted) once, and all of them share the trimmed one. Consecutive
    /// spans whose resources are equal but apart, as those read back from
    /// the data file, come to share one too, as they did when they arrived.
    pub fn trim(&self, batch: &mut [Span]) -> Trimmed {
        let mut trimmed = Trimmed::default();
        let mut shared: Option<(Arc<Attributes>, Arc<Attributes>)> = None;
        for span in batch.iter_mut() {
            self.trim_span(span, &mut trimmed);
            let already = shared
                .as_ref()
                .filter(|(original, _)| {
                    Arc::ptr_eq(original, &span.resource) || **original == *span.resource
                })
                .map(|(_, kept)| Arc::clone(kept));
            span.resource = match already {
                Some(kept) => kept,
                None => {
                    let original = Arc::clone(&span.resource);
                    let kept = self.trim_resource(&original, &mut trimmed);
                    shared = Some((original, Arc::clone(&kept)));
                    kept
                }
            };
        }
        trimmed
    }

    fn trim_span(&self, span: &mut Span, trimmed: &mut Trimmed) {
        self.cut(&mut span.service, trimmed);
        self.cut(&mut span.name, trimmed);
        self.trim_attributes(&mut span.attributes, trimmed);
        if span.events.len() > self.max_events {
            trimmed.events_dropped += (span.events.len() - self.max_events) as u64;
            span.events.truncate(self.max_events);
            span.events.shrink_to_fit();
        }
        for event in &mut span.events {
            self.cut(&mut event.name, trimmed);
            self.trim_attributes(&mut event.attributes, trimmed);
        }
        if span.links.len() > self.max_links {
            trimmed.links_dropped += (span.links.len() - self.max_links) as u64;
            span.links.truncate(self.max_links);
            span.links.shrink_to_fit();
        }
    }

    /// The resource within the limits: the same one when it is already.
    fn trim_resource(&self, resource: &Arc<Attributes>, trimmed: &mut Trimmed) -> Arc<Attributes> {
        let within = resource.len() <= self.max_attributes
            && resource
                .iter()
                .all(|(key, value)| key.len() <= self.max_value_bytes && self.fits(value));
        if within {
            return Arc::clone(resource);
        }
        let mut attributes: Attributes =
            resource.iter().take(self.max_attributes).cloned().collect();
        trimmed.attributes_dropped += (resource.len() - attributes.len()) as u64;
        self.trim_attributes(&mut attributes, trimmed);
        Arc::new(attributes)
    }

    fn trim_attributes(&self, attributes: &mut Attributes, trimmed: &mut Trimmed) {
        if attributes.len() > self.max_attributes {
            trimmed.attributes_dropped += (attributes.len() - self.max_attributes) as u64;
            attributes.truncate(self.max_attributes);
            attributes.shrink_to_fit();
        }
        for (key, value) in attributes.iter_mut() {
            self.cut(key, trimmed);
            if let Value::Str(text) = value {
                self.cut(text, trimmed);
            }
        }
    }

    fn fits(&self, value: &Value) -> bool {
        match value {
            Value::Str(text) => text.len() <= self.max_value_bytes,
            Value::Bool(_) | Value::Int(_) | Value::Float(_) => true,
        }
    }

    fn cut(&self, text: &mut String, trimmed: &mut Trimmed) {
        if truncate(text, self.max_value_bytes) {
            trimmed.strings_truncated += 1;
        }
    }
}

/// Cuts `text` to at most `max_bytes` bytes, on a character's boundary, and
/// ends it with [`TRUNCATION_MARK`] (within those bytes, when they have
/// room for it); whether it was cut. The memory of what was cut is given
/// back: that memory is the point.
pub fn truncate(text: &mut String, max_bytes: usize) -> bool {
    if text.len() <= max_bytes {
        return false;
    }
    let mark = TRUNCATION_MARK.len_utf8();
    let mut end = max_bytes.checked_sub(mark).unwrap_or(max_bytes);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text.truncate(end);
    if max_bytes >= mark {
        text.push(TRUNCATION_MARK);
    }
    text.shrink_to_fit();
    true
}

/// A size in bytes, as a flag or an environment variable gives it: a whole
/// number of bytes, or of KiB, MiB or GiB (`512MiB`, `4 KiB`), or of kB, MB
/// or GB (powers of 1,000); units in any case.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ByteSize(pub usize);

const KIB: usize = 1024;
const MIB: usize = 1024 * KIB;
const GIB: usize = 1024 * MIB;

impl FromStr for ByteSize {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let trimmed = text.trim();
        let digits = trimmed
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(trimmed.len());
        let (number, unit) = trimmed.split_at(digits);
        let scale = match unit.trim().to_ascii_lowercase().as_str() {
            "" | "b" | "byte" | "bytes" => Some(1),
            "kib" => Some(KIB),
            "mib" => Some(MIB),
            "gib" => Some(GIB),
            "kb" => Some(1_000),
            "mb" => Some(1_000_000),
            "gb" => Some(1_000_000_000),
            _ => None,
        };
        let bytes = number
            .parse::<usize>()
            .ok()
            .zip(scale)
            .map(|(number, scale)| number.checked_mul(scale))
            .ok_or_else(|| {
                format!(
                    "{text:?} is not a size: write a whole number of bytes, or one with KiB, MiB or GiB (512MiB)"
                )
            })?
            .ok_or_else(|| format!("{text:?} is more bytes than this machine can count"))?;
        if bytes == 0 {
            return Err(format!("{text:?}: a limit of 0 bytes would keep nothing"));
        }
        Ok(Self(bytes))
    }
}

/// The largest binary unit that divides it (`512 MiB`), else bytes: what
/// [`ByteSize::from_str`] reads back.
impl fmt::Display for ByteSize {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let bytes = self.0;
        match [(GIB, "GiB"), (MIB, "MiB"), (KIB, "KiB")]
            .into_iter()
            .find(|&(unit, _)| bytes > 0 && bytes.is_multiple_of(unit))
        {
            Some((unit, name)) => write!(f, "{} {name}", bytes / unit),
            None if bytes == 1 => f.write_str("1 byte"),
            None => write!(f, "{bytes} bytes"),
        }
    }
}

/// A count with its thousands grouped, as a person reads it: `56,789`.
pub fn grouped(count: u64) -> String {
    let digits = count.to_string();
    let mut text = String::with_capacity(digits.len() + digits.len() / 3);
    for (index, digit) in digits.chars().enumerate() {
        if index > 0 && (digits.len() - index).is_multiple_of(3) {
            text.push(',');
        }
        text.push(digit);
    }
    text
}

/// `1 trace`, `2 traces`.
fn counted(count: u64, noun: &str) -> String {
    let plural = if count == 1 { "" } else { "s" };
    format!("{} {noun}{plural}", grouped(count))
}

/// What one insertion cut, dropped and evicted.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Changes {
    pub trimmed: Trimmed,
    /// Spans dropped because their trace was full.
    pub spans_dropped: u64,
    pub traces_evicted: u64,
    pub spans_evicted: u64,
    /// CPU samples evicted, oldest first, to stay within their bounds.
    pub samples_evicted: u64,
}

/// A log line due: one kind, and its count since the kind's last line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Warning {
    Truncated(u64),
    AttributesDropped(u64),
    EventsDropped(u64),
    LinksDropped(u64),
    SpansDropped(u64),
    Evicted { traces: u64, spans: u64 },
    SamplesEvicted(u64),
}

impl Warning {
    /// The line, as a person reads it.
    pub fn message(&self, limits: &Limits) -> String {
        match *self {
            Warning::Truncated(count) => format!(
                "cut {} longer than {} (attribute values, keys, span, event or function names); each ends in {TRUNCATION_MARK}",
                counted(count, "string"),
                ByteSize(limits.max_value_bytes),
            ),
            Warning::AttributesDropped(count) => format!(
                "dropped {} past {} on a span, event or resource",
                counted(count, "attribute"),
                grouped(limits.max_attributes as u64),
            ),
            Warning::EventsDropped(count) => format!(
                "dropped {} past {} on a span",
                counted(count, "event"),
                grouped(limits.max_events as u64),
            ),
            Warning::LinksDropped(count) => format!(
                "dropped {} past {} on a span",
                counted(count, "link"),
                grouped(limits.max_links as u64),
            ),
            Warning::SpansDropped(count) => format!(
                "dropped {} of traces that already had {}",
                counted(count, "span"),
                counted(limits.max_spans_per_trace as u64, "span"),
            ),
            Warning::Evicted { traces, spans } => format!(
                "evicted {} ({}) to stay within {} and {}",
                counted(traces, "trace"),
                counted(spans, "span"),
                ByteSize(limits.max_bytes),
                counted(limits.max_spans as u64, "span"),
            ),
            Warning::SamplesEvicted(count) => format!(
                "evicted {}, oldest first, to stay within {} and {}",
                counted(count, "CPU sample"),
                ByteSize(limits.max_sample_bytes),
                counted(limits.max_samples as u64, "sample"),
            ),
        }
    }

    fn kind(&self) -> &'static str {
        match self {
            Warning::Truncated(_) => "truncated",
            Warning::AttributesDropped(_) => "attributes_dropped",
            Warning::EventsDropped(_) => "events_dropped",
            Warning::LinksDropped(_) => "links_dropped",
            Warning::SpansDropped(_) => "spans_dropped",
            Warning::Evicted { .. } => "evicted",
            Warning::SamplesEvicted(_) => "samples_evicted",
        }
    }

    pub fn log(&self, limits: &Limits) {
        tracing::warn!(kind = self.kind(), "{}", self.message(limits));
    }
}

/// One kind's counts since its last line, and when that line was.
#[derive(Debug, Default)]
struct Throttle {
    last_line: Option<Instant>,
    /// The count, and a second one where the kind has one (an eviction's
    /// spans beside its traces).
    pending: (u64, u64),
}

impl Throttle {
    /// Adds an occurrence; the counts to log now, if a line is due.
    fn add(&mut self, counts: (u64, u64), now: Instant) -> Option<(u64, u64)> {
        self.pending.0 += counts.0;
        self.pending.1 += counts.1;
        self.due(now)
    }

    /// The counts to log now: some since the last line, and that line
    /// [`WARNING_INTERVAL`] ago or more (or none yet).
    fn due(&mut self, now: Instant) -> Option<(u64, u64)> {
        let recent = self
            .last_line
            .is_some_and(|last| now.saturating_duration_since(last) < WARNING_INTERVAL);
        if self.pending.0 == 0 || recent {
            return None;
        }
        self.last_line = Some(now);
        Some(std::mem::take(&mut self.pending))
    }
}

/// How a kind's counts make its line.
type LineOf = fn((u64, u64)) -> Warning;

/// The log lines of cuts, drops and evictions, each kind held to one line
/// every [`WARNING_INTERVAL`].
#[derive(Debug, Default)]
pub struct Warnings {
    truncated: Throttle,
    attributes_dropped: Throttle,
    events_dropped: Throttle,
    links_dropped: Throttle,
    spans_dropped: Throttle,
    evicted: Throttle,
    samples_evicted: Throttle,
}

impl Warnings {
    /// Counts an insertion's changes; the lines due now.
    pub fn record(&mut self, changes: &Changes, now: Instant) -> Vec<Warning> {
        let trimmed = &changes.trimmed;
        let occurred = [
            (trimmed.strings_truncated, 0),
            (trimmed.attributes_dropped, 0),
            (trimmed.events_dropped, 0),
            (trimmed.links_dropped, 0),
            (changes.spans_dropped, 0),
            (changes.traces_evicted, changes.spans_evicted),
            (changes.samples_evicted, 0),
        ];
        self.throttles()
            .into_iter()
            .zip(occurred)
            .filter(|(_, counts)| counts.0 > 0)
            .filter_map(|((throttle, warning), counts)| throttle.add(counts, now).map(warning))
            .collect()
    }

    /// The lines held back that are due now: for a caller that ticks, so
    /// that the end of a burst is told even when nothing follows it.
    pub fn due(&mut self, now: Instant) -> Vec<Warning> {
        self.throttles()
            .into_iter()
            .filter_map(|(throttle, warning)| throttle.due(now).map(warning))
            .collect()
    }

    /// Each kind's throttle, and how its counts make its line.
    fn throttles(&mut self) -> [(&mut Throttle, LineOf); 7] {
        [
            (&mut self.truncated, |(count, _)| Warning::Truncated(count)),
            (&mut self.attributes_dropped, |(count, _)| {
                Warning::AttributesDropped(count)
            }),
            (&mut self.events_dropped, |(count, _)| {
                Warning::EventsDropped(count)
            }),
            (&mut self.links_dropped, |(count, _)| {
                Warning::LinksDropped(count)
            }),
            (&mut self.spans_dropped, |(count, _)| {
                Warning::SpansDropped(count)
            }),
            (&mut self.evicted, |(traces, spans)| Warning::Evicted {
                traces,
                spans,
            }),
            (&mut self.samples_evicted, |(count, _)| {
                Warning::SamplesEvicted(count)
            }),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use trace_analysis::model::Event;

    #[test]
    fn a_cut_string_keeps_whole_characters_within_the_limit_and_is_marked() {
        // "€" is three bytes: the limit falls inside one at many lengths.
        let original = "ab€".repeat(2_000);
        for max in [0, 1, 2, 3, 4, 5, 6, 7, 100, 4_096] {
            let mut text = original.clone();
            assert!(truncate(&mut text, max), "{max}: cut");
            assert!(text.len() <= max, "{max}: {} bytes kept", text.len());
            let kept = text.strip_suffix(TRUNCATION_MARK).unwrap_or(&text);
            assert!(original.starts_with(kept), "{max}: {text:?} is a prefix");
            assert_eq!(
                text.ends_with(TRUNCATION_MARK),
                max >= TRUNCATION_MARK.len_utf8(),
                "{max}: marked when the mark fits: {text:?}"
            );
            // Nothing lost that would have fitted: one more character of
            // the original would not.
            let next = original[kept.len()..]
                .chars()
                .next()
                .map_or(0, char::len_utf8);
            let marked = if max >= 3 { 3 } else { 0 };
            assert!(
                kept.len() + next + marked > max,
                "{max}: {kept:?} could have kept one more character"
            );
        }
        let mut short = "café".to_owned();
        assert!(!truncate(&mut short, 5), "five bytes fit in five");
        assert_eq!(short, "café");
    }

    fn span_with(attributes: usize, events: usize, links: usize) -> Span {
        let attribute = |i: usize| (format!("key{i}"), Value::Str("x".repeat(i)));
        Span {
            attributes: (0..attributes).map(attribute).collect(),
            events: (0..events)
                .map(|i| Event {
                    time_us: i as u64,
                    name: format!("event{i}"),
                    attributes: (0..attributes).map(attribute).collect(),
                })
                .collect(),
            links: (0..links)
                .map(|i| (format!("{i:032x}"), format!("{i:016x}")))
                .collect(),
            ..Span::default()
        }
    }

    #[test]
    fn counts_past_the_limits_are_dropped_and_counted() {
        let limits = Limits {
            max_value_bytes: 10,
            max_attributes: 4,
            max_events: 2,
            max_links: 3,
            ..Limits::default()
        };
        let mut batch = vec![span_with(6, 5, 7)];
        let trimmed = limits.trim(&mut batch);
        let span = &batch[0];
        let keys: Vec<&str> = span.attributes.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(
            keys,
            ["key0", "key1", "key2", "key3"],
            "the first attributes"
        );
        let events: Vec<&str> = span.events.iter().map(|e| e.name.as_str()).collect();
        assert_eq!(events, ["event0", "event1"], "the first events");
        assert!(
            span.events.iter().all(|e| e.attributes.len() == 4),
            "each event's attributes are bounded too: {:?}",
            span.events
        );
        assert_eq!(span.links.len(), 3, "the first links: {:?}", span.links);
        assert_eq!(
            trimmed,
            Trimmed {
                strings_truncated: 0,
                // 2 of the span's, 2 of each of the 2 events kept.
                attributes_dropped: 2 + 2 * 2,
                events_dropped: 3,
                links_dropped: 4,
            }
        );
    }

    #[test]
    fn a_shared_resource_is_trimmed_once_and_stays_shared() {
        let limits = Limits {
            max_value_bytes: 8,
            ..Limits::default()
        };
        let resource = Arc::new(vec![(
            "host".to_owned(),
            Value::Str("a very long host name".to_owned()),
        )]);
        let one = Span {
            resource: Arc::clone(&resource),
            ..Span::default()
        };
        // As read back from the data file: equal, but apart.
        let apart = Span {
            resource: Arc::new((*resource).clone()),
            ..Span::default()
        };
        let mut batch = vec![one.clone(), one, apart];
        let trimmed = limits.trim(&mut batch);
        assert_eq!(
            trimmed.strings_truncated, 1,
            "the shared value is cut once: {trimmed:?}"
        );
        assert!(
            Arc::ptr_eq(&batch[0].resource, &batch[1].resource),
            "the export's spans share the trimmed resource"
        );
        assert_eq!(batch[0].resource[0].1, Value::Str("a ver…".to_owned()));
        assert!(
            Arc::ptr_eq(&batch[2].resource, &batch[0].resource),
            "an equal copy apart comes to share it too"
        );

        let mut untouched = vec![Span::default()];
        let empty = Arc::clone(&untouched[0].resource);
        limits.trim(&mut untouched);
        assert!(
            Arc::ptr_eq(&empty, &untouched[0].resource),
            "a resource within the limits is not copied"
        );
    }

    const NO_LINE: [Warning; 0] = [];

    #[test]
    fn a_kind_logs_at_once_then_at_most_once_an_interval_with_the_count_since() {
        let start = Instant::now();
        let at = |seconds: u64| start + Duration::from_secs(seconds);
        let evicted = |traces, spans| Changes {
            traces_evicted: traces,
            spans_evicted: spans,
            ..Changes::default()
        };
        let mut warnings = Warnings::default();
        assert_eq!(
            warnings.record(&evicted(2, 20), at(0)),
            [Warning::Evicted {
                traces: 2,
                spans: 20
            }],
            "the first occurrence is told at once"
        );
        assert_eq!(warnings.record(&evicted(3, 30), at(1)), NO_LINE);
        assert_eq!(warnings.record(&evicted(4, 40), at(9)), NO_LINE);
        assert_eq!(warnings.due(at(9)), NO_LINE, "not yet ten seconds");
        let truncated = Changes {
            trimmed: Trimmed {
                strings_truncated: 5,
                ..Trimmed::default()
            },
            ..Changes::default()
        };
        assert_eq!(
            warnings.record(&truncated, at(9)),
            [Warning::Truncated(5)],
            "each kind has its own interval"
        );
        assert_eq!(
            warnings.record(&evicted(1, 10), at(10)),
            [Warning::Evicted {
                traces: 3 + 4 + 1,
                spans: 30 + 40 + 10
            }],
            "ten seconds on, the count since the last line"
        );
        assert_eq!(warnings.record(&evicted(6, 60), at(11)), NO_LINE);
        assert_eq!(
            warnings.due(at(15)),
            NO_LINE,
            "the evictions' interval runs"
        );
        assert_eq!(
            warnings.due(at(20)),
            [Warning::Evicted {
                traces: 6,
                spans: 60
            }],
            "a tick tells the end of a burst"
        );
        assert_eq!(warnings.due(at(100)), NO_LINE, "nothing since");
    }

    #[test]
    fn lines_read_as_a_person_reads_them() {
        let limits = Limits::default();
        assert_eq!(
            Warning::Evicted {
                traces: 1_234,
                spans: 56_789
            }
            .message(&limits),
            "evicted 1,234 traces (56,789 spans) to stay within 512 MiB and 1,000,000 spans"
        );
        assert_eq!(
            Warning::SpansDropped(1).message(&limits),
            "dropped 1 span of traces that already had 10,000 spans"
        );
        assert_eq!(
            Warning::SamplesEvicted(2_500).message(&limits),
            "evicted 2,500 CPU samples, oldest first, to stay within 64 MiB and 500,000 samples"
        );
        assert_eq!(grouped(0), "0");
        assert_eq!(grouped(999), "999");
        assert_eq!(grouped(1_000), "1,000");
        assert_eq!(grouped(u64::MAX), "18,446,744,073,709,551,615");
    }

    #[test]
    fn sizes_are_read_with_their_units_and_shown_so_they_read_back() {
        for (text, bytes) in [
            ("536870912", 512 * MIB),
            ("512MiB", 512 * MIB),
            ("512 mib", 512 * MIB),
            (" 4 KiB ", 4 * KIB),
            ("2GiB", 2 * GIB),
            ("100 bytes", 100),
            ("1b", 1),
            ("3MB", 3_000_000),
            ("5kb", 5_000),
        ] {
            assert_eq!(text.parse(), Ok(ByteSize(bytes)), "{text:?}");
            let shown = ByteSize(bytes).to_string();
            assert_eq!(shown.parse(), Ok(ByteSize(bytes)), "{shown:?} reads back");
        }
        assert_eq!(ByteSize(512 * MIB).to_string(), "512 MiB");
        assert_eq!(ByteSize(1_500).to_string(), "1500 bytes");
        for bad in ["", "MiB", "-1", "1.5GiB", "12 parsecs", "0", "0 KiB"] {
            let refused = bad.parse::<ByteSize>();
            assert!(
                refused.as_ref().is_err_and(|reason| reason.contains(bad)),
                "{bad:?} is refused with a reason that names it: {refused:?}"
            );
        }
        let huge = format!("{}GiB", usize::MAX);
        assert!(huge.parse::<ByteSize>().is_err(), "{huge} overflows");
    }
}
