//! Building the subscriber and the OpenTelemetry pipeline from the environment.

use std::fmt;
use std::io::IsTerminal;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use actions::{ActionLayer, Levels, LineSink, Sink, Stats, StatsSink};

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::{Protocol, WithExportConfig, WithHttpConfig};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::trace::{
    BatchConfig, BatchConfigBuilder, BatchSpanProcessor, SdkTracerProvider, SpanExporter,
    SpanProcessor,
};
use tracing::Subscriber;
use tracing_subscriber::filter::filter_fn;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

use crate::clock_skew::SkewedClock;
use crate::cpu_time::WithCpuTime;
use crate::db::DbSpans;
use crate::export::{self, CountingExporter, CountingProcessor, ExportCounters};
use crate::flush_report::FlushReport;
use crate::layers;
use crate::log_writer::LogWriters;
use crate::metrics::{MetricsLayer, MetricsSink};
use crate::profiling::SpanProfiler;
use crate::sampling::WithoutDetached;
use crate::trace_ids::{TraceIdLayer, WithTraceIds};

/// The workshop's collector, on the OTLP/HTTP port.
const DEFAULT_ENDPOINT: &str = "http://127.0.0.1:4318";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogFormat {
    /// Human-readable lines, for a terminal.
    Console,
    /// One JSON object per line, for log aggregation.
    Json,
    /// No log lines at all (spans may still be exported).
    Off,
}

/// What `init` reads from the environment, for callers that build the
/// pieces themselves (tests, benchmarks).
#[derive(Clone, Debug)]
pub struct Settings {
    pub service: String,
    pub filter: String,
    pub format: LogFormat,
    /// Export spans over OTLP/HTTP to this endpoint; `None` exports nothing.
    pub otlp_endpoint: Option<String>,
    pub otlp_protocol: Protocol,
    /// How long the exporter tries one batch, its retries included
    /// ([`export::export_timeout_from_env`]).
    pub export_timeout: Duration,
    /// How far this service's exported times are off, in milliseconds
    /// ([`crate::clock_skew`]).
    pub clock_skew_ms: i64,
    /// Sample the process's CPU and send the samples, joined to their
    /// spans, beside the spans ([`crate::profiling`]; `PROFILE=1`).
    pub profile: bool,
    /// A log line waits for room in its writer's queue rather than being
    /// dropped when the queue is full, and so does the request that makes
    /// it ([`crate::log_writer`]; `LOG_LOSSLESS=1`).
    pub lossless_logs: bool,
}

impl Settings {
    /// Spans at INFO and above, no log lines, no export: for tests that
    /// bring their own exporter.
    pub fn quiet(service: &str) -> Self {
        Self {
            service: service.to_owned(),
            filter: "info".to_owned(),
            format: LogFormat::Off,
            otlp_endpoint: None,
            otlp_protocol: Protocol::HttpBinary,
            export_timeout: export::DEFAULT_EXPORT_TIMEOUT,
            clock_skew_ms: 0,
            profile: false,
            lossless_logs: false,
        }
    }

    pub fn from_env(service: &str) -> Result<Self, InitError> {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        // Yes or no: unset, `0` or `false` is no; `1` or `true` is yes.
        let flag = |name: &'static str| match var(name).as_deref() {
            None | Some("0" | "false") => Ok(false),
            Some("1" | "true") => Ok(true),
            Some(other) => Err(InitError::Setting(name, other.to_owned())),
        };
        let format = match var("LOG_FORMAT").as_deref() {
            None | Some("console") => LogFormat::Console,
            Some("json") => LogFormat::Json,
            Some("off" | "none") => LogFormat::Off,
            Some(other) => return Err(InitError::Setting("LOG_FORMAT", other.to_owned())),
        };
        let disabled = var("OTEL_SDK_DISABLED").is_some_and(|v| v.eq_ignore_ascii_case("true"));
        let otlp_endpoint = match var("OTEL_TRACES_EXPORTER").as_deref() {
            _ if disabled => None,
            None | Some("otlp") => {
                Some(var("OTEL_EXPORTER_OTLP_ENDPOINT").unwrap_or_else(|| DEFAULT_ENDPOINT.into()))
            }
            Some("none") => None,
            Some(other) => {
                return Err(InitError::Setting("OTEL_TRACES_EXPORTER", other.to_owned()));
            }
        };
        let otlp_protocol = match var("OTEL_EXPORTER_OTLP_PROTOCOL").as_deref() {
            None | Some("http/protobuf") => Protocol::HttpBinary,
            Some("http/json") => Protocol::HttpJson,
            Some(other) => {
                return Err(InitError::Setting(
                    "OTEL_EXPORTER_OTLP_PROTOCOL",
                    other.to_owned(),
                ));
            }
        };
        Ok(Self {
            service: var("OTEL_SERVICE_NAME").unwrap_or_else(|| service.to_owned()),
            filter: var("RUST_LOG").unwrap_or_else(|| "info".to_owned()),
            format,
            otlp_endpoint,
            otlp_protocol,
            export_timeout: export::export_timeout_from_env()?,
            clock_skew_ms: crate::clock_skew::skew_from_env()?,
            profile: flag("PROFILE")?,
            lossless_logs: flag("LOG_LOSSLESS")?,
        })
    }
}

/// Keeps the span pipeline and the log writers alive; [`Guard::shutdown`]
/// (or dropping it) flushes every span still queued, has the log writers
/// write out every line still queued, and says on standard error, in one
/// line, what became of every span ([`FlushReport`]).
#[must_use = "dropping the guard at once shuts the span export down"]
pub struct Guard {
    provider: SdkTracerProvider,
    /// What the export counted; `None` when spans are not exported.
    counters: Option<Arc<ExportCounters>>,
    /// How long the flush may take ([`export::flush_budget`]).
    flush_budget: Duration,
    /// The span profiler, with `PROFILE=1`.
    profiler: Option<SpanProfiler>,
    flushed: bool,
    /// The log lines' workers, stopped once the spans are flushed.
    log_writers: Option<LogWriters>,
}

impl Guard {
    /// Flushes and stops the export, then the log writers (a line logged
    /// afterwards is lost); call it after the server has drained.
    /// Writes what became of every span on standard error, one line, and
    /// returns it: `telemetry.shutdown().confirm()?` makes a loss the
    /// error `main` returns.
    pub fn shutdown(mut self) -> FlushReport {
        self.flush()
    }

    fn flush(&mut self) -> FlushReport {
        self.flushed = true;
        // Its last window first: the spans it joins are still being ended.
        if let Some(profiler) = self.profiler.take() {
            profiler.stop();
        }
        let completed = self
            .provider
            .shutdown_with_timeout(self.flush_budget)
            .is_ok();
        let report = match &self.counters {
            Some(counters) => {
                counters.log_pending_warnings();
                counters.report(completed)
            }
            None => FlushReport::default(),
        };
        // The log writers write out what they still hold, the export's last
        // warnings among it, before the report: so the report stays the last
        // line the service writes, where `just demo` looks for it.
        drop(self.log_writers.take());
        eprintln!("{report}");
        report
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        if !self.flushed {
            let _report = self.flush();
        }
    }
}

/// Sets up logs and span export for `service` as the environment says
/// (see the crate docs), and installs it as the global default.
///
/// The export is counted ([`export`]): its counters are served on
/// `GET /metrics`, and [`Guard::shutdown`] reports from them.
pub fn init(service: &str) -> Result<Guard, InitError> {
    let settings = Settings::from_env(service)?;
    let counters = crate::metrics::export_counters();
    let provider = match &settings.otlp_endpoint {
        Some(endpoint) => {
            let http = export::counted_http_client(settings.export_timeout, counters.clone())
                .map_err(InitError::HttpClient)?;
            // ANCHOR: exporter
            let exporter = opentelemetry_otlp::SpanExporter::builder()
                .with_http()
                .with_protocol(settings.otlp_protocol)
                .with_endpoint(format!("{}/v1/traces", endpoint.trim_end_matches('/')))
                // A batch is retried with backoff until its timeout: a
                // collector that restarts costs no span.
                .with_timeout(settings.export_timeout)
                .with_retry_policy(export::retry_policy())
                .with_http_client(http)
                .build()
                .map_err(InitError::Exporter)?;
            // ANCHOR_END: exporter
            let exporter = SkewedClock::new(exporter, settings.clock_skew_ms);
            counted_tracer_provider(&settings.service, exporter, batch_config(), &counters)
        }
        None => tracer_provider::<opentelemetry_otlp::SpanExporter>(&settings.service, None),
    };
    let (subscriber, log_writers) = subscriber(&settings, &provider);
    subscriber.try_init().map_err(InitError::AlreadySet)?;
    let profiler = match (&settings.otlp_endpoint, settings.profile) {
        (Some(endpoint), true) => {
            Some(SpanProfiler::start(&settings.service, endpoint).map_err(InitError::Profiler)?)
        }
        _ => None,
    };
    Ok(Guard {
        provider,
        counters: settings.otlp_endpoint.is_some().then_some(counters),
        flush_budget: export::flush_budget(settings.export_timeout),
        profiler,
        flushed: false,
        log_writers: Some(log_writers),
    })
}

/// A tracer provider for `service` that batches spans to `exporter` (or
/// records nothing, but still assigns trace ids, when there is none).
pub fn tracer_provider<E: SpanExporter + 'static>(
    service: &str,
    exporter: Option<E>,
) -> SdkTracerProvider {
    let processor = exporter.map(|exporter| {
        BatchSpanProcessor::builder(exporter)
            .with_batch_config(batch_config())
            .build()
    });
    provider_with(service, processor)
}

/// The pipeline `init` builds: the batch processor and `exporter` in
/// [`export`]'s counting wrappers, counting into `counters`.
pub(crate) fn counted_tracer_provider<E: SpanExporter + 'static>(
    service: &str,
    exporter: E,
    batches: BatchConfig,
    counters: &Arc<ExportCounters>,
) -> SdkTracerProvider {
    let exporter = CountingExporter::new(exporter, counters.clone());
    let processor = BatchSpanProcessor::builder(exporter)
        .with_batch_config(batches)
        .build();
    provider_with(
        service,
        Some(CountingProcessor::new(processor, counters.clone())),
    )
}

fn provider_with(
    service: &str,
    processor: Option<impl SpanProcessor + 'static>,
) -> SdkTracerProvider {
    let resource = Resource::builder()
        .with_service_name(service.to_owned())
        .build();
    let builder = SdkTracerProvider::builder().with_resource(resource);
    match processor {
        // A span the layer had to make a root, of a trace not sampled
        // (`crate::sampling`), is dropped before the export counts it.
        Some(processor) => {
            builder.with_span_processor(WithCpuTime::new(WithoutDetached::new(processor)))
        }
        None => builder,
    }
    .build()
}

/// The SDK's batch settings, from the usual `OTEL_BSP_*` variables, with
/// workshop defaults where they are unset: a queue deep enough that a load
/// test does not overflow it (a full queue drops spans) and that holds the
/// spans of a collector's outage while the exporter retries (the demo's
/// busiest service fills it in about 45 s), and a one-second delay so that
/// traces show up in the UI while the demo runs.
fn batch_config() -> BatchConfig {
    let unset = |name: &str| std::env::var_os(name).is_none();
    let mut config = BatchConfigBuilder::default();
    if unset("OTEL_BSP_MAX_QUEUE_SIZE") {
        config = config.with_max_queue_size(65_536);
    }
    if unset("OTEL_BSP_MAX_EXPORT_BATCH_SIZE") {
        config = config.with_max_export_batch_size(4_096);
    }
    if unset("OTEL_BSP_SCHEDULE_DELAY") {
        config = config.with_scheduled_delay(Duration::from_secs(1));
    }
    config.build()
}

/// The subscriber `init` installs: a filter from the settings, log lines in
/// the chosen format, and every span handed to `provider`; with the log
/// writers its lines go through, a worker thread for each standard stream
/// the format writes to, so that no request waits for a line to be written
/// ([`crate::log_writer`]). Keep the writers as long as the subscriber is
/// in use: dropping them writes out the lines still queued, and stops them.
pub fn subscriber(
    settings: &Settings,
    provider: &SdkTracerProvider,
) -> (
    impl Subscriber + Send + Sync + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
    LogWriters,
) {
    let log_writers = LogWriters::start(settings.format, settings.lossless_logs);
    let subscriber = subscriber_with(
        settings,
        provider,
        log_writers.stdout(),
        log_writers.stderr(),
    );
    (subscriber, log_writers)
}

/// [`subscriber`], with its log lines written to `writer`, on the thread
/// that makes them, instead of standard output's worker: for tests that
/// read them back. (With JSON, the action records are written to standard
/// error, on the thread that makes them too.)
pub fn subscriber_writing_to<W>(
    settings: &Settings,
    provider: &SdkTracerProvider,
    writer: W,
) -> impl Subscriber + Send + Sync + for<'a> tracing_subscriber::registry::LookupSpan<'a>
where
    W: for<'w> MakeWriter<'w> + Clone + Send + Sync + 'static,
{
    subscriber_with(settings, provider, writer, std::io::stderr)
}

/// The subscriber, with standard output's lines (the log lines, and the
/// console format's action records) written to `stdout`, and standard
/// error's (the JSON format's action records) to `stderr`.
fn subscriber_with<O, E>(
    settings: &Settings,
    provider: &SdkTracerProvider,
    stdout: O,
    stderr: E,
) -> impl Subscriber + Send + Sync + for<'a> tracing_subscriber::registry::LookupSpan<'a>
where
    O: for<'w> MakeWriter<'w> + Clone + Send + Sync + 'static,
    E: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    let filter = EnvFilter::try_new(with_console(with_telemetry_targets(&settings.filter)))
        .unwrap_or_else(|err| {
            eprintln!("telemetry: ignoring RUST_LOG={:?}: {err}", settings.filter);
            EnvFilter::new("info")
        });
    // Actions: statistics and metrics count every one; the log gets records by outcome,
    // so a quiet service writes only failures and exceptions. One layer for
    // both, so that each action is timed once.
    // With JSON logs, the action records (a JSON schema of their own) go to
    // standard error: one schema per stream.
    let action_log: Option<Box<dyn Sink>> = match settings.format {
        LogFormat::Console => Some(Box::new(LineSink::human(stdout.clone(), Levels::default()))),
        LogFormat::Json => Some(Box::new(LineSink::json(stderr, Levels::default()))),
        LogFormat::Off => None,
    };
    let action_layer = ActionLayer::new((StatsSink::new(stats()), (MetricsSink, action_log)));
    let logs = match settings.format {
        LogFormat::Console => Some(
            tracing_subscriber::fmt::layer()
                .with_writer(stdout)
                // Colours for a person at a terminal; plain text for a file or a pipe.
                .with_ansi(
                    std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none(),
                )
                .boxed(),
        ),
        LogFormat::Json => Some(
            tracing_subscriber::fmt::layer()
                .json()
                .with_current_span(true)
                .with_writer(stdout)
                .map_event_format(WithTraceIds)
                .boxed(),
        ),
        LogFormat::Off => None,
    };
    let logs = logs.map(|logs| logs.with_filter(filter_fn(crate::layers::for_logs)));
    let subscriber = tracing_subscriber::registry()
        .with(filter)
        .with(layers::spans_with_cpu_time(provider, &settings.service))
        // Only JSON lines show the ids; looking them up costs a little on
        // every event, so only then.
        .with(TraceIdLayer::enabled(settings.format == LogFormat::Json))
        // RED metrics from the server spans, for `GET /metrics`.
        .with(MetricsLayer::default())
        // A client span per database statement, from sqlx's statement log.
        .with(DbSpans::new(provider.tracer(settings.service.clone())))
        .with(action_layer)
        .with(logs);
    // tokio-console's layer serves the process's tasks on
    // `TOKIO_CONSOLE_BIND` (127.0.0.1:6669 by default). Without the
    // feature there is no layer at all, not even an empty one: an extra
    // layer changes how the stack caches each call site's interest.
    #[cfg(feature = "console")]
    let subscriber = subscriber.with(
        console_subscriber::ConsoleLayer::builder()
            .with_default_env()
            .spawn(),
    );
    subscriber
}

/// The statistics of this process's actions, as served at `GET /stats`.
pub fn stats() -> Arc<Stats> {
    static STATS: OnceLock<Arc<Stats>> = OnceLock::new();
    STATS.get_or_init(|| Arc::new(Stats::default())).clone()
}

/// What telemetry itself reads, at the level it needs, whatever else the
/// directive filters out: actions and server spans (INFO spans), so that
/// statistics count every action and the metrics every request; sqlx's
/// statements (DEBUG events), so that the traces have every database span.
/// `RUST_LOG=warn` quiets the logs, not those.
const TELEMETRY_TARGETS: [(&str, &str); 3] = [
    (actions::TARGET, "info"),
    (crate::http::TARGET, "info"),
    (crate::db::STATEMENTS, "debug"),
];

/// The directive with [`TELEMETRY_TARGETS`] added. Only `off` turns them
/// off too, and a directive that names one of them is left as it is for
/// that target.
fn with_telemetry_targets(directive: &str) -> String {
    if directive.trim() == "off" {
        return directive.to_owned();
    }
    let mut directive = directive.to_owned();
    for (target, level) in TELEMETRY_TARGETS {
        if !directive.contains(target) {
            directive.push_str(&format!(",{target}={level}"));
        }
    }
    directive
}

#[cfg(test)]
mod tests {
    use super::with_telemetry_targets;

    #[test]
    fn what_telemetry_reads_stays_on_whatever_the_level() {
        assert_eq!(with_telemetry_targets("off"), "off");
        let quiet = with_telemetry_targets("warn");
        assert!(quiet.starts_with("warn,"), "{quiet}");
        assert!(
            quiet.contains(&format!("{}=info", actions::TARGET)),
            "{quiet}"
        );
        assert!(quiet.contains("telemetry::http=info"), "{quiet}");
        assert!(quiet.contains("sqlx::query=debug"), "{quiet}");
        let own = with_telemetry_targets("warn,telemetry::http=debug");
        assert!(!own.contains("telemetry::http=info"), "{own}");
    }
}

/// With the `console` feature, tokio's task instrumentation passes the
/// filter (tokio-console reads it; the logs and traces leave it out).
fn with_console(directive: String) -> String {
    if cfg!(feature = "console") && directive.trim() != "off" {
        format!("{directive},tokio=trace,runtime=trace")
    } else {
        directive
    }
}

/// Why `init` could not set telemetry up; the cause, where there is one,
/// is the error's `source()`.
#[derive(Debug)]
pub enum InitError {
    /// An environment variable has a value we do not understand.
    Setting(&'static str, String),
    Exporter(opentelemetry_otlp::ExporterBuildError),
    /// The HTTP client the exporter sends with could not be built.
    HttpClient(reqwest::Error),
    AlreadySet(tracing_subscriber::util::TryInitError),
    /// The span profiler's thread could not start.
    Profiler(std::io::Error),
}

impl fmt::Display for InitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            InitError::Setting(name, value) => write!(f, "{name}={value:?} is not a value I know"),
            InitError::Exporter(_) => write!(f, "cannot build the OTLP exporter"),
            InitError::HttpClient(_) => write!(f, "cannot build the OTLP exporter's HTTP client"),
            InitError::AlreadySet(_) => write!(f, "a global subscriber is already set"),
            InitError::Profiler(_) => write!(f, "cannot start the span profiler"),
        }
    }
}

impl std::error::Error for InitError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            InitError::Setting(..) => None,
            InitError::Exporter(err) => Some(err),
            InitError::HttpClient(err) => Some(err),
            InitError::AlreadySet(err) => Some(err),
            InitError::Profiler(err) => Some(err),
        }
    }
}
