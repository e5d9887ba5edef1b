//! Lab 02, a wrong solution. The learner falls back to the default filter
//! only when `RUST_LOG` is unset, believing an empty `RUST_LOG` is a choice to
//! honour; an empty directive records nothing at INFO, so a service started
//! with `RUST_LOG=` writes almost no lines.

use opentelemetry_sdk::trace::SdkTracerProvider;

pub use reference::*;

/// The filter directive to use: what `RUST_LOG` holds, or
/// [`DEFAULT_FILTER`] when it is not set.
pub fn filter_directive(rust_log: Option<String>) -> String {
    rust_log.unwrap_or_else(|| DEFAULT_FILTER.to_owned())
}

/// For a real program: the filter from `RUST_LOG`, human lines on standard
/// error, JSON lines on standard output.
pub fn init(provider: &SdkTracerProvider) {
    let filter = filter_directive(std::env::var("RUST_LOG").ok());
    let subscriber = subscriber(&filter, std::io::stderr, std::io::stdout, provider);
    tracing::subscriber::set_global_default(subscriber).expect("no other global subscriber");
}
