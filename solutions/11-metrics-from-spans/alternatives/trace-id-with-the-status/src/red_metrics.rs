//! RED metrics from server spans, with the requests in flight in a map. The
//! label sets and the histogram's type are the reference solution's.

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};
use std::time::Instant;

use lab11_given::SERVER_SPAN;
use opentelemetry::trace::TraceContextExt;
use prometheus_client::metrics::exemplar::HistogramWithExemplars;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::exponential_buckets;
use prometheus_client::registry::{Registry, Unit};
use reference::red_metrics::RequestHistogram;
use tracing::dispatcher::WeakDispatch;
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Dispatch, Subscriber};
use tracing_subscriber::Layer;
use tracing_subscriber::layer::Context;

pub use reference::red_metrics::{RequestLabels, TraceLabels};

/// 5 ms to about 10 s, tripling.
fn request_histogram() -> RequestHistogram {
    HistogramWithExemplars::new(exponential_buckets(0.005, 3.0, 8))
}

struct InFlight {
    started: Instant,
    method: String,
    route: String,
    answered: Option<(u16, Option<String>)>,
}

pub struct RedMetrics {
    requests: Family<RequestLabels, RequestHistogram, fn() -> RequestHistogram>,
    in_flight: Mutex<HashMap<Id, InFlight>>,
    dispatch: OnceLock<WeakDispatch>,
}

impl RedMetrics {
    pub fn register(registry: &mut Registry) -> Self {
        let requests = Family::new_with_constructor(request_histogram as fn() -> RequestHistogram);
        registry.register_with_unit(
            "http_server_request_duration",
            "Request durations",
            Unit::Seconds,
            requests.clone(),
        );
        Self {
            requests,
            in_flight: Mutex::default(),
            dispatch: OnceLock::new(),
        }
    }

    fn in_flight(&self) -> std::sync::MutexGuard<'_, HashMap<Id, InFlight>> {
        self.in_flight.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[derive(Default)]
struct Fields {
    method: String,
    route: String,
    status: Option<u16>,
}

impl Visit for Fields {
    fn record_str(&mut self, field: &Field, value: &str) {
        match field.name() {
            "http.request.method" => value.clone_into(&mut self.method),
            "http.route" => value.clone_into(&mut self.route),
            _ => {}
        }
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        if field.name() == "http.response.status_code" {
            self.status = value.try_into().ok();
        }
    }

    fn record_debug(&mut self, _field: &Field, _value: &dyn std::fmt::Debug) {}
}

impl<S: Subscriber> Layer<S> for RedMetrics {
    fn on_register_dispatch(&self, dispatch: &Dispatch) {
        let _ = self.dispatch.set(dispatch.downgrade());
    }

    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, _ctx: Context<'_, S>) {
        if attrs.metadata().name() == SERVER_SPAN {
            let mut fields = Fields::default();
            attrs.record(&mut fields);
            self.in_flight().insert(
                id.clone(),
                InFlight {
                    started: Instant::now(),
                    method: fields.method,
                    route: fields.route,
                    answered: None,
                },
            );
        }
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, _ctx: Context<'_, S>) {
        let mut fields = Fields::default();
        values.record(&mut fields);
        let Some(status) = fields.status else { return };
        // By the time the response leaves, the span is in its caller's trace.
        let trace_id = self
            .dispatch
            .get()
            .and_then(WeakDispatch::upgrade)
            .and_then(|dispatch| tracing_opentelemetry::get_otel_context(id, &dispatch))
            .map(|cx| cx.span().span_context().trace_id().to_string());
        if let Some(request) = self.in_flight().get_mut(id) {
            request.answered = Some((status, trace_id));
        }
    }

    fn on_close(&self, id: Id, _ctx: Context<'_, S>) {
        let Some(request) = self.in_flight().remove(&id) else {
            return;
        };
        if let Some((status, trace_id)) = request.answered {
            let labels = RequestLabels {
                http_request_method: request.method,
                http_route: request.route,
                http_response_status_code: status,
            };
            self.requests.get_or_create(&labels).observe(
                request.started.elapsed().as_secs_f64(),
                trace_id.map(|trace_id| TraceLabels { trace_id }),
                None,
            );
        }
    }
}
