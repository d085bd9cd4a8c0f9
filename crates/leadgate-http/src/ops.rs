//! Operations endpoints: the start page, health, readiness, metrics, API description.

use crate::AppState;
use crate::error::ApiError;
use axum::extract::State;
use axum::http::header;
use axum::response::{Html, IntoResponse};
use serde_json::json;

const API_DESCRIPTION: &str = include_str!("../../../docs/api.md");

/// Liveness: the process answers. Cheap enough to poll often; touches no database.
#[utoipa::path(get, path = "/healthz", tag = "operations", security(()),
    responses((status = 200, description = "The process answers: `{\"status\": \"ok\"}`.", body = Object)))]
pub async fn healthz() -> impl IntoResponse {
    axum::Json(json!({"status": "ok"}))
}

/// Readiness: the database answers too.
#[utoipa::path(get, path = "/readyz", tag = "operations", security(()),
    responses((status = 200, description = "The database answers: `{\"status\": \"ready\", \"database\": \"sqlite\"}`.", body = Object)))]
pub async fn readyz(State(s): State<AppState>) -> Result<impl IntoResponse, ApiError> {
    s.app.health().await?;
    Ok(axum::Json(json!({"status": "ready", "database": s.app.backend()})))
}

/// Metrics say how busy the business is: any valid API key may read them.
#[utoipa::path(get, path = "/metrics", tag = "operations",
    responses((status = 200, description = "Prometheus metrics in the OpenMetrics text format.",
        content_type = "application/openmetrics-text", body = String)))]
pub async fn metrics(State(s): State<AppState>, _caller: crate::extract::Caller) -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/openmetrics-text; version=1.0.0; charset=utf-8")], s.metrics.render())
}

/// The guide to the API (docs/api.md).
#[utoipa::path(get, path = "/v1/api.md", tag = "operations", security(()),
    responses((status = 200, description = "The guide to the API, in Markdown.", content_type = "text/markdown", body = String)))]
pub async fn api_guide() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "text/markdown; charset=utf-8")], API_DESCRIPTION)
}

/// This description of the API.
#[utoipa::path(get, path = "/v1/openapi.json", tag = "operations", security(()),
    responses((status = 200, description = "The OpenAPI description of every route.", body = Object)))]
pub async fn openapi_json(State(s): State<AppState>) -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/json")], s.openapi.clone())
}

/// The public start page says what is running and where to go next; it shows no data,
/// since only the capture endpoints are open without credentials.
#[utoipa::path(get, path = "/", tag = "operations", security(()),
    responses((status = 200, description = "The start page.", content_type = "text/html", body = String)))]
pub async fn index(State(s): State<AppState>) -> impl IntoResponse {
    let backend = crate::pages::escape(s.app.backend());
    let version = crate::pages::escape(env!("CARGO_PKG_VERSION"));
    Html(format!(
        r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>leadgate</title>
<style>body{{font:16px/1.5 system-ui,sans-serif;max-width:40rem;margin:3rem auto;padding:0 1rem;color:#222}}
code{{background:#f3f3f3;padding:0 .3rem}}</style></head>
<body>
<h1>leadgate {version}</h1>
<p>B2B lead management server: captures every inquiry and list entry, decides which are leads,
and keeps every response so that the numbers can be trusted.</p>
<p>Running on <strong id="database">{backend}</strong>.</p>
<ul>
<li>API guide: <a href="/v1/api.md">/v1/api.md</a> · reference: <a href="/v1/openapi.json">/v1/openapi.json</a></li>
<li>What is stored: <code>GET /v1/stats</code> with an API key</li>
<li>Health: <a href="/healthz">/healthz</a> · readiness: <a href="/readyz">/readyz</a></li>
</ul>
<p>Create an API key with <code>leadgate apikey create --name NAME --role admin</code>, then
<code>curl -H "Authorization: Bearer KEY" http://HOST/v1/stats</code>.</p>
</body></html>"#
    ))
}
