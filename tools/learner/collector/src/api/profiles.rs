//! CPU samples as flame graphs and pprof files: those taken inside an
//! operation's spans, or inside one span.
//!
//! | route | answer |
//! |---|---|
//! | `GET /api/profiles/flame.svg?service=&operation=&endpointService=&endpointOperation=&band=&start=&end=&lookback=` | the flame graph of the samples taken inside the spans of `service`'s `operation` |
//! | `GET /api/profiles/folded?…` | the same samples as folded stacks (`frame;frame;frame weight` a line, root first), as text |
//! | `GET /api/profiles/profile.pb.gz?…` | the same samples as a pprof profile, gzip-compressed, each sample labelled with its trace and span (`pprof_file`) |
//! | `GET /api/traces/{traceID}/spans/{spanID}/flame.svg` | the flame graph of one span's samples |
//! | `GET /api/traces/{traceID}/spans/{spanID}/profile.pb.gz` | one span's samples as a pprof profile |
//!
//! A span's samples are those taken while it was the innermost span entered
//! on its thread: its children's are theirs. So an operation's graph shows
//! where its own code spent the CPU, not its callees' spans.
//!
//! Which spans: with an endpoint (`endpointService` and `endpointOperation`,
//! the root span's, as the critical-paths page names it), those of the
//! endpoint's traces whose root starts in the window (`start`, `end`,
//! `lookback`), and with a `band` those of that band's traces only: the
//! very traces the critical paths' analysis ranks into it. Without an
//! endpoint, every span of the operation that starts in the window.
//!
//! An answer is bounded whatever the store holds: the [`MAX_STACKS`]
//! heaviest stacks in at most [`MAX_FOLDED_BYTES`] of text, every lighter
//! stack summed into one line, [`OTHER_STACKS`], which the graph's
//! subtitle counts; a pprof profile keeps the same stacks, each span's
//! apart. Where there is no sample, the graph is a small picture that says
//! so and why that may be, and the profile one with no sample, whose
//! comments and [`NO_SAMPLES_HEADER`] say so: not an error.

mod pprof_file;

use std::borrow::Cow;
use std::collections::HashSet;
use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use trace_analysis::aggregate::{BANDS, Copied, Endpoint};
use trace_analysis::flame;
use trace_analysis::model::Span;

use super::{Api, Deadline, QueryError, check_trace_id, error, given, window};
use crate::limits::grouped;
use crate::otlp_profiles::in_nanoseconds;
use crate::samples::{Folded, SpanKey, hex_id};
use crate::store::Store;
use pprof_file::PprofFile;

/// Stacks in one answer: the heaviest, then one line that sums the rest
/// ([`OTHER_STACKS`]). A service's hot paths are a few dozen stacks; past a
/// thousand, the rest are slivers no one can point at.
pub const MAX_STACKS: usize = 1_000;

/// The folded text of one answer, at most, in bytes: a stack is up to
/// `limits::MAX_STACK_FRAMES` frames of names up to the length limit, so
/// a thousand of them could otherwise make an answer of gigabytes.
pub const MAX_FOLDED_BYTES: usize = 4 * 1024 * 1024;

/// The one frame of the line that sums the stacks past the bounds.
pub const OTHER_STACKS: &str = "[other] stacks";

/// What a graph with no sample says.
pub const NO_SAMPLES: &str = "no CPU samples in these spans";

/// The header of a pprof answer with no sample, which says why there is
/// none (its comments say it too).
pub const NO_SAMPLES_HEADER: &str = "x-no-samples";

/// Why there may be none.
const WHY_NO_SAMPLES: &str = "A service sends CPU samples only while it runs with profiling on (PROFILE=1); samples older than the collector keeps are gone.";

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct OperationParams {
    service: Option<String>,
    operation: Option<String>,
    endpoint_service: Option<String>,
    endpoint_operation: Option<String>,
    start: Option<String>,
    end: Option<String>,
    lookback: Option<String>,
    band: Option<String>,
}

/// The spans an operation's samples are read from.
struct Wanted {
    service: String,
    operation: String,
    /// Only the traces whose root is this, in the window.
    endpoint: Option<Endpoint>,
    /// Only the traces of this band of the endpoint's.
    band: Option<String>,
    start: Option<u64>,
    end: Option<u64>,
}

impl Wanted {
    fn of(params: &OperationParams) -> Result<Self, QueryError> {
        let (Some(service), Some(operation)) = (given(&params.service), given(&params.operation))
        else {
            return Err(error(
                StatusCode::BAD_REQUEST,
                "say which operation: service=…&operation=… (its spans' service and name)",
            ));
        };
        let endpoint = match (
            given(&params.endpoint_service),
            given(&params.endpoint_operation),
        ) {
            (Some(service), Some(operation)) => Some(Endpoint {
                service: service.to_owned(),
                operation: operation.to_owned(),
            }),
            (None, None) => None,
            _ => {
                return Err(error(
                    StatusCode::BAD_REQUEST,
                    "say both endpointService=…&endpointOperation=… (the root span's), or neither",
                ));
            }
        };
        let band = given(&params.band)
            .filter(|band| *band != "all")
            .map(str::to_owned);
        if let Some(band) = &band {
            if !BANDS.iter().any(|&(name, _)| name == band.as_str()) {
                return Err(error(
                    StatusCode::BAD_REQUEST,
                    format!("band {band:?} is not all, p50, p90, p95 or p99"),
                ));
            }
            if endpoint.is_none() {
                return Err(error(
                    StatusCode::BAD_REQUEST,
                    format!(
                        "band {band} is a band of an endpoint's traces: say which with endpointService=…&endpointOperation=…"
                    ),
                ));
            }
        }
        let (start, end) = window(&params.start, &params.end, &params.lookback)?;
        Ok(Self {
            service: service.to_owned(),
            operation: operation.to_owned(),
            endpoint,
            band,
            start,
            end,
        })
    }

    fn what(&self) -> String {
        format!("the CPU samples of {} {}", self.service, self.operation)
    }

    fn title(&self) -> String {
        format!("{} {}: CPU samples", self.service, self.operation)
    }

    /// Which traces, in words: `in the p99 band of the traces of gateway
    /// POST /orders`.
    fn traces(&self) -> String {
        match (&self.endpoint, &self.band) {
            (Some(endpoint), Some(band)) => format!(
                "in the {band} band of the traces of {} {}",
                endpoint.service, endpoint.operation
            ),
            (Some(endpoint), None) => format!(
                "in the traces of {} {}",
                endpoint.service, endpoint.operation
            ),
            (None, _) => "in every trace stored".to_owned(),
        }
    }

    /// The operation's spans in the traces wanted, found by the deadline.
    ///
    /// With an endpoint, its traces are copied as the critical paths'
    /// analysis copies them (the same root, the same window), and a band's
    /// are those the analysis ranks into it.
    fn spans(&self, store: &Store, deadline: &Deadline) -> Result<Found, QueryError> {
        let window = self.start.unwrap_or(0)..=self.end.unwrap_or(u64::MAX);
        let anywhere = self.endpoint.is_none();
        let mut copied = self
            .endpoint
            .clone()
            .map(|endpoint| Copied::new(endpoint, self.start, self.end));
        let mut found = Vec::new();
        store.for_each_trace(|spans| {
            // Past the deadline, the rest of the traces are passed over.
            if deadline.passed() {
                return;
            }
            let in_traces = match copied.as_mut() {
                Some(copied) => copied.add(spans),
                None => true,
            };
            if !in_traces {
                return;
            }
            found.extend(
                spans
                    .iter()
                    .filter(|span| span.service == self.service && span.name == self.operation)
                    // With an endpoint, the window is its root's.
                    .filter(|span| !anywhere || window.contains(&span.start_us))
                    .filter_map(|span| {
                        let key = SpanKey::from_hex(&span.trace_id, &span.span_id)?;
                        Some((key, span.start_us, span.end_us()))
                    }),
            );
        });
        deadline.check()?;
        if let (Some(copied), Some(band)) = (&copied, &self.band) {
            let in_band: HashSet<[u8; 16]> = copied
                .trace_ids_in_band(band)
                .unwrap_or_default()
                .into_iter()
                .filter_map(hex_id::<16>)
                .collect();
            found.retain(|(span, ..): &(SpanKey, u64, u64)| in_band.contains(&span.trace_id));
        }
        let first_start = found.iter().map(|&(_, start, _)| start).min();
        let last_end = found.iter().map(|&(_, _, end)| end).max();
        Ok(Found {
            spans: found.into_iter().map(|(span, ..)| span).collect(),
            between_us: first_start.zip(last_end),
        })
    }

    /// The samples of the spans wanted, folded, and how many spans those
    /// were.
    fn folded(&self, store: &Store, deadline: &Deadline) -> Result<(Folded, usize), QueryError> {
        let found = self.spans(store, deadline)?;
        let folded = store.folded_samples(&found.spans, MAX_STACKS, MAX_FOLDED_BYTES);
        deadline.check()?;
        Ok((folded, found.spans.len()))
    }

    /// The name of a file of these samples: `pricing-index_coupons-p99`.
    fn file_stem(&self) -> String {
        let band = self.band.as_deref().unwrap_or_default();
        file_stem(&[self.service.as_str(), self.operation.as_str(), band])
    }

    /// Whose samples a graph of `folded` shows, from `spans` spans found.
    fn scope(&self, folded: &Folded, spans: usize) -> String {
        let of = format!("{} {}", self.service, self.operation);
        match spans {
            0 => format!("no span of {of} {}", self.traces()),
            1 => format!("the one span of {of} {}", self.traces()),
            _ => format!(
                "{} spans of {of} {}, {} of them with samples",
                grouped(spans as u64),
                self.traces(),
                grouped(folded.spans as u64),
            ),
        }
    }
}

/// The spans an operation's samples are read from, as found.
struct Found {
    spans: Vec<SpanKey>,
    /// When the first of them began and the last ended, in Unix µs.
    between_us: Option<(u64, u64)>,
}

/// `GET /api/profiles/flame.svg`: an operation's CPU flame graph.
pub(super) async fn operation_flame_graph(
    State(api): State<Api>,
    Query(params): Query<OperationParams>,
) -> Result<Response, QueryError> {
    let wanted = Wanted::of(&params)?;
    let store = Arc::clone(&api.store);
    let svg = api
        .analyses
        .run(wanted.what(), move |deadline| {
            let (folded, spans) = wanted.folded(&store, deadline)?;
            draw(&folded, &wanted.title(), &wanted.scope(&folded, spans))
        })
        .await?;
    Ok(svg_answer(svg))
}

/// `GET /api/profiles/folded`: an operation's CPU samples as folded stacks.
pub(super) async fn operation_folded(
    State(api): State<Api>,
    Query(params): Query<OperationParams>,
) -> Result<Response, QueryError> {
    let wanted = Wanted::of(&params)?;
    let store = Arc::clone(&api.store);
    let text = api
        .analyses
        .run(wanted.what(), move |deadline| {
            let (folded, _) = wanted.folded(&store, deadline)?;
            Ok(folded_lines(&folded)
                .into_iter()
                .map(|line| line + "\n")
                .collect::<String>())
        })
        .await?;
    Ok(([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], text).into_response())
}

/// `GET /api/profiles/profile.pb.gz`: an operation's CPU samples as a
/// pprof profile.
pub(super) async fn operation_pprof(
    State(api): State<Api>,
    Query(params): Query<OperationParams>,
) -> Result<Response, QueryError> {
    let wanted = Wanted::of(&params)?;
    let file_name = format!("{}.pb.gz", wanted.file_stem());
    let store = Arc::clone(&api.store);
    let file = api
        .analyses
        .run(wanted.what(), move |deadline| {
            let found = wanted.spans(&store, deadline)?;
            let samples = store.samples_by_span(&found.spans, MAX_STACKS, MAX_FOLDED_BYTES);
            deadline.check()?;
            let scope = wanted.scope(&samples.folded, found.spans.len());
            PprofFile::of(&samples, &scope, found.between_us)
        })
        .await?;
    Ok(file.answer(&file_name))
}

/// `GET /api/traces/{trace_id}/spans/{span_id}/flame.svg`: one span's CPU
/// flame graph.
pub(super) async fn span_flame_graph(
    State(api): State<Api>,
    Path((trace_id, span_id)): Path<(String, String)>,
) -> Result<Response, QueryError> {
    let one = OneSpan::of(trace_id, span_id)?;
    let store = Arc::clone(&api.store);
    let svg = api
        .analyses
        .run(one.what(), move |_| {
            let span = one.find(&store);
            let title = match &span {
                Some(span) => format!("{} {}: CPU samples", span.service, span.name),
                None => format!("span {}: CPU samples", one.span_id),
            };
            let folded = store.folded_samples(&[one.key], MAX_STACKS, MAX_FOLDED_BYTES);
            draw(&folded, &title, &one.scope())
        })
        .await?;
    Ok(svg_answer(svg))
}

/// `GET /api/traces/{trace_id}/spans/{span_id}/profile.pb.gz`: one span's
/// CPU samples as a pprof profile.
pub(super) async fn span_pprof(
    State(api): State<Api>,
    Path((trace_id, span_id)): Path<(String, String)>,
) -> Result<Response, QueryError> {
    let one = OneSpan::of(trace_id, span_id)?;
    let store = Arc::clone(&api.store);
    let (file, file_name) = api
        .analyses
        .run(one.what(), move |_| {
            let span = one.find(&store);
            let stem = match &span {
                Some(span) => file_stem(&[
                    span.service.as_str(),
                    span.name.as_str(),
                    one.span_id.as_str(),
                ]),
                None => file_stem(&["span", one.span_id.as_str()]),
            };
            let between_us = span.map(|span| (span.start_us, span.end_us()));
            let samples = store.samples_by_span(&[one.key], MAX_STACKS, MAX_FOLDED_BYTES);
            let file = PprofFile::of(&samples, &one.scope(), between_us)?;
            Ok((file, format!("{stem}.pb.gz")))
        })
        .await?;
    Ok(file.answer(&file_name))
}

/// One span, as its routes name it.
struct OneSpan {
    key: SpanKey,
    /// Its ids in lowercase hex, as the collector shows them.
    trace_id: String,
    span_id: String,
}

impl OneSpan {
    /// The span of these ids; a 400 unless they are ids.
    fn of(trace_id: String, span_id: String) -> Result<Self, QueryError> {
        check_trace_id(&trace_id)?;
        let Some(key) = SpanKey::from_hex(&trace_id, &span_id) else {
            return Err(error(
                StatusCode::BAD_REQUEST,
                format!("{span_id:?} is not a span id (16 hex digits)"),
            ));
        };
        Ok(Self {
            key,
            trace_id: trace_id.to_ascii_lowercase(),
            span_id: span_id.to_ascii_lowercase(),
        })
    }

    fn what(&self) -> String {
        format!("the CPU samples of span {}", self.span_id)
    }

    /// Whose samples, in words.
    fn scope(&self) -> String {
        format!("span {} of trace {}", self.span_id, self.trace_id)
    }

    /// The span, if the store holds it.
    fn find(&self, store: &Store) -> Option<Span> {
        store
            .trace(&self.trace_id)?
            .into_iter()
            .find(|span| span.span_id.eq_ignore_ascii_case(&self.span_id))
    }
}

fn svg_answer(svg: Vec<u8>) -> Response {
    ([(header::CONTENT_TYPE, "image/svg+xml")], svg).into_response()
}

/// The flame graph of `folded` (`scope` says whose samples), or, with no
/// sample to draw, a small picture that says so.
fn draw(folded: &Folded, title: &str, scope: &str) -> Result<Vec<u8>, QueryError> {
    let lines = folded_lines(folded);
    if lines.is_empty() {
        return Ok(no_samples(title, scope));
    }
    let count_name = unit(&folded.units);
    let mut subtitle = whose(folded, scope);
    if folded.units.len() > 1 {
        subtitle.push_str("; weights of several units added up");
    }
    let mut svg = Vec::new();
    flame::profile_flame_graph(&lines, title, &subtitle, count_name, &mut svg)
        .map_err(|err| error(StatusCode::INTERNAL_SERVER_ERROR, err.to_string()))?;
    Ok(svg)
}

/// Whose samples `folded` holds (`scope` says whose spans), and which
/// stacks were summed: a flame graph's subtitle, a profile's comment.
fn whose(folded: &Folded, scope: &str) -> String {
    let mut whose = format!(
        "{} samples taken inside {scope}; a span's own, its child spans' not counted",
        grouped(folded.samples)
    );
    if let Some((stacks, _)) = folded.rest {
        whose.push_str(&format!(
            "; past the {} heaviest stacks, {} more summed as {OTHER_STACKS}",
            grouped(folded.stacks.len() as u64),
            grouped(stacks as u64)
        ));
    }
    whose
}

/// A file's name from `parts` (a service, an operation, …): their words
/// joined by `-`, any character but a letter, a digit, `-` or `_` made `_`.
fn file_stem(parts: &[&str]) -> String {
    parts
        .iter()
        .flat_map(|part| part.split_whitespace())
        .collect::<Vec<_>>()
        .join("-")
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// What the weights count, as a graph's frames say it: `samples` for a
/// count, `ns` for CPU time.
fn unit(units: &[Arc<str>]) -> &str {
    match units {
        [one] => match &**one {
            "" | "count" | "samples" => "samples",
            cpu_time if in_nanoseconds(cpu_time) => "ns",
            other => other,
        },
        _ => "weight",
    }
}

/// The folded stacks: `frame;frame;frame weight` a line, root first,
/// heaviest first, then the line of the rest; none that weighs nothing.
fn folded_lines(folded: &Folded) -> Vec<String> {
    let mut lines: Vec<String> = folded
        .stacks
        .iter()
        .filter(|(_, weight)| *weight > 0)
        .map(|(frames, weight)| {
            let frames: Vec<Cow<'_, str>> = frames.iter().map(|name| frame(name)).collect();
            format!("{} {weight}", frames.join(";"))
        })
        .collect();
    if let Some((_, weight)) = folded.rest.filter(|&(_, weight)| weight > 0) {
        lines.push(format!("{OTHER_STACKS} {weight}"));
    }
    lines
}

/// A function's name as a frame of a folded line: `;` separates frames
/// and a line ends at a newline, so neither may be in a name.
fn frame(name: &str) -> Cow<'_, str> {
    let apart = |c: char| c == ';' || c.is_control();
    if !name.contains(apart) {
        return Cow::Borrowed(name);
    }
    Cow::Owned(
        name.chars()
            .map(|c| match c {
                ';' => '_',
                c if c.is_control() => ' ',
                c => c,
            })
            .collect(),
    )
}

/// A picture of no flame graph: the title, that there is no sample in
/// `scope`, and why that may be.
fn no_samples(title: &str, scope: &str) -> Vec<u8> {
    format!(
        r##"<?xml version="1.0" standalone="no"?>
<svg version="1.1" width="1200" height="110" viewBox="0 0 1200 110" xmlns="http://www.w3.org/2000/svg">
<rect x="0" y="0" width="1200" height="110" fill="#eeeeee"/>
<text x="600" y="28" font-family="Verdana" font-size="17" text-anchor="middle">{title}</text>
<text id="no-samples" x="600" y="58" font-family="Verdana" font-size="14" text-anchor="middle">{NO_SAMPLES}: {scope}</text>
<text x="600" y="86" font-family="Verdana" font-size="12" fill="#555555" text-anchor="middle">{WHY_NO_SAMPLES}</text>
</svg>
"##,
        title = xml_text(title),
        scope = xml_text(scope),
    )
    .into_bytes()
}

/// Text as XML character data.
fn xml_text(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_that_would_break_a_folded_line_are_made_frames() {
        assert_eq!(
            frame("<[u8; 16] as Hash>::hash"),
            "<[u8_ 16] as Hash>::hash"
        );
        assert_eq!(frame("two\nlines"), "two lines");
        assert!(matches!(frame("plain::name"), Cow::Borrowed(_)));
    }

    #[test]
    fn the_picture_of_no_samples_is_xml_that_says_why() {
        let svg = String::from_utf8(no_samples("a <b> & c", "no span of a b")).unwrap();
        assert!(svg.contains("a &lt;b&gt; &amp; c"), "{svg}");
        assert!(
            svg.contains(NO_SAMPLES) && svg.contains("PROFILE=1"),
            "{svg}"
        );
        assert!(svg.trim_end().ends_with("</svg>"));
    }

    #[test]
    fn a_count_is_samples_and_cpu_time_nanoseconds() {
        let units = |names: &[&str]| -> Vec<Arc<str>> {
            names.iter().map(|&name| Arc::from(name)).collect()
        };
        assert_eq!(unit(&units(&["count"])), "samples");
        assert_eq!(unit(&units(&[""])), "samples");
        assert_eq!(unit(&units(&["nanoseconds"])), "ns");
        assert_eq!(unit(&units(&["count", "nanoseconds"])), "weight");
    }
}
