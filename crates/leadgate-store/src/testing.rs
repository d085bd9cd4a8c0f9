//! Support for tests that run against both databases.
//!
//! PostgreSQL tests need `LEADGATE_TEST_PG_URL` (e.g. `postgres://postgres@127.0.0.1/test`).
//! Without it they do nothing and pass, and each leaves a note (`not_run`) that the
//! last test binary of `cargo test` (`leadgate-store`'s `what_did_not_run`) counts and
//! reports, so that a run without PostgreSQL ends by saying how much it did not test.
//! With `LEADGATE_REQUIRE_PG=1` (as CI sets) a missing URL fails them instead. Each test
//! gets a schema of its own, dropped when the test's [`PgSchema`] is dropped. A test
//! that uses PostgreSQL has `postgres` in its name (checked here), which is how CI
//! finds them in the list of tests and checks that every one of them ran.

use crate::{PgStore, SqliteOptions, SqliteStore, Store};
use sqlx::postgres::PgConnectOptions;
use std::io::Write;
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::{Arc, Once};

pub const PG_URL_VAR: &str = "LEADGATE_TEST_PG_URL";
pub const REQUIRE_PG_VAR: &str = "LEADGATE_REQUIRE_PG";

/// The PostgreSQL URL for tests, or `None` (after noting that this test did not run)
/// when it is not set.
pub fn pg_url() -> Option<String> {
    let test = std::thread::current().name().map(str::to_owned);
    // The harness names a test's thread after the test.
    if let Some(name) = test.as_deref().filter(|n| *n != "main")
        && !name.contains("postgres")
    {
        panic!("{name} uses PostgreSQL, so its name must contain `postgres`: CI counts these tests by name");
    }
    match std::env::var(PG_URL_VAR) {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            if std::env::var(REQUIRE_PG_VAR).is_ok_and(|v| v == "1") {
                panic!("{REQUIRE_PG_VAR}=1 but {PG_URL_VAR} is not set: the PostgreSQL tests cannot run");
            }
            not_run(test.as_deref().unwrap_or("unnamed"));
            static SAID: Once = Once::new();
            SAID.call_once(|| {
                // Written straight to the terminal, past the test harness's capture.
                let _ = writeln!(
                    std::io::stderr(),
                    "\nNOTE: {PG_URL_VAR} is not set: this binary's PostgreSQL tests did NOT run (they pass without testing anything).\n"
                );
            });
            None
        }
    }
}

/// Where the tests of one `cargo test` run note what did not run: a folder per run,
/// named after the process that started the test binaries (cargo), which is the same
/// for every binary of one run.
pub fn not_run_folder() -> Option<PathBuf> {
    #[cfg(unix)]
    {
        let run = std::os::unix::process::parent_id();
        Some(std::env::temp_dir().join("leadgate-tests-not-run").join(run.to_string()))
    }
    #[cfg(not(unix))]
    {
        None
    }
}

/// Notes that `test` (of this test binary) did not run.
fn not_run(test: &str) {
    let Some(folder) = not_run_folder() else { return };
    let binary = std::env::current_exe()
        .ok()
        .and_then(|p| p.file_stem().map(|s| s.to_string_lossy().into_owned()))
        .map(|stem| stem.rsplit_once('-').map_or(stem.clone(), |(name, _hash)| name.to_owned()))
        .unwrap_or_default();
    let file: String = format!("{binary} {test}")
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || c == '_' || c == ' ' { c } else { '-' })
        .collect();
    if std::fs::create_dir_all(&folder).is_ok() {
        let _ = std::fs::write(folder.join(file), b"");
    }
}

/// A fresh schema on the test server; dropped with this value.
pub struct PgSchema {
    url: String,
    pub name: String,
}

impl PgSchema {
    pub async fn create(url: &str) -> Self {
        let name = format!("t_{}", uuid::Uuid::now_v7().simple());
        let opts = PgConnectOptions::from_str(url).expect("LEADGATE_TEST_PG_URL is not a valid URL");
        let pool =
            sqlx::PgPool::connect_with(opts).await.unwrap_or_else(|e| panic!("cannot reach PostgreSQL at {url}: {e}"));
        sqlx::query(&format!("CREATE SCHEMA {name}")).execute(&pool).await.expect("create test schema");
        pool.close().await;
        Self { url: url.to_owned(), name }
    }

    /// Connection options whose search path is this schema; connections are tagged
    /// with the schema's name so that teardown can find them.
    pub fn options(&self) -> PgConnectOptions {
        PgConnectOptions::from_str(&self.url)
            .expect("valid URL")
            .options([("search_path", self.name.as_str())])
            .application_name(&self.name)
    }

    /// A URL that reaches this schema (for starting the real binary).
    pub fn url(&self) -> String {
        let sep = if self.url.contains('?') { '&' } else { '?' };
        format!("{}{sep}options=-c%20search_path%3D{name}&application_name={name}", self.url, name = self.name)
    }

    pub async fn store(&self) -> Arc<dyn Store> {
        Arc::new(PgStore::connect_with(self.options()).await.expect("open PostgreSQL store"))
    }
}

impl Drop for PgSchema {
    fn drop(&mut self) {
        let url = self.url.clone();
        let name = self.name.clone();
        // Dropping must not need the test's runtime, which may be shutting down.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build();
            if let Ok(rt) = rt {
                rt.block_on(async {
                    if let Ok(pool) = sqlx::PgPool::connect(&url).await {
                        // A connection the test left inside a transaction would make
                        // DROP SCHEMA wait for ever.
                        let _ = sqlx::query(
                            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1",
                        )
                        .bind(&name)
                        .execute(&pool)
                        .await;
                        let _ = sqlx::query(&format!("DROP SCHEMA IF EXISTS {name} CASCADE")).execute(&pool).await;
                        pool.close().await;
                    }
                });
            }
        })
        .join();
    }
}

/// A fresh SQLite store in a temporary directory, kept alive with it.
pub async fn sqlite_store(dir: &std::path::Path) -> Arc<dyn Store> {
    Arc::new(SqliteStore::open(&dir.join("leadgate.db"), SqliteOptions::default()).await.expect("open SQLite store"))
}

/// Runs each named `async fn(Arc<dyn Store>)` of the calling module twice: in module
/// `sqlite` on a fresh SQLite file, and in module `postgres` on a fresh PostgreSQL
/// schema (when `LEADGATE_TEST_PG_URL` is set). The calling crate needs `tokio` and
/// `tempfile` as dev-dependencies.
#[macro_export]
macro_rules! on_both_stores {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test]
                async fn $name() {
                    let dir = tempfile::tempdir().unwrap();
                    let store = $crate::testing::sqlite_store(dir.path()).await;
                    super::$name(store.clone()).await;
                    store.close().await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test]
                async fn $name() {
                    let Some(url) = $crate::testing::pg_url() else { return };
                    let schema = $crate::testing::PgSchema::create(&url).await;
                    let store = schema.store().await;
                    super::$name(store.clone()).await;
                    store.close().await;
                }
            )*
        }
    };
}
