//! A request as the shop's gateway handles one, with spans and events at
//! every level. Given: your subscriber is what this lab is about, and this
//! is what it gets to record.

use tracing::{debug, error, info, info_span, trace, warn};

/// One order, from acceptance to a confirmation that could not be audited.
pub fn handle_request(request_id: u64) {
    let request = info_span!("handle_request", request_id, route = "/orders");
    let _entered = request.enter();
    info!(customer = "ada", "order accepted");
    debug!(lines = 2, "order validated");
    trace!("looking up prices");
    info_span!("charge", amount_cents = 9_000).in_scope(|| {
        warn!(attempt = 1, "payment processor busy, retrying");
        info!("charged");
    });
    error!(
        reason = "audit log unavailable",
        "order confirmed but not audited"
    );
}

/// What a service says when it starts: outside any span.
pub fn start_up() {
    info!(version = env!("CARGO_PKG_VERSION"), "service starting");
}
