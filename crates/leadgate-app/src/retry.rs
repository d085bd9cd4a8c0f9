//! Trying a transaction again when the database aborted it for contention.
//!
//! PostgreSQL aborts one of two transactions that wait for each other (a deadlock) or
//! that it cannot serialize; nothing of the aborted one is kept, so running it again
//! is safe and nearly always succeeds. Transactions lock rows in a fixed order where
//! they can (contacts by id), which makes this rare; the retry covers what ordering
//! cannot, so that a client never sees the database's tie-break as a fault.

use leadgate_store::StoreError;
use rand::Rng;
use std::future::Future;
use std::time::Duration;

/// Tries in all, the first included.
pub(crate) const ATTEMPTS: u32 = 6;

/// Runs `attempt` until it does not fail for contention, at most [`ATTEMPTS`] times,
/// pausing a random while between tries so that the two that collided do not collide
/// again.
pub(crate) async fn on_contention<T, F, Fut>(what: &str, mut attempt: F) -> Result<T, StoreError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, StoreError>>,
{
    let mut tried = 1;
    loop {
        match attempt().await {
            Err(StoreError::Contention(e)) if tried < ATTEMPTS => {
                tracing::info!(error = %e, attempt = tried, "{what} aborted by the database; trying again");
                tokio::time::sleep(pause(tried)).await;
                tried += 1;
            }
            other => return other,
        }
    }
}

/// Full jitter under an exponential ceiling: 0–4 ms after the first try, up to 0–64 ms
/// after the fifth.
pub(crate) fn pause(tried: u32) -> Duration {
    let ceiling = 2u64 << tried.min(6);
    Duration::from_micros(rand::rng().random_range(0..ceiling * 1_000))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};

    #[tokio::test]
    async fn a_transaction_aborted_for_contention_is_tried_again_until_it_succeeds() {
        let calls = AtomicU32::new(0);
        let result = on_contention("test", || async {
            match calls.fetch_add(1, Ordering::SeqCst) {
                0 | 1 => Err(StoreError::Contention("deadlock detected".into())),
                _ => Ok("committed"),
            }
        })
        .await;
        assert_eq!(result.unwrap(), "committed");
        assert_eq!(calls.load(Ordering::SeqCst), 3);
    }

    #[tokio::test]
    async fn other_errors_are_not_retried_and_contention_gives_up_after_a_bound() {
        let calls = AtomicU32::new(0);
        let result: Result<(), _> = on_contention("test", || async {
            calls.fetch_add(1, Ordering::SeqCst);
            Err(StoreError::Conflict("taken".into()))
        })
        .await;
        assert!(matches!(result, Err(StoreError::Conflict(_))));
        assert_eq!(calls.load(Ordering::SeqCst), 1, "a conflict is the caller's to handle");

        calls.store(0, Ordering::SeqCst);
        let result: Result<(), _> = on_contention("test", || async {
            calls.fetch_add(1, Ordering::SeqCst);
            Err(StoreError::Contention("deadlock detected".into()))
        })
        .await;
        assert!(matches!(result, Err(StoreError::Contention(_))));
        assert_eq!(calls.load(Ordering::SeqCst), ATTEMPTS);
    }

    #[test]
    fn pauses_grow_but_stay_short() {
        for tried in 1..ATTEMPTS {
            assert!(pause(tried) < Duration::from_millis(64), "{:?}", pause(tried));
        }
    }
}

/// What a use case's transaction may fail with: the store (contention among it, which
/// is tried again) or the use case's own refusal, which is not.
#[derive(Debug)]
pub(crate) enum TxError {
    Store(StoreError),
    App(crate::AppError),
}

impl From<StoreError> for TxError {
    fn from(e: StoreError) -> Self {
        TxError::Store(e)
    }
}

impl From<crate::AppError> for TxError {
    fn from(e: crate::AppError) -> Self {
        TxError::App(e)
    }
}

/// [`on_contention`] for a transaction that may also refuse for the use case's reasons.
pub(crate) async fn on_contention_app<T, F, Fut>(what: &str, mut attempt: F) -> Result<T, crate::AppError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, TxError>>,
{
    let mut tried = 1;
    loop {
        match attempt().await {
            Ok(value) => return Ok(value),
            Err(TxError::Store(StoreError::Contention(e))) if tried < ATTEMPTS => {
                tracing::info!(error = %e, attempt = tried, "{what} aborted by the database; trying again");
                tokio::time::sleep(pause(tried)).await;
                tried += 1;
            }
            Err(TxError::Store(e)) => return Err(e.into()),
            Err(TxError::App(e)) => return Err(e),
        }
    }
}
