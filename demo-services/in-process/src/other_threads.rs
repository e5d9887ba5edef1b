//! Events written on a thread that a library started (sqlx runs each
//! SQLite connection on a thread of its own, and writes its statement log
//! there), for the service whose span that thread is working in.
//!
//! A service here has its subscriber as its own thread's default, not as
//! the process's: several services share one process. A library's thread
//! has no default, so its events would reach no one, though the library
//! entered the caller's span there (sqlx does). This process-wide default
//! finds the service whose span is current on the thread and hands it the
//! event, as the process's global subscriber would in production.
//!
//! It also closes spans there. When a library's thread drops the last
//! handle of a span (sqlx's worker holds the caller's span while it runs a
//! statement, and may let go of it after the caller has), the span's
//! service closes it, then closes its parent through the thread's default
//! subscriber, which is this one: without passing that on, the parent
//! would stay open for ever and never be exported.

use std::cell::RefCell;
use std::sync::{Mutex, Once};

use tracing::dispatcher::WeakDispatch;
use tracing::span::{Attributes, Id, Record};
use tracing::subscriber::Interest;
use tracing::{Dispatch, Event, Metadata, Subscriber};

/// Every service's subscriber, for [`follow_spans_to_other_threads`].
static SERVICES: Mutex<Vec<WeakDispatch>> = Mutex::new(Vec::new());

pub(crate) fn register(dispatch: &Dispatch) {
    let mut services = SERVICES.lock().unwrap_or_else(|p| p.into_inner());
    services.retain(|service| service.upgrade().is_some());
    services.push(dispatch.downgrade());
}

/// Makes events on threads with no subscriber of their own reach the
/// service whose span is current there. Once per process; a process whose
/// global subscriber is already set keeps it.
pub fn follow_spans_to_other_threads() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let _ = tracing::dispatcher::set_global_default(Dispatch::new(ToTheCurrentService));
    });
}

/// The global default: owns nothing, forwards events.
struct ToTheCurrentService;

thread_local! {
    /// The service this thread last worked for. A library's thread works
    /// for one service (sqlx's SQLite worker, for one connection of one
    /// pool), so it is the service whose spans close here.
    static LAST_OWNER: RefCell<Option<WeakDispatch>> = const { RefCell::new(None) };
}

impl ToTheCurrentService {
    /// The service with a span entered on this thread.
    fn owner() -> Option<Dispatch> {
        let services = SERVICES.lock().unwrap_or_else(|p| p.into_inner());
        let owner = services
            .iter()
            .filter_map(WeakDispatch::upgrade)
            .find(|service| service.current_span().id().is_some());
        if let Some(owner) = &owner {
            LAST_OWNER.set(Some(owner.downgrade()));
        }
        owner
    }
}

impl Subscriber for ToTheCurrentService {
    fn register_callsite(&self, metadata: &'static Metadata<'static>) -> Interest {
        // Only events (and `enabled!`'s questions about them) are
        // forwarded, and only where a service's span is current: decided
        // each time.
        if !metadata.is_span() {
            Interest::sometimes()
        } else {
            Interest::never()
        }
    }

    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        !metadata.is_span() && Self::owner().is_some_and(|owner| owner.enabled(metadata))
    }

    fn new_span(&self, _span: &Attributes<'_>) -> Id {
        // Never called: `enabled` turns every span down.
        Id::from_u64(1)
    }

    fn record(&self, _span: &Id, _values: &Record<'_>) {}

    fn record_follows_from(&self, _span: &Id, _follows: &Id) {}

    fn event(&self, event: &Event<'_>) {
        if let Some(owner) = Self::owner() {
            owner.event(event);
        }
    }

    fn enter(&self, _span: &Id) {}

    fn try_close(&self, span: Id) -> bool {
        let owner = LAST_OWNER.with_borrow(|owner| owner.as_ref().and_then(WeakDispatch::upgrade));
        owner.is_some_and(|owner| owner.try_close(span))
    }

    fn exit(&self, _span: &Id) {}
}
