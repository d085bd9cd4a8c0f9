//! The HTTP side of leadgate: the versioned JSON API, the public capture endpoint,
//! health and metrics. Handlers translate HTTP to use cases of `leadgate-app` and back;
//! they never touch the store.

mod api;
mod changes;
mod error;
mod extract;
mod handoff;
mod imports;
mod inquiries;
pub mod metrics;
mod openapi;
mod ops;
mod pages;
mod privacy;
mod qualify;
mod reports;
mod server;
mod spend;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use leadgate_app::App;
use leadgate_core::ErrorCode;
use std::sync::Arc;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::trace::TraceLayer;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

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
    /// The OpenAPI description as served: serialized once, when the router is built.
    openapi: axum::body::Bytes,
}

/// Every route, each with its description: a route is added here with
/// `routes!(handler)`, whose `#[utoipa::path]` attribute gives its method and path.
fn routes() -> OpenApiRouter<AppState> {
    let public = OpenApiRouter::with_openapi(openapi::base())
        .routes(routes!(inquiries::create, inquiries::preflight))
        .layer(DefaultBodyLimit::max(INQUIRY_BODY_LIMIT));
    let events =
        OpenApiRouter::new().routes(routes!(api::ingest_events)).layer(DefaultBodyLimit::max(EVENTS_BODY_LIMIT));
    let spend = OpenApiRouter::new().routes(routes!(spend::record)).layer(DefaultBodyLimit::max(EVENTS_BODY_LIMIT));
    let imports = OpenApiRouter::new()
        .routes(routes!(imports::create, imports::list))
        .layer(DefaultBodyLimit::max(imports::IMPORT_BODY_LIMIT));
    let rest = OpenApiRouter::new()
        .routes(routes!(imports::get))
        .routes(routes!(api::duplicates))
        .routes(routes!(api::export))
        .routes(routes!(api::merge))
        .routes(routes!(api::get_merge))
        .routes(routes!(api::undo_merge))
        .routes(routes!(api::create_form))
        .routes(routes!(api::list_contacts))
        .routes(routes!(api::get_contact, privacy::erase))
        .routes(routes!(privacy::personal_data))
        .routes(routes!(privacy::get_consent, privacy::record_consent))
        .routes(routes!(privacy::do_not_contact))
        .routes(routes!(privacy::legal_hold))
        .routes(routes!(privacy::audit))
        .routes(routes!(changes::page))
        .routes(routes!(changes::stream))
        .routes(routes!(changes::consumers))
        .routes(routes!(api::change_stage))
        .routes(routes!(api::stats))
        .routes(routes!(qualify::put_qualification))
        .routes(routes!(qualify::list_models))
        .routes(routes!(qualify::put_model, qualify::get_model))
        .routes(routes!(qualify::activate_model))
        .routes(routes!(qualify::list_definitions))
        .routes(routes!(qualify::put_definition, qualify::get_definition))
        .routes(routes!(qualify::activate_definition))
        .routes(routes!(qualify::deactivate_definition))
        .routes(routes!(qualify::backtest))
        .routes(routes!(reports::waterfall))
        .routes(routes!(reports::cohorts))
        .routes(routes!(reports::inflow))
        .routes(routes!(reports::forecast))
        .routes(routes!(reports::cost))
        .routes(routes!(reports::rejected_then_won))
        .routes(routes!(reports::funnel_mix))
        .routes(routes!(handoff::create_user, handoff::list_users))
        .routes(routes!(handoff::update_user))
        .routes(routes!(handoff::create_team, handoff::list_teams))
        .routes(routes!(handoff::list_queues))
        .routes(routes!(handoff::queue_items))
        .routes(routes!(handoff::get_routing, handoff::put_routing))
        .routes(routes!(handoff::preview_routing))
        .routes(routes!(handoff::accept))
        .routes(routes!(handoff::reject))
        .routes(routes!(handoff::sla_report))
        .routes(routes!(spend::list))
        .routes(routes!(spend::remove))
        .routes(routes!(spend::settings, spend::change_settings))
        .routes(routes!(reports::waterfall_contacts))
        .routes(routes!(reports::cohorts_contacts))
        .routes(routes!(qualify::get_likelihood))
        .routes(routes!(qualify::train_likelihood))
        .routes(routes!(api::list_inbox))
        .routes(routes!(api::get_inbox_item))
        .routes(routes!(api::replay_inbox))
        .routes(routes!(ops::index))
        .routes(routes!(ops::healthz))
        .routes(routes!(ops::readyz))
        .routes(routes!(ops::metrics))
        .routes(routes!(ops::api_guide))
        .routes(routes!(ops::openapi_json))
        .layer(DefaultBodyLimit::max(DEFAULT_BODY_LIMIT));
    public.merge(events).merge(spend).merge(imports).merge(rest)
}

/// Every route, and the completed description of them all.
fn described_routes() -> (Router<AppState>, utoipa::openapi::OpenApi) {
    let (routes, mut api) = routes().split_for_parts();
    openapi::complete(&mut api);
    (routes, api)
}

/// The OpenAPI description of every route, as `GET /v1/openapi.json` serves it.
pub fn openapi_description() -> utoipa::openapi::OpenApi {
    described_routes().1
}

pub fn router(app: Arc<App>, opts: HttpOptions) -> Router {
    let metrics = Arc::new(metrics::Metrics::new(app.consumer_lag(), app.assessing_time(), app.handoff_timings()));
    let (routes, api) = described_routes();
    let state = AppState {
        app,
        metrics: metrics.clone(),
        limiter: Arc::new(inquiries::limiter(opts.inquiries_per_minute)),
        opts: Arc::new(opts),
        openapi: serde_json::to_vec(&api).expect("the description serializes").into(),
    };
    inquiries::spawn_limiter_cleanup(state.limiter.clone());
    routes
        .fallback(|| async { error_response(ErrorCode::NotFound, "no such endpoint; see /v1/openapi.json") })
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
