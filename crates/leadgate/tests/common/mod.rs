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
}

impl Server {
    pub fn start(env: &[(String, String)]) -> Self {
        let mut child = command(env)
            .args(["serve", "--listen", "127.0.0.1:0"])
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start leadgate serve");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).expect("read the listening line");
        let base = line
            .trim()
            .strip_prefix("leadgate listening on ")
            .unwrap_or_else(|| panic!("unexpected first line from the server: {line:?}"))
            .to_owned();
        Self { child, base }
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
