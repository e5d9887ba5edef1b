//! Recordings: folders of Jaeger JSON traces, one per file, as CRISP reads
//! them and as `just demo` writes them. Each file is the answer of Jaeger's
//! `GET /api/traces/{id}` (`{"data": [trace, …]}`) or one bare trace.
//!
//! Reading is built for `just crisp` on thousands of files: each file is
//! parsed into a borrowed, lean view (ids, names, times, references, the
//! span kind and its CPU time; every other tag and log is skipped, not
//! copied), fed straight to an [`Aggregator`], and dropped; the files are
//! shared among the cores, one aggregator each, merged at the end.

use foldhash::HashMap;
use std::borrow::Cow;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use serde::Deserialize;
use serde::de::{self, IgnoredAny};

use crate::aggregate::{Aggregator, Endpoint};
use crate::cpu_time::{self, CPU_TIME_ATTRIBUTE};
use crate::jaeger::{RefType, Response, Trace};
use crate::model::Kind;
use crate::span_view::SpanView;

/// Where `just demo` records its run's traces (`planted/` or `fixed/`, one
/// Jaeger JSON file per trace) for `just crisp`, relative to the
/// workspace's root.
pub const DEMO_RECORDINGS: &str = "target/demo/recordings";

/// Writes each trace to `dir` as `{trace id}.json`, in the shape of Jaeger's
/// `GET /api/traces/{id}` answer, after emptying the folder of earlier
/// `.json` files.
pub fn save(dir: &Path, traces: &[Trace]) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.extension().is_some_and(|e| e == "json") {
            std::fs::remove_file(path)?;
        }
    }
    for trace in traces {
        let file = std::fs::File::create(dir.join(format!("{}.json", trace.trace_id)))?;
        let answer = Response::new(std::slice::from_ref(trace), 1);
        serde_json::to_writer(std::io::BufWriter::new(file), &answer)?;
    }
    Ok(())
}

/// What [`analyse`] read.
pub struct Read {
    pub aggregator: Aggregator,
    /// Traces read, of any endpoint.
    pub traces: usize,
    /// `.json` files in the folders that are not traces (CRISP writes its
    /// own `crisp.json` beside the traces it reads), with why.
    pub skipped: Vec<(PathBuf, String)>,
}

/// Reads the traces in `paths` (files, and folders of `.json` files) into
/// an aggregator for `endpoint`. A file named that is not a trace is an
/// error; one found in a folder is skipped and reported.
pub fn analyse(paths: &[PathBuf], endpoint: &Endpoint) -> anyhow::Result<Read> {
    let files = files_in(paths)?;
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let chunk = files.len().div_ceil(threads).max(1);
    let parts: Vec<anyhow::Result<Read>> = std::thread::scope(|scope| {
        let workers: Vec<_> = files
            .chunks(chunk)
            .map(|files| scope.spawn(move || read_files(files, endpoint)))
            .collect();
        workers
            .into_iter()
            .map(|w| {
                w.join()
                    .unwrap_or_else(|_| Err(anyhow::anyhow!("a reader panicked")))
            })
            .collect()
    });
    let mut all = Read {
        aggregator: Aggregator::new(endpoint.clone()),
        traces: 0,
        skipped: Vec::new(),
    };
    for part in parts {
        let part = part?;
        all.aggregator.merge(part.aggregator);
        all.traces += part.traces;
        all.skipped.extend(part.skipped);
    }
    Ok(all)
}

/// Each file to read, and whether it was found in a folder.
fn files_in(paths: &[PathBuf]) -> anyhow::Result<Vec<(PathBuf, bool)>> {
    let mut files = Vec::new();
    for path in paths {
        if path.is_dir() {
            let mut found: Vec<PathBuf> = std::fs::read_dir(path)
                .with_context(|| format!("cannot read the folder {}", path.display()))?
                .filter_map(|entry| entry.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|e| e == "json"))
                .collect();
            found.sort();
            files.extend(found.into_iter().map(|f| (f, true)));
        } else {
            files.push((path.clone(), false));
        }
    }
    Ok(files)
}

fn read_files(files: &[(PathBuf, bool)], endpoint: &Endpoint) -> anyhow::Result<Read> {
    let mut read = Read {
        aggregator: Aggregator::new(endpoint.clone()),
        traces: 0,
        skipped: Vec::new(),
    };
    for (file, in_folder) in files {
        let text = std::fs::read_to_string(file)
            .with_context(|| format!("cannot read {}", file.display()))?;
        match parse(&text) {
            Ok(traces) => {
                read.traces += traces.len();
                for trace in &traces {
                    add(&mut read.aggregator, trace);
                }
            }
            Err(err) => {
                let why = format!(
                    "{} is not a Jaeger trace (neither {{\"data\": [trace]}} nor a bare trace): {err}",
                    file.display()
                );
                if !in_folder {
                    anyhow::bail!(why);
                }
                read.skipped.push((file.clone(), why));
            }
        }
    }
    Ok(read)
}

fn parse(text: &str) -> serde_json::Result<Vec<LeanTrace<'_>>> {
    #[derive(Deserialize)]
    struct Answer<'a> {
        #[serde(borrow)]
        data: Vec<LeanTrace<'a>>,
    }
    match serde_json::from_str::<Answer>(text) {
        Ok(answer) => Ok(answer.data),
        Err(_) => serde_json::from_str::<LeanTrace>(text).map(|trace| vec![trace]),
    }
}

/// Adds one lean trace, read through the same [`SpanView`] as a full one.
fn add(aggregator: &mut Aggregator, trace: &LeanTrace<'_>) {
    aggregator.add_views(&trace.trace_id, &trace.views());
}

/// What an analysis needs of a trace, borrowed from the file's text.
#[derive(Deserialize)]
struct LeanTrace<'a> {
    #[serde(rename = "traceID", borrow)]
    trace_id: Cow<'a, str>,
    #[serde(borrow)]
    spans: Vec<LeanSpan<'a>>,
    #[serde(borrow)]
    processes: HashMap<Cow<'a, str>, LeanProcess<'a>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct LeanSpan<'a> {
    #[serde(rename = "spanID", borrow)]
    span_id: Cow<'a, str>,
    #[serde(borrow)]
    operation_name: Cow<'a, str>,
    #[serde(default, borrow)]
    references: Vec<LeanReference<'a>>,
    start_time: u64,
    duration: u64,
    #[serde(rename = "processID", default, borrow)]
    process_id: Cow<'a, str>,
    #[serde(default, borrow)]
    tags: Vec<LeanTag<'a>>,
}

impl LeanTrace<'_> {
    /// Each span as the timing analyses read it, as
    /// [`Trace::views`](crate::jaeger::Trace::views) reads a whole trace:
    /// its parent is its first reference, its service its process's.
    fn views(&self) -> Vec<SpanView<'_>> {
        self.spans
            .iter()
            .map(|span| SpanView {
                span_id: &span.span_id,
                parent: span
                    .references
                    .first()
                    .map(|reference| (&*reference.span_id, Some(reference.ref_type))),
                kind: span.kind().map_or(Kind::Unspecified, Kind::from_tag),
                start_us: span.start_time,
                end_us: span.start_time + span.duration,
                service: self
                    .processes
                    .get(span.process_id.as_ref())
                    .map_or("unknown", |process| process.service_name.as_ref()),
                operation: &span.operation_name,
                cpu_time_ns: span.cpu_time_ns(),
            })
            .collect()
    }
}

impl LeanSpan<'_> {
    fn tag(&self, key: &str) -> Option<&LeanValue<'_>> {
        self.tags.iter().find(|t| t.key == key).map(|t| &t.value)
    }

    fn kind(&self) -> Option<&str> {
        match self.tag("span.kind")? {
            LeanValue::Text(text) => Some(text.as_ref()),
            LeanValue::Whole(_) | LeanValue::Skipped => None,
        }
    }

    /// As [`JaegerSpan::cpu_time_ns`](crate::jaeger::JaegerSpan::cpu_time_ns)
    /// reads it: a whole number, or its text.
    fn cpu_time_ns(&self) -> Option<u64> {
        match self.tag(CPU_TIME_ATTRIBUTE)? {
            LeanValue::Whole(nanos) => Some(*nanos),
            LeanValue::Text(text) => cpu_time::nanos_of_text(text),
            LeanValue::Skipped => None,
        }
    }
}

#[derive(Deserialize)]
struct LeanReference<'a> {
    #[serde(rename = "refType")]
    ref_type: RefType,
    #[serde(rename = "spanID", borrow)]
    span_id: Cow<'a, str>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct LeanProcess<'a> {
    #[serde(borrow)]
    service_name: Cow<'a, str>,
}

#[derive(Deserialize)]
struct LeanTag<'a> {
    #[serde(borrow)]
    key: Cow<'a, str>,
    #[serde(borrow)]
    value: LeanValue<'a>,
}

/// A tag's value when it is text (the span kind) or a whole number of zero
/// or more (the CPU time); anything else is read past, not kept.
enum LeanValue<'a> {
    Text(Cow<'a, str>),
    Whole(u64),
    Skipped,
}

impl<'de: 'a, 'a> Deserialize<'de> for LeanValue<'a> {
    fn deserialize<D: de::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl<'de> de::Visitor<'de> for Visitor {
            type Value = LeanValue<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a tag's value")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(LeanValue::Text(Cow::Borrowed(v)))
            }
            fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
                Ok(LeanValue::Text(Cow::Owned(v.to_owned())))
            }
            fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
                Ok(LeanValue::Skipped)
            }
            fn visit_i64<E>(self, v: i64) -> Result<Self::Value, E> {
                Ok(u64::try_from(v).map_or(LeanValue::Skipped, LeanValue::Whole))
            }
            fn visit_u64<E>(self, v: u64) -> Result<Self::Value, E> {
                Ok(LeanValue::Whole(v))
            }
            fn visit_f64<E>(self, _: f64) -> Result<Self::Value, E> {
                Ok(LeanValue::Skipped)
            }
            fn visit_unit<E>(self) -> Result<Self::Value, E> {
                Ok(LeanValue::Skipped)
            }
            fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(LeanValue::Skipped)
            }
            fn visit_map<A: de::MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(LeanValue::Skipped)
            }
        }
        deserializer.deserialize_any(Visitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aggregate::Analysis;

    fn endpoint() -> Endpoint {
        Endpoint {
            service: "gw".to_owned(),
            operation: "POST /orders".to_owned(),
        }
    }

    /// gw POST /orders 0–100, its child db SELECT 10–70 (a client span),
    /// and a consumer of a producer that must not block it. The root's CPU
    /// time is a number, the producer's its text; the database's is no
    /// whole number, so none.
    const TRACE: &str = r#"{"traceID":"t1","spans":[
        {"traceID":"t1","spanID":"r","operationName":"POST /orders","references":[],
         "startTime":0,"duration":100,"processID":"p1",
         "tags":[{"key":"span.kind","type":"string","value":"server"},
                 {"key":"http.response.status_code","type":"int64","value":200},
                 {"key":"span.cpu_time_ns","type":"int64","value":2000},
                 {"key":"list","type":"string","value":[1,{"a":2}]}],
         "logs":[{"timestamp":5,"fields":[]}]},
        {"traceID":"t1","spanID":"d","operationName":"SELECT","references":
            [{"refType":"CHILD_OF","traceID":"t1","spanID":"r"}],
         "startTime":10,"duration":60,"processID":"p2",
         "tags":[{"key":"span.cpu_time_ns","type":"float64","value":1.5}]},
        {"traceID":"t1","spanID":"send","operationName":"send","references":
            [{"refType":"CHILD_OF","traceID":"t1","spanID":"r"}],
         "startTime":80,"duration":5,"processID":"p1",
         "tags":[{"key":"span.kind","type":"string","value":"producer"},
                 {"key":"span.cpu_time_ns","type":"int64","value":"1500"}]},
        {"traceID":"t1","spanID":"recv","operationName":"receive","references":
            [{"refType":"CHILD_OF","traceID":"t1","spanID":"send"}],
         "startTime":82,"duration":90,"processID":"p2",
         "tags":[{"key":"span.kind","type":"string","value":"consumer"}]}],
     "processes":{"p1":{"serviceName":"gw","tags":[]},"p2":{"serviceName":"db"}}}"#;

    fn lean(text: &str) -> Analysis {
        let mut aggregator = Aggregator::new(endpoint());
        for trace in parse(text).unwrap() {
            add(&mut aggregator, &trace);
        }
        aggregator.finish()
    }

    fn full(text: &str) -> Analysis {
        let mut aggregator = Aggregator::new(endpoint());
        let trace: Trace = serde_json::from_str(text).unwrap();
        aggregator.add_jaeger(&trace);
        aggregator.finish()
    }

    #[test]
    fn the_lean_reading_gives_the_full_readings_analysis() {
        let analysis = lean(TRACE);
        assert_eq!(analysis.traces, 1);
        assert_eq!(analysis, full(TRACE));
        // The consumer did not block: the producer's 5 µs are on the path.
        let send = analysis
            .operations
            .iter()
            .find(|o| o.operation == "send")
            .unwrap();
        assert_eq!(send.total_critical_path_us, 5);
        let cpu = |operation: &str| {
            let row = analysis
                .operations
                .iter()
                .find(|o| o.operation == operation);
            row.unwrap().mean_cpu_us
        };
        assert_eq!(
            (cpu("POST /orders"), cpu("send"), cpu("SELECT")),
            (Some(2.0), Some(1.5), None)
        );
    }

    #[test]
    fn jaegers_answer_and_a_bare_trace_are_both_read() {
        let answer = format!(r#"{{"data":[{TRACE}],"total":1}}"#);
        assert_eq!(lean(&answer), lean(TRACE));
    }

    #[test]
    fn a_folder_is_read_on_every_core_and_what_is_not_a_trace_is_skipped() {
        let dir = std::env::temp_dir().join(format!("recording-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        for i in 0..5 {
            std::fs::write(
                dir.join(format!("{i}.json")),
                TRACE.replace("t1", &format!("t{i}")),
            )
            .unwrap();
        }
        std::fs::write(dir.join("crisp.json"), r#"{"summary":[]}"#).unwrap();
        let read = analyse(std::slice::from_ref(&dir), &endpoint()).unwrap();
        assert_eq!(read.traces, 5);
        assert_eq!(read.skipped.len(), 1);
        assert_eq!(read.aggregator.finish().traces, 5);
        // Named on its own, the same file is an error.
        assert!(analyse(&[dir.join("crisp.json")], &endpoint()).is_err());
        std::fs::remove_dir_all(dir).unwrap();
    }
}
