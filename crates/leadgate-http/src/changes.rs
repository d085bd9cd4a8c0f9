//! The change feed for integrators: pages by cursor with long polling, and a stream of
//! server-sent events that resumes from `Last-Event-ID`.

use crate::AppState;
use crate::api::query_error;
use crate::error::{ApiError, ErrorBody};
use crate::extract::Caller;
use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::IntoResponse;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures_util::stream::{self, Stream};
use leadgate_app::ConsumerView;
use leadgate_app::changes::{ChangeView, ChangesQuery, ChangesView, Reading};
use leadgate_core::Permission;
use serde::Deserialize;
use std::collections::VecDeque;
use std::convert::Infallible;
use std::time::Duration;

#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// A cursor: an entry's `cursor` or a page's `next`. Without it, from the oldest
    /// entry kept.
    after: Option<String>,
    /// Entries in the page, 1 to 1,000 (default 100).
    limit: Option<i64>,
    /// Comma-separated kinds: entries holding any of them. Without it, all.
    kinds: Option<String>,
    /// Seconds (0 to 60, default 0) to wait when there is no entry yet: answered as soon
    /// as one commits, or empty at the end.
    wait: Option<u64>,
}

/// `GET /v1/changes?after=&limit=&kinds=&wait=`: the entries after a cursor.
#[utoipa::path(get, path = "/v1/changes", operation_id = "changes_page", tag = "changes", params(PageQuery), responses((status = 200, description = "`{\"changes\": [...], \"next\"}`: the entries after the cursor, oldest first.", body = ChangesView), (status = 410, description = "`cursor_expired`.", body = ErrorBody), (status = 422, description = "`invalid_cursor`, `invalid_limit`, `invalid_wait`, `unknown_kind`, `invalid_query`.", body = ErrorBody)))]
pub async fn page(
    State(s): State<AppState>,
    caller: Caller,
    q: Result<Query<PageQuery>, QueryRejection>,
) -> Result<impl IntoResponse, ApiError> {
    s.app.authorize(&caller.0, Permission::ReadContacts)?;
    let Query(q) = q.map_err(query_error)?;
    let reading = s.app.reading(&ChangesQuery { after: q.after, limit: q.limit, kinds: q.kinds, wait: q.wait }).await?;
    Ok(Json(s.app.changes(&reading).await?))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct StreamQuery {
    /// A cursor to start after, when no `Last-Event-ID` is sent.
    after: Option<String>,
    /// Comma-separated kinds: entries holding any of them. Without it, all.
    kinds: Option<String>,
}

/// How often an idle stream says it is alive, so that proxies keep it open.
const KEEP_ALIVE: Duration = Duration::from_secs(15);

/// `GET /v1/changes/stream`: every entry after the cursor (`Last-Event-ID`, else
/// `?after=`), then each new one as it commits. Entries are read a page at a time as the
/// client takes them: a client that stops reading holds the server to one page.
#[utoipa::path(get, path = "/v1/changes/stream", operation_id = "changes_stream", tag = "changes", params(StreamQuery, ("Last-Event-ID" = Option<String>, Header, description = "Resume after this cursor.")), responses((status = 200, description = "Server-sent events, one per entry, each with its cursor as the event id.", content_type = "text/event-stream", body = String), (status = 410, description = "`cursor_expired`.", body = ErrorBody), (status = 422, description = "`invalid_cursor`, `unknown_kind`, `invalid_query`.", body = ErrorBody)))]
pub async fn stream(
    State(s): State<AppState>,
    caller: Caller,
    q: Result<Query<StreamQuery>, QueryRejection>,
    headers: HeaderMap,
) -> Result<impl IntoResponse, ApiError> {
    s.app.authorize(&caller.0, Permission::ReadContacts)?;
    let Query(q) = q.map_err(query_error)?;
    let resume = headers.get("last-event-id").and_then(|v| v.to_str().ok()).map(str::to_owned);
    let reading =
        s.app.reading(&ChangesQuery { after: resume.or(q.after), limit: None, kinds: q.kinds, wait: None }).await?;
    Ok(Sse::new(entries(s, reading)).keep_alive(KeepAlive::new().interval(KEEP_ALIVE)))
}

fn entries(s: AppState, reading: Reading) -> impl Stream<Item = Result<Event, Infallible>> {
    let start = (s, reading, VecDeque::<ChangeView>::new());
    stream::unfold(start, move |(s, mut reading, mut ready)| async move {
        if ready.is_empty() {
            match s.app.next_changes(&reading).await {
                Ok((page, next)) => {
                    // Read on past what the page examined, entries of other kinds too.
                    reading.after = next;
                    ready.extend(page.changes);
                }
                Err(e) => {
                    // The client reconnects with the last id it got and loses nothing.
                    tracing::warn!(error = %e.message, "a change stream ended");
                    return None;
                }
            }
        }
        let change = ready.pop_front()?;
        let event = Event::default().id(change.cursor.clone()).event("change").json_data(&change).ok()?;
        Some((Ok(event), (s, reading, ready)))
    })
}

/// The consumers inside leadgate, and the server that answered.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct Consumers {
    consumers: Vec<ConsumerView>,
    this_server: String,
}

/// `GET /v1/consumers`: where each consumer of the feed inside leadgate stands.
#[utoipa::path(get, path = "/v1/consumers", operation_id = "list_consumers", tag = "changes", responses((status = 200, description = "`{\"consumers\": [...], \"this_server\"}`: each consumer's cursor, whether it has caught up and the server holding it.", body = Consumers)))]
pub async fn consumers(State(s): State<AppState>, caller: Caller) -> Result<impl IntoResponse, ApiError> {
    s.app.authorize(&caller.0, Permission::ReadContacts)?;
    Ok(Json(Consumers { consumers: s.app.consumers().await?, this_server: s.app.server_name().to_owned() }))
}
