//! `leadgate serve`: the HTTP server, and the work it does in the background.

use crate::config::Config;
use anyhow::{Context, Result};
use leadgate_app::App;
use std::io::Write;
use std::sync::Arc;
use std::time::Duration;

/// How often the server removes what the retention settings no longer keep.
const SWEEP_EVERY: Duration = Duration::from_secs(3_600);
/// How often the server brings the reports' summaries up to the change feed between
/// reports.
const REPORTS_CURRENT_EVERY: Duration = Duration::from_secs(1);

pub(crate) async fn serve(app: Arc<App>, config: &Config) -> Result<()> {
    let listener = tokio::net::TcpListener::bind(&config.listen)
        .await
        .with_context(|| format!("cannot listen on {}", config.listen))?;
    let addr = listener.local_addr()?;
    let opts = leadgate_http::HttpOptions {
        inquiries_per_minute: config.inquiries_per_minute,
        trust_forwarded_for: config.trust_forwarded_for,
        body_timeout: Duration::from_secs(config.body_timeout_secs),
    };
    let router = leadgate_http::router(app.clone(), opts);
    app.start_consumers();
    let sweeping = tokio::spawn(sweep_now_and_then(app.clone(), config.retention()));
    let summarising = tokio::spawn(keep_reports_current(app.clone()));
    tracing::info!(%addr, database = app.backend(), "leadgate started");
    // Scripts and tests read the address from this line (useful with port 0). A closed
    // stdout must not stop the server, so write errors are ignored.
    let mut out = std::io::stdout();
    let _ = writeln!(out, "leadgate listening on http://{addr}").and_then(|_| out.flush());
    let stopping = {
        let app = app.clone();
        async move {
            shutdown_signal().await;
            // Open change streams end now, so that they do not hold the drain.
            app.close_streams();
        }
    };
    leadgate_http::serve(listener, router, config.connection_limits(), stopping).await?;
    sweeping.abort();
    summarising.abort();
    app.stop_consumers().await;
    tracing::info!("leadgate stopped");
    Ok(())
}

/// Builds the reports' summaries at start, then brings them up to the change feed every
/// little while, so that a report asked finds little to catch up with.
async fn keep_reports_current(app: Arc<App>) {
    let mut tick = tokio::time::interval(REPORTS_CURRENT_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        if let Err(e) = app.prepare_reports().await {
            tracing::warn!(error = %e, "the reports' summaries could not be brought up to date; trying again");
        }
    }
}

/// Applies the retention settings at start and then every hour. Each server of several
/// does it; a sweep takes up where the last one, of any server, stopped.
async fn sweep_now_and_then(app: Arc<App>, retention: leadgate_app::privacy::Retention) {
    let mut tick = tokio::time::interval(SWEEP_EVERY);
    loop {
        tick.tick().await;
        match app.sweep_retention(&retention).await {
            Ok(r) if r == Default::default() => {}
            Ok(r) => tracing::info!(
                inbox_bodies = r.inbox_bodies,
                ip_addresses = r.ip_addresses,
                user_agents = r.user_agents,
                changes = r.changes,
                "removed what retention no longer keeps"
            ),
            Err(e) => tracing::warn!(error = %e, "the retention sweep failed; it is tried again in an hour"),
        }
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
}
