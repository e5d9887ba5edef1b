//! The whole shop in one process, for tests.
//!
//! Each service runs as it would in production (its own router, its own
//! port on loopback, real HTTP between services) but on its own thread, with
//! its own single-threaded runtime and its own tracer provider. That keeps
//! what matters about separate processes: every service has its own
//! `service.name`, and its spans leave it only through its exporter, here an
//! in-memory one behind the same batch processor production uses. Stopping
//! the shop shuts each service down gracefully and flushes its spans, so a
//! test sees exactly what a collector would have received.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::thread::JoinHandle;
use std::time::Duration;

use axum::Router;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{InMemorySpanExporter, SpanData, SpanExporter};
use shop::{Fixes, Peer};
use telemetry::Settings;
use tokio::net::TcpListener;
use tokio::sync::oneshot;

/// How to start the shop.
#[derive(Clone, Debug)]
pub struct Options {
    pub fixes: Fixes,
    pub processor: payments::Processor,
    pub peer_timeout: Duration,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            fixes: Fixes::default(),
            // No random failures unless a test asks for them.
            processor: payments::Processor {
                failure_rate: 0.0,
                ..payments::Processor::default()
            },
            peer_timeout: shop::peer::DEFAULT_TIMEOUT,
        }
    }
}

/// The five services, running.
pub struct Shop {
    services: Vec<Service>,
    stopped: BTreeMap<&'static str, Vec<SpanData>>,
}

struct Service {
    name: &'static str,
    addr: SocketAddr,
    stop: oneshot::Sender<()>,
    thread: JoinHandle<()>,
    exporter: InMemorySpanExporter,
}

impl Shop {
    pub fn start(options: Options) -> Self {
        let fixes = options.fixes;
        let catalog = Service::spawn("catalog", catalog::app());
        let inventory = Service::spawn("inventory", inventory::app(fixes, None));
        let pricing = Service::spawn("pricing", pricing::app(fixes));
        let payments = Service::spawn("payments", payments::app(options.processor));
        let peer = |service: &Service| {
            Peer::with_timeout(service.name, service.url(), options.peer_timeout)
        };
        let peers = gateway::Peers {
            catalog: peer(&catalog),
            inventory: peer(&inventory),
            pricing: peer(&pricing),
            payments: peer(&payments),
        };
        let gateway = Service::spawn("gateway", gateway::app(peers, fixes));
        Self {
            services: vec![gateway, catalog, inventory, pricing, payments],
            stopped: BTreeMap::new(),
        }
    }

    /// The base URL of a running service, e.g. `http://127.0.0.1:40123`.
    pub fn url(&self, name: &str) -> String {
        self.services
            .iter()
            .find(|s| s.name == name)
            .map(Service::url)
            .unwrap_or_else(|| panic!("{name} is not running"))
    }

    /// Stops one service gracefully (requests in flight finish) and keeps
    /// its spans.
    pub fn stop_service(&mut self, name: &str) {
        let index = self
            .services
            .iter()
            .position(|s| s.name == name)
            .unwrap_or_else(|| panic!("{name} is not running"));
        let service = self.services.remove(index);
        let name = service.name;
        self.stopped.insert(name, service.stop());
    }

    /// Stops every service, the gateway first, and returns every span each
    /// one exported.
    pub fn stop(mut self) -> Spans {
        while let Some(service) = (!self.services.is_empty()).then(|| self.services.remove(0)) {
            let name = service.name;
            self.stopped.insert(name, service.stop());
        }
        Spans(self.stopped)
    }
}

impl Service {
    fn spawn(name: &'static str, app: Router) -> Self {
        let exporter = InMemorySpanExporter::default();
        let provider = telemetry::tracer_provider(name, Some(KeepOnShutdown(exporter.clone())));
        let dispatch =
            tracing::Dispatch::new(telemetry::subscriber(&Settings::quiet(name), &provider));
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let (stop, stop_rx) = oneshot::channel::<()>();
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
                    let listener = TcpListener::bind("127.0.0.1:0").await.expect("a free port");
                    ready_tx
                        .send(listener.local_addr().expect("bound"))
                        .expect("the shop waits");
                    let stopped = async {
                        let _ = stop_rx.await;
                    };
                    shop::server::serve_on(listener, app, stopped)
                        .await
                        .expect("serving");
                });
                drop(runtime);
                provider.shutdown().expect("spans flushed");
            })
            .expect("a thread for the service");
        let addr = ready_rx.recv().expect("the service binds its port");
        Self {
            name,
            addr,
            stop,
            thread,
            exporter,
        }
    }

    fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    fn stop(self) -> Vec<SpanData> {
        let _ = self.stop.send(());
        self.thread.join().expect("the service stops cleanly");
        self.exporter.get_finished_spans().expect("spans")
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

/// Every span the shop exported, by service.
pub struct Spans(BTreeMap<&'static str, Vec<SpanData>>);

impl Spans {
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
