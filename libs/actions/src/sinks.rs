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

/// One line per record: [`LineSink::human`] in the format [`Record`]
/// documents (and parses), or [`LineSink::json`], one JSON object per line.
/// The two differ only in how a record becomes a line.
pub struct LineSink<W> {
    writer: W,
    levels: Levels,
    line: fn(&Record) -> String,
}

impl<W> LineSink<W>
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    /// Lines for people, that parse back into records.
    pub fn human(writer: W, levels: Levels) -> Self {
        Self {
            writer,
            levels,
            line: |record| format!("{record}\n"),
        }
    }

    /// One JSON object per line, for log aggregation.
    pub fn json(writer: W, levels: Levels) -> Self {
        Self {
            writer,
            levels,
            line: |record| format!("{}\n", record.to_json()),
        }
    }
}

impl<W> Sink for LineSink<W>
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
            .write_all((self.line)(record).as_bytes());
    }
}
