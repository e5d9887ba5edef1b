//! A room on loopback, with real processes: five learners join at once,
//! each gets a shop and a collector of their own, and each, through their
//! own port with their own key only, finds the evidence of what was drawn
//! for them and answers. The credentials are refused as they should be,
//! with the status and the reason, before anything else of a request is
//! read; the join token joins and does nothing else; the room's table and
//! page, what a learner is told on joining and their first status never
//! name a problem; the state survives the room's restart, where two joins
//! under one new name at once make one learner and a learner joining
//! again with their key gets their shop back; every port a learner's
//! programs took is free once the room stops; and the page, in headless
//! Chromium, shows the table the API gives.
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
use incident::room::plan;
use incident::room::table::Table;
use incident::room::wire::{AnswerForm, Joined, Said};
use incident::room::{RoomHandle, Settings, serve};
use incident::signature;
use reqwest::StatusCode;
use shop::Problem;

/// The room's join token, as an instructor would give it.
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
    // The room's port, one per learner, and one for a learner who joins
    // after the restart.
    let listen = free_run_of_ports(2 + NAMES.len());
    let room = serve(settings(listen, &folder, Some(TOKEN), NAMES.len()))
        .await
        .expect("the room starts");
    assert_eq!(room.join_token(), TOKEN);
    let key = room.instructor_key().to_owned();
    assert_ne!(key, TOKEN, "the instructor's key is not the join token");
    let base = format!("http://{listen}");

    let joined = five_join_at_once(&base).await;
    let http = reqwest::Client::new();
    names_no_problem(
        "/api/room",
        &get_text(&http, &format!("{base}/api/room"), &key).await,
    );
    names_no_problem(
        "the page",
        &get_text(&http, &format!("{base}/"), &key).await,
    );
    for joined in &joined {
        let told = serde_json::to_string(joined).unwrap();
        names_no_problem(&format!("what {} was told on joining", joined.name), &told);
    }
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
    the_credential_is_checked_first(&base, &room).await;

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

    let table = room_table(&http, &base, &key).await;
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
    let api = get_text(&http, &format!("{base}/api/room"), &key).await;
    let page = get_text(&http, &format!("{base}/"), &key).await;
    names_no_problem("/api/room", &api);
    names_no_problem("the page", &page);

    the_page_shows_the_table_in_a_browser(&base, &key, &table).await;

    let before = room.stop().await;
    assert_eq!(before.learners.len(), NAMES.len());
    every_port_is_free(listen, NAMES.len());
    // Room for one more: two joins under one new name at once.
    let again = serve(settings(listen, &folder, None, NAMES.len() + 1))
        .await
        .expect("the room starts again");
    assert_eq!(again.join_token(), TOKEN, "the join token is kept");
    assert_eq!(again.instructor_key(), key, "the instructor's key is kept");
    // Connections to the room that stopped are gone with it.
    let http = reqwest::Client::new();
    let after = room_table(&http, &base, &key).await;
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

    let alices = RoomClient::new(&base).unwrap();
    let (rejoined, newcomer) = tokio::join!(
        alices.join(TOKEN, "alice", Some(&alice.key)),
        two_join_under_one_new_name(&base),
    );
    let rejoined = rejoined.expect("alice joins again with her key");
    assert_eq!(rejoined, *alice, "the same learner, the same key");
    let services = http
        .get(format!("{}/api/services", alice.collector))
        .basic_auth("learner", Some(&alice.key))
        .send()
        .await
        .unwrap();
    let status = services.status();
    let body = services.text().await.unwrap();
    assert_eq!(
        status,
        StatusCode::OK,
        "alice's collector runs again: {body}"
    );
    let frank = again.drawn(&newcomer.name).expect("frank's drill");
    assert!((1..=3).contains(&frank.len()), "{frank:?}");
    let table = again.stop().await;
    assert_eq!(table.learners.len(), NAMES.len() + 1, "{table:?}");
    every_port_is_free(listen, NAMES.len() + 1);
}

/// Two joins under one new name at once make one learner: the first the
/// room reads is admitted, the other is refused, as the name is taken
/// (409) and it brings no key. What the one admitted was told.
async fn two_join_under_one_new_name(base: &str) -> Joined {
    let first = RoomClient::new(base).unwrap();
    let second = first.clone();
    let (one, other) = tokio::join!(
        first.join(TOKEN, "frank", None),
        second.join(TOKEN, "frank", None)
    );
    match (one, other) {
        (Ok(joined), Err(refused)) | (Err(refused), Ok(joined)) => {
            let refused = format!("{refused:#}");
            assert!(refused.contains("409"), "{refused}");
            assert!(refused.contains("the name frank is taken"), "{refused}");
            assert!(
                !refused.contains(&joined.key),
                "the key is never told: {refused}"
            );
            joined
        }
        (one, other) => panic!("two joins as frank at once: {one:?} and {other:?}"),
    }
}

/// Asserts that every port a learner's programs take, for each of the
/// first `learners` learners (their shop's five, their collector's two,
/// their port onto it), and the room's own, can be listened on again.
fn every_port_is_free(listen: SocketAddr, learners: usize) {
    let mut ports = vec![listen.port()];
    for number in 0..learners as u16 {
        let theirs = plan::shop_ports(number);
        ports.extend((0..5).map(|offset| theirs.base + offset));
        ports.extend([
            theirs.collector_ui,
            theirs.collector_otlp,
            plan::proxy_port(listen.port(), number),
        ]);
    }
    for port in ports {
        if let Err(err) = TcpListener::bind((Ipv4Addr::LOCALHOST, port)) {
            panic!("port {port} is still taken once the room stopped: {err}");
        }
    }
}

/// The five learners join at once, each as a learner's command does.
async fn five_join_at_once(base: &str) -> Vec<Joined> {
    let joins = NAMES.map(|name| {
        let client = RoomClient::new(base).unwrap();
        tokio::spawn(async move { client.join(TOKEN, name, None).await })
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
    let key = room.instructor_key();
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
        "the room's join token only joins",
    )
    .await;
    let instructor = http.post(&answer).bearer_auth(key).json(&form);
    refused(
        instructor.send().await.unwrap(),
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
    // An answer is a few words: 17 KiB of one is refused before it is read.
    let oversized = http
        .post(&answer)
        .bearer_auth(&bob.key)
        .header("content-type", "application/json")
        .body(vec![b' '; 17 * 1024]);
    refused(
        oversized.send().await.unwrap(),
        StatusCode::PAYLOAD_TOO_LARGE,
        "length limit",
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
        "joining takes the room's join token",
    )
    .await;
    let by_the_instructor = http
        .post(&join)
        .bearer_auth(key)
        .json(&serde_json::json!({"name": "frank"}));
    refused(
        by_the_instructor.send().await.unwrap(),
        StatusCode::FORBIDDEN,
        "joining takes the room's join token",
    )
    .await;

    // A name is its learner's: the join token alone does not give it
    // again, nor does another learner's key; the learner's own does.
    let learners = RoomClient::new(base).unwrap();
    for (with, who) in [
        (None, "the join token alone"),
        (Some(bob.key.as_str()), "bob's key"),
    ] {
        let taken = learners
            .join(TOKEN, "alice", with)
            .await
            .expect_err("alice's name is hers");
        let taken = format!("{taken:#}");
        assert!(taken.contains("409"), "{who}: {taken}");
        assert!(taken.contains("the name alice is taken"), "{who}: {taken}");
        assert!(
            !taken.contains(&alice.key),
            "{who}: the key is never told: {taken}"
        );
    }
    let rejoined = learners
        .join(TOKEN, "alice", Some(&alice.key))
        .await
        .expect("alice joins again with her key");
    assert_eq!(rejoined, *alice, "the same learner, the same key");

    let table = format!("{base}/api/room");
    let learner_on_table = http.get(&table).bearer_auth(&alice.key);
    refused(
        learner_on_table.send().await.unwrap(),
        StatusCode::FORBIDDEN,
        "the room's table takes the instructor's key",
    )
    .await;
    let token_on_table = http.get(&table).bearer_auth(TOKEN);
    refused(
        token_on_table.send().await.unwrap(),
        StatusCode::FORBIDDEN,
        "the room's join token only joins",
    )
    .await;
    let basic = http.get(&table).basic_auth("anyone", Some(key));
    assert_eq!(basic.send().await.unwrap().status(), StatusCode::OK);
    let room_port = room.address().port();
    let cookie = http
        .get(&table)
        .header("cookie", format!("room_key_{room_port}={key}"));
    assert_eq!(cookie.send().await.unwrap().status(), StatusCode::OK);
    let another_ports_cookie = http
        .get(&table)
        .header("cookie", format!("room_key_{}={key}", room_port + 1));
    refused(
        another_ports_cookie.send().await.unwrap(),
        StatusCode::UNAUTHORIZED,
        "no room token",
    )
    .await;
    let first_visit = http.get(format!("{base}/?key={key}")).send().await.unwrap();
    assert_eq!(first_visit.status(), StatusCode::SEE_OTHER);
    assert_eq!(first_visit.headers()["location"], "/");
    let set = first_visit.headers()["set-cookie"].to_str().unwrap();
    assert!(
        set.starts_with(&format!("room_key_{room_port}={key};")),
        "{set}"
    );
    assert!(
        set.contains("HttpOnly") && set.contains("SameSite=Strict"),
        "{set}"
    );
    // The browser is sent to a path on this host, never to another one.
    let elsewhere = http
        .get(format!("{base}//evil.example/x?key={key}"))
        .send()
        .await
        .unwrap();
    assert_eq!(elsewhere.status(), StatusCode::SEE_OTHER);
    assert_eq!(elsewhere.headers()["location"], "/evil.example/x");
    let token_in_a_browser = http
        .get(format!("{base}/?key={TOKEN}"))
        .send()
        .await
        .unwrap();
    assert!(
        token_in_a_browser.headers().get("set-cookie").is_none(),
        "the join token is never kept as a cookie"
    );
    refused(
        token_in_a_browser,
        StatusCode::FORBIDDEN,
        "the room's join token only joins",
    )
    .await;

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
    let the_join_token = http.get(&bobs).bearer_auth(TOKEN);
    refused(
        the_join_token.send().await.unwrap(),
        StatusCode::FORBIDDEN,
        "the room's join token only joins",
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
    for (secret, who) in [(bob.key.as_str(), "bob"), (key, "the instructor")] {
        let seen = http.get(&bobs).bearer_auth(secret).send().await.unwrap();
        assert_eq!(seen.status(), StatusCode::OK, "{who} sees bob's collector");
    }
    let bobs_in_a_browser = http
        .get(format!("http://127.0.0.1:{bobs_port}/?key={}", bob.key))
        .send()
        .await
        .unwrap();
    assert_eq!(bobs_in_a_browser.status(), StatusCode::SEE_OTHER);
    let set = bobs_in_a_browser.headers()["set-cookie"].to_str().unwrap();
    assert!(
        set.starts_with(&format!("room_key_{bobs_port}={};", bob.key)),
        "each port its own cookie: {set}"
    );
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

/// The credential is checked before anything else of a request is read:
/// none is 401 whatever the body and whatever the path, on the room's
/// port and on a learner's.
async fn the_credential_is_checked_first(base: &str, room: &RoomHandle) {
    let http = reqwest::Client::new();
    for url in [
        format!("{base}/join"),
        format!("{base}/learners/bob/answer"),
    ] {
        let malformed = http
            .post(&url)
            .header("content-type", "application/json")
            .body("{\"name\": ");
        refused(
            malformed.send().await.unwrap(),
            StatusCode::UNAUTHORIZED,
            "no room token",
        )
        .await;
    }
    let bobs_port = room.proxy_port("bob").unwrap();
    for url in [
        format!("{base}/no/such/page"),
        format!("http://127.0.0.1:{bobs_port}/no/such/page"),
    ] {
        let unknown = http.get(&url).send().await.unwrap();
        refused(unknown, StatusCode::UNAUTHORIZED, "no room token").await;
    }
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
    names_no_problem(&format!("{name}'s first status"), &start.message);

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
/// room judges by; for spans dropped, the gateway's export counters. An
/// answer through the port that is not a success fails at once, with its
/// status and body: only no evidence yet is waited for.
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
            _ => match collector.traces(&orders).await {
                Ok(traces) => traces
                    .into_iter()
                    .find(|trace| signature::shows(problem, trace).is_ok())
                    .map(|trace| trace.trace_id),
                // A search that took longer than the client waits, on a
                // machine five shops share: asked again.
                Err(collector_client::Error::Unreachable { .. }) => None,
                Err(err) => panic!("{}: their port answered a search: {err}", joined.name),
            },
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
        .unwrap_or_else(|err| panic!("{}: their port does not answer: {err}", joined.name));
    let status = answer.status();
    let text = answer.text().await.unwrap_or_default();
    assert_eq!(
        status,
        StatusCode::OK,
        "{}: their port answered the gateway's metrics: {text}",
        joined.name
    );
    let exposition = openmetrics::parse(&text).ok()?;
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

/// The room's table, asked as the page asks it, with the instructor's
/// `key`.
async fn room_table(http: &reqwest::Client, base: &str, key: &str) -> Table {
    let text = get_text(http, &format!("{base}/api/room"), key).await;
    serde_json::from_str(&text).unwrap_or_else(|err| panic!("{err}: {text}"))
}

async fn get_text(http: &reqwest::Client, url: &str, secret: &str) -> String {
    let answer = http.get(url).bearer_auth(secret).send().await.unwrap();
    let status = answer.status();
    let text = answer.text().await.unwrap();
    assert_eq!(status, StatusCode::OK, "{url}: {text}");
    text
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

/// The room's page in headless Chromium, opened with the instructor's
/// `key`: once its script has drawn every learner's row, each row's score
/// is the API's.
async fn the_page_shows_the_table_in_a_browser(base: &str, key: &str, table: &Table) {
    let scratch = Path::new(env!("CARGO_TARGET_TMPDIR")).join("room-page");
    std::fs::create_dir_all(&scratch).unwrap();
    let Some(browser) = Chromium::find_or_skip(scratch.join("profile")) else {
        return;
    };
    let url = format!("{base}/?key={key}");
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

/// A room on `listen` keeping its state in `folder`: at most
/// `max_learners` learners, two customers each.
fn settings(
    listen: SocketAddr,
    folder: &Path,
    token: Option<&str>,
    max_learners: usize,
) -> Settings {
    Settings {
        listen,
        max_learners: max_learners as u16,
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
