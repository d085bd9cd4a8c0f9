//! Work that walks every contact (backtests, duplicate searches, exports) or writes a
//! whole file (imports) is rationed per server: a few at once, and a request beyond
//! them is answered `busy` with when to try again, rather than every one of them slowing
//! the server down for everyone (its capture endpoint above all).

use crate::ErrorCode;
use crate::{App, AppError};
use std::sync::Arc;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Kinds of heavy work.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HeavyWork {
    Backtest,
    DuplicateSearch,
    Export,
    Import,
    Report,
}

impl HeavyWork {
    fn describe(self) -> &'static str {
        match self {
            HeavyWork::Backtest | HeavyWork::DuplicateSearch | HeavyWork::Export | HeavyWork::Report => {
                "backtests, duplicate searches, exports and reports"
            }
            HeavyWork::Import => "imports",
        }
    }

    /// When a caller turned away should try again: an import holds its place for
    /// minutes, the others for seconds.
    fn retry_after(self) -> u32 {
        match self {
            HeavyWork::Import => 30,
            _ => 5,
        }
    }
}

/// The places for heavy work on this server.
pub(crate) struct Rations {
    reads: Arc<Semaphore>,
    imports: Arc<Semaphore>,
    sizes: (usize, usize),
}

impl Rations {
    pub(crate) fn new(reads: usize, imports: usize) -> Self {
        let (reads, imports) = (reads.max(1), imports.max(1));
        Self {
            reads: Arc::new(Semaphore::new(reads)),
            imports: Arc::new(Semaphore::new(imports)),
            sizes: (reads, imports),
        }
    }
}

/// A place taken for heavy work, given back when dropped.
#[derive(Debug)]
pub struct Ration(#[allow(dead_code)] OwnedSemaphorePermit);

impl App {
    /// Takes a place for `work`, or refuses with `busy` when all are taken.
    pub fn ration(&self, work: HeavyWork) -> Result<Ration, AppError> {
        let (places, size) = match work {
            HeavyWork::Import => (&self.rations.imports, self.rations.sizes.1),
            _ => (&self.rations.reads, self.rations.sizes.0),
        };
        places.clone().try_acquire_owned().map(Ration).map_err(|_| {
            AppError::new(
                ErrorCode::Busy,
                format!(
                    "this server runs at most {size} {} at once, and that many are running; try again in {} s",
                    work.describe(),
                    work.retry_after()
                ),
            )
            .retry_after(work.retry_after())
        })
    }
}
