//! A learner's port onto their collector: on the room's address, after
//! the room's port, it forwards every request (its method, path, query,
//! body, and the headers that say what it sends and takes) to that
//! learner's collector on loopback, and the answer back (its status, body,
//! and the headers that say what it is). The collector's page asks for
//! absolute paths (`/api/…`, `/trace/…`), so a port of its own, not a
//! path, is what makes it work as it is. `GET /services/{service}/metrics`
//! forwards to that service's `/metrics`, for evidence that is a metric.
//!
//! Behind the same gate as the room ([`super::credential`]): the learner's
//! key, or the instructor's, never another learner's, nor the room's join
//! token.
//! Bodies are bounded both ways, and so are the requests a learner's port
//! forwards at once (429 beyond); a collector or a service that does not
//! answer is a 502 that says which.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{DefaultBodyLimit, Path, Request, State};
use axum::http::header::{ACCEPT, CACHE_CONTROL, CONTENT_DISPOSITION, CONTENT_TYPE, LOCATION};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use tokio::sync::Semaphore;
use tokio::task::JoinHandle;

use super::Room;
use super::credential;
use super::learner::Learner;
use super::refusal::Refusal;
use crate::answer::service_names;

/// The largest body a request may bring: the collector's page sends none
/// larger.
const BODY_LIMIT: usize = 1024 * 1024;

/// The largest answer forwarded: a search of a thousand traces is tens of
/// megabytes.
const ANSWER_LIMIT: usize = 64 * 1024 * 1024;

/// How long the collector or a service has to answer: the collector's
/// analyses of many traces take seconds.
const ANSWER_WITHIN: Duration = Duration::from_secs(60);

/// Requests a learner's port forwards at once: a browser's page and a
/// tool, not a flood that would slow every learner's shop on the room's
/// machine.
const AT_ONCE: usize = 4;

/// What each request through a learner's port needs.
#[derive(Clone)]
struct Proxy {
    room: Arc<Room>,
    learner: Arc<Learner>,
    /// The port it listens on: its cookie's name.
    port: u16,
    http: reqwest::Client,
    /// The requests being forwarded, [`AT_ONCE`] at most.
    in_flight: Arc<Semaphore>,
}

/// Opens `learner`'s port at `address`, served until the room stops.
pub fn open(
    room: &Arc<Room>,
    learner: &Arc<Learner>,
    address: SocketAddr,
) -> anyhow::Result<JoinHandle<()>> {
    let listener = std::net::TcpListener::bind(address).with_context(|| {
        format!(
            "cannot listen on {address} for {}'s collector",
            learner.name
        )
    })?;
    listener.set_nonblocking(true)?;
    let listener = tokio::net::TcpListener::from_std(listener)?;
    let http = reqwest::Client::builder()
        .timeout(ANSWER_WITHIN)
        // The browser follows the collector's redirects itself.
        .redirect(reqwest::redirect::Policy::none())
        .build()?;
    let proxy = Proxy {
        room: room.clone(),
        learner: learner.clone(),
        port: address.port(),
        http,
        in_flight: Arc::new(Semaphore::new(AT_ONCE)),
    };
    let app = Router::new()
        .route("/services/{service}/metrics", get(metrics))
        .fallback(forward)
        .layer(middleware::from_fn_with_state(proxy.clone(), gate))
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .with_state(proxy);
    let stopped = room.stopped();
    let name = learner.name.clone();
    Ok(tokio::spawn(async move {
        if let Err(err) = axum::serve(listener, app)
            .with_graceful_shutdown(stopped)
            .await
        {
            println!("warning: {name}'s collector port stopped: {err}");
        }
    }))
}

/// The learner whose port this is, or the instructor; a browser's `?key=`
/// becomes its cookie.
async fn gate(State(proxy): State<Proxy>, request: Request, next: Next) -> Response {
    let pass = match credential::check(&proxy.room, &request, proxy.port) {
        Ok(pass) => pass,
        Err(refusal) => return refusal.into_response(),
    };
    if let Err(refusal) = pass.holder.may_see_collector_of(&proxy.learner.name) {
        return refusal.into_response();
    }
    if let Some(location) = &pass.set_cookie_then {
        return pass.cookie_set(location);
    }
    next.run(request).await
}

/// Anything else: to the learner's collector.
async fn forward(
    State(proxy): State<Proxy>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Ok(_forwarding) = proxy.in_flight.try_acquire() else {
        return too_many();
    };
    let port = proxy.learner.ports().collector_ui;
    let path = uri.path_and_query().map_or("/", |whole| whole.as_str());
    let url = format!("http://127.0.0.1:{port}{path}");
    relay(&proxy.http, method, &url, &headers, body, "your collector").await
}

/// A service's `/metrics`.
async fn metrics(State(proxy): State<Proxy>, Path(service): Path<String>) -> Response {
    let offset = demo::SERVICES
        .iter()
        .find(|(name, _)| *name == service)
        .map(|(_, offset)| *offset);
    let Some(offset) = offset else {
        return Refusal::new(
            StatusCode::NOT_FOUND,
            format!(
                "the shop has no service {service:?}: {}",
                service_names().join(", ")
            ),
        )
        .into_response();
    };
    let Ok(_forwarding) = proxy.in_flight.try_acquire() else {
        return too_many();
    };
    let port = proxy.learner.ports().base + offset;
    let url = format!("http://127.0.0.1:{port}/metrics");
    let what = format!("your {service}");
    relay(
        &proxy.http,
        Method::GET,
        &url,
        &HeaderMap::new(),
        Bytes::new(),
        &what,
    )
    .await
}

/// What a request past the [`AT_ONCE`] being forwarded is told.
fn too_many() -> Response {
    Refusal::new(
        StatusCode::TOO_MANY_REQUESTS,
        format!(
            "your port forwards {AT_ONCE} requests at once, and {AT_ONCE} are on their way: \
             ask again once one is answered"
        ),
    )
    .into_response()
}

/// `method` on `url` with `body` and what of `headers` matters, through
/// `http`; the answer, bounded, or a 502 that says what (`what`) did not
/// answer.
async fn relay(
    http: &reqwest::Client,
    method: Method,
    url: &str,
    headers: &HeaderMap,
    body: Bytes,
    what: &str,
) -> Response {
    let mut request = http.request(method, url).body(body);
    // What the request sends and takes; never its credentials.
    for name in [CONTENT_TYPE, ACCEPT] {
        if let Some(value) = headers.get(&name) {
            request = request.header(name, value.clone());
        }
    }
    let mut answer = match request.send().await {
        Ok(answer) => answer,
        Err(err) => {
            return Refusal::new(
                StatusCode::BAD_GATEWAY,
                format!(
                    "{what} at {url} does not answer ({err}): your shop may be stopped; \
                     `just incident join` again starts it"
                ),
            )
            .into_response();
        }
    };
    let mut kept = HeaderMap::new();
    // What the answer is, and where it leads.
    for name in [CONTENT_TYPE, CONTENT_DISPOSITION, CACHE_CONTROL, LOCATION] {
        if let Some(value) = answer.headers().get(&name) {
            kept.insert(name, value.clone());
        }
    }
    let status = answer.status();
    let mut bytes = Vec::new();
    loop {
        match answer.chunk().await {
            Ok(Some(chunk)) if bytes.len() + chunk.len() > ANSWER_LIMIT => {
                return Refusal::new(
                    StatusCode::BAD_GATEWAY,
                    format!(
                        "{what}'s answer to {url} is larger than {} MiB: ask for fewer traces",
                        ANSWER_LIMIT / (1024 * 1024)
                    ),
                )
                .into_response();
            }
            Ok(Some(chunk)) => bytes.extend_from_slice(&chunk),
            Ok(None) => break,
            Err(err) => {
                return Refusal::new(
                    StatusCode::BAD_GATEWAY,
                    format!("{what}'s answer to {url} was cut short: {err}"),
                )
                .into_response();
            }
        }
    }
    let mut response = Response::new(Body::from(bytes));
    *response.status_mut() = status;
    *response.headers_mut() = kept;
    response
}
