//! A typed client of the collector's query API (or of Jaeger's, for the
//! routes they share): one method per query the workshop's tools ask,
//! answering `trace-analysis`'s types.

use std::fmt;
use std::time::Duration;

use reqwest::{StatusCode, Url};
use serde_json::Value as Json;
use trace_analysis::aggregate::{Analysis, Endpoint};
use trace_analysis::critical_path::Section;
use trace_analysis::jaeger::{Response, Trace};
use trace_analysis::red::OperationRed;

use crate::{loopback, routes};

/// The collector's query API at one address.
#[derive(Clone, Debug)]
pub struct Client {
    http: reqwest::Client,
    /// As given, without a trailing slash.
    base: String,
    /// How long each query may take, when bounded.
    timeout: Option<Duration>,
}

/// Why a query got no answer of the shape it asked for.
#[derive(Debug)]
pub enum Error {
    /// The address is not an HTTP URL.
    Address { base: String },
    /// No answer: nothing listens there, the connection failed, or the
    /// answer did not come in time.
    Unreachable { url: String, source: reqwest::Error },
    /// An answer with an error status, and the reason the collector gave
    /// (the first of Jaeger's `errors`), or else the answer's body.
    Refused {
        url: String,
        status: StatusCode,
        reason: String,
    },
    /// An answer that is not in the shape asked for.
    Shape { url: String, source: reqwest::Error },
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Address { base } => write!(f, "{base:?} is not an HTTP address"),
            Error::Unreachable { url, source } => write!(f, "cannot reach {url}: {source}"),
            Error::Refused { status, reason, .. } => write!(f, "{status}: {reason}"),
            Error::Shape { url, source } => {
                write!(f, "{url} did not answer in Jaeger's shape: {source}")
            }
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Unreachable { source, .. } | Error::Shape { source, .. } => Some(source),
            Error::Address { .. } | Error::Refused { .. } => None,
        }
    }
}

/// A search of traces ([`Client::traces`]): those with a span that matches
/// every condition given, newest first.
#[derive(Clone, Debug, Default)]
pub struct TraceSearch {
    pub service: Option<String>,
    pub operation: Option<String>,
    /// The span starts at or after this (Unix µs).
    pub start_us: Option<u64>,
    /// The span starts at or before this (Unix µs).
    pub end_us: Option<u64>,
    /// At most this many traces ([`crate::DEFAULT_LIMIT`] when not said,
    /// [`crate::MAX_LIMIT`] at most).
    pub limit: Option<usize>,
}

impl TraceSearch {
    /// The shop's orders (the gateway's `POST /orders`) since `start_us`,
    /// as many as one answer holds ([`crate::MAX_LIMIT`], newest first): what
    /// a run's recording and its what-if read.
    pub fn orders_since(start_us: u64) -> Self {
        Self {
            service: Some("gateway".to_owned()),
            operation: Some("POST /orders".to_owned()),
            start_us: Some(start_us),
            limit: Some(crate::MAX_LIMIT),
            ..Self::default()
        }
    }
}

impl Client {
    /// The query API answering at `base` (`http://127.0.0.1:16686`, with
    /// or without a trailing slash).
    pub fn new(base: &str) -> Result<Self, Error> {
        let base = base.trim_end_matches('/').to_owned();
        match Url::parse(&base) {
            Ok(url) if !url.cannot_be_a_base() => Ok(Self {
                http: reqwest::Client::new(),
                base,
                timeout: None,
            }),
            _ => Err(Error::Address { base }),
        }
    }

    /// The query API on `port` of this machine's loopback.
    pub fn on_port(port: u16) -> Self {
        Self::new(&loopback(port)).expect("a loopback address is an HTTP address")
    }

    /// Each query given up after `timeout`, as unreachable.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Where the query API answers, without a trailing slash: the UI's
    /// pages are below it too.
    pub fn base(&self) -> &str {
        &self.base
    }

    /// The services the collector has spans of.
    pub async fn services(&self) -> Result<Vec<String>, Error> {
        let answer: Response<Vec<String>> = self.get(self.url(routes::SERVICES, &[])?).await?;
        Ok(answer.data)
    }

    /// Whether a collector (or a Jaeger) answers here within `within`: its
    /// list of services, with a success status. Whatever else may hold
    /// the port, taking the connection and never answering, is none.
    pub async fn answers(&self, within: Duration) -> bool {
        let Ok(url) = self.url(routes::SERVICES, &[]) else {
            return false;
        };
        self.http
            .get(url)
            .timeout(within)
            .send()
            .await
            .is_ok_and(|answer| answer.status().is_success())
    }

    /// The traces that `search` finds, newest first.
    pub async fn traces(&self, search: &TraceSearch) -> Result<Vec<Trace>, Error> {
        let mut url = self.url(routes::TRACES, &[])?;
        {
            let mut query = url.query_pairs_mut();
            if let Some(service) = &search.service {
                query.append_pair("service", service);
            }
            if let Some(operation) = &search.operation {
                query.append_pair("operation", operation);
            }
            if let Some(start) = search.start_us {
                query.append_pair("start", &start.to_string());
            }
            if let Some(end) = search.end_us {
                query.append_pair("end", &end.to_string());
            }
            if let Some(limit) = search.limit {
                query.append_pair("limit", &limit.to_string());
            }
        }
        let answer: Response<Vec<Trace>> = self.get(url).await?;
        Ok(answer.data)
    }

    /// One trace, by its id (32 hex digits); `None` when the answer holds
    /// none. A trace the collector does not hold is refused (404).
    pub async fn trace(&self, trace_id: &str) -> Result<Option<Trace>, Error> {
        let url = self.url(routes::TRACE, &[("trace_id", trace_id)])?;
        let answer: Response<Option<Vec<Trace>>> = self.get(url).await?;
        Ok(answer.data.and_then(|traces| traces.into_iter().next()))
    }

    /// One trace's critical path, as the collector computes it, from the
    /// trace's end back to its start.
    pub async fn critical_path(&self, trace_id: &str) -> Result<Vec<Section>, Error> {
        let url = self.url(routes::TRACE_CRITICAL_PATH, &[("trace_id", trace_id)])?;
        let answer: Response<Vec<Section>> = self.get(url).await?;
        Ok(answer.data)
    }

    /// The critical paths across `endpoint`'s traces whose root started
    /// from `start_us` to `end_us` (Unix µs, both included; unbounded
    /// where not given).
    pub async fn critical_paths(
        &self,
        endpoint: &Endpoint,
        start_us: Option<u64>,
        end_us: Option<u64>,
    ) -> Result<Analysis, Error> {
        let mut url = self.url(routes::CRITICAL_PATHS, &[])?;
        {
            let mut query = url.query_pairs_mut();
            query
                .append_pair("service", &endpoint.service)
                .append_pair("operation", &endpoint.operation);
            if let Some(start) = start_us {
                query.append_pair("start", &start.to_string());
            }
            if let Some(end) = end_us {
                query.append_pair("end", &end.to_string());
            }
        }
        let answer: Response<Analysis> = self.get(url).await?;
        Ok(answer.data)
    }

    /// Rate, errors and duration per operation, from `service`'s server
    /// spans that started at or after `since_us` (Unix µs).
    pub async fn red(&self, service: &str, since_us: u64) -> Result<Vec<OperationRed>, Error> {
        let mut url = self.url(routes::RED, &[])?;
        url.query_pairs_mut()
            .append_pair("service", service)
            .append_pair("since", &since_us.to_string());
        let answer: Response<Vec<OperationRed>> = self.get(url).await?;
        Ok(answer.data)
    }

    /// The URL of `route`, each `{name}` segment filled with its value
    /// from `segments` (escaped as a path segment).
    fn url(&self, route: &str, segments: &[(&str, &str)]) -> Result<Url, Error> {
        let address = || Error::Address {
            base: self.base.clone(),
        };
        let mut url = Url::parse(&self.base).map_err(|_| address())?;
        {
            let mut path = url.path_segments_mut().map_err(|()| address())?;
            path.pop_if_empty();
            for segment in route.trim_start_matches('/').split('/') {
                let name = segment.strip_prefix('{').and_then(|s| s.strip_suffix('}'));
                let value = name.and_then(|name| {
                    segments
                        .iter()
                        .find(|(wanted, _)| *wanted == name)
                        .map(|(_, value)| *value)
                });
                path.push(value.unwrap_or(segment));
            }
        }
        Ok(url)
    }

    /// The CPU samples the collector holds from inside `service`'s
    /// `operation` spans (the services' span profiles, `PROFILE=1`), as
    /// `shape` says, as the answer's bytes (text for a flame graph or
    /// folded stacks, a gzip file for a pprof profile): what the
    /// critical-paths page links an operation to, over all the traces it
    /// holds.
    pub async fn operation_profile(
        &self,
        service: &str,
        operation: &str,
        shape: ProfileShape,
    ) -> Result<Vec<u8>, Error> {
        let route = match shape {
            ProfileShape::FlameGraph => routes::PROFILE_FLAME_GRAPH,
            ProfileShape::Folded => routes::PROFILE_FOLDED,
            ProfileShape::Pprof => routes::PROFILE_PPROF,
        };
        let mut url = self.url(route, &[])?;
        url.query_pairs_mut()
            .append_pair("service", service)
            .append_pair("operation", operation);
        let answer = self.answer(url.clone()).await?;
        match answer.bytes().await {
            Ok(bytes) => Ok(bytes.to_vec()),
            Err(source) => Err(Error::Shape {
                url: url.into(),
                source,
            }),
        }
    }

    /// Asks `url`, and reads its answer as `T`.
    async fn get<T: serde::de::DeserializeOwned>(&self, url: Url) -> Result<T, Error> {
        let answer = self.answer(url.clone()).await?;
        match answer.json().await {
            Ok(answer) => Ok(answer),
            Err(source) => Err(Error::Shape {
                url: url.into(),
                source,
            }),
        }
    }

    /// Asks `url`; a refusal is an error with the collector's reason.
    async fn answer(&self, url: Url) -> Result<reqwest::Response, Error> {
        let mut request = self.http.get(url.clone());
        if let Some(timeout) = self.timeout {
            request = request.timeout(timeout);
        }
        let answer = match request.send().await {
            Ok(answer) => answer,
            Err(source) => {
                return Err(Error::Unreachable {
                    url: url.into(),
                    source,
                });
            }
        };
        let status = answer.status();
        if !status.is_success() {
            let body = answer.text().await.unwrap_or_default();
            let reason = serde_json::from_str::<Response<Option<Json>>>(&body)
                .ok()
                .and_then(|refusal| refusal.errors?.into_iter().next())
                .map_or(body, |error| error.msg);
            return Err(Error::Refused {
                url: url.into(),
                status,
                reason,
            });
        }
        Ok(answer)
    }
}

/// How [`Client::operation_profile`] gives the samples.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProfileShape {
    /// An SVG flame graph (inferno's), to open in a browser.
    FlameGraph,
    /// Folded stacks, one `root;…;leaf CPU_NS` line per stack.
    Folded,
    /// A pprof profile, gzip-compressed (`.pb.gz`), each sample labelled
    /// with its trace and span: for `go tool pprof` or speedscope.
    Pprof,
}
