//! Who a request to the room comes from, checked before anything else is
//! read of it. A request presents a secret, in one of four places, the
//! most explicit first. Three kinds of secret open three kinds of door:
//!
//! - the room's join token, printed for the whole class: `POST /join`,
//!   which admits a new name, and nothing else (403 anywhere else);
//! - the instructor's key, printed on the instructor's terminal alone:
//!   the room's page, its table, and every learner's collector;
//! - a learner's key: their answers, hints and status, their collector,
//!   and their name when they join again.
//!
//! The places:
//!
//! - `?key=SECRET` in a `GET`'s query: a browser's first visit. Good, it
//!   is set as the port's cookie, `room_key_PORT` (HttpOnly,
//!   SameSite=Strict), and the browser is sent to the same page without
//!   it, so that the secret stays out of its history and its address bar.
//!   A browser keeps cookies by host, whatever the port: a name per port
//!   keeps the room's page and each learner's collector, open in one
//!   browser, from overwriting each other's. The page it is sent to is a
//!   path on this host, always: `//elsewhere/…` becomes `/elsewhere/…`;
//! - `Authorization: Bearer SECRET`: the learner's commands;
//! - `Authorization: Basic`, the secret as the password, any user: a URL
//!   such as `http://learner:SECRET@HOST:PORT` is sent so (reqwest turns a
//!   URL's user and password into basic auth), which makes `COLLECTOR_URL`
//!   work for the workshop's tools;
//! - the port's `room_key_PORT` cookie: a browser's later requests, the
//!   collector's page's own among them.
//!
//! No secret, or one nobody holds, is refused with 401. The join token
//! anywhere but `POST /join` is refused here, with 403; whether another
//! holder may do what is asked (a learner answers as themselves only; the
//! room's page is the instructor's) is each route's to say, with 403.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::header::{AUTHORIZATION, COOKIE, LOCATION, SET_COOKIE};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::Room;
use super::refusal::Refusal;

/// The cookie a browser keeps the secret for the room's server, or a
/// learner's port, listening on `port`.
pub fn cookie_name(port: u16) -> String {
    format!("room_key_{port}")
}

/// The query parameter a browser's first visit brings the secret in.
const QUERY_PREFIX: &str = "key=";

/// Said when a request presents no secret at all.
const NO_SECRET: &str = "no room token: the room takes a learner's key, the instructor's key, or \
    (to join) its join token, as `Authorization: Bearer SECRET`, as the password of basic auth \
    (`http://learner:SECRET@HOST:PORT`), or in a browser as `?key=SECRET`";

/// Said when a request presents a secret nobody holds.
const WRONG_SECRET: &str = "wrong room token: what was given is neither this room's join token, \
    its instructor's key, nor a learner's key";

/// The one route the join token opens.
const JOIN_PATH: &str = "/join";

/// Who holds the secret a request presented.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Holder {
    /// The instructor's key.
    Instructor,
    /// The room's join token: whoever the instructor gave it to.
    Joiner,
    /// A learner's key.
    Learner(String),
}

impl Holder {
    /// Whether the holder may ask for `path` with `method`: anyone but
    /// the join token's holder, who may only join.
    pub fn may_ask(&self, method: &Method, path: &str) -> Result<(), Refusal> {
        match self {
            Holder::Joiner if *method != Method::POST || path != JOIN_PATH => {
                Err(Refusal::forbidden(format!(
                    "the room's join token only joins (`POST {JOIN_PATH}`): {path} takes the \
                     instructor's key or a learner's own"
                )))
            }
            _ => Ok(()),
        }
    }

    /// Whether the holder is the instructor, who alone does `what`.
    pub fn must_be_instructor(&self, what: &str) -> Result<(), Refusal> {
        match self {
            Holder::Instructor => Ok(()),
            Holder::Joiner => Err(Refusal::forbidden(format!(
                "{what} takes the instructor's key, not the room's join token"
            ))),
            Holder::Learner(name) => Err(Refusal::forbidden(format!(
                "{what} takes the instructor's key; this key is {name}'s"
            ))),
        }
    }

    /// Whether the holder holds the room's join token, which alone joins
    /// (a learner joining again sends their key in the body beside it).
    pub fn must_be_joiner(&self) -> Result<(), Refusal> {
        match self {
            Holder::Joiner => Ok(()),
            Holder::Instructor => Err(Refusal::forbidden(
                "joining takes the room's join token, not the instructor's key".to_owned(),
            )),
            Holder::Learner(name) => Err(Refusal::forbidden(format!(
                "joining takes the room's join token; this key is {name}'s: joining again sends \
                 it as `key` in the body, beside the join token"
            ))),
        }
    }

    /// Whether the holder is the learner called `name`, who alone answers,
    /// takes hints and reads the status of their drill.
    pub fn must_be(&self, name: &str) -> Result<(), Refusal> {
        match self {
            Holder::Learner(holder) if holder == name => Ok(()),
            Holder::Learner(holder) => Err(Refusal::forbidden(format!(
                "this key is {holder}'s, not {name}'s: each learner answers with their own key"
            ))),
            Holder::Instructor => Err(Refusal::forbidden(format!(
                "{name}'s drill takes {name}'s own key, not the instructor's"
            ))),
            Holder::Joiner => Err(Refusal::forbidden(format!(
                "{name}'s drill takes {name}'s own key, not the room's join token"
            ))),
        }
    }

    /// Whether the holder may see the collector of the learner called
    /// `name`: that learner, or the instructor.
    pub fn may_see_collector_of(&self, name: &str) -> Result<(), Refusal> {
        match self {
            Holder::Instructor => Ok(()),
            Holder::Joiner => Err(Refusal::forbidden(format!(
                "the room's join token only joins: this port shows {name}'s collector, to {name} \
                 and the instructor"
            ))),
            Holder::Learner(holder) if holder == name => Ok(()),
            Holder::Learner(holder) => Err(Refusal::forbidden(format!(
                "this key is {holder}'s: this port shows {name}'s collector, to {name} alone"
            ))),
        }
    }
}

/// A secret, and the place a request presented it in.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Presented {
    Nothing,
    /// In a `GET`'s query: to be set as the cookie.
    InQuery(String),
    /// In the `Authorization` header, bearer or basic (empty when it holds
    /// neither).
    InHeader(String),
    InCookie(String),
}

/// The secret `method`, `uri` and `headers` present, from the most
/// explicit place that holds one; `cookie` is the name of this port's
/// cookie.
pub fn presented(method: &Method, uri: &Uri, headers: &HeaderMap, cookie: &str) -> Presented {
    if *method == Method::GET
        && let Some(secret) = in_query(uri)
    {
        return Presented::InQuery(secret);
    }
    if let Some(value) = headers.get(AUTHORIZATION) {
        let secret = value.to_str().ok().and_then(from_authorization);
        return Presented::InHeader(secret.unwrap_or_default());
    }
    match in_cookie(headers, cookie) {
        Some(secret) => Presented::InCookie(secret),
        None => Presented::Nothing,
    }
}

/// What a request may do once its secret is known.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pass {
    pub holder: Holder,
    /// For a secret that came in the query: the path to send the browser
    /// to once the cookie holds it.
    pub set_cookie_then: Option<String>,
    /// The secret itself, for the cookie.
    secret: String,
    /// The port's cookie's name.
    cookie: String,
}

impl Pass {
    /// Sets the cookie and sends the browser to `location`, the page it
    /// asked for without the secret in its address.
    pub fn cookie_set(&self, location: &str) -> Response {
        let cookie = format!(
            "{}={}; Path=/; HttpOnly; SameSite=Strict",
            self.cookie, self.secret
        );
        (
            StatusCode::SEE_OTHER,
            [(SET_COOKIE, cookie), (LOCATION, location.to_owned())],
        )
            .into_response()
    }
}

/// Who presented the secret of `request`, to `room`'s server or a
/// learner's port listening on `port`; 401 with the reason when nobody
/// holds it, or it has none.
pub fn check(room: &Room, request: &Request, port: u16) -> Result<Pass, Refusal> {
    let cookie = cookie_name(port);
    let presented = presented(request.method(), request.uri(), request.headers(), &cookie);
    let (secret, from_query) = match presented {
        Presented::Nothing => return Err(Refusal::unauthorized(NO_SECRET)),
        Presented::InQuery(secret) => (secret, true),
        Presented::InHeader(secret) | Presented::InCookie(secret) => (secret, false),
    };
    let holder = room
        .holder_of(&secret)
        .ok_or_else(|| Refusal::unauthorized(WRONG_SECRET))?;
    Ok(Pass {
        holder,
        set_cookie_then: from_query.then(|| without_key(request.uri())),
        secret,
        cookie,
    })
}

/// The room's own server's gate: the request goes on with its [`Holder`]
/// in its extensions, a browser's `?key=` becomes its cookie, anything
/// else is refused.
pub async fn room_gate(
    State(room): State<Arc<Room>>,
    mut request: Request,
    next: Next,
) -> Response {
    let pass = match check(&room, &request, room.address().port()) {
        Ok(pass) => pass,
        Err(refusal) => return refusal.into_response(),
    };
    if let Err(refusal) = pass.holder.may_ask(request.method(), request.uri().path()) {
        return refusal.into_response();
    }
    if let Some(location) = &pass.set_cookie_then {
        return pass.cookie_set(location);
    }
    request.extensions_mut().insert(pass.holder);
    next.run(request).await
}

/// The secret in `uri`'s query, as `key=SECRET`.
fn in_query(uri: &Uri) -> Option<String> {
    uri.query()?
        .split('&')
        .find_map(|pair| pair.strip_prefix(QUERY_PREFIX))
        .map(str::to_owned)
}

/// `uri`'s path and query without `key=…`, as a path on this host: its
/// leading slashes (and backslashes, which some browsers read as
/// slashes) made one, so that `//elsewhere/…` leads nowhere else.
fn without_key(uri: &Uri) -> String {
    let path = format!("/{}", uri.path().trim_start_matches(['/', '\\']));
    let rest: Vec<&str> = uri
        .query()
        .unwrap_or_default()
        .split('&')
        .filter(|pair| !pair.is_empty() && !pair.starts_with(QUERY_PREFIX))
        .collect();
    match rest.is_empty() {
        true => path,
        false => format!("{path}?{}", rest.join("&")),
    }
}

/// The secret in an `Authorization` header's value: a bearer token, or
/// basic auth's password.
fn from_authorization(value: &str) -> Option<String> {
    let (scheme, rest) = value.trim().split_once(' ')?;
    let rest = rest.trim();
    if scheme.eq_ignore_ascii_case("bearer") {
        return Some(rest.to_owned());
    }
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let pair = String::from_utf8(base64_decode(rest)?).ok()?;
    let (_user, password) = pair.split_once(':')?;
    Some(password.to_owned())
}

/// The value of the cookie called `cookie`, from any `Cookie` header.
fn in_cookie(headers: &HeaderMap, cookie: &str) -> Option<String> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .find_map(|pair| {
            let (name, value) = pair.trim().split_once('=')?;
            (name == cookie).then(|| value.to_owned())
        })
}

/// Standard base64 (padded or not) decoded; `None` when it is not.
fn base64_decode(text: &str) -> Option<Vec<u8>> {
    let mut bytes = Vec::with_capacity(text.len() * 3 / 4);
    let (mut bits, mut held) = (0u32, 0u32);
    for symbol in text.trim_end_matches('=').bytes() {
        let value = match symbol {
            b'A'..=b'Z' => symbol - b'A',
            b'a'..=b'z' => symbol - b'a' + 26,
            b'0'..=b'9' => symbol - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        };
        bits = (bits << 6) | u32::from(value);
        held += 6;
        if held >= 8 {
            held -= 8;
            bytes.push((bits >> held) as u8);
            bits &= (1 << held) - 1;
        }
    }
    Some(bytes)
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    /// The cookie of the port the tests' requests reach.
    const THIS_PORT: &str = "room_key_7900";

    fn headers(pairs: &[(axum::http::HeaderName, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(name.clone(), HeaderValue::from_str(value).unwrap());
        }
        map
    }

    #[test]
    fn base64_decodes_as_basic_auth_encodes() {
        // "learner:0123abcd", "a", "ab", as any encoder writes them.
        assert_eq!(
            base64_decode("bGVhcm5lcjowMTIzYWJjZA==").unwrap(),
            b"learner:0123abcd"
        );
        assert_eq!(base64_decode("YQ==").unwrap(), b"a");
        assert_eq!(base64_decode("YWI").unwrap(), b"ab");
        assert_eq!(base64_decode("").unwrap(), b"");
        assert_eq!(base64_decode("not base64!"), None);
    }

    #[test]
    fn a_secret_is_read_from_the_most_explicit_place_that_holds_one() {
        let page: Uri = "/trace/abc?key=s3cret&x=1".parse().unwrap();
        let plain: Uri = "/api/room".parse().unwrap();
        let cookie = headers(&[(
            COOKIE,
            "theme=dark; room_key_7901=anothers; room_key_7900=fromcookie",
        )]);
        assert_eq!(
            presented(&Method::GET, &page, &cookie, THIS_PORT),
            Presented::InQuery("s3cret".to_owned())
        );
        // Only a browser's GET sets the cookie.
        assert_eq!(
            presented(&Method::POST, &page, &cookie, THIS_PORT),
            Presented::InCookie("fromcookie".to_owned())
        );
        let bearer = headers(&[
            (AUTHORIZATION, "Bearer tok3n"),
            (COOKIE, "room_key_7900=other"),
        ]);
        assert_eq!(
            presented(&Method::POST, &plain, &bearer, THIS_PORT),
            Presented::InHeader("tok3n".to_owned())
        );
        let basic = headers(&[(AUTHORIZATION, "Basic bGVhcm5lcjowMTIzYWJjZA==")]);
        assert_eq!(
            presented(&Method::GET, &plain, &basic, THIS_PORT),
            Presented::InHeader("0123abcd".to_owned())
        );
        let odd = headers(&[(AUTHORIZATION, "Digest whatever")]);
        assert_eq!(
            presented(&Method::GET, &plain, &odd, THIS_PORT),
            Presented::InHeader(String::new())
        );
        assert_eq!(
            presented(&Method::GET, &plain, &HeaderMap::new(), THIS_PORT),
            Presented::Nothing
        );
        // Another port's cookie is not this port's.
        let elsewhere = headers(&[(COOKIE, "room_key_7901=anothers")]);
        assert_eq!(
            presented(&Method::GET, &plain, &elsewhere, THIS_PORT),
            Presented::Nothing
        );
        assert_eq!(cookie_name(7900), THIS_PORT);
    }

    #[test]
    fn the_page_the_browser_is_sent_to_keeps_all_but_the_key() {
        let with_more: Uri = "/?service=gateway&key=abc&limit=20".parse().unwrap();
        assert_eq!(without_key(&with_more), "/?service=gateway&limit=20");
        let alone: Uri = "/trace/0af7?key=abc".parse().unwrap();
        assert_eq!(without_key(&alone), "/trace/0af7");
        // Never another host: a path on this one.
        for elsewhere in ["//evil.example/x?key=abc", "///evil.example/x?key=abc"] {
            let uri: Uri = elsewhere.parse().unwrap();
            assert_eq!(without_key(&uri), "/evil.example/x", "{elsewhere}");
        }
        let root: Uri = "//?key=abc".parse().unwrap();
        assert_eq!(without_key(&root), "/");
    }

    #[test]
    fn each_holder_does_only_what_is_theirs() {
        let alice = Holder::Learner("alice".to_owned());
        assert_eq!(alice.must_be("alice"), Ok(()));
        let refused = alice.must_be("bob").unwrap_err();
        assert_eq!(refused.status, StatusCode::FORBIDDEN);
        assert!(refused.reason.contains("this key is alice's, not bob's"));
        assert_eq!(
            Holder::Instructor.must_be("bob").unwrap_err().status,
            StatusCode::FORBIDDEN
        );
        assert_eq!(Holder::Instructor.must_be_instructor("the page"), Ok(()));
        assert!(alice.must_be_instructor("the page").is_err());
        assert!(Holder::Joiner.must_be_instructor("the page").is_err());
        assert_eq!(Holder::Joiner.must_be_joiner(), Ok(()));
        assert!(alice.must_be_joiner().is_err() && Holder::Instructor.must_be_joiner().is_err());
        assert_eq!(
            Holder::Joiner
                .may_see_collector_of("bob")
                .unwrap_err()
                .status,
            StatusCode::FORBIDDEN
        );
        assert_eq!(Holder::Joiner.may_ask(&Method::POST, "/join"), Ok(()));
        for (method, path) in [
            (Method::GET, "/"),
            (Method::GET, "/api/room"),
            (Method::POST, "/x"),
        ] {
            let refused = Holder::Joiner.may_ask(&method, path).unwrap_err();
            assert_eq!(refused.status, StatusCode::FORBIDDEN);
            assert!(refused.reason.contains("only joins"), "{refused:?}");
        }
        assert_eq!(alice.may_ask(&Method::GET, "/"), Ok(()));
        assert_eq!(Holder::Instructor.may_see_collector_of("bob"), Ok(()));
        assert_eq!(alice.may_see_collector_of("alice"), Ok(()));
        assert_eq!(
            alice.may_see_collector_of("bob").unwrap_err().status,
            StatusCode::FORBIDDEN
        );
    }
}
