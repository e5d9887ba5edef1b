//! The whole shop in one process, for tests: each service on its own port,
//! thread and tracer, with its spans in memory (see `grader_kit::services`,
//! which the labs' graders use too).

use std::time::Duration;

use grader_kit::services::Service;
pub use grader_kit::services::{Spans, attr, overlap};
use shop::{Fixes, Peer};

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
    stopped: Spans,
}

impl Shop {
    pub fn start(options: Options) -> Self {
        let fixes = options.fixes;
        let catalog = Service::spawn("catalog", catalog::app());
        let inventory = Service::spawn("inventory", inventory::app(fixes, None));
        let pricing = Service::spawn("pricing", pricing::app(fixes));
        let payments = Service::spawn("payments", payments::app(options.processor));
        let peer = |service: &Service| {
            Peer::with_timeout(service.name(), service.url(), options.peer_timeout)
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
            stopped: Spans::default(),
        }
    }

    /// The base URL of a running service, e.g. `http://127.0.0.1:40123`.
    pub fn url(&self, name: &str) -> String {
        self.services
            .iter()
            .find(|s| s.name() == name)
            .map(Service::url)
            .unwrap_or_else(|| panic!("{name} is not running"))
    }

    /// Stops one service gracefully (requests in flight finish) and keeps
    /// its spans.
    pub fn stop_service(&mut self, name: &str) {
        let index = self
            .services
            .iter()
            .position(|s| s.name() == name)
            .unwrap_or_else(|| panic!("{name} is not running"));
        let service = self.services.remove(index);
        self.stopped.insert(service.name(), service.stop());
    }

    /// Stops every service, the gateway first, and returns every span each
    /// one exported.
    pub fn stop(mut self) -> Spans {
        for service in self.services {
            self.stopped.insert(service.name(), service.stop());
        }
        self.stopped
    }
}
