//! The grader of lab 02. `just lab 2` runs it and explains each result.
//!
//! Each check builds your subscriber with two in-memory outputs and an
//! in-memory span exporter, runs a scenario under it, and reads back every
//! line written. The scenario is drawn afresh on every run (a failure prints
//! the seed that replays it): the given requests (`given/src/scenario.rs`)
//! with their own ids, and work of the grader's own, under other targets,
//! with fields of every type, events at every level, nested spans and
//! events outside any span. The filters are drawn too: whatever the
//! directive, exactly the events it lets through must be written, each
//! once, on both outputs.

use std::collections::BTreeMap;
use std::io::Write;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Arc, Mutex};

use grader_kit::checks::evidence;
use grader_kit::scenario::Dice;
use lab02::{DEFAULT_FILTER, filter_directive, scenario, subscriber};
use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider, SpanData};
use serde_json::Value;
use tracing::Level;

grader_kit::checks![
    json_lines_are_json,
    default_filter_is_info,
    filter_directive_is_honoured,
    events_carry_span_fields,
    lines_carry_trace_ids,
    each_event_once_per_output,
];

// ---------------------------------------------------------------------------
// Outputs
// ---------------------------------------------------------------------------

/// An output that keeps what is written to it.
#[derive(Clone, Default)]
struct Output(Arc<Mutex<Vec<u8>>>);

impl Write for Output {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Output {
    fn bytes(&self) -> Vec<u8> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    fn lines(&self) -> Vec<String> {
        String::from_utf8_lossy(&self.bytes())
            .lines()
            .map(strip_colours)
            .collect()
    }
}

fn strip_colours(line: &str) -> String {
    let mut out = String::new();
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        if c == '\x1b' {
            chars.by_ref().find(|c| c.is_ascii_alphabetic());
        } else {
            out.push(c);
        }
    }
    out
}

// ---------------------------------------------------------------------------
// Scenarios
// ---------------------------------------------------------------------------

/// The draws this grader needs beyond the kit's.
trait WordDraws {
    fn fresh_word(&mut self, taken: &mut Vec<String>) -> String;
}

impl WordDraws for Dice {
    /// A lower-case word no other draw of this dice has given.
    fn fresh_word(&mut self, taken: &mut Vec<String>) -> String {
        loop {
            let word: String = (0..8)
                .map(|_| char::from(b'a' + self.between(0, 25) as u8))
                .collect();
            if !taken.contains(&word) {
                taken.push(word.clone());
                return word;
            }
        }
    }
}

const LEVELS: [Level; 5] = [
    Level::ERROR,
    Level::WARN,
    Level::INFO,
    Level::DEBUG,
    Level::TRACE,
];

/// A level's verbosity as a filter counts it: `off` is 0, `trace` 5.
fn rank(level: Level) -> u8 {
    match level {
        Level::ERROR => 1,
        Level::WARN => 2,
        Level::INFO => 3,
        Level::DEBUG => 4,
        _ => 5,
    }
}

/// The target of the given scenario's events and spans.
const GIVEN: &str = "lab02_given::scenario";
/// The targets of the grader's own work.
const SHOP: [&str; 2] = ["shop::inventory", "shop::payments"];

/// One event of the grader's own, at a level and target drawn for it.
struct Note {
    level: Level,
    /// An index into [`SHOP`].
    target: usize,
    word: String,
    seq: u64,
    /// Quotes, a backslash, a tab and a non-ASCII letter: text that a line
    /// format must escape to stay one line of valid JSON.
    detail: String,
    ok: bool,
}

/// Work of the grader's own: a `reserve` span (with a field recorded after
/// it opened), a `pay` span inside it, and events in each and after both.
struct Work {
    sku: String,
    count: u64,
    express: bool,
    batch: i64,
    amount: u64,
    in_reserve: Vec<Note>,
    in_pay: Vec<Note>,
    after: Vec<Note>,
}

enum Step {
    StartUp,
    Request(u64),
    Work(Work),
}

fn draw_notes(dice: &mut Dice, words: &mut Vec<String>, count: u64) -> Vec<Note> {
    (0..count)
        .map(|_| {
            let word = dice.fresh_word(words);
            let seq = dice.between(0, 1_000_000);
            Note {
                level: dice.pick(&LEVELS),
                target: dice.between(0, 1) as usize,
                detail: format!("said \"{word}\" \\ back\tthen, für {seq}"),
                word,
                seq,
                ok: dice.one_in(2),
            }
        })
        .collect()
}

/// The given requests with distinct ids, the grader's work, and the
/// service's start, in a random order.
fn draw_plan(dice: &mut Dice) -> Vec<Step> {
    let mut words = Vec::new();
    let mut steps = vec![Step::StartUp];
    let mut ids: Vec<u64> = Vec::new();
    for _ in 0..dice.between(1, 3) {
        let id = loop {
            let id = dice.between(1, 999_999_999_999);
            if !ids.contains(&id) {
                break id;
            }
        };
        ids.push(id);
        steps.push(Step::Request(id));
    }
    for _ in 0..dice.between(1, 2) {
        let stem = dice.fresh_word(&mut words);
        let sku = format!("{stem}-{}", dice.between(1, 99));
        let (count, express) = (dice.between(1, 50), dice.one_in(2));
        let batch = dice.between(0, 2_000_000) as i64 - 1_000_000;
        let amount = dice.between(1, 10_000_000);
        let in_reserve = {
            let n = dice.between(1, 3);
            draw_notes(dice, &mut words, n)
        };
        let in_pay = {
            let n = dice.between(1, 2);
            draw_notes(dice, &mut words, n)
        };
        let after = {
            let n = dice.between(1, 2);
            draw_notes(dice, &mut words, n)
        };
        steps.push(Step::Work(Work {
            sku,
            count,
            express,
            batch,
            amount,
            in_reserve,
            in_pay,
            after,
        }));
    }
    dice.shuffle(&mut steps);
    steps
}

/// Emits a note at its level, under a target written out (a callsite's
/// target and level are constants).
macro_rules! note_event {
    ($target:literal, $note:expr) => {{
        let note: &Note = $note;
        let (seq, detail, ok, word) = (note.seq, note.detail.as_str(), note.ok, &note.word);
        if note.level == Level::ERROR {
            tracing::event!(target: $target, Level::ERROR, seq, detail, ok, "{} noted", word);
        } else if note.level == Level::WARN {
            tracing::event!(target: $target, Level::WARN, seq, detail, ok, "{} noted", word);
        } else if note.level == Level::INFO {
            tracing::event!(target: $target, Level::INFO, seq, detail, ok, "{} noted", word);
        } else if note.level == Level::DEBUG {
            tracing::event!(target: $target, Level::DEBUG, seq, detail, ok, "{} noted", word);
        } else {
            tracing::event!(target: $target, Level::TRACE, seq, detail, ok, "{} noted", word);
        }
    }};
}

fn emit(note: &Note) {
    match note.target {
        0 => note_event!("shop::inventory", note),
        _ => note_event!("shop::payments", note),
    }
}

/// Runs the plan under the current subscriber.
fn perform(plan: &[Step]) {
    for step in plan {
        match step {
            Step::StartUp => scenario::start_up(),
            Step::Request(id) => scenario::handle_request(*id),
            Step::Work(work) => {
                let reserve = tracing::info_span!(
                    target: "shop::inventory",
                    "reserve",
                    sku = work.sku.as_str(),
                    count = work.count,
                    express = work.express,
                    batch = tracing::field::Empty
                );
                {
                    let _reserving = reserve.enter();
                    // Known only once the span is open: the line must show it all the same.
                    reserve.record("batch", work.batch);
                    work.in_reserve.iter().for_each(emit);
                    let pay =
                        tracing::info_span!(target: "shop::payments", "pay", amount = work.amount);
                    let _paying = pay.enter();
                    work.in_pay.iter().for_each(emit);
                }
                drop(reserve);
                work.after.iter().for_each(emit);
            }
        }
    }
}

/// A span an event happened in: which one (`key`, unique in the run), its
/// name, and its fields as a JSON line should show them.
#[derive(Clone)]
struct SpanShape {
    key: usize,
    name: &'static str,
    fields: Vec<(&'static str, Value)>,
}

/// One event the plan emits, and what its lines must show.
#[derive(Clone)]
struct Emitted {
    level: Level,
    target: &'static str,
    message: String,
    fields: Vec<(&'static str, Value)>,
    span: Option<SpanShape>,
}

/// An event of the given scenario, in `span`.
fn given(
    level: Level,
    message: &str,
    fields: Vec<(&'static str, Value)>,
    span: &SpanShape,
) -> Emitted {
    Emitted {
        level,
        target: GIVEN,
        message: message.to_owned(),
        fields,
        span: Some(span.clone()),
    }
}

/// Every event the plan emits, in order, whatever the filter.
fn events_of(plan: &[Step]) -> Vec<Emitted> {
    let mut events = Vec::new();
    let mut key = 0;
    for step in plan {
        match step {
            Step::StartUp => events.push(Emitted {
                level: Level::INFO,
                target: GIVEN,
                message: "service starting".to_owned(),
                fields: Vec::new(),
                span: None,
            }),
            Step::Request(id) => {
                // What `scenario::handle_request` emits (given/src/scenario.rs).
                let request = SpanShape {
                    key,
                    name: "handle_request",
                    fields: vec![
                        ("request_id", Value::from(*id)),
                        ("route", Value::from("/orders")),
                    ],
                };
                let charge = SpanShape {
                    key: key + 1,
                    name: "charge",
                    fields: vec![("amount_cents", Value::from(9_000))],
                };
                key += 2;
                events.extend([
                    given(
                        Level::INFO,
                        "order accepted",
                        vec![("customer", Value::from("ada"))],
                        &request,
                    ),
                    given(
                        Level::DEBUG,
                        "order validated",
                        vec![("lines", Value::from(2))],
                        &request,
                    ),
                    given(Level::TRACE, "looking up prices", Vec::new(), &request),
                    given(
                        Level::WARN,
                        "payment processor busy, retrying",
                        vec![("attempt", Value::from(1))],
                        &charge,
                    ),
                    given(Level::INFO, "charged", Vec::new(), &charge),
                    given(
                        Level::ERROR,
                        "order confirmed but not audited",
                        vec![("reason", Value::from("audit log unavailable"))],
                        &request,
                    ),
                ]);
            }
            Step::Work(work) => {
                let reserve = SpanShape {
                    key,
                    name: "reserve",
                    fields: vec![
                        ("sku", Value::from(work.sku.as_str())),
                        ("count", Value::from(work.count)),
                        ("express", Value::from(work.express)),
                        ("batch", Value::from(work.batch)),
                    ],
                };
                let pay = SpanShape {
                    key: key + 1,
                    name: "pay",
                    fields: vec![("amount", Value::from(work.amount))],
                };
                key += 2;
                let groups = [
                    (&work.in_reserve, Some(&reserve)),
                    (&work.in_pay, Some(&pay)),
                    (&work.after, None),
                ];
                for (group, span) in groups {
                    for note in group {
                        events.push(Emitted {
                            level: note.level,
                            target: SHOP[note.target],
                            message: format!("{} noted", note.word),
                            fields: vec![
                                ("seq", Value::from(note.seq)),
                                ("detail", Value::from(note.detail.as_str())),
                                ("ok", Value::from(note.ok)),
                            ],
                            span: span.cloned(),
                        });
                    }
                }
            }
        }
    }
    events
}

// ---------------------------------------------------------------------------
// Filters
// ---------------------------------------------------------------------------

/// A filter directive, and what it lets through, as `EnvFilter` reads it:
/// the directive with the longest target that is a prefix of the event's
/// target decides; without one, the directive without a target; without
/// that, nothing.
#[derive(Clone, Debug)]
struct Filter {
    text: String,
    everyone: Option<u8>,
    targets: Vec<(&'static str, u8)>,
}

const LEVEL_NAMES: [&str; 6] = ["off", "error", "warn", "info", "debug", "trace"];
/// Targets a directive may name: prefixes of the scenario's targets.
const DIRECTIVE_TARGETS: [&str; 6] = [
    "lab02",
    "lab02_given",
    "lab02_given::scenario",
    "shop",
    "shop::inventory",
    "shop::payments",
];

impl Filter {
    fn lets_through(&self, target: &str, level: Level) -> bool {
        let decides = self
            .targets
            .iter()
            .filter(|(t, _)| target.starts_with(t))
            .max_by_key(|(t, _)| t.len())
            .map(|(_, rank)| *rank)
            .or(self.everyone);
        decides.is_some_and(|most| rank(level) <= most)
    }

    /// A filter of one level for everyone: `info`, `debug`...
    fn everyone(rank: u8) -> Self {
        Self {
            text: LEVEL_NAMES[rank as usize].to_owned(),
            everyone: Some(rank),
            targets: Vec::new(),
        }
    }

    /// A directive from parts, each level name in upper case now and then
    /// (`EnvFilter` reads either).
    fn build(dice: &mut Dice, everyone: Option<u8>, targets: Vec<(&'static str, u8)>) -> Self {
        let mut name = |rank: u8| {
            let name = LEVEL_NAMES[rank as usize];
            if dice.one_in(4) {
                name.to_uppercase()
            } else {
                name.to_owned()
            }
        };
        let mut parts: Vec<String> = everyone.map(&mut name).into_iter().collect();
        for (target, rank) in &targets {
            parts.push(format!("{target}={}", name(*rank)));
        }
        Self {
            text: parts.join(","),
            everyone,
            targets,
        }
    }
}

/// The events of `plan` that `filter` lets through, in order.
fn let_through(plan: &[Step], filter: &Filter) -> Vec<Emitted> {
    events_of(plan)
        .into_iter()
        .filter(|e| filter.lets_through(e.target, e.level))
        .collect()
}

// ---------------------------------------------------------------------------
// Running a scenario
// ---------------------------------------------------------------------------

/// What a run wrote and exported.
struct Run {
    console: Output,
    json: Output,
    spans: Vec<SpanData>,
}

/// Builds the subscriber with `filter`, runs `plan` under it, and returns
/// what it wrote and the spans its OpenTelemetry layer exported.
fn record(filter: &str, plan: &[Step]) -> Run {
    let (console, json) = (Output::default(), Output::default());
    let exporter = InMemorySpanExporter::default();
    let provider = SdkTracerProvider::builder()
        .with_simple_exporter(exporter.clone())
        .build();
    let (c, j) = (console.clone(), json.clone());
    let subscriber = subscriber(filter, move || c.clone(), move || j.clone(), &provider);
    tracing::subscriber::with_default(subscriber, || perform(plan));
    // Read before the provider goes: shutting it down empties the exporter.
    let spans = exporter.get_finished_spans().unwrap_or_default();
    drop(provider);
    let run = Run {
        console,
        json,
        spans,
    };
    evidence("What your subscriber wrote", run.describe());
    run
}

impl Run {
    /// Both outputs, for a failure to show.
    fn describe(&self) -> String {
        let listing = |lines: Vec<String>| {
            let total = lines.len();
            let mut text: Vec<String> = lines
                .into_iter()
                .take(30)
                .map(|l| format!("  {l}"))
                .collect();
            if total > 30 {
                text.push(format!("  ... ({} more)", total - 30));
            }
            if total == 0 {
                text.push("  (nothing)".to_owned());
            }
            text.join("\n")
        };
        format!(
            "the JSON output:\n{}\nthe console:\n{}",
            listing(self.json.lines()),
            listing(self.console.lines())
        )
    }

    /// The JSON lines, parsed, or a failure that says which line is not JSON.
    fn json_lines(&self) -> Vec<Value> {
        self.json
            .lines()
            .iter()
            .map(|line| match serde_json::from_str::<Value>(line) {
                Ok(value) if value.is_object() => value,
                Ok(value) => panic!(
                    "This line of the JSON output is JSON, but not an object with named \
                     fields: {value}\nA log pipeline reads one object per line (README step 5)."
                ),
                Err(err) => panic!(
                    "This line of the JSON output is not JSON ({err}):\n  {line}\nEverything \
                     written to the `json` output must be one JSON object per line: a line \
                     in another format there breaks the log pipeline that reads it (README \
                     steps 3 and 5)."
                ),
            })
            .collect()
    }
}

fn message_of(line: &Value) -> Option<&str> {
    line.get("fields")?.get("message")?.as_str()
}

/// The span a line says its event happened in: tracing-subscriber's
/// `span` (the current span), or else the last of its `spans`.
fn span_of(line: &Value) -> Option<&serde_json::Map<String, Value>> {
    line.get("span").and_then(Value::as_object).or_else(|| {
        line.get("spans")
            .and_then(Value::as_array)
            .and_then(|spans| spans.last())
            .and_then(Value::as_object)
    })
}

/// `(level, message)` of every event, counted.
fn tally(items: impl Iterator<Item = (String, String)>) -> BTreeMap<(String, String), usize> {
    let mut counts = BTreeMap::new();
    for item in items {
        *counts.entry(item).or_insert(0) += 1;
    }
    counts
}

/// The difference between what should have been written and what was, in words.
fn difference(
    expected: &BTreeMap<(String, String), usize>,
    written: &BTreeMap<(String, String), usize>,
) -> String {
    let mut out = Vec::new();
    for ((level, message), want) in expected {
        let got = written
            .get(&(level.clone(), message.clone()))
            .copied()
            .unwrap_or(0);
        if got != *want {
            out.push(format!(
                "  {level} {message:?}: {want} expected, {got} written"
            ));
        }
    }
    for ((level, message), got) in written {
        if !expected.contains_key(&(level.clone(), message.clone())) {
            out.push(format!(
                "  {level} {message:?}: {got} written, none expected"
            ));
        }
    }
    out.join("\n")
}

fn expected_tally(events: &[Emitted]) -> BTreeMap<(String, String), usize> {
    tally(
        events
            .iter()
            .map(|e| (e.level.to_string(), e.message.clone())),
    )
}

fn json_tally(lines: &[Value]) -> BTreeMap<(String, String), usize> {
    tally(lines.iter().map(|l| {
        (
            l.get("level")
                .and_then(Value::as_str)
                .unwrap_or("(no level)")
                .to_owned(),
            message_of(l).unwrap_or("(no message)").to_owned(),
        )
    }))
}

/// Asserts that each output holds exactly the events `filter` lets
/// through, each once.
fn assert_exactly(run: &Run, expected: &[Emitted], filter: &str, why: &str) {
    let want = expected_tally(expected);
    let got = json_tally(&run.json_lines());
    assert!(
        want == got,
        "With the filter {filter:?}, the JSON output should hold exactly the events it \
         lets through, each once; it differs:\n{}\n{why}",
        difference(&want, &got)
    );
    let console = run.console.lines();
    let mut messages: BTreeMap<&str, usize> = BTreeMap::new();
    for event in expected {
        *messages.entry(event.message.as_str()).or_insert(0) += 1;
    }
    for (message, want) in &messages {
        let got = console.iter().filter(|l| l.contains(message)).count();
        assert_eq!(
            got, *want,
            "With the filter {filter:?}, the console should show {message:?} on {want} \
             line(s), once per time it happened; it shows it on {got}.\n{why}"
        );
    }
    assert_eq!(
        console.len(),
        expected.len(),
        "With the filter {filter:?}, {} events pass the filter, so the console should \
         have {} lines, one per event; it has {}: it writes lines the filter should have \
         kept out, or lines that are no event.\n{why}",
        expected.len(),
        expected.len(),
        console.len()
    );
}

/// The JSON lines of a run that must have written some.
fn some_json_lines(run: &Run) -> Vec<Value> {
    let lines = run.json_lines();
    assert!(
        !lines.is_empty(),
        "Nothing was written to the `json` output, though the scenario emitted events at \
         INFO and above: no event reached that writer, so the log pipeline would receive \
         nothing at all (README steps 2 and 5)."
    );
    lines
}

/// A JSON value as the line holds it, for a message.
fn shown(value: Option<&Value>) -> String {
    value.map_or("nothing".to_owned(), Value::to_string)
}

// ---------------------------------------------------------------------------
// Checks
// ---------------------------------------------------------------------------

fn json_lines_are_json() {
    let mut dice = Dice::new();
    let plan = draw_plan(&mut dice);
    let filter = Filter::everyone(dice.pick(&[3, 4, 5]));
    let run = record(&filter.text, &plan);
    let expected = let_through(&plan, &filter);
    for line in some_json_lines(&run) {
        let Some(message) = message_of(&line) else {
            panic!(
                "Each JSON line should hold its event's message in `fields.message`, as \
                 tracing-subscriber's JSON format writes it; this one does not: {line}"
            )
        };
        let Some(event) = expected.iter().find(|e| e.message == message) else {
            panic!(
                "This JSON line is for no event that the filter {:?} lets through: {line}",
                filter.text
            )
        };
        let level = line.get("level");
        assert!(
            level.and_then(Value::as_str) == Some(event.level.as_str()),
            "The line of {message:?}, an event at {}, has `level` {}: each line says its \
             event's level, as text, so that a search can select by it: {line}",
            event.level,
            shown(level)
        );
        for (name, value) in &event.fields {
            let found = line.get("fields").and_then(|f| f.get(*name));
            assert!(
                found == Some(value),
                "The line of {message:?} should hold the event's field `{name}` = {value} \
                 under `fields`, with its type kept (a number as a number, a flag as a \
                 boolean, text exactly as recorded); it holds {}: {line}",
                shown(found)
            );
        }
    }
}

fn default_filter_is_info() {
    let mut dice = Dice::new();
    assert_eq!(
        filter_directive(None),
        DEFAULT_FILTER,
        "With RUST_LOG unset, `filter_directive` should give DEFAULT_FILTER (README step 1)."
    );
    assert_eq!(
        filter_directive(Some(String::new())),
        DEFAULT_FILTER,
        "With RUST_LOG set but empty, `filter_directive` should give DEFAULT_FILTER, as \
         when it is unset (README step 1)."
    );
    let target = dice.pick(&DIRECTIVE_TARGETS);
    let level = dice.between(0, 5) as u8;
    let chosen = Filter::build(&mut dice, None, vec![(target, level)]).text;
    assert_eq!(
        filter_directive(Some(chosen.clone())),
        chosen,
        "With RUST_LOG={chosen:?}, `filter_directive` should give what it holds, unchanged \
         (README step 1)."
    );

    // Unset: every event at INFO and above, of every target, and no other.
    let plan = draw_plan(&mut dice);
    let default = filter_directive(None);
    let run = record(&default, &plan);
    assert_exactly(
        &run,
        &let_through(&plan, &Filter::everyone(3)),
        &default,
        "RUST_LOG unset means INFO and above from everyone, in both outputs: what was \
         written is not what the directive the subscriber was given lets through \
         (README step 2).",
    );

    // A directive that does not parse: the service keeps running, its
    // errors are still written, and it does not start writing DEBUG.
    let bad = dice.pick(&["loud", "verbose", "warning", "everything", "7"]);
    let target = dice.pick(&DIRECTIVE_TARGETS);
    let invalid = if dice.one_in(2) {
        format!("{target}={bad}")
    } else {
        format!("{},{target}={bad}", dice.pick(&["error", "warn", "info"]))
    };
    let built = catch_unwind(AssertUnwindSafe(|| {
        record(&filter_directive(Some(invalid.clone())), &plan)
    }));
    let Ok(run) = built else {
        panic!(
            "With RUST_LOG={invalid:?}, which does not parse, your subscriber panicked (see \
             the panic above): a typo in RUST_LOG would stop the service from starting. \
             A directive that does not parse must not stop it, nor silence it."
        )
    };
    let events = events_of(&plan);
    let json = run.json_lines();
    let console = run.console.lines();
    for event in events.iter().filter(|e| e.level == Level::ERROR) {
        let in_json = json
            .iter()
            .any(|l| message_of(l) == Some(event.message.as_str()));
        let in_console = console.iter().any(|l| l.contains(&event.message));
        assert!(
            in_json && in_console,
            "With RUST_LOG={invalid:?}, which does not parse, the ERROR event {:?} was not \
             written (JSON: {in_json}, console: {in_console}). A mistyped RUST_LOG must \
             not silence a service's errors.",
            event.message
        );
    }
    for event in events.iter().filter(|e| rank(e.level) > 3) {
        let in_json = json
            .iter()
            .any(|l| message_of(l) == Some(event.message.as_str()));
        let in_console = console.iter().any(|l| l.contains(&event.message));
        assert!(
            !in_json && !in_console,
            "With RUST_LOG={invalid:?}, which does not parse, the {} event {:?} was \
             written: a directive that cannot be read let everything through, which floods \
             the logs. At most INFO and above should be written.",
            event.level,
            event.message
        );
    }
}

fn filter_directive_is_honoured() {
    let mut dice = Dice::new();
    let plan = draw_plan(&mut dice);
    // One directive that opens DEBUG or TRACE for the given code and
    // quietens the rest...
    let quiet: Option<u8> = dice.pick(&[None, Some(0), Some(1), Some(2)]);
    let given_target = dice.pick(&DIRECTIVE_TARGETS[..3]);
    let verbose: u8 = dice.pick(&[4, 5]);
    let loud = Filter::build(&mut dice, quiet, vec![(given_target, verbose)]);
    // ...and one drawn at random: a level for everyone or not, one or two
    // targets with levels of their own.
    let everyone = if dice.one_in(3) {
        None
    } else {
        Some(dice.between(0, 4) as u8)
    };
    let mut targets = Vec::new();
    for _ in 0..dice.between(1, 2) {
        let target = dice.pick(&DIRECTIVE_TARGETS);
        if targets.iter().all(|(t, _)| *t != target) {
            targets.push((target, dice.between(0, 5) as u8));
        }
    }
    let random = Filter::build(&mut dice, everyone, targets);
    // ...and one that names a target alone: no level for everyone, so
    // every other target is off (a directive is not added to a default).
    let verbose: u8 = dice.pick(&[3, 4, 5]);
    let alone = Filter::build(&mut dice, None, vec![(given_target, verbose)]);
    for filter in [loud, random, alone] {
        let directive = filter_directive(Some(filter.text.clone()));
        let run = record(&directive, &plan);
        assert_exactly(
            &run,
            &let_through(&plan, &filter),
            &filter.text,
            "The `filter` argument is a RUST_LOG directive: levels per target, the most \
             specific target deciding. What was written does not follow it, so an operator \
             who changes RUST_LOG would not get what they asked for (README step 2).",
        );
    }
}

fn events_carry_span_fields() {
    let mut dice = Dice::new();
    let plan = draw_plan(&mut dice);
    let filter = Filter::everyone(dice.pick(&[3, 4, 5]));
    let run = record(&filter.text, &plan);
    let mut lines = some_json_lines(&run);
    // Each event takes the first line of its message that shows its span:
    // lines of the same message from other spans are left for their own.
    for event in let_through(&plan, &filter) {
        let candidates: Vec<usize> = (0..lines.len())
            .filter(|&i| message_of(&lines[i]) == Some(event.message.as_str()))
            .collect();
        let Some(&first) = candidates.first() else {
            panic!(
                "No JSON line for the event {:?}: every event the filter lets through has \
                 a line (README step 5).",
                event.message
            )
        };
        let Some(span) = &event.span else {
            assert!(
                span_of(&lines[first]).is_none(),
                "The event {:?} happened outside any span, yet its line shows a span: {}. \
                 A line shows the span its event happened in, and only that one.",
                event.message,
                lines[first]
            );
            lines.remove(first);
            continue;
        };
        let fits = |line: &Value| {
            span_of(line).is_some_and(|s| {
                s.get("name")
                    .and_then(Value::as_str)
                    .is_none_or(|n| n == span.name)
                    && span
                        .fields
                        .iter()
                        .all(|(name, value)| s.get(*name) == Some(value))
            })
        };
        let Some(&at) = candidates.iter().find(|&&i| fits(&lines[i])) else {
            let wanted: Vec<String> = span
                .fields
                .iter()
                .map(|(n, v)| format!("{n}={v}"))
                .collect();
            panic!(
                "The event {:?} happened in the span `{}` ({}), but no line of it carries \
                 that span's fields, with their types: a line should show the fields of the \
                 span its event happened in, including those recorded after the span \
                 opened, so that a search by any of them finds it (README step 5). Its \
                 line: {}",
                event.message,
                span.name,
                wanted.join(", "),
                lines[first]
            )
        };
        lines.remove(at);
    }
}

fn lines_carry_trace_ids() {
    let mut dice = Dice::new();
    let plan = draw_plan(&mut dice);
    let filter = Filter::everyone(dice.pick(&[3, 4, 5]));
    let run = record(&filter.text, &plan);
    let lines = some_json_lines(&run);
    let expected = let_through(&plan, &filter);

    // Which span of the plan each exported span is: a request's by its id,
    // the grader's work by its sku, a child by its parent.
    let text_of = |s: &SpanData, key: &str| {
        s.attributes
            .iter()
            .find(|kv| kv.key.as_str() == key)
            .map(|kv| kv.value.to_string())
    };
    let mut keys: BTreeMap<String, usize> = BTreeMap::new();
    let mut key = 0;
    for step in &plan {
        let (root, id) = match step {
            Step::StartUp => continue,
            Step::Request(id) => ("handle_request", ("request_id", id.to_string())),
            Step::Work(work) => ("reserve", ("sku", work.sku.clone())),
        };
        let found = run
            .spans
            .iter()
            .find(|s| s.name == root && text_of(s, id.0).as_deref() == Some(id.1.as_str()));
        if let Some(parent) = found {
            keys.insert(parent.span_context.span_id().to_string(), key);
            for child in run
                .spans
                .iter()
                .filter(|s| s.parent_span_id == parent.span_context.span_id())
            {
                keys.insert(child.span_context.span_id().to_string(), key + 1);
            }
        }
        key += 2;
    }
    let exported = |span_id: &str| {
        run.spans
            .iter()
            .find(|s| s.span_context.span_id().to_string() == span_id)
    };

    let mut per_span: BTreeMap<usize, usize> = BTreeMap::new();
    for line in &lines {
        let message = message_of(line).unwrap_or("");
        let Some(event) = expected.iter().find(|e| e.message == message) else {
            panic!(
                "This JSON line is for no event that the filter {:?} lets through: {line}",
                filter.text
            )
        };
        let (trace_id, span_id) = (line.get("trace_id"), line.get("span_id"));
        let Some(span) = &event.span else {
            assert!(
                trace_id.is_none() && span_id.is_none(),
                "{message:?} happens outside any span, so it belongs to no trace, yet its line \
                 carries `trace_id` {} and `span_id` {}: ids of some other span, which would \
                 lead a search to the wrong trace: {line}",
                shown(trace_id),
                shown(span_id)
            );
            continue;
        };
        fn hex(v: Option<&Value>, len: usize) -> Option<&str> {
            v.and_then(Value::as_str).filter(|s| {
                s.len() == len
                    && s.bytes()
                        .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
                    && s.bytes().any(|b| b != b'0')
            })
        }
        let (Some(trace_id), Some(span_id)) = (hex(trace_id, 32), hex(span_id, 16)) else {
            panic!(
                "The line of {message:?}, an event in the span `{}`, should carry `trace_id` \
                 (32 lower-case hex digits) and `span_id` (16), the OpenTelemetry ids of that \
                 span; it carries `trace_id` {} and `span_id` {}, so a log search cannot lead \
                 from this line to its trace (README steps 4 and 5): {line}",
                span.name,
                shown(trace_id),
                shown(span_id)
            )
        };
        let Some(otel) = exported(span_id) else {
            panic!(
                "The line of {message:?} carries `span_id` {span_id}, but no span with that id \
                 was exported by the tracer provider it was given: the ids must be those of \
                 the spans the provider exports, or the line leads to no trace (README step 4)."
            )
        };
        assert!(
            otel.name == span.name && otel.span_context.trace_id().to_string() == trace_id,
            "The line of {message:?}, an event in the span `{}`, carries the ids of the span \
             `{}` (trace {}), with `trace_id` {trace_id}: a line carries the ids of the span \
             its event happened in, and that span's trace.",
            span.name,
            otel.name,
            otel.span_context.trace_id()
        );
        let Some(&key) = keys.get(span_id) else {
            panic!(
                "The line of {message:?} carries the ids of a span that no step of the scenario made: {line}"
            )
        };
        *per_span.entry(key).or_insert(0) += 1;
    }
    // Every span, not one per name: each request's lines carry its own ids.
    let mut wanted: BTreeMap<usize, (usize, &'static str)> = BTreeMap::new();
    for event in &expected {
        if let Some(span) = &event.span {
            wanted.entry(span.key).or_insert((0, span.name)).0 += 1;
        }
    }
    for (key, (want, name)) in wanted {
        let got = per_span.get(&key).copied().unwrap_or(0);
        assert_eq!(
            got, want,
            "{want} events happened in one `{name}` span, but {got} lines carry its ids: \
             lines of one request must carry that request's ids, not those of another \
             request's span of the same name (one trace per request)."
        );
    }
    // One trace per request: two roots never share a trace id.
    let mut traces: Vec<String> = run
        .spans
        .iter()
        .filter(|s| {
            keys.get(&s.span_context.span_id().to_string())
                .is_some_and(|k| k % 2 == 0)
        })
        .map(|s| s.span_context.trace_id().to_string())
        .collect();
    let roots = traces.len();
    traces.sort();
    traces.dedup();
    assert_eq!(
        traces.len(),
        roots,
        "{roots} separate requests were handled, but their spans share trace ids: each \
         request is a trace of its own."
    );
}

fn each_event_once_per_output() {
    let mut dice = Dice::new();
    let plan = draw_plan(&mut dice);
    let filter = Filter::everyone(dice.pick(&[3, 4, 5]));
    let run = record(&filter.text, &plan);
    let expected = let_through(&plan, &filter);
    assert_exactly(
        &run,
        &expected,
        &filter.text,
        "An event missing from an output, written twice to it, or written to the other \
         output makes every count and search over the logs wrong (README steps 3 and 5).",
    );
    for line in run.console.lines() {
        let event = expected
            .iter()
            .find(|e| line.contains(&e.message))
            .unwrap_or_else(|| panic!("This console line shows no event of the scenario: {line}"));
        assert!(
            serde_json::from_str::<Value>(&line).is_err() && line.contains(event.level.as_str()),
            "Console lines are for people: plain text that shows the event's level ({}), \
             not JSON. This one is not: {line}",
            event.level
        );
    }
    // The console output may be a file or a pipe: colour codes there are noise.
    let written = run.console.bytes();
    assert!(
        !written.contains(&0x1b),
        "The console output holds terminal colour codes (ESC sequences), which a file or a \
         pipe shows as noise: {:?}. The console lines must be plain text (README step 3).",
        String::from_utf8_lossy(&written)
            .lines()
            .next()
            .unwrap_or_default()
    );
}
