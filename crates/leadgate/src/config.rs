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
    /// Connections the server holds open at once; more wait to be accepted.
    pub max_connections: usize,
    /// Seconds a client has to send a request's headers.
    pub header_timeout_secs: u64,
    /// Seconds a client has to send a request's body (of an upload: each part of it).
    pub body_timeout_secs: u64,
    /// Backtests, duplicate searches, exports and reports a server runs at once.
    pub concurrent_heavy_reads: usize,
    /// Imports a server runs at once.
    pub concurrent_imports: usize,
    /// Days the raw body of a processed inquiry is kept.
    pub retain_inbox_bodies_days: u32,
    /// Days the IP address an inquiry came from is kept, once processed.
    pub retain_ip_addresses_days: u32,
    /// Days the user agent an inquiry came with is kept, once processed.
    pub retain_user_agents_days: u32,
    /// Days the entries of the change feed are kept (the history they tell of is kept
    /// whatever this says).
    pub retain_changes_days: u32,
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
            max_connections: 1_000,
            header_timeout_secs: 10,
            body_timeout_secs: 30,
            concurrent_heavy_reads: 2,
            concurrent_imports: 2,
            retain_inbox_bodies_days: 90,
            retain_ip_addresses_days: 90,
            retain_user_agents_days: 90,
            retain_changes_days: 30,
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
            .field("max_connections", &self.max_connections)
            .field("header_timeout_secs", &self.header_timeout_secs)
            .field("body_timeout_secs", &self.body_timeout_secs)
            .field("concurrent_heavy_reads", &self.concurrent_heavy_reads)
            .field("concurrent_imports", &self.concurrent_imports)
            .field("retain_inbox_bodies_days", &self.retain_inbox_bodies_days)
            .field("retain_ip_addresses_days", &self.retain_ip_addresses_days)
            .field("retain_user_agents_days", &self.retain_user_agents_days)
            .field("retain_changes_days", &self.retain_changes_days)
            .finish()
    }
}

pub const KEYS: [&str; 16] = [
    "data_dir",
    "listen",
    "database_url",
    "sqlite_full_sync",
    "inquiries_per_minute",
    "trust_forwarded_for",
    "log_format",
    "max_connections",
    "header_timeout_secs",
    "body_timeout_secs",
    "concurrent_heavy_reads",
    "concurrent_imports",
    "retain_inbox_bodies_days",
    "retain_ip_addresses_days",
    "retain_user_agents_days",
    "retain_changes_days",
];

/// What a `database_url` of another kind (`mysql://…`) is answered with.
pub const BAD_DATABASE_URL: &str =
    "database_url must start with postgres:// (or sqlite://PATH); leave it unset for the embedded database";

/// What is logged when `LEADGATE_LOG` does not say.
pub const DEFAULT_LOG_FILTER: &str = "info,sqlx=warn,perpetual=warn";

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
                BAD_DATABASE_URL
            );
        }
        anyhow::ensure!(
            matches!(config.log_format.as_str(), "text" | "json"),
            "log_format must be \"text\" or \"json\", not {:?}",
            config.log_format
        );
        for (key, value) in [
            ("max_connections", config.max_connections as u64),
            ("header_timeout_secs", config.header_timeout_secs),
            ("body_timeout_secs", config.body_timeout_secs),
            ("concurrent_heavy_reads", config.concurrent_heavy_reads as u64),
            ("concurrent_imports", config.concurrent_imports as u64),
            ("retain_changes_days", u64::from(config.retain_changes_days)),
        ] {
            anyhow::ensure!(value > 0, "{key} must be at least 1");
        }
        Ok(config)
    }

    pub fn connection_limits(&self) -> leadgate_http::ConnectionLimits {
        leadgate_http::ConnectionLimits {
            max_connections: self.max_connections,
            header_timeout: std::time::Duration::from_secs(self.header_timeout_secs),
            write_timeout: std::time::Duration::from_secs(self.body_timeout_secs),
            ..Default::default()
        }
    }

    pub fn retention(&self) -> leadgate_app::privacy::Retention {
        leadgate_app::privacy::Retention {
            inbox_body_days: self.retain_inbox_bodies_days,
            ip_address_days: self.retain_ip_addresses_days,
            user_agent_days: self.retain_user_agents_days,
            changes_days: self.retain_changes_days,
        }
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

    const DOC: &str = include_str!("../../../docs/configuration.md");

    /// The documented default of `key`, from the table of keys.
    fn documented_default(key: &str) -> String {
        let row = DOC
            .lines()
            .find(|l| l.starts_with(&format!("| `{key}` |")))
            .unwrap_or_else(|| panic!("docs/configuration.md has no row for {key}"));
        row.split(" | ").nth(2).unwrap().trim_matches('`').to_owned()
    }

    #[test]
    fn the_documented_keys_and_defaults_are_the_code_s() {
        let defaults = toml::Value::try_from(Config::default()).unwrap();
        for key in KEYS {
            let documented = documented_default(key);
            let value = match defaults.get(key) {
                None => "none (SQLite)".to_owned(),
                Some(toml::Value::String(s)) => s.clone(),
                Some(other) => other.to_string(),
            };
            assert_eq!(documented, value, "the default of {key}");
            let var = format!("`LEADGATE_{}`", key.to_uppercase());
            assert!(DOC.contains(&var), "the environment variable {var} is documented");
        }
        let keys = DOC.lines().filter(|l| l.starts_with("| `")).count();
        assert_eq!(keys, KEYS.len(), "every key documented, and no other");
        assert!(DOC.contains(BAD_DATABASE_URL), "the message for another database is the one a user sees");
        assert!(DOC.contains(&format!("`{DEFAULT_LOG_FILTER}`")), "the default log filter");

        // The example file is one leadgate reads, with the defaults but where it says.
        let example = DOC.split("```toml\n").nth(1).unwrap().split("```").next().unwrap();
        let read: Config =
            Figment::from(Serialized::defaults(Config::default())).merge(Toml::string(example)).extract().unwrap();
        assert_eq!(read.listen, "0.0.0.0:8080", "the one value it changes");
        assert_eq!(format!("{:?}", Config { listen: "0.0.0.0:8080".into(), ..Config::default() }), format!("{read:?}"));
    }
}
