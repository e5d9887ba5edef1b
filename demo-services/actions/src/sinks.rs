//! Sinks that write records: one human line, or one JSON object, each.

use std::io::Write;

use tracing_subscriber::fmt::MakeWriter;

use crate::format::{Record, RecordKind};
use crate::layer::Sink;
use crate::levels::Levels;

fn writes(levels: &Levels, kind: RecordKind) -> bool {
    match kind {
        RecordKind::End(outcome) => levels.writes(outcome),
        RecordKind::Comment => levels.threshold >= tracing::Level::INFO,
        RecordKind::Warning => levels.threshold >= tracing::Level::WARN,
    }
}

/// One line per record, in the format [`Record`] documents (and parses).
pub struct HumanSink<W> {
    writer: W,
    levels: Levels,
}

impl<W> HumanSink<W>
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    pub fn new(writer: W, levels: Levels) -> Self {
        Self { writer, levels }
    }
}

impl<W> Sink for HumanSink<W>
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    fn wants(&self, kind: RecordKind) -> bool {
        writes(&self.levels, kind)
    }

    fn record(&self, record: &Record) {
        // One write call per line, so lines from threads do not interleave.
        let _ = self
            .writer
            .make_writer()
            .write_all(format!("{record}\n").as_bytes());
    }
}

/// One JSON object per record, for log aggregation.
pub struct JsonSink<W> {
    writer: W,
    levels: Levels,
}

impl<W> JsonSink<W>
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    pub fn new(writer: W, levels: Levels) -> Self {
        Self { writer, levels }
    }
}

impl<W> Sink for JsonSink<W>
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    fn wants(&self, kind: RecordKind) -> bool {
        writes(&self.levels, kind)
    }

    fn record(&self, record: &Record) {
        let _ = self
            .writer
            .make_writer()
            .write_all(format!("{}\n", record.to_json()).as_bytes());
    }
}
