//! Work a handler starts that must run to its end, whoever still waits for
//! it: the inventory's changes to the seats, the gateway's placement of an
//! order under `--fix-cancellation`.

use std::panic;

use axum::http::StatusCode;
use tokio::sync::watch;
use tracing::Instrument;

use crate::ApiError;

/// Runs `work` on a task of its own, to its end, and waits for its result;
/// `in_flight` counts it from before its task starts until the task ends,
/// however it ends.
///
/// When a client goes away (a peer's timeout, a closed browser tab), hyper
/// drops the handler's future at whichever `.await` it is waiting on. Work
/// run there would stop with it, half done: seats taken from the counts
/// that the database never recorded, a reservation no order will release.
/// A guard's `Drop` cannot undo such work: it cannot `.await`, and at an
/// `.await` on a commit it cannot know whether the database committed. A
/// spawned task is not dropped with the handler, so the work ends as it
/// would have with its client still there; `in_flight` reading zero then
/// says that no such work is under way.
///
/// The task runs in the request's span, so that the work stays in its
/// trace. A panic in the work is raised again here, as if the handler had
/// done the work itself.
pub async fn to_the_end<T>(
    in_flight: &watch::Sender<usize>,
    work: impl Future<Output = Result<T, ApiError>> + Send + 'static,
) -> Result<T, ApiError>
where
    T: Send + 'static,
{
    let counted = InFlight::begin(in_flight);
    let task = tokio::spawn(
        async move {
            let _counted = counted;
            work.await
        }
        .in_current_span(),
    );
    match task.await {
        Ok(result) => result,
        Err(failure) if failure.is_panic() => panic::resume_unwind(failure.into_panic()),
        // Only a runtime shutting down cancels the task, and then the
        // handler is dropped with it: no one reads this.
        Err(_) => Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "the service is shutting down",
        )),
    }
}

/// Work counted in a count of work in flight until it is dropped.
pub struct InFlight(watch::Sender<usize>);

impl InFlight {
    /// Counts one more in `in_flight`, until the result is dropped.
    pub fn begin(in_flight: &watch::Sender<usize>) -> Self {
        in_flight.send_modify(|count| *count += 1);
        Self(in_flight.clone())
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.send_modify(|count| *count -= 1);
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use tokio::sync::oneshot;

    use super::*;

    /// Bounds a wait that only a failure makes long.
    const DEADLINE: Duration = Duration::from_secs(10);

    #[tokio::test]
    async fn the_work_is_counted_in_flight_until_it_ends_even_when_its_caller_is_dropped() {
        let in_flight = watch::Sender::new(0);
        let mut count = in_flight.subscribe();
        let (finish, finishing) = oneshot::channel::<()>();
        let (ended, ending) = oneshot::channel::<()>();
        let caller = to_the_end(&in_flight, async move {
            // Only fails if the test has gone.
            let _ = finishing.await;
            let _ = ended.send(());
            Ok::<(), ApiError>(())
        });
        tokio::select! {
            _ = caller => panic!("the work ended before the test let it"),
            counted = count.wait_for(|count| *count == 1) => {
                assert!(counted.is_ok(), "the count is kept while the work runs");
            }
        }
        // The caller is dropped, at its `.await` on the work.
        assert_eq!(
            *in_flight.borrow(),
            1,
            "the work is still in flight once its caller is dropped"
        );
        finish.send(()).expect("the work waits to be let finish");
        let ran = tokio::time::timeout(DEADLINE, ending).await;
        assert!(
            ran.is_ok_and(|ran| ran.is_ok()),
            "the work ran to its end after its caller was dropped"
        );
        let settled = tokio::time::timeout(DEADLINE, count.wait_for(|count| *count == 0)).await;
        assert!(
            settled.is_ok_and(|settled| settled.is_ok()),
            "the work is no longer counted once it has ended: {} in flight",
            *in_flight.borrow()
        );
    }

    #[tokio::test]
    #[should_panic(expected = "a bug in the work")]
    async fn a_panic_in_the_work_is_raised_again_in_its_caller() {
        let in_flight = watch::Sender::new(0);
        let _ = to_the_end(&in_flight, buggy_work()).await;
    }

    async fn buggy_work() -> Result<(), ApiError> {
        panic!("a bug in the work")
    }
}
