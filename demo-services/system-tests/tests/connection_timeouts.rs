//! Every server holds its connections to timeouts: a client that sends a
//! request slowly, or sends nothing more, loses its connection instead of
//! holding it for good; a handler may still take as long as it takes, and a
//! graceful shutdown still lets a request in flight finish.
//!
//! Real TCP on loopback, with HTTP written by hand, since a well-behaved
//! client never sends half a request. Each test makes the one timeout it
//! exercises short and the others too long to matter, so that what closes
//! a connection can only be the timeout under test.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::routing::{get, post};
use shop::ApiJson;
use shop::server::{ConnectionTimeouts, serve_with_timeouts};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tokio::time::{Instant, timeout_at};

/// The timeout a test exercises: short, so that the test is quick.
const SHORT: Duration = Duration::from_millis(300);

/// The timeouts a test does not exercise: too long to close anything.
const LONG: Duration = Duration::from_secs(600);

/// How long past its timeout a server may take to close a connection
/// before the test calls the connection held for good. It only bounds a
/// failure: a passing test waits for the close itself.
const MARGIN: Duration = Duration::from_secs(10);

/// A server on a free loopback port, until `stop` says otherwise.
struct Server {
    addr: SocketAddr,
    stop: oneshot::Sender<()>,
    serving: JoinHandle<std::io::Result<()>>,
}

async fn start(app: Router, timeouts: ConnectionTimeouts) -> Server {
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a free loopback port");
    let addr = listener.local_addr().expect("a bound port");
    let (stop, stopped) = oneshot::channel::<()>();
    let shutdown = async move {
        let _ = stopped.await;
    };
    let serving = tokio::spawn(serve_with_timeouts(listener, app, shutdown, timeouts));
    Server {
        addr,
        stop,
        serving,
    }
}

fn app() -> Router {
    Router::new()
        .route("/hello", get(|| async { "hello" }))
        .route("/echo", post(|body: Bytes| async move { body }))
}

async fn connect(server: &Server) -> TcpStream {
    TcpStream::connect(server.addr)
        .await
        .expect("the server accepts a connection")
}

/// Everything the server sends until it closes the connection; an error,
/// with what it sent, if it is still open at `deadline`.
async fn read_until_closed(
    stream: &mut (impl AsyncRead + Unpin),
    deadline: Instant,
) -> Result<String, String> {
    let mut received = Vec::new();
    let mut chunk = [0; 4096];
    loop {
        match timeout_at(deadline, stream.read(&mut chunk)).await {
            Ok(Ok(0)) => return Ok(String::from_utf8_lossy(&received).into_owned()),
            Ok(Ok(count)) => received.extend_from_slice(&chunk[..count]),
            // A reset closes the connection as surely as an end of stream.
            Ok(Err(err)) if err.kind() == std::io::ErrorKind::ConnectionReset => {
                return Ok(String::from_utf8_lossy(&received).into_owned());
            }
            Ok(Err(err)) => return Err(format!("reading failed: {err}")),
            Err(_) => {
                return Err(format!(
                    "still open, having sent {:?}",
                    String::from_utf8_lossy(&received)
                ));
            }
        }
    }
}

/// One response, head and body, read by `deadline` from a connection that
/// stays open.
async fn read_response(stream: &mut TcpStream, deadline: Instant) -> String {
    let mut received = Vec::new();
    let mut chunk = [0; 4096];
    loop {
        if let Some(response) = whole_response(&received) {
            return response;
        }
        let so_far = String::from_utf8_lossy(&received).into_owned();
        let count = timeout_at(deadline, stream.read(&mut chunk))
            .await
            .unwrap_or_else(|_| panic!("no whole response in time, only {so_far:?}"))
            .unwrap_or_else(|err| panic!("reading a response failed after {so_far:?}: {err}"));
        assert_ne!(count, 0, "the connection closed mid-response: {so_far:?}");
        received.extend_from_slice(&chunk[..count]);
    }
}

/// The response in `received`, once its head and as many body bytes as its
/// `Content-Length` says have arrived.
fn whole_response(received: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(received);
    let (head, body) = text.split_once("\r\n\r\n")?;
    let length: usize = head
        .lines()
        .find_map(|line| {
            let (name, value) = line.split_once(':')?;
            if name.eq_ignore_ascii_case("content-length") {
                value.trim().parse().ok()
            } else {
                None
            }
        })
        .unwrap_or(0);
    (body.len() >= length).then(|| text.into_owned())
}

#[tokio::test]
async fn a_request_head_left_half_sent_loses_its_connection() {
    let timeouts = ConnectionTimeouts {
        header_read: SHORT,
        body_read: LONG,
    };
    let server = start(app(), timeouts).await;
    let mut client = connect(&server).await;
    let sent = Instant::now();
    client
        .write_all(b"GET /hello HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: ")
        .await
        .expect("half a head sent");
    let received = read_until_closed(&mut client, sent + SHORT + MARGIN)
        .await
        .unwrap_or_else(|err| panic!("half a head held its connection past {SHORT:?}: {err}"));
    let waited = sent.elapsed();
    assert!(
        waited >= SHORT,
        "closed after {waited:?}, before the {SHORT:?} a head has (sent {received:?})"
    );
}

#[tokio::test]
async fn a_request_head_dripped_byte_by_byte_loses_its_connection() {
    let timeouts = ConnectionTimeouts {
        header_read: SHORT,
        body_read: LONG,
    };
    let server = start(app(), timeouts).await;
    let (mut reader, mut writer) = connect(&server).await.into_split();
    let sent = Instant::now();
    // The client under test: a byte every tenth of the header timeout, for
    // as long as the connection takes them. Each byte is progress, so a
    // timer restarted by progress would never close this connection.
    tokio::spawn(async move {
        let head = b"GET /hello HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Padding: ";
        for byte in head.iter().chain(std::iter::repeat(&b'a')) {
            if writer.write_all(&[*byte]).await.is_err() {
                break;
            }
            tokio::time::sleep(SHORT / 10).await;
        }
    });
    let received = read_until_closed(&mut reader, sent + SHORT + MARGIN)
        .await
        .unwrap_or_else(|err| panic!("a dripping head held its connection past {SHORT:?}: {err}"));
    let waited = sent.elapsed();
    assert!(
        waited >= SHORT,
        "closed after {waited:?}, before the {SHORT:?} a head has (sent {received:?})"
    );
}

#[tokio::test]
async fn a_body_shorter_than_its_length_is_refused_and_its_connection_closed() {
    let timeouts = ConnectionTimeouts {
        header_read: LONG,
        body_read: SHORT,
    };
    let server = start(app(), timeouts).await;
    let mut client = connect(&server).await;
    let sent = Instant::now();
    client
        .write_all(
            b"POST /echo HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 100\r\n\r\n0123456789",
        )
        .await
        .expect("a head and 10 bytes of the body sent");
    let received = read_until_closed(&mut client, sent + SHORT + MARGIN)
        .await
        .unwrap_or_else(|err| panic!("a body 90 bytes short held its connection: {err}"));
    let waited = sent.elapsed();
    // A plain `Bytes` extractor answers a failed body 400; the shop's JSON
    // extractor makes it the 408 it is (the next test).
    assert!(
        received.starts_with("HTTP/1.1 4"),
        "a body that does not arrive is refused: {received:?}"
    );
    assert!(
        waited >= SHORT,
        "answered after {waited:?}, before the {SHORT:?} a body has"
    );
}

#[tokio::test]
async fn a_late_body_behind_the_shop_defaults_is_a_408_with_a_json_reason() {
    let routes = Router::new().route(
        "/orders",
        post(|ApiJson(order): ApiJson<serde_json::Value>| async move { axum::Json(order) }),
    );
    let timeouts = ConnectionTimeouts {
        header_read: LONG,
        body_read: SHORT,
    };
    let server = start(shop::server::with_defaults("probe", routes), timeouts).await;
    let mut client = connect(&server).await;
    let sent = Instant::now();
    client
        .write_all(
            b"POST /orders HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n\
              Content-Length: 100\r\n\r\n{\"talk_id\": ",
        )
        .await
        .expect("a head and the start of the body sent");
    let received = read_until_closed(&mut client, sent + SHORT + MARGIN)
        .await
        .unwrap_or_else(|err| panic!("a late JSON body held its connection: {err}"));
    assert!(
        received.starts_with("HTTP/1.1 408"),
        "the extractor's 400 for a failed body becomes the 408 it is: {received:?}"
    );
    let (_head, body) = received
        .split_once("\r\n\r\n")
        .unwrap_or_else(|| panic!("a head and a body: {received:?}"));
    let reason: serde_json::Value = serde_json::from_str(body)
        .unwrap_or_else(|err| panic!("the body is the shop's JSON error ({err}): {body:?}"));
    assert!(
        reason["error"]
            .as_str()
            .is_some_and(|error| error.contains("did not arrive")),
        "the reason is in `error`: {reason}"
    );
}

#[tokio::test]
async fn an_idle_kept_alive_connection_is_closed_after_the_idle_timeout() {
    // hyper's head timer is also the idle timer: it runs whenever the
    // connection waits for a request's head, the next one's included.
    let timeouts = ConnectionTimeouts {
        header_read: SHORT,
        body_read: LONG,
    };
    let server = start(app(), timeouts).await;
    let mut client = connect(&server).await;
    let asked = Instant::now();
    client
        .write_all(b"GET /hello HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        .await
        .expect("a request sent");
    let received = read_until_closed(&mut client, asked + SHORT + MARGIN)
        .await
        .unwrap_or_else(|err| panic!("an idle connection was held past {SHORT:?}: {err}"));
    let waited = asked.elapsed();
    assert!(
        received.starts_with("HTTP/1.1 200") && received.ends_with("\r\n\r\nhello"),
        "one request, answered before the connection closed: {received:?}"
    );
    assert!(
        !received.to_ascii_lowercase().contains("connection: close"),
        "the answer keeps the connection alive, so only idleness closes it: {received:?}"
    );
    assert!(
        waited >= SHORT,
        "closed after {waited:?}, before the {SHORT:?} of idleness allowed"
    );
}

#[tokio::test]
async fn requests_in_time_are_answered_on_one_kept_alive_connection() {
    let server = start(app(), ConnectionTimeouts::default()).await;
    let mut client = connect(&server).await;
    client
        .write_all(b"GET /hello HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        .await
        .expect("a request sent");
    let hello = read_response(&mut client, Instant::now() + MARGIN).await;
    assert!(
        hello.starts_with("HTTP/1.1 200") && hello.ends_with("\r\n\r\nhello"),
        "a GET is answered: {hello:?}"
    );
    client
        .write_all(b"POST /echo HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 4\r\n\r\nping")
        .await
        .expect("a second request sent on the same connection");
    let echo = read_response(&mut client, Instant::now() + MARGIN).await;
    assert!(
        echo.starts_with("HTTP/1.1 200") && echo.ends_with("\r\n\r\nping"),
        "a POST with its whole body, on the kept-alive connection, is answered: {echo:?}"
    );
}

#[tokio::test]
async fn a_handler_slower_than_every_timeout_still_answers() {
    let slow = Router::new().route(
        "/slow",
        post(|body: Bytes| async move {
            // The handler's slowness is what is under test: while it works,
            // the connection waits for the server, not for the client.
            tokio::time::sleep(3 * SHORT).await;
            body
        }),
    );
    let timeouts = ConnectionTimeouts {
        header_read: SHORT,
        body_read: SHORT,
    };
    let server = start(slow, timeouts).await;
    let mut client = connect(&server).await;
    client
        .write_all(b"POST /slow HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 4\r\n\r\nslow")
        .await
        .expect("a request sent");
    let response = read_response(&mut client, Instant::now() + 3 * SHORT + MARGIN).await;
    assert!(
        response.starts_with("HTTP/1.1 200") && response.ends_with("\r\n\r\nslow"),
        "a handler may take longer than the client's timeouts: {response:?}"
    );
}

#[tokio::test]
async fn a_request_in_flight_finishes_after_a_graceful_shutdown_begins() {
    let (started, handler_started) = oneshot::channel::<()>();
    let (release, released) = oneshot::channel::<()>();
    let gate = Arc::new(Mutex::new(Some((started, released))));
    let app = Router::new().route(
        "/in-flight",
        get(move || {
            let gate = Arc::clone(&gate);
            async move {
                let (started, released) = gate
                    .lock()
                    .expect("the gate")
                    .take()
                    .expect("one request only");
                let _ = started.send(());
                let _ = released.await;
                "finished"
            }
        }),
    );
    let server = start(app, ConnectionTimeouts::default()).await;
    let addr = server.addr;
    let mut client = connect(&server).await;
    client
        .write_all(b"GET /in-flight HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        .await
        .expect("a request sent");
    timeout_at(Instant::now() + MARGIN, handler_started)
        .await
        .expect("the handler starts")
        .expect("the handler says so");

    server.stop.send(()).expect("the server waits for its stop");
    // The shutdown has begun once the server no longer takes connections.
    let deadline = Instant::now() + MARGIN;
    while TcpStream::connect(addr).await.is_ok() {
        assert!(
            Instant::now() < deadline,
            "the server still takes connections after its stop"
        );
        tokio::task::yield_now().await;
    }
    release.send(()).expect("the handler waits for its release");

    let response = read_response(&mut client, Instant::now() + MARGIN).await;
    assert!(
        response.starts_with("HTTP/1.1 200") && response.ends_with("\r\n\r\nfinished"),
        "the request in flight is answered after the shutdown began: {response:?}"
    );
    timeout_at(Instant::now() + MARGIN, server.serving)
        .await
        .expect("the server stops once its last request is answered")
        .expect("the serving task ends without a panic")
        .expect("serving ends without an error");
}
