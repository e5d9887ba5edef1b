//! The one-line human format reads back as it was written, for any record,
//! and a malformed line says what is wrong with it.

mod support;

use actions::{Outcome, Record, RecordKind};
use proptest::prelude::*;
use serde_json::Value;
use support::{ParseError, parse};

#[test]
fn malformed_lines_say_what_is_wrong() {
    assert_eq!(parse(""), Err(ParseError::Missing("time")));
    assert_eq!(parse("t X a"), Err(ParseError::Kind("X".to_owned())));
    assert_eq!(
        parse("t S a 12ms"),
        Err(ParseError::Duration("12ms".to_owned()))
    );
    assert_eq!(parse("t S a 12us k=\"open"), Err(ParseError::Unterminated));
    assert!(matches!(
        parse("t S a 12us novalue"),
        Err(ParseError::Field(_))
    ));
}

fn identifier() -> impl Strategy<Value = String> {
    "[A-Za-z_][A-Za-z0-9_.]{0,12}"
}

fn value() -> impl Strategy<Value = Value> {
    prop_oneof![
        any::<String>().prop_map(Value::String),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<bool>().prop_map(Value::Bool),
        "[ -~]{0,20}".prop_map(Value::String),
    ]
}

fn record() -> impl Strategy<Value = Record> {
    let kind = prop_oneof![
        Just(RecordKind::End(Outcome::Success)),
        Just(RecordKind::End(Outcome::Failure)),
        Just(RecordKind::End(Outcome::Exception)),
        Just(RecordKind::Comment),
        Just(RecordKind::Warning),
    ];
    (
        kind,
        identifier(),
        any::<u64>(),
        proptest::collection::vec((identifier(), value()), 0..6),
    )
        .prop_map(|(kind, name, duration, fields)| Record {
            timestamp: "2026-11-26T10:02:03.456789Z".to_owned(),
            kind,
            name,
            duration_us: matches!(kind, RecordKind::End(_)).then_some(duration),
            fields,
        })
}

proptest! {
    #[test]
    fn every_record_reads_back_as_it_was_written(record in record()) {
        let line = record.to_string();
        prop_assert!(!line.contains('\n'), "one record, one line: {line:?}");
        prop_assert_eq!(parse(&line), Ok(record));
    }
}
