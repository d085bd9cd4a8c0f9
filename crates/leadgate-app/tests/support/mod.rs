//! What the use-case tests share: an `App` whose consumers run, the public data sets and
//! example mappings, and importing a CSV file.

// Each test binary uses some of these.
#![allow(dead_code)]

use leadgate_app::import::ImportOptions;
use leadgate_app::{App, AppError, AppOptions, SystemClock};
use leadgate_core::Actor;
use leadgate_core::import::Mapping;
use leadgate_core::model::ImportJob;
use leadgate_store::Store;
use std::path::PathBuf;
use std::sync::Arc;

/// An `App` on `store` as a server runs it: its consumers (scoring) follow the feed.
pub fn app(store: &Arc<dyn Store>) -> Arc<App> {
    let app = App::new(store.clone(), Arc::new(SystemClock), AppOptions::for_backend(store.backend()));
    app.start_consumers();
    app
}

/// A file of the public data sets, which must be there (see ../shared/data/README.md).
pub fn shared_data(path: &str) -> PathBuf {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data").join(path);
    assert!(p.exists(), "the shared data set is missing: {} (see ../shared/data/README.md)", p.display());
    p
}

/// One of the example mappings in `examples/`.
pub fn example(name: &str) -> Mapping {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../examples").join(name);
    Mapping::from_toml(&std::fs::read_to_string(p).unwrap()).unwrap()
}

/// Imports `csv` through `mapping`, as an operator at the command line would.
pub async fn import_csv(app: &App, csv: impl AsRef<[u8]>, mapping: &Mapping) -> Result<ImportJob, AppError> {
    let csv = csv.as_ref().to_vec();
    app.import_csv(std::io::Cursor::new(csv), mapping, ImportOptions::default(), &Actor::Operator, &()).await
}
