//! Configuration, layered: defaults → `leadgate.toml` → `LEADGATE_*` environment →
//! command-line flags. One typed struct, passed explicitly.

use anyhow::{Context, Result};
use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::path::{Path, PathBuf};

#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Where the SQLite database lives (ignored with `database_url`).
    pub data_dir: PathBuf,
    /// Address the server listens on.
    pub listen: String,
    /// `postgres://…` to use PostgreSQL instead of the embedded SQLite.
    pub database_url: Option<String>,
    /// SQLite: acknowledge only what is on disk even across a power cut (`FULL`).
    pub sqlite_full_sync: bool,
    /// Inquiries one client address may send per minute.
    pub inquiries_per_minute: u32,
    /// Take the client address from `X-Forwarded-For` (only behind your own proxy).
    pub trust_forwarded_for: bool,
    /// `text` or `json`.
    pub log_format: String,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            data_dir: PathBuf::from("./leadgate-data"),
            listen: "127.0.0.1:8080".into(),
            database_url: None,
            sqlite_full_sync: true,
            inquiries_per_minute: 30,
            trust_forwarded_for: false,
            log_format: "text".into(),
        }
    }
}

/// The database URL may hold a password: never print it.
impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("data_dir", &self.data_dir)
            .field("listen", &self.listen)
            .field("database_url", &self.database_url.as_ref().map(|_| "<hidden>"))
            .field("sqlite_full_sync", &self.sqlite_full_sync)
            .field("inquiries_per_minute", &self.inquiries_per_minute)
            .field("trust_forwarded_for", &self.trust_forwarded_for)
            .field("log_format", &self.log_format)
            .finish()
    }
}

const KEYS: [&str; 7] = [
    "data_dir",
    "listen",
    "database_url",
    "sqlite_full_sync",
    "inquiries_per_minute",
    "trust_forwarded_for",
    "log_format",
];

/// Flags given on the command line; `None` leaves the lower layers' value.
#[derive(Debug, Default, Serialize)]
pub struct Overrides {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data_dir: Option<PathBuf>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub listen: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub database_url: Option<String>,
}

impl Config {
    /// Loads the layers. `file` is `--config`; without it `./leadgate.toml` is read if
    /// it exists.
    pub fn load(file: Option<&Path>, flags: Overrides) -> Result<Self> {
        let mut fig = Figment::from(Serialized::defaults(Config::default()));
        match file {
            Some(path) => {
                anyhow::ensure!(path.exists(), "config file {} does not exist", path.display());
                fig = fig.merge(Toml::file_exact(path));
            }
            // Only the working directory's file: no surprise from a parent directory.
            None if Path::new("leadgate.toml").exists() => fig = fig.merge(Toml::file_exact("leadgate.toml")),
            None => {}
        }
        fig = fig.merge(Env::prefixed("LEADGATE_").only(&KEYS)).merge(Serialized::defaults(flags));
        let config: Config = fig.extract().context("invalid configuration")?;
        if let Some(url) = config.external_database() {
            anyhow::ensure!(
                ["postgres://", "postgresql://", "sqlite://"].iter().any(|p| url.starts_with(p)),
                "database_url must start with postgres:// (or sqlite://PATH); leave it unset for the embedded database"
            );
        }
        anyhow::ensure!(
            matches!(config.log_format.as_str(), "text" | "json"),
            "log_format must be \"text\" or \"json\", not {:?}",
            config.log_format
        );
        Ok(config)
    }

    /// The store to open: PostgreSQL when `database_url` is set, else the SQLite file.
    pub fn database(&self) -> String {
        match self.external_database() {
            Some(url) => url.to_owned(),
            None => self.data_dir.join("leadgate.db").to_string_lossy().into_owned(),
        }
    }

    /// The configured database URL, if any (an empty value means none).
    pub fn external_database(&self) -> Option<&str> {
        self.database_url.as_deref().map(str::trim).filter(|u| !u.is_empty())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[allow(clippy::result_large_err)] // figment's test jail fixes the closure's error type
    fn layers_apply_in_order_and_typos_are_refused() {
        figment::Jail::expect_with(|jail| {
            jail.create_file("leadgate.toml", "listen = \"0.0.0.0:9000\"\ninquiries_per_minute = 5\n")?;
            jail.set_env("LEADGATE_INQUIRIES_PER_MINUTE", "7");
            let c = Config::load(None, Overrides { data_dir: Some("/srv/lg".into()), ..Default::default() }).unwrap();
            assert_eq!(c.listen, "0.0.0.0:9000");
            assert_eq!(c.inquiries_per_minute, 7, "environment beats the file");
            assert_eq!(c.data_dir, PathBuf::from("/srv/lg"), "flags beat everything");

            // The URL's password never shows, but that a database is set does.
            jail.set_env("LEADGATE_DATABASE_URL", "postgres://leads:s3cret-pw@db.example/leads");
            let c = Config::load(None, Overrides::default()).unwrap();
            assert_eq!(c.external_database(), Some("postgres://leads:s3cret-pw@db.example/leads"));
            let shown = format!("{c:?}");
            assert!(!shown.contains("s3cret-pw") && !shown.contains("db.example"), "{shown}");
            assert!(shown.contains("database_url: Some(\"<hidden>\")"), "{shown}");

            jail.set_env("LEADGATE_DATABASE_URL", "db.example:5432/leads");
            let err = format!("{:#}", Config::load(None, Overrides::default()).unwrap_err());
            assert!(err.contains("must start with postgres://"), "a URL without a scheme is not a file name: {err}");
            jail.set_env("LEADGATE_DATABASE_URL", "");

            jail.create_file("leadgate.toml", "listn = \"0.0.0.0:9000\"\n")?;
            let err = format!("{:#}", Config::load(None, Overrides::default()).unwrap_err());
            assert!(err.contains("listn"), "{err}");
            Ok(())
        });
    }
}
