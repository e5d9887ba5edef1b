//! The shop's services under test, each as it would run in production but
//! all in one process: its own router on its own loopback port, real HTTP between
//! them, and, on a thread of its own, its own single-threaded runtime and
//! its own tracer provider. What is kept from separate processes is what
//! tracing tests need: every service has its own `service.name`, and its
//! spans leave it only through its exporter, here an in-memory one behind
//! the same batch processor production uses. Stopping a service shuts it
//! down gracefully and flushes its spans, so a test sees exactly what a
//! collector would have received.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

use axum::Router;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{InMemorySpanExporter, SpanData, SpanExporter};
use telemetry::Settings;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tracing::Subscriber;
use tracing::span::{Attributes, Id};
use tracing_subscriber::Layer;
use tracing_subscriber::layer::{Context, SubscriberExt};

mod other_threads;
pub use other_threads::follow_spans_to_other_threads;

/// A service running on its own thread.
pub struct Service {
    name: &'static str,
    addr: SocketAddr,
    /// Taken when the service is told to stop.
    stop: Option<oneshot::Sender<()>>,
    /// Answers when the service has closed its port.
    closed: Option<oneshot::Receiver<()>>,
    thread: JoinHandle<()>,
    exporter: InMemorySpanExporter,
}

impl Service {
    /// Serves `app` on a free loopback port, tracing into memory.
    pub fn spawn(name: &'static str, app: Router) -> Self {
        Self::spawn_with(name, move || async move { app })
    }

    /// Serves the router `make_app` builds, on the service's own thread and
    /// runtime: for a service whose setup is asynchronous (a database pool,
    /// whose connections belong to the runtime that opened them), traced
    /// like the rest of it, on the threads its libraries start too (see
    /// [`follow_spans_to_other_threads`]).
    pub fn spawn_with<F, Fut>(name: &'static str, make_app: F) -> Self
    where
        F: FnOnce() -> Fut + Send + 'static,
        Fut: Future<Output = Router>,
    {
        follow_spans_to_other_threads();
        let exporter = InMemorySpanExporter::default();
        let provider = telemetry::tracer_provider(name, Some(KeepOnShutdown(exporter.clone())));
        let open_spans = OpenSpans::default();
        let (subscriber, log_writers) = telemetry::subscriber(&Settings::quiet(name), &provider);
        let dispatch = tracing::Dispatch::new(subscriber.with(open_spans.clone()));
        other_threads::register(&dispatch);
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let (stop, stop_rx) = oneshot::channel::<()>();
        let (closed_tx, closed) = oneshot::channel::<()>();
        let thread = std::thread::Builder::new()
            .name(name.to_owned())
            .spawn(move || {
                // This thread is the service: its runtime runs every task on
                // it, so this default subscriber sees every span it makes.
                let _default = tracing::dispatcher::set_default(&dispatch);
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("a runtime for the service");
                runtime.block_on(async move {
                    let app = make_app().await;
                    let listener = TcpListener::bind("127.0.0.1:0").await.expect("a free port");
                    ready_tx
                        .send(listener.local_addr().expect("bound"))
                        .expect("the caller waits");
                    let listener = ClosingListener {
                        inner: listener,
                        closed: Some(closed_tx),
                    };
                    let stopped = async {
                        let _ = stop_rx.await;
                    };
                    axum::serve(listener, app)
                        .with_graceful_shutdown(stopped)
                        .await
                        .expect("serving");
                });
                drop(runtime);
                // A library's thread may still hold a span of the last
                // request (sqlx's SQLite worker lets go of the caller's span
                // just after answering): the provider takes spans only
                // until it shuts down. A span still open after this long
                // is a leak, and the test that misses it says so.
                open_spans.wait_until_all_closed(Duration::from_secs(10));
                provider.shutdown().expect("spans flushed");
                // Last, as `telemetry::Guard` drops them.
                drop(log_writers);
            })
            .expect("a thread for the service");
        let addr = ready_rx.recv().expect("the service binds its port");
        Self {
            name,
            addr,
            stop: Some(stop),
            closed: Some(closed),
            thread,
            exporter,
        }
    }

    pub fn name(&self) -> &'static str {
        self.name
    }

    /// `http://127.0.0.1:PORT`
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Tells the service to stop, and returns once it has closed its port:
    /// from then on a new connection is refused, while the requests already
    /// in flight go on. [`Service::stop`] waits for them.
    pub async fn begin_stop(&mut self) {
        self.signal_stop();
        if let Some(closed) = self.closed.take() {
            let _ = closed.await;
        }
    }

    /// Tells the service to stop, once.
    fn signal_stop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }

    /// Stops the service gracefully (requests in flight finish) and returns
    /// every span it exported.
    pub fn stop(mut self) -> Vec<SpanData> {
        self.signal_stop();
        self.thread.join().expect("the service stops cleanly");
        self.exporter.get_finished_spans().expect("spans")
    }
}

/// How many of a service's spans are still open: stopping it waits for
/// the count to fall to zero.
#[derive(Clone, Default)]
struct OpenSpans(Arc<(Mutex<usize>, Condvar)>);

impl OpenSpans {
    fn wait_until_all_closed(&self, at_most: Duration) {
        let (open, closed) = &*self.0;
        let open = open.lock().unwrap_or_else(PoisonError::into_inner);
        let _ = closed.wait_timeout_while(open, at_most, |open| *open > 0);
    }
}

impl<S: Subscriber> Layer<S> for OpenSpans {
    fn on_new_span(&self, _: &Attributes<'_>, _: &Id, _: Context<'_, S>) {
        *self.0.0.lock().unwrap_or_else(PoisonError::into_inner) += 1;
    }

    fn on_close(&self, _: Id, _: Context<'_, S>) {
        let mut open = self.0.0.lock().unwrap_or_else(PoisonError::into_inner);
        *open = open.saturating_sub(1);
        if *open == 0 {
            self.0.1.notify_all();
        }
    }
}

/// A TCP listener that says when it is dropped, which `axum::serve` does
/// as soon as a graceful shutdown begins: the moment a test can rely on
/// "no new request gets in".
struct ClosingListener {
    inner: TcpListener,
    closed: Option<oneshot::Sender<()>>,
}

impl axum::serve::Listener for ClosingListener {
    type Io = <TcpListener as axum::serve::Listener>::Io;
    type Addr = <TcpListener as axum::serve::Listener>::Addr;

    fn accept(&mut self) -> impl Future<Output = (Self::Io, Self::Addr)> + Send {
        axum::serve::Listener::accept(&mut self.inner)
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        axum::serve::Listener::local_addr(&self.inner)
    }
}

impl Drop for ClosingListener {
    fn drop(&mut self) {
        if let Some(closed) = self.closed.take() {
            let _ = closed.send(());
        }
    }
}

/// The in-memory exporter forgets its spans when the provider shuts down,
/// which is exactly when a test wants to read them: this one keeps them.
#[derive(Debug)]
struct KeepOnShutdown(InMemorySpanExporter);

impl SpanExporter for KeepOnShutdown {
    fn export(&self, batch: Vec<SpanData>) -> impl Future<Output = OTelSdkResult> + Send {
        self.0.export(batch)
    }
}

/// Every span some services exported, by service.
#[derive(Default)]
pub struct Spans(BTreeMap<&'static str, Vec<SpanData>>);

impl Spans {
    /// Stops the services, in the order given, and gathers their spans.
    pub fn stop_all(services: impl IntoIterator<Item = Service>) -> Self {
        let mut spans = Self::default();
        for service in services {
            spans.insert(service.name(), service.stop());
        }
        spans
    }

    pub fn insert(&mut self, service: &'static str, spans: Vec<SpanData>) {
        self.0.insert(service, spans);
    }

    /// Spans of one service.
    pub fn of(&self, service: &str) -> &[SpanData] {
        self.0.get(service).map_or(&[], Vec::as_slice)
    }

    /// Every span, with the service that exported it.
    pub fn all(&self) -> impl Iterator<Item = (&'static str, &SpanData)> {
        self.0
            .iter()
            .flat_map(|(name, spans)| spans.iter().map(move |s| (*name, s)))
    }

    /// Spans of one service with this name.
    pub fn named<'a>(&'a self, service: &str, name: &'a str) -> impl Iterator<Item = &'a SpanData> {
        self.of(service).iter().filter(move |s| s.name == name)
    }
}

/// A span attribute as text.
pub fn attr(span: &SpanData, key: &str) -> Option<String> {
    span.attributes
        .iter()
        .find(|kv| kv.key.as_str() == key)
        .map(|kv| kv.value.to_string())
}

/// Whether two spans ran at the same time for a while.
pub fn overlap(a: &SpanData, b: &SpanData) -> bool {
    a.start_time < b.end_time && b.start_time < a.end_time
}
