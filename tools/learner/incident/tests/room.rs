//! A room on loopback, with real processes: five learners join at once,
//! each gets a shop and a collector of their own, and each, through their
//! own port with their own key only, finds the evidence of what was drawn
//! for them and answers. The credentials are refused as they should be,
//! with the status and the reason; the room's table and page never name
//! a problem; the state survives the room's restart; and the page, in
//! headless Chromium, shows the table the API gives.
//!
//! Only what a test may know of the instructor's side is read through the
//! library (what was drawn, to know what to look for); everything a
//! learner does goes over HTTP. Nothing waits for a length of time: every
//! wait polls for its condition, with a deadline that only bounds a
//! failure. The room is stopped at the end, and on a panic its handle's
//! drop stops every program it started.

#![cfg(target_os = "linux")]

use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use chromium::Chromium;
use collector_client::{Client, TraceSearch};
use incident::room::join::{RoomClient, with_key};
use incident::room::table::Table;
use incident::room::wire::{AnswerForm, Joined, Said};
use incident::room::{RoomHandle, Settings, serve};
use incident::signature;
use reqwest::StatusCode;
use shop::Problem;

/// The room's token, as an instructor would give it.
const TOKEN: &str = "room-test-token-0123456789abcdef";

/// The learners, joining at once.
const NAMES: [&str; 5] = ["alice", "bob", "carol", "dave", "erin"];

/// The first learner's seed; the next learners' follow. The evidence is
/// looked for whatever the seeds draw.
const SEED: u64 = 1014;

/// How long a learner has to find the evidence of everything drawn for
/// them: the rarest cause shows once in a few hundred orders, and five
/// shops share the machine.
const FIND_WITHIN: Duration = Duration::from_secs(300);

/// A trace id no collector of the room holds.
const UNHELD_TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";

/// How long the page has to show the table.
const PAGE_WITHIN: Duration = Duration::from_secs(60);

/// How often a search is made again.
const POLL: Duration = Duration::from_millis(500);

/// The traces a search reads at most.
const TRACES: usize = 200;

/// More spans handed to the gateway's exporter than exported, by more than
/// its planted queue (64 spans) and a batch being exported together hold:
/// spans dropped, not spans still on their way.
const DROPPED_BEYOND_DOUBT: f64 = 256.0;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_room_of_five_learners_each_with_a_drill_of_their_own() {
    let folder = work_dir();
    let _ = std::fs::remove_dir_all(&folder);
    let listen = free_run_of_ports(1 + NAMES.len());
    let room = serve(settings(listen, &folder, Some(TOKEN)))
        .await
        .expect("the room starts");
    assert_eq!(room.token(), TOKEN);
    let base = format!("http://{listen}");

    let joined = five_join_at_once(&base).await;
    let mut keys: Vec<&str> = joined.iter().map(|joined| joined.key.as_str()).collect();
    keys.sort_unstable();
    keys.dedup();
    assert_eq!(
        keys.len(),
        NAMES.len(),
        "each learner has a key of their own"
    );
    for (name, joined) in NAMES.iter().zip(&joined) {
        let port = room.proxy_port(name).expect("a port of their own");
        assert_eq!(joined.collector, format!("http://127.0.0.1:{port}"));
        let drawn = room.drawn(name).expect("a drill of their own");
        assert!((1..=3).contains(&drawn.len()), "{name}: {drawn:?}");
    }

    credentials_are_checked(&base, &room, &joined).await;

    let learners: Vec<_> = joined
        .iter()
        .map(|joined| {
            let drawn = room.drawn(&joined.name).unwrap();
            tokio::spawn(solve(base.clone(), joined.clone(), drawn))
        })
        .collect();
    for (name, learner) in NAMES.iter().zip(learners) {
        let score = learner
            .await
            .unwrap_or_else(|err| panic!("{name} could not finish: {err}"));
        println!("{name}: {score} points");
    }

    let http = reqwest::Client::new();
    let table = room_table(&http, &base).await;
    assert_eq!(table.learners.len(), NAMES.len());
    for name in NAMES {
        // In the order they joined, which five joining at once choose.
        let row = table
            .learners
            .iter()
            .find(|row| row.name == name)
            .unwrap_or_else(|| panic!("{name} is not in {table:?}"));
        let drawn = room.drawn(name).unwrap().len();
        assert_eq!((row.solved, row.drawn), (drawn, drawn), "{row:?}");
        assert_eq!(row.score, -40 - 15 + 100 * drawn as i64, "{row:?}");
        assert_eq!((row.wrong_answers, row.hints), (1, 1), "{row:?}");
        assert_eq!(row.solves_after_secs.len(), drawn, "{row:?}");
    }
    let api = get_text(&http, &format!("{base}/api/room"), TOKEN).await;
    let page = get_text(&http, &format!("{base}/"), TOKEN).await;
    names_no_problem("/api/room", &api);
    names_no_problem("the page", &page);

    the_page_shows_the_table_in_a_browser(&base, &table).await;

    let before = room.stop().await;
    assert_eq!(before.learners.len(), NAMES.len());
    let again = serve(settings(listen, &folder, None))
        .await
        .expect("the room starts again");
    assert_eq!(again.token(), TOKEN, "the token is kept");
    // Connections to the room that stopped are gone with it.
    let http = reqwest::Client::new();
    let after = room_table(&http, &base).await;
    assert_eq!(after.learners.len(), NAMES.len(), "every learner is back");
    for (was, is) in before.learners.iter().zip(&after.learners) {
        assert_eq!(
            (
                &is.name,
                is.solved,
                is.drawn,
                is.score,
                is.wrong_answers,
                is.hints
            ),
            (
                &was.name,
                was.solved,
                was.drawn,
                was.score,
                was.wrong_answers,
                was.hints
            )
        );
        assert_eq!(is.solves_after_secs, was.solves_after_secs);
        assert_eq!(is.shop, incident::room::shop::ShopState::Stopped);
    }
    let alice = &joined[0];
    let status = RoomClient::new(&base)
        .unwrap()
        .status(&alice.name, &alice.key)
        .await
        .expect("a key still answers after the restart");
    let alice_before = before.learners.iter().find(|row| row.name == "alice");
    assert_eq!(Some(status.score), alice_before.map(|row| row.score));
    assert!(
        status.message.starts_with("Your drill in the room: "),
        "{}",
        status.message
    );
    again.stop().await;
}

/// The five learners join at once, each as a learner's command does.
async fn five_join_at_once(base: &str) -> Vec<Joined> {
    let joins = NAMES.map(|name| {
        let client = RoomClient::new(base).unwrap();
        tokio::spawn(async move { client.join(TOKEN, name).await })
    });
    let mut joined = Vec::new();
    for (name, join) in NAMES.iter().zip(joins) {
        let answer = join.await.expect("the join ran");
        joined.push(answer.unwrap_or_else(|err| panic!("{name} cannot join: {err:#}")));
    }
    joined
}

/// Every refusal, on its status and its reason.
async fn credentials_are_checked(base: &str, room: &RoomHandle, joined: &[Joined]) {
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let (alice, bob) = (&joined[0], &joined[1]);
    let answer = format!("{base}/learners/bob/answer");
    let form = serde_json::json!({
        "service": "gateway", "operation": "POST /orders",
        "cause": "serial-calls", "evidence": UNHELD_TRACE,
    });

    let none = http.post(&answer).json(&form).send().await.unwrap();
    refused(none, StatusCode::UNAUTHORIZED, "no room token").await;
    let wrong = http.post(&answer).bearer_auth("not-the-token").json(&form);
    refused(
        wrong.send().await.unwrap(),
        StatusCode::UNAUTHORIZED,
        "wrong room token",
    )
    .await;
    let elses = http.post(&answer).bearer_auth(&alice.key).json(&form);
    refused(
        elses.send().await.unwrap(),
        StatusCode::FORBIDDEN,
        "this key is alice's, not bob's",
    )
    .await;
    let token = http.post(&answer).bearer_auth(TOKEN).json(&form);
    refused(
        token.send().await.unwrap(),
        StatusCode::FORBIDDEN,
        "takes bob's own key",
    )
    .await;
    let malformed = http
        .post(&answer)
        .bearer_auth(&bob.key)
        .header("content-type", "application/json")
        .body("{\"service\": ");
    refused(
        malformed.send().await.unwrap(),
        StatusCode::BAD_REQUEST,
        "not the JSON asked for",
    )
    .await;

    let join = format!("{base}/join");
    let bad_name = http
        .post(&join)
        .bearer_auth(TOKEN)
        .json(&serde_json::json!({"name": "Bob Smith"}));
    refused(
        bad_name.send().await.unwrap(),
        StatusCode::BAD_REQUEST,
        "a name is 1 to 32 characters",
    )
    .await;
    let not_json = http.post(&join).bearer_auth(TOKEN).body("name=frank");
    refused(
        not_json.send().await.unwrap(),
        StatusCode::BAD_REQUEST,
        "not the JSON asked for",
    )
    .await;
    let sixth = http
        .post(&join)
        .bearer_auth(TOKEN)
        .json(&serde_json::json!({"name": "frank"}));
    refused(
        sixth.send().await.unwrap(),
        StatusCode::CONFLICT,
        "the room is full",
    )
    .await;
    let by_a_learner = http
        .post(&join)
        .bearer_auth(&alice.key)
        .json(&serde_json::json!({"name": "frank"}));
    refused(
        by_a_learner.send().await.unwrap(),
        StatusCode::FORBIDDEN,
        "joining takes the room's token",
    )
    .await;
    let rejoined = RoomClient::new(base)
        .unwrap()
        .join(TOKEN, "alice")
        .await
        .expect("alice joins again");
    assert_eq!(rejoined, *alice, "the same learner, the same key");

    let table = format!("{base}/api/room");
    let learner_on_table = http.get(&table).bearer_auth(&alice.key);
    refused(
        learner_on_table.send().await.unwrap(),
        StatusCode::FORBIDDEN,
        "the room's table takes the room's token",
    )
    .await;
    let basic = http.get(&table).basic_auth("anyone", Some(TOKEN));
    assert_eq!(basic.send().await.unwrap().status(), StatusCode::OK);
    let cookie = http
        .get(&table)
        .header("cookie", format!("room_key={TOKEN}"));
    assert_eq!(cookie.send().await.unwrap().status(), StatusCode::OK);
    let first_visit = http
        .get(format!("{base}/?key={TOKEN}"))
        .send()
        .await
        .unwrap();
    assert_eq!(first_visit.status(), StatusCode::SEE_OTHER);
    assert_eq!(first_visit.headers()["location"], "/");
    let set = first_visit.headers()["set-cookie"].to_str().unwrap();
    assert!(set.starts_with(&format!("room_key={TOKEN};")), "{set}");
    assert!(
        set.contains("HttpOnly") && set.contains("SameSite=Strict"),
        "{set}"
    );

    let bobs_port = room.proxy_port("bob").unwrap();
    let bobs = format!("http://127.0.0.1:{bobs_port}/api/services");
    let nobody = http.get(&bobs).send().await.unwrap();
    refused(nobody, StatusCode::UNAUTHORIZED, "no room token").await;
    let alices_key = http.get(&bobs).bearer_auth(&alice.key);
    refused(
        alices_key.send().await.unwrap(),
        StatusCode::FORBIDDEN,
        "this key is alice's",
    )
    .await;
    let alices_in_a_browser = http
        .get(format!("http://127.0.0.1:{bobs_port}/?key={}", alice.key))
        .send()
        .await
        .unwrap();
    refused(
        alices_in_a_browser,
        StatusCode::FORBIDDEN,
        "this key is alice's",
    )
    .await;
    for (secret, who) in [(&bob.key, "bob"), (&TOKEN.to_owned(), "the instructor")] {
        let seen = http.get(&bobs).bearer_auth(secret).send().await.unwrap();
        assert_eq!(seen.status(), StatusCode::OK, "{who} sees bob's collector");
    }
    let as_the_tools_send_it = reqwest::Url::parse(&with_key(&bob.collector, &bob.key)).unwrap();
    let metrics = http
        .get(
            as_the_tools_send_it
                .join("/services/gateway/metrics")
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(metrics.status(), StatusCode::OK, "basic auth from the URL");
    let text = metrics.text().await.unwrap();
    assert!(openmetrics::parse(&text).is_ok(), "{text}");
}

/// Asserts `answer` is refused with `status`, for a reason that says
/// `because`.
async fn refused(answer: reqwest::Response, status: StatusCode, because: &str) {
    let got = answer.status();
    let reason = answer.text().await.unwrap();
    assert_eq!(got, status, "{reason}");
    assert!(reason.contains(because), "{because:?} not in {reason:?}");
}

/// One learner's work, as their commands do it: a wrong answer (-40), a
/// hint (-15), then each problem drawn for them, found through their own
/// port with their own key and answered (+100 each). Their final score.
async fn solve(base: String, joined: Joined, drawn: Vec<Problem>) -> i64 {
    let name = joined.name.as_str();
    let room = RoomClient::new(&base).unwrap();
    let start = room.status(name, &joined.key).await.unwrap();
    assert_eq!(start.score, 0, "{name}: {}", start.message);

    let not_drawn = Problem::ALL
        .into_iter()
        .find(|problem| !drawn.contains(problem))
        .unwrap();
    let guess = form(not_drawn, UNHELD_TRACE.to_owned());
    let wrong = room.answer(name, &joined.key, &guess).await.unwrap();
    moved(name, &wrong, start.score, -40, "No drawn problem matches");
    let hint = room.hint(name, &joined.key).await.unwrap();
    moved(name, &hint, wrong.score, -15, "Hint 1 of 3");

    let collector = Client::new(&with_key(&joined.collector, &joined.key))
        .unwrap()
        .with_timeout(Duration::from_secs(30));
    let http = reqwest::Client::new();
    let deadline = Instant::now() + FIND_WITHIN;
    let mut score = hint.score;
    for problem in drawn {
        let evidence = find(&collector, &http, &joined, problem, deadline).await;
        let said = room
            .answer(name, &joined.key, &form(problem, evidence))
            .await
            .unwrap();
        moved(name, &said, score, 100, "Solved: ");
        score = said.score;
    }
    score
}

/// The answer that names `problem`, with `evidence`.
fn form(problem: Problem, evidence: String) -> AnswerForm {
    AnswerForm {
        service: problem.service().to_owned(),
        operation: problem.operations()[0].to_owned(),
        cause: problem.cause().word().to_owned(),
        evidence,
    }
}

/// Asserts that what `said` moved the score from `before` by `by`, and
/// told `told`.
fn moved(name: &str, said: &Said, before: i64, by: i64, told: &str) {
    assert_eq!(said.score, before + by, "{name}: {}", said.message);
    assert!(said.message.contains(told), "{name}: {}", said.message);
}

/// Evidence of `problem`, read as the learner reads it: through their
/// own port, with their own key. A trace that shows it, by the rule the
/// room judges by; for spans dropped, the gateway's export counters.
async fn find(
    collector: &Client,
    http: &reqwest::Client,
    joined: &Joined,
    problem: Problem,
    deadline: Instant,
) -> String {
    let orders = TraceSearch {
        service: Some("gateway".to_owned()),
        operation: Some("POST /orders".to_owned()),
        limit: Some(TRACES),
        ..TraceSearch::default()
    };
    loop {
        let found = match problem {
            Problem::ExportQueueOverflow => spans_dropped(http, joined).await,
            _ => collector
                .traces(&orders)
                .await
                .ok()
                .and_then(|traces| {
                    traces
                        .into_iter()
                        .find(|trace| signature::shows(problem, trace).is_ok())
                })
                .map(|trace| trace.trace_id),
        };
        if let Some(evidence) = found {
            return evidence;
        }
        assert!(
            Instant::now() < deadline,
            "{}: no evidence of {problem} through their port in {} s",
            joined.name,
            FIND_WITHIN.as_secs()
        );
        tokio::time::sleep(POLL).await;
    }
}

/// The gateway's export counters, through the learner's port: evidence of
/// spans dropped once more were handed to the exporter than exported, by
/// more than can still be on their way.
async fn spans_dropped(http: &reqwest::Client, joined: &Joined) -> Option<String> {
    let answer = http
        .get(format!("{}/services/gateway/metrics", joined.collector))
        .basic_auth("learner", Some(&joined.key))
        .send()
        .await
        .ok()?;
    let exposition = openmetrics::parse(&answer.text().await.ok()?).ok()?;
    let sum = |metric: &str| -> f64 {
        exposition
            .samples
            .iter()
            .filter(|sample| sample.name == metric)
            .map(|sample| sample.value)
            .sum()
    };
    let handed = sum("otel_sdk_processor_span_processed_total");
    let exported = sum("otel_sdk_exporter_span_exported_total");
    (handed - exported > DROPPED_BEYOND_DOUBT)
        .then(|| "metric:gateway:otel_sdk_processor_span_processed_total".to_owned())
}

/// The room's table, asked as the page asks it.
async fn room_table(http: &reqwest::Client, base: &str) -> Table {
    let text = get_text(http, &format!("{base}/api/room"), TOKEN).await;
    serde_json::from_str(&text).unwrap_or_else(|err| panic!("{err}: {text}"))
}

async fn get_text(http: &reqwest::Client, url: &str, token: &str) -> String {
    let answer = http.get(url).bearer_auth(token).send().await.unwrap();
    assert_eq!(answer.status(), StatusCode::OK, "{url}");
    answer.text().await.unwrap()
}

/// Asserts that `text` holds no word of the catalogue: no problem's name,
/// title or explanation, no cause.
fn names_no_problem(what: &str, text: &str) {
    for problem in Problem::ALL {
        for word in [
            problem.slug(),
            problem.title(),
            problem.explanation(),
            problem.cause().word(),
        ] {
            assert!(!text.contains(word), "{what} names {word:?}:\n{text}");
        }
    }
}

/// The room's page in headless Chromium: once its script has drawn every
/// learner's row, each row's score is the API's.
async fn the_page_shows_the_table_in_a_browser(base: &str, table: &Table) {
    let scratch = Path::new(env!("CARGO_TARGET_TMPDIR")).join("room-page");
    std::fs::create_dir_all(&scratch).unwrap();
    let Some(browser) = Chromium::find_or_skip(scratch.join("profile")) else {
        return;
    };
    let url = format!("{base}/?key={TOKEN}");
    let deadline = Instant::now() + PAGE_WITHIN;
    let browser = std::sync::Arc::new(browser);
    let dom = loop {
        let (browser, url) = (browser.clone(), url.clone());
        let dom = tokio::task::spawn_blocking(move || browser.dump_dom(&url))
            .await
            .unwrap()
            .expect("chromium dumps the DOM");
        if dom.matches("data-learner=").count() == table.learners.len() {
            break dom;
        }
        assert!(
            Instant::now() < deadline,
            "the page never showed {} learners:\n{dom}",
            table.learners.len()
        );
    };
    names_no_problem("the rendered page", &dom);
    for row in &table.learners {
        let shown = cell(&dom, &row.name, "score");
        assert_eq!(shown, Some(row.score.to_string()), "{}:\n{dom}", row.name);
        let solved = cell(&dom, &row.name, "solved");
        assert_eq!(solved, Some(format!("{} of {}", row.solved, row.drawn)));
    }
}

/// The text of the cell of class `class` in `name`'s row of `dom`.
fn cell(dom: &str, name: &str, class: &str) -> Option<String> {
    let row = dom.split(&format!("data-learner=\"{name}\"")).nth(1)?;
    let row = row.split("</tr>").next()?;
    let text = row.split(&format!("class=\"{class}\">")).nth(1)?;
    Some(text.split('<').next()?.to_owned())
}

/// A room on `listen` keeping its state in `folder`: at most five
/// learners, two customers each.
fn settings(listen: SocketAddr, folder: &Path, token: Option<&str>) -> Settings {
    Settings {
        listen,
        max_learners: NAMES.len() as u16,
        customers: 2,
        seed: Some(SEED),
        problems: None,
        token: token.map(str::to_owned),
        folder: folder.to_path_buf(),
        bin_dir: bin_dir().to_path_buf(),
    }
}

/// A loopback port from which `count` ports in a row are free: the room's
/// and its learners'.
fn free_run_of_ports(count: usize) -> SocketAddr {
    for _ in 0..100 {
        let first = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
            .and_then(|probe| probe.local_addr())
            .expect("a loopback port")
            .port();
        let Some(last) = first.checked_add(count as u16) else {
            continue;
        };
        if (first..last).all(|port| TcpListener::bind((Ipv4Addr::LOCALHOST, port)).is_ok()) {
            return SocketAddr::from((Ipv4Addr::LOCALHOST, first));
        }
    }
    panic!("no {count} free loopback ports in a row");
}

/// Where the services' and the collector's binaries are built: beside
/// this crate's own binary.
fn bin_dir() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_incident"))
        .parent()
        .expect("the incident binary is in a folder")
}

/// The test's own room folder.
fn work_dir() -> PathBuf {
    demo::workspace_root().join("target/incident-room-test")
}
