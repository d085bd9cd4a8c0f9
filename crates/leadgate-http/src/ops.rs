//! Operations endpoints: the start page, health, readiness, metrics, API description.

use crate::AppState;
use crate::error::ApiError;
use axum::extract::State;
use axum::http::header;
use axum::response::{Html, IntoResponse};
use serde_json::json;

const API_DESCRIPTION: &str = include_str!("../../../docs/api.md");

/// Liveness: the process answers. Cheap enough to poll often; touches no database.
pub async fn healthz() -> impl IntoResponse {
    axum::Json(json!({"status": "ok"}))
}

/// Readiness: the database answers too.
pub async fn readyz(State(s): State<AppState>) -> Result<impl IntoResponse, ApiError> {
    s.app.health().await?;
    Ok(axum::Json(json!({"status": "ready", "database": s.app.store().backend()})))
}

pub async fn metrics(State(s): State<AppState>) -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/openmetrics-text; version=1.0.0; charset=utf-8")], s.metrics.render())
}

pub async fn api_description() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "text/markdown; charset=utf-8")], API_DESCRIPTION)
}

/// Escapes text for HTML; every value shown on a page goes through this.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

pub async fn index(State(s): State<AppState>) -> Result<impl IntoResponse, ApiError> {
    let totals = s.app.store().totals().await.map_err(leadgate_app::AppError::from)?;
    let backend = escape(s.app.store().backend());
    let version = escape(env!("CARGO_PKG_VERSION"));
    Ok(Html(format!(
        r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>leadgate</title>
<style>body{{font:16px/1.5 system-ui,sans-serif;max-width:40rem;margin:3rem auto;padding:0 1rem;color:#222}}
td{{padding:.2rem 1rem .2rem 0}}code{{background:#f3f3f3;padding:0 .3rem}}</style></head>
<body>
<h1>leadgate {version}</h1>
<p>B2B lead management server: captures every inquiry and list entry, decides which are leads,
and keeps every response so that the numbers can be trusted.</p>
<p>Running on <strong>{backend}</strong>.</p>
<table>
<tr><td>Contacts</td><td id="contacts">{contacts}</td></tr>
<tr><td>Accounts</td><td id="accounts">{accounts}</td></tr>
<tr><td>Responses</td><td id="responses">{responses}</td></tr>
<tr><td>Activity events</td><td id="events">{events}</td></tr>
</table>
<p>API: <a href="/v1/api.md">the API description</a> · health: <a href="/healthz">/healthz</a> ·
metrics: <a href="/metrics">/metrics</a></p>
<p>Create an API key with <code>leadgate apikey create --name NAME --role admin</code>.</p>
</body></html>"#,
        contacts = totals.contacts,
        accounts = totals.accounts,
        responses = totals.responses,
        events = totals.events,
    )))
}
