//! Some spans' CPU samples as a pprof profile ([`crate::pprof`]),
//! gzip-compressed: the `.pb.gz` file that `go tool pprof` and speedscope
//! open, answered as a download.
//!
//! The stacks are those of the flame graph of the same spans, bounded
//! alike (the heaviest, the rest as one frame, [`OTHER_STACKS`]), but kept
//! apart by span: one pprof sample per span and stack, labelled with the
//! span's `trace_id` and `span_id` (lowercase hex, as the collector shows
//! them), so that `go tool pprof -tagfocus trace_id=…` narrows to a trace.
//! A function per frame name, and a location per function: the samples
//! carry names, not addresses.
//!
//! Each sample has two values, as Go's own CPU profiles: how many samples
//! (`samples`, `count`) and their CPU time (`cpu`, `nanoseconds`). A
//! service weighs its samples in one of the two, and its profile's sampling
//! period turns one into the other: CPU time is samples × period, samples
//! are CPU time ÷ period (to the nearest). Without a period, samples
//! weighed in CPU time count one each as stored, and counted samples weigh
//! an unknown CPU time, 0: the profile then shows the count first.
//!
//! The profile's comments say whose samples these are, as the flame
//! graph's subtitle does; with no sample, the profile is still one, whose
//! comment and [`NO_SAMPLES_HEADER`] say why there is none.

use std::io::Write;
use std::sync::Arc;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use flate2::Compression;
use flate2::write::GzEncoder;
use foldhash::HashMap;
use prost::Message;

use super::{NO_SAMPLES, NO_SAMPLES_HEADER, OTHER_STACKS, WHY_NO_SAMPLES, whose};
use crate::api::{QueryError, error};
use crate::otlp::hex;
use crate::otlp_profiles::in_nanoseconds;
use crate::pprof::{Function, Label, Line, Location, Profile, Sample, ValueType};
use crate::samples::{BySpan, OnStack, SpanStacks};

/// A pprof profile's file, and why it holds no sample when it holds none.
pub(super) struct PprofFile {
    gzipped: Vec<u8>,
    why_empty: Option<String>,
}

impl PprofFile {
    /// The file of `samples` (`scope` says whose spans, which ran
    /// `between_us`), its comments saying whose samples, or why there is
    /// none.
    pub(super) fn of(
        samples: &BySpan,
        scope: &str,
        between_us: Option<(u64, u64)>,
    ) -> Result<Self, QueryError> {
        let why_empty = samples
            .spans
            .is_empty()
            .then(|| format!("{NO_SAMPLES}: {scope}. {WHY_NO_SAMPLES}"));
        let comments = match &why_empty {
            Some(why) => vec![why.clone()],
            None => vec![whose(&samples.folded, scope)],
        };
        let about = About {
            comments,
            between_us,
        };
        let gzipped = gzipped(&profile(samples, &about))
            .map_err(|err| error(StatusCode::INTERNAL_SERVER_ERROR, err.to_string()))?;
        Ok(Self { gzipped, why_empty })
    }

    /// The answer: a download named `file_name`, with
    /// [`NO_SAMPLES_HEADER`] when it holds no sample.
    pub(super) fn answer(self, file_name: &str) -> Response {
        let disposition = HeaderValue::try_from(format!("attachment; filename=\"{file_name}\""))
            .unwrap_or_else(|_| HeaderValue::from_static("attachment"));
        let mut answer = (
            [
                (
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("application/octet-stream"),
                ),
                (header::CONTENT_DISPOSITION, disposition),
            ],
            self.gzipped,
        )
            .into_response();
        // A header's value is visible ASCII: a character of another script
        // is a `?` there (the profile's comment keeps it).
        let why = self.why_empty.map(|why| {
            why.chars()
                .map(|c| {
                    if c.is_ascii_graphic() || c == ' ' {
                        c
                    } else {
                        '?'
                    }
                })
                .collect::<String>()
        });
        if let Some(value) = why.and_then(|why| HeaderValue::try_from(why).ok()) {
            answer.headers_mut().insert(NO_SAMPLES_HEADER, value);
        }
        answer
    }
}

/// What a profile says of itself besides its samples.
struct About {
    /// Lines of free text: whose samples these are, and what was left out
    /// or why there is none.
    comments: Vec<String>,
    /// When the first of the spans began and the last ended, in Unix µs.
    between_us: Option<(u64, u64)>,
}

/// The profile of `samples`.
fn profile(samples: &BySpan, about: &About) -> Profile {
    let mut strings = Strings::default();
    let mut frames = Frames::default();
    let mut profile = Profile {
        sample_type: vec![
            strings.value_type("samples", "count"),
            strings.value_type("cpu", "nanoseconds"),
        ],
        period_type: Some(strings.value_type("cpu", "nanoseconds")),
        period: saturating_i64(shared_period_ns(&samples.spans)),
        ..Profile::default()
    };
    if !cpu_time_known(&samples.spans) {
        profile.default_sample_type = strings.index("samples");
    }
    if let Some((start_us, end_us)) = about.between_us {
        profile.time_nanos = saturating_i64(start_us.saturating_mul(1_000));
        profile.duration_nanos =
            saturating_i64(end_us.saturating_sub(start_us).saturating_mul(1_000));
    }
    profile.comment = about
        .comments
        .iter()
        .map(|line| strings.index(line))
        .collect();

    // Each stack's locations, leaf first: pprof's order.
    let mut stacks: Vec<Vec<u64>> = Vec::with_capacity(samples.folded.stacks.len());
    for (names, _) in &samples.folded.stacks {
        stacks.push(
            names
                .iter()
                .rev()
                .map(|name| frames.id(name, &mut strings))
                .collect(),
        );
    }
    let (trace_key, span_key) = (strings.index("trace_id"), strings.index("span_id"));
    for span in &samples.spans {
        let label = vec![
            Label {
                key: trace_key,
                str: strings.index(&hex(&span.span.trace_id)),
            },
            Label {
                key: span_key,
                str: strings.index(&hex(&span.span.span_id)),
            },
        ];
        // As the folded stacks, none that weighs nothing.
        for on in span.stacks.iter().filter(|on| on.weight > 0) {
            let location_id = match on.stack.and_then(|place| stacks.get(place)) {
                Some(stack) => stack.clone(),
                None => vec![frames.id(OTHER_STACKS, &mut strings)],
            };
            profile.sample.push(Sample {
                location_id,
                value: values(span, on).to_vec(),
                label: label.clone(),
            });
        }
    }
    profile.function = frames.functions;
    profile.location = frames.locations;
    profile.string_table = strings.table;
    profile
}

/// `profile` as the bytes of a `.pb.gz` file.
fn gzipped(profile: &Profile) -> std::io::Result<Vec<u8>> {
    let mut encoder = GzEncoder::new(Vec::new(), Compression::default());
    encoder.write_all(&profile.encode_to_vec())?;
    encoder.finish()
}

/// A span's samples on one stack as the profile's two values: how many
/// samples, and their CPU time in nanoseconds.
fn values(span: &SpanStacks, on: &OnStack) -> [i64; 2] {
    let period = span.period_ns;
    let (samples, cpu_ns) = if in_nanoseconds(&span.unit) {
        let samples = match period {
            0 => on.stored,
            period => on.weight.saturating_add(period / 2) / period,
        };
        (samples, on.weight)
    } else {
        (on.weight, on.weight.saturating_mul(period))
    };
    [saturating_i64(samples), saturating_i64(cpu_ns)]
}

/// The sampling period the spans' profiles share, in nanoseconds; 0 when
/// none gives one, or they differ.
fn shared_period_ns(spans: &[SpanStacks]) -> u64 {
    let mut periods = spans.iter().map(|span| span.period_ns).filter(|&p| p > 0);
    match periods.next() {
        Some(first) if periods.all(|period| period == first) => first,
        _ => 0,
    }
}

/// Whether any of the spans' samples has a CPU time: weighed in it, or
/// counted with a period.
fn cpu_time_known(spans: &[SpanStacks]) -> bool {
    spans
        .iter()
        .any(|span| in_nanoseconds(&span.unit) || span.period_ns > 0)
}

fn saturating_i64(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

/// The string table: each string once, at its index, `""` first.
struct Strings {
    table: Vec<String>,
    places: HashMap<String, i64>,
}

impl Default for Strings {
    fn default() -> Self {
        Self {
            table: vec![String::new()],
            places: [(String::new(), 0)].into_iter().collect(),
        }
    }
}

impl Strings {
    fn index(&mut self, text: &str) -> i64 {
        if let Some(&place) = self.places.get(text) {
            return place;
        }
        let place = saturating_i64(self.table.len() as u64);
        self.table.push(text.to_owned());
        self.places.insert(text.to_owned(), place);
        place
    }

    fn value_type(&mut self, kind: &str, unit: &str) -> ValueType {
        ValueType {
            r#type: self.index(kind),
            unit: self.index(unit),
        }
    }
}

/// A function per frame name, and a location per function, of the same
/// id (from 1: an id of 0 is none).
#[derive(Default)]
struct Frames {
    ids: HashMap<Arc<str>, u64>,
    functions: Vec<Function>,
    locations: Vec<Location>,
}

impl Frames {
    /// The id of the location of the function named `name`.
    fn id(&mut self, name: &str, strings: &mut Strings) -> u64 {
        if let Some(&id) = self.ids.get(name) {
            return id;
        }
        let id = self.functions.len() as u64 + 1;
        let name_index = strings.index(name);
        self.functions.push(Function {
            id,
            name: name_index,
            system_name: name_index,
            filename: 0,
        });
        self.locations.push(Location {
            id,
            line: vec![Line { function_id: id }],
        });
        self.ids.insert(Arc::from(name), id);
        id
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::samples::{Folded, SpanKey};

    const TEN_MS: u64 = 10_000_000;

    /// Span 0c… of trace ab…, its samples weighed in `unit`.
    fn span(unit: &str, period_ns: u64, stacks: Vec<OnStack>) -> SpanStacks {
        SpanStacks {
            span: SpanKey {
                trace_id: [0xab; 16],
                span_id: [0x0c; 8],
            },
            unit: Arc::from(unit),
            period_ns,
            stacks,
        }
    }

    fn on(stack: Option<usize>, stored: u64, weight: u64) -> OnStack {
        OnStack {
            stack,
            stored,
            weight,
        }
    }

    #[test]
    fn a_period_turns_cpu_time_into_samples_and_back() {
        let in_ns = |period, stored, weight| {
            values(
                &span("nanoseconds", period, Vec::new()),
                &on(Some(0), stored, weight),
            )
        };
        assert_eq!(in_ns(TEN_MS, 2, 3 * TEN_MS), [3, 3 * TEN_MS as i64]);
        assert_eq!(
            in_ns(0, 2, 3 * TEN_MS),
            [2, 3 * TEN_MS as i64],
            "as stored, without a period"
        );
        let counted =
            |period, weight| values(&span("count", period, Vec::new()), &on(Some(0), 1, weight));
        assert_eq!(counted(TEN_MS, 4), [4, 4 * TEN_MS as i64]);
        assert_eq!(counted(0, 4), [4, 0], "no CPU time known");
    }

    #[test]
    fn each_sample_is_labelled_with_its_span_and_lists_its_leaf_first() {
        let samples = BySpan {
            folded: Folded {
                stacks: vec![(
                    ["main", "serve", "quote"].map(Arc::<str>::from).to_vec(),
                    2 * TEN_MS,
                )],
                rest: Some((3, TEN_MS)),
                samples: 3,
                spans: 1,
                units: vec![Arc::from("nanoseconds")],
            },
            spans: vec![span(
                "nanoseconds",
                TEN_MS,
                vec![on(None, 1, TEN_MS), on(Some(0), 2, 2 * TEN_MS)],
            )],
        };
        let about = About {
            comments: vec!["whose".to_owned()],
            between_us: Some((5, 7)),
        };
        let profile = profile(&samples, &about);
        let text = |index: i64| profile.string_table[index as usize].as_str();
        let functions = |sample: &Sample| {
            sample
                .location_id
                .iter()
                .map(|&location| {
                    let line = &profile.location[location as usize - 1].line[0];
                    text(profile.function[line.function_id as usize - 1].name)
                })
                .collect::<Vec<&str>>()
        };
        assert_eq!(text(0), "");
        assert_eq!(profile.sample.len(), 2);
        let [rest, quote] = [&profile.sample[0], &profile.sample[1]];
        assert_eq!(functions(rest), [OTHER_STACKS]);
        assert_eq!(functions(quote), ["quote", "serve", "main"], "leaf first");
        assert_eq!(quote.value, [2, 2 * TEN_MS as i64]);
        let trace_id = "ab".repeat(16);
        let span_id = "0c".repeat(8);
        let labels: Vec<(&str, &str)> = quote
            .label
            .iter()
            .map(|label| (text(label.key), text(label.str)))
            .collect();
        assert_eq!(
            labels,
            [
                ("trace_id", trace_id.as_str()),
                ("span_id", span_id.as_str())
            ]
        );
        assert_eq!(
            (profile.period, profile.time_nanos, profile.duration_nanos),
            (TEN_MS as i64, 5_000, 2_000)
        );
        let comments: Vec<&str> = profile.comment.iter().map(|&line| text(line)).collect();
        assert_eq!(comments, ["whose"]);
        assert_eq!(profile.default_sample_type, 0, "CPU time, the last type");
    }

    #[test]
    fn counted_samples_with_no_period_show_their_count_first() {
        let samples = BySpan {
            folded: Folded::default(),
            spans: vec![span("count", 0, vec![on(None, 1, 3)])],
        };
        let about = About {
            comments: Vec::new(),
            between_us: None,
        };
        let profile = profile(&samples, &about);
        assert_eq!(profile.sample[0].value, [3, 0]);
        assert_eq!(
            profile.string_table[profile.default_sample_type as usize],
            "samples"
        );
    }

    #[test]
    fn no_sample_is_a_profile_still() {
        let samples = BySpan {
            folded: Folded::default(),
            spans: Vec::new(),
        };
        let about = About {
            comments: Vec::new(),
            between_us: None,
        };
        let profile = profile(&samples, &about);
        assert!(profile.sample.is_empty());
        assert_eq!(profile.sample_type.len(), 2);
        assert_eq!(profile.string_table[0], "");
        let mut decoded = Vec::new();
        let bytes = gzipped(&profile).unwrap();
        std::io::Read::read_to_end(
            &mut flate2::read::GzDecoder::new(bytes.as_slice()),
            &mut decoded,
        )
        .unwrap();
        assert_eq!(Profile::decode(decoded.as_slice()).unwrap(), profile);
    }
}
