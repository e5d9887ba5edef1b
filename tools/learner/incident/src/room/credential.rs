//! Who a request to the room comes from, checked before anything else is
//! read of it. A request presents a secret, the room's token or a
//! learner's key, in one of four places, the most explicit first:
//!
//! - `?key=SECRET` in a `GET`'s query: a browser's first visit. Good, it
//!   is set as the `room_key` cookie (HttpOnly, SameSite=Strict) and the
//!   browser is sent to the same page without it, so that the secret
//!   stays out of its history and its address bar;
//! - `Authorization: Bearer SECRET`: the learner's commands;
//! - `Authorization: Basic`, the secret as the password, any user: a URL
//!   such as `http://learner:SECRET@HOST:PORT` is sent so (reqwest turns a
//!   URL's user and password into basic auth), which makes `COLLECTOR_URL`
//!   work for the workshop's tools;
//! - the `room_key` cookie: a browser's later requests, the collector's
//!   page's own among them.
//!
//! No secret, or one nobody holds, is refused with 401. Whether the holder
//! may do what is asked (a learner answers as themselves only; the room's
//! page is the instructor's) is each route's to say, with 403.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::header::{AUTHORIZATION, COOKIE, LOCATION, SET_COOKIE};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::Room;
use super::refusal::Refusal;

/// The cookie a browser keeps the secret in.
pub const COOKIE_NAME: &str = "room_key";

/// The query parameter a browser's first visit brings the secret in.
const QUERY_PREFIX: &str = "key=";

/// Said when a request presents no secret at all.
const NO_SECRET: &str = "no room token: the room takes its token, or a learner's key, as \
    `Authorization: Bearer SECRET`, as the password of basic auth (`http://learner:SECRET@HOST:PORT`), \
    or in a browser as `?key=SECRET`";

/// Said when a request presents a secret nobody holds.
const WRONG_SECRET: &str =
    "wrong room token: what was given is neither this room's token nor a learner's key";

/// Who holds the secret a request presented.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Holder {
    /// The room's token: the instructor.
    Instructor,
    /// A learner's key.
    Learner(String),
}

impl Holder {
    /// Whether the holder is the instructor, who alone does `what`.
    pub fn must_be_instructor(&self, what: &str) -> Result<(), Refusal> {
        match self {
            Holder::Instructor => Ok(()),
            Holder::Learner(name) => Err(Refusal::forbidden(format!(
                "{what} takes the room's token; this key is {name}'s"
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
                "{name}'s drill takes {name}'s own key, not the room's token"
            ))),
        }
    }

    /// Whether the holder may see the collector of the learner called
    /// `name`: that learner, or the instructor.
    pub fn may_see_collector_of(&self, name: &str) -> Result<(), Refusal> {
        match self {
            Holder::Instructor => Ok(()),
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
/// explicit place that holds one.
pub fn presented(method: &Method, uri: &Uri, headers: &HeaderMap) -> Presented {
    if *method == Method::GET
        && let Some(secret) = in_query(uri)
    {
        return Presented::InQuery(secret);
    }
    if let Some(value) = headers.get(AUTHORIZATION) {
        let secret = value.to_str().ok().and_then(from_authorization);
        return Presented::InHeader(secret.unwrap_or_default());
    }
    match in_cookie(headers) {
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
}

impl Pass {
    /// Sets the cookie and sends the browser to `location`, the page it
    /// asked for without the secret in its address.
    pub fn cookie_set(&self, location: &str) -> Response {
        let cookie = format!(
            "{COOKIE_NAME}={}; Path=/; HttpOnly; SameSite=Strict",
            self.secret
        );
        (
            StatusCode::SEE_OTHER,
            [(SET_COOKIE, cookie), (LOCATION, location.to_owned())],
        )
            .into_response()
    }
}

/// Who presented the secret of `request`, to `room`; 401 with the reason
/// when nobody holds it, or it has none.
pub fn check(room: &Room, request: &Request) -> Result<Pass, Refusal> {
    let presented = presented(request.method(), request.uri(), request.headers());
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
    let pass = match check(&room, &request) {
        Ok(pass) => pass,
        Err(refusal) => return refusal.into_response(),
    };
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

/// `uri`'s path and query without `key=…`.
fn without_key(uri: &Uri) -> String {
    let rest: Vec<&str> = uri
        .query()
        .unwrap_or_default()
        .split('&')
        .filter(|pair| !pair.is_empty() && !pair.starts_with(QUERY_PREFIX))
        .collect();
    match rest.is_empty() {
        true => uri.path().to_owned(),
        false => format!("{}?{}", uri.path(), rest.join("&")),
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

/// The `room_key` cookie's value, from any `Cookie` header.
fn in_cookie(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .find_map(|pair| {
            let (name, value) = pair.trim().split_once('=')?;
            (name == COOKIE_NAME).then(|| value.to_owned())
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
        let cookie = headers(&[(COOKIE, "theme=dark; room_key=fromcookie")]);
        assert_eq!(
            presented(&Method::GET, &page, &cookie),
            Presented::InQuery("s3cret".to_owned())
        );
        // Only a browser's GET sets the cookie.
        assert_eq!(
            presented(&Method::POST, &page, &cookie),
            Presented::InCookie("fromcookie".to_owned())
        );
        let bearer = headers(&[(AUTHORIZATION, "Bearer tok3n"), (COOKIE, "room_key=other")]);
        assert_eq!(
            presented(&Method::POST, &plain, &bearer),
            Presented::InHeader("tok3n".to_owned())
        );
        let basic = headers(&[(AUTHORIZATION, "Basic bGVhcm5lcjowMTIzYWJjZA==")]);
        assert_eq!(
            presented(&Method::GET, &plain, &basic),
            Presented::InHeader("0123abcd".to_owned())
        );
        let odd = headers(&[(AUTHORIZATION, "Digest whatever")]);
        assert_eq!(
            presented(&Method::GET, &plain, &odd),
            Presented::InHeader(String::new())
        );
        assert_eq!(
            presented(&Method::GET, &plain, &HeaderMap::new()),
            Presented::Nothing
        );
    }

    #[test]
    fn the_page_the_browser_is_sent_to_keeps_all_but_the_key() {
        let with_more: Uri = "/?service=gateway&key=abc&limit=20".parse().unwrap();
        assert_eq!(without_key(&with_more), "/?service=gateway&limit=20");
        let alone: Uri = "/trace/0af7?key=abc".parse().unwrap();
        assert_eq!(without_key(&alone), "/trace/0af7");
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
        assert_eq!(Holder::Instructor.may_see_collector_of("bob"), Ok(()));
        assert_eq!(alice.may_see_collector_of("alice"), Ok(()));
        assert_eq!(
            alice.may_see_collector_of("bob").unwrap_err().status,
            StatusCode::FORBIDDEN
        );
    }
}
