//! The HTTP side of leadgate: the versioned JSON API, the public capture endpoint,
//! health and metrics. Handlers translate HTTP to use cases of `leadgate-app` and back;
//! they never touch the store.

mod api;
mod changes;
mod error;
mod extract;
mod imports;
mod inquiries;
pub mod metrics;
mod ops;
mod pages;
mod privacy;
mod qualify;
mod server;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use leadgate_app::App;
use leadgate_core::ErrorCode;
use std::sync::Arc;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::trace::TraceLayer;

pub use error::error_response;
pub use imports::{IMPORT_BODY_LIMIT, MAPPING_LIMIT};
pub use server::{ConnectionLimits, serve};

/// Limits of requests, above all of the public capture endpoint.
#[derive(Debug, Clone)]
pub struct HttpOptions {
    /// Inquiries one IP address may send per minute.
    pub inquiries_per_minute: u32,
    /// Take the client address from `X-Forwarded-For` (only behind a proxy you run).
    pub trust_forwarded_for: bool,
    /// Time a client has to send a whole body (of the endpoints that take at most a
    /// few MiB), and, for an upload, each part of it.
    pub body_timeout: std::time::Duration,
}

impl Default for HttpOptions {
    fn default() -> Self {
        Self { inquiries_per_minute: 30, trust_forwarded_for: false, body_timeout: std::time::Duration::from_secs(30) }
    }
}

/// The largest inquiry body: generous for any form, small enough to refuse floods.
pub const INQUIRY_BODY_LIMIT: usize = 64 * 1024;
/// A full batch of 1,000 events with properties fits comfortably.
pub const EVENTS_BODY_LIMIT: usize = 4 * 1024 * 1024;
pub const DEFAULT_BODY_LIMIT: usize = 256 * 1024;

#[derive(Clone)]
pub struct AppState {
    pub app: Arc<App>,
    pub metrics: Arc<metrics::Metrics>,
    limiter: Arc<inquiries::Limiter>,
    opts: Arc<HttpOptions>,
}

pub fn router(app: Arc<App>, opts: HttpOptions) -> Router {
    let metrics = Arc::new(metrics::Metrics::new(app.consumer_lag()));
    let state = AppState {
        app,
        metrics: metrics.clone(),
        limiter: Arc::new(inquiries::limiter(opts.inquiries_per_minute)),
        opts: Arc::new(opts),
    };
    inquiries::spawn_limiter_cleanup(state.limiter.clone());
    let public = Router::new()
        .route("/v1/inquiries", post(inquiries::create).options(inquiries::preflight))
        .layer(DefaultBodyLimit::max(INQUIRY_BODY_LIMIT));
    let events =
        Router::new().route("/v1/events", post(api::ingest_events)).layer(DefaultBodyLimit::max(EVENTS_BODY_LIMIT));
    let imports = Router::new()
        .route("/v1/imports", post(imports::create).get(imports::list))
        .layer(DefaultBodyLimit::max(imports::IMPORT_BODY_LIMIT));
    let rest = Router::new()
        .route("/v1/imports/{id}", get(imports::get))
        .route("/v1/duplicates", get(api::duplicates))
        .route("/v1/exports/{name}", get(api::export))
        .route("/v1/contacts/{id}/merge", post(api::merge))
        .route("/v1/merges/{id}", get(api::get_merge))
        .route("/v1/merges/{id}/undo", post(api::undo_merge))
        .route("/v1/forms", post(api::create_form))
        .route("/v1/contacts", get(api::list_contacts))
        .route("/v1/contacts/{id}", get(api::get_contact).delete(privacy::erase))
        .route("/v1/contacts/{id}/personal-data", get(privacy::personal_data))
        .route("/v1/contacts/{id}/consent", get(privacy::get_consent).post(privacy::record_consent))
        .route("/v1/contacts/{id}/do-not-contact", axum::routing::put(privacy::do_not_contact))
        .route("/v1/contacts/{id}/legal-hold", axum::routing::put(privacy::legal_hold))
        .route("/v1/audit", get(privacy::audit))
        .route("/v1/changes", get(changes::page))
        .route("/v1/changes/stream", get(changes::stream))
        .route("/v1/consumers", get(changes::consumers))
        .route("/v1/contacts/{id}/stage", post(api::change_stage))
        .route("/v1/stats", get(api::stats))
        .route("/v1/contacts/{id}/qualification", axum::routing::put(qualify::put_qualification))
        .route("/v1/scoring", get(qualify::list_models))
        .route("/v1/scoring/{name}", axum::routing::put(qualify::put_model).get(qualify::get_model))
        .route("/v1/scoring/{name}/activate", post(qualify::activate_model))
        .route("/v1/definitions", get(qualify::list_definitions))
        .route("/v1/definitions/{name}", axum::routing::put(qualify::put_definition).get(qualify::get_definition))
        .route("/v1/definitions/{name}/activate", post(qualify::activate_definition))
        .route("/v1/definitions/{name}/deactivate", post(qualify::deactivate_definition))
        .route("/v1/definitions/{name}/backtest", post(qualify::backtest))
        .route("/v1/likelihood", get(qualify::get_likelihood))
        .route("/v1/likelihood/train", post(qualify::train_likelihood))
        .route("/v1/inbox", get(api::list_inbox))
        .route("/v1/inbox/{id}", get(api::get_inbox_item))
        .route("/v1/inbox/{id}/replay", post(api::replay_inbox))
        .route("/", get(ops::index))
        .route("/healthz", get(ops::healthz))
        .route("/readyz", get(ops::readyz))
        .route("/metrics", get(ops::metrics))
        .route("/v1/api.md", get(ops::api_description))
        .layer(DefaultBodyLimit::max(DEFAULT_BODY_LIMIT));
    Router::new()
        .merge(public)
        .merge(events)
        .merge(imports)
        .merge(rest)
        .fallback(|| async { error_response(ErrorCode::NotFound, "no such endpoint; see /v1/api.md") })
        .method_not_allowed_fallback(|| async {
            error_response(ErrorCode::MethodNotAllowed, "this endpoint does not take that method")
        })
        .layer(axum::middleware::from_fn_with_state(metrics, metrics::track))
        .layer(CatchPanicLayer::custom(|panic: Box<dyn std::any::Any + Send>| {
            let what = panic
                .downcast_ref::<String>()
                .map(String::as_str)
                .or_else(|| panic.downcast_ref::<&str>().copied())
                .unwrap_or("a request handler panicked");
            error::internal_error(&format!("panic: {what}"))
        }))
        // Failures are logged where they happen (an internal error with its id); a 503
        // a client is told to retry is not one.
        .layer(TraceLayer::new_for_http().on_failure(()))
        .with_state(state)
}
