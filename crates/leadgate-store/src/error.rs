use thiserror::Error;

#[derive(Debug, Error)]
pub enum StoreError {
    /// A unique key was already taken (e.g. two inquiries creating the same contact at
    /// once); the caller may retry.
    #[error("conflict: {0}")]
    Conflict(String),
    /// The database aborted the transaction to break a deadlock or because it could
    /// not be serialized with another (PostgreSQL); nothing of it was kept, and trying
    /// the whole transaction again is expected to succeed.
    #[error("transaction aborted by the database: {0}")]
    Contention(String),
    /// The database could not be reached or timed out.
    #[error("database unavailable: {0}")]
    Unavailable(String),
    #[error("stored data could not be read: {0}")]
    Corrupt(String),
    #[error("database error: {0}")]
    Database(sqlx::Error),
    /// An error of SQLite read directly (`direct`).
    #[error("database error: {0}")]
    Sqlite(String),
    #[error("{0}")]
    InvalidUrl(String),
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        match &e {
            sqlx::Error::Database(db) if db.is_unique_violation() => StoreError::Conflict(db.message().to_owned()),
            // deadlock_detected, serialization_failure
            sqlx::Error::Database(db) if matches!(db.code().as_deref(), Some("40P01" | "40001")) => {
                StoreError::Contention(db.message().to_owned())
            }
            sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_) => {
                StoreError::Unavailable(e.to_string())
            }
            sqlx::Error::Database(db) if db.message().contains("database is locked") => {
                StoreError::Unavailable(db.message().to_owned())
            }
            _ => StoreError::Database(e),
        }
    }
}
