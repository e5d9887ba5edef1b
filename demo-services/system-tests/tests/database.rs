//! The catalog keeps its data in a real database (SQLite here), and every
//! statement is a client span from one instrumentation point, sqlx's own
//! statement log (`telemetry::db`): named and attributed by OpenTelemetry's
//! database conventions, a child of the request it ran for, its text with
//! placeholders only; a statement the database refuses, marked failed. And
//! planted problem 6, N+1 queries, with its fix.

use axum::Router;
use axum::extract::State;
use axum::routing::post;
use in_process::{Service, attr};
use opentelemetry::trace::{SpanKind, Status};
use opentelemetry_sdk::trace::SpanData;
use shop::db::Db;
use shop::domain::{Talk, programme};
use shop::{ApiError, Fixes};
use system_tests::{Options, Shop, Spans};

/// The shop with `fixes`, asked the catalog's `path`; the answer and the
/// spans.
fn ask_catalog<T: serde::de::DeserializeOwned>(fixes: Fixes, path: &str) -> (T, Spans) {
    let shop = Shop::start(Options {
        fixes,
        ..Options::default()
    });
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let url = format!("{}{path}", shop.url("catalog"));
    let answer = runtime.block_on(async {
        reqwest::get(&url)
            .await
            .expect("the catalog answers")
            .json::<T>()
            .await
            .expect("JSON")
    });
    (answer, shop.stop())
}

/// The database spans under the catalog's server span named `operation`.
fn statements_of<'a>(spans: &'a Spans, operation: &str) -> Vec<&'a SpanData> {
    let catalog = spans.of("catalog");
    let request = catalog
        .iter()
        .find(|s| s.span_kind == SpanKind::Server && s.name == operation)
        .unwrap_or_else(|| panic!("a server span {operation}"));
    let mut statements: Vec<&SpanData> = catalog
        .iter()
        .filter(|s| s.span_kind == SpanKind::Client)
        .filter(|s| s.parent_span_id == request.span_context.span_id())
        .collect();
    statements.sort_by_key(|s| s.start_time);
    for statement in &statements {
        assert_eq!(
            statement.span_context.trace_id(),
            request.span_context.trace_id(),
            "a statement's span is in its request's trace"
        );
    }
    statements
}

#[test]
fn each_statement_is_a_client_span_with_the_database_conventions() {
    let (talks, spans) = ask_catalog::<Vec<Talk>>(Fixes::default(), "/talks");
    assert_eq!(talks, programme(), "the database holds the programme");
    let statements = statements_of(&spans, "GET /talks");
    let first = statements.first().expect("a statement span");
    assert_eq!(first.name, "SELECT talks");
    // SQLite in memory, or the database CI names (PostgreSQL).
    let system = match std::env::var("DATABASE_URL") {
        Ok(url) if url.starts_with("postgres") => "postgresql",
        _ => "sqlite",
    };
    assert_eq!(attr(first, "db.system.name").as_deref(), Some(system));
    assert_eq!(attr(first, "db.operation.name").as_deref(), Some("SELECT"));
    assert_eq!(attr(first, "db.collection.name").as_deref(), Some("talks"));
    assert_eq!(
        attr(first, "db.query.text").as_deref(),
        Some("SELECT id, title, speaker_id, room, capacity FROM talks ORDER BY id")
    );
    assert_eq!(
        attr(first, "db.response.returned_rows"),
        Some(talks.len().to_string())
    );
    for statement in &statements {
        assert!(statement.start_time <= statement.end_time, "{statement:?}");
    }
}

#[test]
fn the_n_plus_one_is_a_ladder_of_identical_statements_and_the_fix_makes_it_one() {
    let (talks, spans) = ask_catalog::<Vec<Talk>>(Fixes::default(), "/talks");
    let ladder = statements_of(&spans, "GET /talks");
    assert_eq!(
        ladder.len(),
        1 + 2 * talks.len(),
        "the list, then a speaker and a price per talk: {:?}",
        ladder.iter().map(|s| &s.name).collect::<Vec<_>>()
    );
    // Every rung is the same statement: the text holds the placeholder, and
    // the talk it was bound to appears nowhere in it.
    let texts: Vec<String> = ladder[1..]
        .iter()
        .map(|s| attr(s, "db.query.text").expect("every statement span has its text"))
        .collect();
    assert!(
        texts
            .iter()
            .all(|t| t == "SELECT name FROM speakers WHERE id = $1"
                || t == "SELECT price_cents FROM prices WHERE talk_id = $1"),
        "{texts:?}"
    );

    let (fixed_talks, spans) = ask_catalog::<Vec<Talk>>(Fixes::all(), "/talks");
    assert_eq!(fixed_talks, talks, "the fix answers the same");
    let fixed = statements_of(&spans, "GET /talks");
    assert_eq!(fixed.len(), 1, "one query joins the three tables");
    assert_eq!(
        attr(fixed[0], "db.response.returned_rows"),
        Some(talks.len().to_string())
    );
}

#[test]
fn the_order_paths_look_up_of_one_talk_is_three_statements_and_the_fix_makes_it_one() {
    let (talk, spans) = ask_catalog::<Talk>(Fixes::default(), "/talks/5");
    let names: Vec<&str> = statements_of(&spans, "GET /talks/{talk_id}")
        .iter()
        .map(|s| s.name.as_ref())
        .collect();
    assert_eq!(
        names,
        ["SELECT talks", "SELECT speakers", "SELECT prices"],
        "the talk, then its speaker, then its price"
    );
    let (fixed_talk, spans) = ask_catalog::<Talk>(Fixes::all(), "/talks/5");
    assert_eq!(fixed_talk, talk, "the fix answers the same");
    let fixed = statements_of(&spans, "GET /talks/{talk_id}");
    assert_eq!(fixed.len(), 1, "one query joins the three tables");
    let text = attr(fixed[0], "db.query.text").expect("the statement's text");
    assert!(text.ends_with("WHERE t.id = $1"), "{text}");
}

#[test]
fn a_bound_value_never_reaches_a_span() {
    // Talk 3's title and speaker are read with its id bound to `$1`, one
    // statement after another.
    let (talk, spans) = ask_catalog::<Talk>(Fixes::default(), "/talks/3");
    assert_eq!(talk.id, 3);
    let statements = statements_of(&spans, "GET /talks/{talk_id}");
    assert_eq!(statements.len(), 3, "a talk, its speaker, its price");
    let texts: Vec<String> = statements
        .iter()
        .map(|s| attr(s, "db.query.text").expect("every statement span has its text"))
        .collect();
    assert!(
        texts.iter().all(|t| t.ends_with("= $1")),
        "every statement binds its id: {texts:?}"
    );
    // No attribute of any database span holds the bound id, nor what the
    // statement returned.
    for statement in statements {
        for kv in &statement.attributes {
            let value = kv.value.to_string();
            assert!(
                !value.contains("= 3") && !value.contains(&talk.speaker),
                "{} = {value}",
                kv.key
            );
        }
    }
}

/// The same row inserted twice: the database refuses the second. The
/// error is said where it becomes an answer, in the handler, after the span
/// the statement ran in has closed.
async fn insert_twice(State(db): State<Db>) -> Result<(), ApiError> {
    sqlx::query("CREATE TABLE IF NOT EXISTS ledger (id BIGINT PRIMARY KEY)")
        .execute(&db)
        .await?;
    sqlx::query("DELETE FROM ledger").execute(&db).await?;
    insert_row(&db).await?;
    insert_row(&db).await?;
    Ok(())
}

#[tracing::instrument(skip_all)]
async fn insert_row(db: &Db) -> Result<(), sqlx::Error> {
    sqlx::query("INSERT INTO ledger (id) VALUES ($1)")
        .bind(1_i64)
        .execute(db)
        .await?;
    Ok(())
}

#[tokio::test]
async fn a_refused_statement_is_marked_failed_and_only_it() {
    let service = Service::spawn_with("ledger", || async {
        let db = shop::db::for_tests().await.expect("a database");
        let routes = Router::new()
            .route("/twice", post(insert_twice))
            .with_state(db);
        shop::server::with_defaults("ledger", routes)
    });
    let status = reqwest::Client::new()
        .post(format!("{}/twice", service.url()))
        .send()
        .await
        .expect("the service answers")
        .status();
    assert_eq!(status, reqwest::StatusCode::SERVICE_UNAVAILABLE);
    let spans = service.stop();
    let mut statements: Vec<&SpanData> = spans
        .iter()
        .filter(|s| s.span_kind == SpanKind::Client)
        .collect();
    statements.sort_by_key(|s| s.start_time);
    let names: Vec<&str> = statements.iter().map(|s| s.name.as_ref()).collect();
    assert_eq!(
        names,
        [
            "CREATE ledger",
            "DELETE ledger",
            "INSERT ledger",
            "INSERT ledger"
        ]
    );
    let (refused, accepted) = statements.split_last().unwrap();
    for statement in accepted {
        assert_eq!(
            statement.status,
            Status::Unset,
            "{} succeeded",
            statement.name
        );
        assert_eq!(attr(statement, "error.type"), None);
    }
    assert!(
        matches!(&refused.status, Status::Error { description } if !description.is_empty()),
        "the second insert is marked failed, with the database's words: {:?}",
        refused.status
    );
    // The database's own code: SQLite's 1555 (primary key), PostgreSQL's
    // 23505 (unique violation).
    let code = attr(refused, "db.response.status_code").expect("the database's code");
    assert!(code == "1555" || code == "23505", "{code}");
    assert_eq!(attr(refused, "error.type"), Some(code));
}
