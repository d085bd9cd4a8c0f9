//! Running the real `leadgate` binary from tests.

#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

pub const BIN: &str = env!("CARGO_BIN_EXE_leadgate");

/// Runs a leadgate command to completion and returns the last line it printed.
pub fn leadgate(env: &[(String, String)], args: &[&str]) -> String {
    let out = command(env).args(args).output().expect("run leadgate");
    assert!(out.status.success(), "leadgate {args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap().lines().last().unwrap_or_default().trim().to_owned()
}

pub fn command(env: &[(String, String)]) -> Command {
    let mut c = Command::new(BIN);
    c.env_remove("LEADGATE_DATABASE_URL").env("LEADGATE_LOG", "warn").env("LEADGATE_INQUIRIES_PER_MINUTE", "1000000");
    for (k, v) in env {
        c.env(k, v);
    }
    c
}

/// A running server on a free port; killed (SIGKILL) when dropped.
pub struct Server {
    child: Child,
    pub base: String,
    /// What it logged, when started with [`Server::start_logged`].
    log: Option<std::sync::Arc<std::sync::Mutex<String>>>,
}

impl Server {
    /// `GET path` with an API key, as JSON; panics on a transport error.
    pub async fn get_json(&self, path: &str, key: &str) -> serde_json::Value {
        reqwest::Client::new()
            .get(format!("{}{path}", self.base))
            .bearer_auth(key)
            .send()
            .await
            .expect("request")
            .json()
            .await
            .expect("a JSON body")
    }

    /// Waits until the change feed's consumers have handled every change so far
    /// (`GET /v1/consumers`), at most `within`; the consumers as last read.
    pub async fn caught_up(&self, key: &str, within: std::time::Duration) -> serde_json::Value {
        let started = std::time::Instant::now();
        loop {
            let all = self.get_json("/v1/consumers", key).await;
            let list = all["consumers"].as_array().cloned().unwrap_or_default();
            if (!list.is_empty() && list.iter().all(|c| c["caught_up"] == true)) || started.elapsed() > within {
                return all;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    }

    pub fn start(env: &[(String, String)]) -> Self {
        Self::start_with(env, &[])
    }

    pub fn start_with(env: &[(String, String)], extra: &[&str]) -> Self {
        Self::spawn(env, extra, false)
    }

    /// Starts a server whose log (standard error) is kept for [`Server::log`].
    pub fn start_logged(env: &[(String, String)]) -> Self {
        Self::spawn(env, &[], true)
    }

    /// What the server has logged so far.
    pub fn log(&self) -> String {
        self.log.as_ref().map(|l| l.lock().unwrap().clone()).unwrap_or_default()
    }

    fn spawn(env: &[(String, String)], extra: &[&str], logged: bool) -> Self {
        let mut child = command(env)
            .args(["serve", "--listen", "127.0.0.1:0"])
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(if logged { Stdio::piped() } else { Stdio::inherit() })
            .spawn()
            .expect("start leadgate serve");
        let log = child.stderr.take().map(|stderr| {
            let log = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
            let kept = log.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                    let mut kept = kept.lock().unwrap();
                    kept.push_str(&line);
                    kept.push('\n');
                }
            });
            log
        });
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let base = lines
            .by_ref()
            .map_while(Result::ok)
            .find_map(|l| l.strip_prefix("leadgate listening on ").map(str::to_owned))
            .expect("the server printed its address");
        // Keep reading so the server never writes into a closed pipe.
        std::thread::spawn(move || lines.for_each(drop));
        Self { child, base, log }
    }

    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// `host:port` the server listens on.
    pub fn addr(&self) -> String {
        self.base.trim_start_matches("http://").to_owned()
    }

    /// The most memory the server has held at once (its peak resident set), in KiB.
    pub fn peak_memory_kib(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid())).expect("the process status");
        let line = status.lines().find(|l| l.starts_with("VmHWM:")).expect("VmHWM");
        line.split_whitespace().nth(1).unwrap().parse().unwrap()
    }

    /// Stops the server as an operator would (SIGTERM) and waits for it to exit.
    pub fn stop(mut self) -> std::process::ExitStatus {
        let term = Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status().expect("run kill");
        assert!(term.success(), "SIGTERM delivered");
        self.child.wait().expect("reap")
    }

    /// Kills the server the hard way: no shutdown, no flushing.
    pub fn kill_9(mut self) -> Self {
        self.child.kill().expect("SIGKILL");
        self.child.wait().expect("reap");
        self
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
