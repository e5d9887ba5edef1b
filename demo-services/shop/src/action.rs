//! A request handler's business operation, as an action.

use crate::error::ApiError;

/// Runs `f` as the action `name` (see the `actions` crate): `Ok` is a
/// success; an `Err` the client caused (4xx: a sold-out talk, a declined
/// card) is a failure, expected and handled; any other `Err` (5xx) or a panic
/// is an exception.
pub async fn action<T, F, Fut>(name: &'static str, f: F) -> Result<T, ApiError>
where
    F: FnOnce(actions::Action) -> Fut,
    Fut: Future<Output = Result<T, ApiError>>,
{
    actions::run_async(name, |act| async move {
        let result = f(act.clone()).await;
        if let Err(err) = &result
            && err.status.is_client_error()
        {
            act.fail(&err.message);
        }
        result
    })
    .await
}
