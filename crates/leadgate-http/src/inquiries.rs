//! The public capture endpoint: the only one that needs no API key, so it carries its
//! own defences: a per-IP rate limit applied before the body is read, a body limit of
//! size and time, a honeypot (in the core), CORS limited per form, and an answer that
//! says nothing of the contact to whoever posts without a key.

use crate::error::{ApiError, ErrorBody};
use crate::{AppState, INQUIRY_BODY_LIMIT};
use axum::extract::{ConnectInfo, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use leadgate_app::{AppError, InquiryReceipt, RawInquiry};
use leadgate_core::ErrorCode;
use leadgate_core::Permission;
use leadgate_core::capture::Sender;
use std::net::{IpAddr, SocketAddr};
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

pub type Limiter = DefaultKeyedRateLimiter<IpAddr>;

pub fn limiter(per_minute: u32) -> Limiter {
    let n = NonZeroU32::new(per_minute.max(1)).expect("at least 1");
    RateLimiter::keyed(Quota::per_minute(n))
}

/// Forgets idle addresses so the limiter's memory stays bounded.
pub fn spawn_limiter_cleanup(limiter: Arc<Limiter>) {
    if let Ok(rt) = tokio::runtime::Handle::try_current() {
        rt.spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(60));
            loop {
                tick.tick().await;
                limiter.retain_recent();
            }
        });
    }
}

fn client_ip(headers: &HeaderMap, peer: SocketAddr, trust_forwarded: bool) -> IpAddr {
    if trust_forwarded
        && let Some(ip) = headers
            .get_all("x-forwarded-for")
            .iter()
            .next_back()
            .and_then(|v| v.to_str().ok())
            // The last entry (of the last header line) is the one our own proxy added;
            // earlier ones are whatever the client claimed.
            .and_then(|v| v.rsplit(',').next())
            .and_then(|v| v.trim().parse().ok())
    {
        return ip;
    }
    peer.ip()
}

/// The key an address is rate-limited under: IPv6 clients usually control a whole /64,
/// so they are limited per /64 rather than per address.
fn limit_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) if v6.to_ipv4_mapped().is_none() => {
            let prefix = u128::from(v6) & !((1u128 << 64) - 1);
            IpAddr::V6(std::net::Ipv6Addr::from(prefix))
        }
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

fn header_string(headers: &HeaderMap, name: header::HeaderName) -> Option<String> {
    headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_owned)
}

/// Lets the browser read our answer when a form posts with `fetch` from another origin.
fn allow_origin(resp: &mut Response, origin: Option<&HeaderValue>) {
    if let Some(origin) = origin {
        let h = resp.headers_mut();
        h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin.clone());
        h.insert(header::VARY, HeaderValue::from_static("Origin"));
    }
}

#[utoipa::path(options, path = "/v1/inquiries", operation_id = "inquiry_preflight", tag = "capture", security(()), responses((status = 204, description = "A browser may post from another origin.")))]
pub async fn preflight(headers: HeaderMap) -> Response {
    let mut resp = StatusCode::NO_CONTENT.into_response();
    allow_origin(&mut resp, headers.get(header::ORIGIN));
    let h = resp.headers_mut();
    h.insert(header::ACCESS_CONTROL_ALLOW_METHODS, HeaderValue::from_static("POST, OPTIONS"));
    h.insert(header::ACCESS_CONTROL_ALLOW_HEADERS, HeaderValue::from_static("Content-Type"));
    h.insert(header::ACCESS_CONTROL_MAX_AGE, HeaderValue::from_static("86400"));
    resp
}

/// What the public learns of an inquiry it sent: that it was received, the same for a
/// new, a known and a junk sender.
#[derive(serde::Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PublicReceipt {
    receipt: uuid::Uuid,
}

/// The answer to an inquiry: all of it to a caller with a key, the receipt to the public.
#[derive(serde::Serialize, utoipa::ToSchema)]
#[serde(untagged)]
pub enum InquiryAnswer {
    WithKey(InquiryReceipt),
    Public(PublicReceipt),
}

/// How the sender wants to be answered: a browser's plain HTML form post reads a page
/// (or follows a redirect), anything else reads JSON.
fn wants_html(headers: &HeaderMap) -> bool {
    let mime = header_string(headers, header::CONTENT_TYPE).unwrap_or_default().to_ascii_lowercase();
    let form_post = mime.starts_with("application/x-www-form-urlencoded") || mime.starts_with("multipart/form-data");
    form_post && header_string(headers, header::ACCEPT).is_some_and(|a| a.to_ascii_lowercase().contains("text/html"))
}

/// An API key on a request, if it carries one (which must then be valid).
fn presented_key(headers: &HeaderMap) -> Option<&str> {
    crate::extract::api_key_secret(headers)
}

#[utoipa::path(post, path = "/v1/inquiries", operation_id = "create_inquiry", tag = "capture", security((), ("api_key" = [])), params(("form_key" = Option<String>, Query, description = "The form the inquiry comes from (or the `form_key` field).")), request_body(description = "The form's fields: `email` (required), the contact's own fields, the where, what and why of the response, and custom fields; the guide (`/v1/api.md`, Inquiries) lists each with its rules.", content((Object = "application/x-www-form-urlencoded"), (Object = "application/json"), (Object = "multipart/form-data"))), responses((status = 201, description = "Kept: the receipt; with an API key, also what became of the inquiry.", body = InquiryAnswer), (status = 200, description = "A browser's form post to a form with no thank-you page: a small HTML page.", content_type = "text/html", body = String), (status = 303, description = "A browser's form post, sent to the form's thank-you page."), (status = 403, description = "`origin_not_allowed`: the form does not take posts from this `Origin`; `forbidden`: a key whose role may not capture.", body = ErrorBody), (status = 404, description = "`unknown_form`.", body = ErrorBody), (status = 409, description = "`conflict`: a concurrent change got there first; retry.", body = ErrorBody), (status = 422, description = "`missing_field`, `invalid_email`, `invalid_type`, `invalid_value`, `too_long`, `invalid_identifier`, `invalid_visitor_id`, `unknown_field`, `invalid_field_name`, `too_many_fields`.", body = ErrorBody), (status = 429, description = "`rate_limited`.", body = ErrorBody), (status = 401, description = "`unauthenticated`: a key was sent and is not valid.", body = ErrorBody)))]
pub async fn create(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: axum::body::Body,
) -> Response {
    let origin = headers.get(header::ORIGIN).cloned();
    let html = wants_html(&headers);
    let outcome =
        |o: &'static str| state.metrics.inquiries.get_or_create(&crate::metrics::OutcomeLabels { outcome: o }).inc();
    let mut resp = match receive(&state, peer, query, &headers, body).await {
        Ok((receipt, trusted)) => {
            outcome(if receipt.junk {
                "junk"
            } else if receipt.duplicate {
                "duplicate"
            } else {
                "created"
            });
            match (trusted, html, receipt.thank_you_url.as_deref()) {
                // A caller with a key may learn what became of the inquiry.
                (true, _, _) => (StatusCode::CREATED, axum::Json(InquiryAnswer::WithKey(receipt))).into_response(),
                // The public learns only that it was received, the same for a new, a
                // known and a junk sender.
                (false, true, Some(url)) => thanked_by_redirect(url),
                (false, true, None) => crate::pages::thank_you(),
                (false, false, _) => {
                    (StatusCode::CREATED, axum::Json(InquiryAnswer::Public(PublicReceipt { receipt: receipt.receipt })))
                        .into_response()
                }
            }
        }
        Err((e, cors)) => {
            outcome("refused");
            let resp = if html { crate::pages::refused(e) } else { e.into_response() };
            // A refused origin gets no CORS grant, so the page cannot read the answer.
            if !cors {
                return resp;
            }
            resp
        }
    };
    allow_origin(&mut resp, origin.as_ref());
    resp
}

fn rate_limited(wait: u64) -> ApiError {
    let e =
        AppError::new(ErrorCode::RateLimited, format!("too many inquiries from this address; try again in {wait} s"));
    ApiError(e.retry_after(u32::try_from(wait).unwrap_or(u32::MAX)))
}

fn thanked_by_redirect(url: &str) -> Response {
    match HeaderValue::from_str(url) {
        Ok(location) => {
            let mut resp = StatusCode::SEE_OTHER.into_response();
            resp.headers_mut().insert(header::LOCATION, location);
            resp
        }
        // Checked when the form was saved; a page rather than nothing if it is not one.
        Err(_) => crate::pages::thank_you(),
    }
}

/// Authenticates the sender if it gave a key, limits the rate of those who did not
/// (before reading the body, so that a slow body is counted too), reads the body
/// within its size and time limits, and captures the inquiry. An error says whether
/// the answer may carry a CORS grant.
async fn receive(
    state: &AppState,
    peer: SocketAddr,
    query: Option<String>,
    headers: &HeaderMap,
    body: axum::body::Body,
) -> Result<(InquiryReceipt, bool), (ApiError, bool)> {
    let ip = client_ip(headers, peer, state.opts.trust_forwarded_for);
    // Counted against the address's limit, as everything from the public is.
    // Seconds to wait, when over it.
    let over_limit = || -> Option<u64> {
        let not_until = state.limiter.check_key(&limit_key(ip)).err()?;
        Some(not_until.wait_time_from(DefaultClock::default().now()).as_secs().max(1))
    };
    let sender = match presented_key(headers) {
        Some(secret) => match state.app.authenticate(Some(secret)).await {
            Ok(key) => {
                state.app.authorize(&key, Permission::WriteEvents).map_err(|e| (ApiError(e), true))?;
                Sender::Trusted(crate::api::caller_actor(&crate::extract::Caller(key)))
            }
            // A key that is not one is the public's guess: it counts like a post.
            Err(e) => {
                let refused = over_limit().map_or(ApiError(e), rate_limited);
                return Err((refused, true));
            }
        },
        None => Sender::Public,
    };
    if sender == Sender::Public
        && let Some(wait) = over_limit()
    {
        return Err((rate_limited(wait), true));
    }
    let body =
        crate::extract::read_body(body, INQUIRY_BODY_LIMIT, state.opts.body_timeout).await.map_err(|e| (e, true))?;
    let raw = RawInquiry {
        body: body.to_vec(),
        content_type: header_string(headers, header::CONTENT_TYPE),
        query,
        remote_ip: Some(ip.to_string()),
        user_agent: header_string(headers, header::USER_AGENT),
        origin: headers.get(header::ORIGIN).and_then(|o| o.to_str().ok()).map(str::to_owned),
    };
    let trusted = matches!(sender, Sender::Trusted(_));
    match state.app.capture_inquiry(raw, sender).await {
        Ok(receipt) => Ok((receipt, trusted)),
        Err(e) => {
            let cors = e.code != "origin_not_allowed";
            Err((ApiError(e), cors))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv6_clients_are_limited_per_64_and_mapped_ipv4_as_ipv4() {
        let a: IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:bbbb::9".parse().unwrap();
        let other: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert_eq!(limit_key(a), limit_key(b));
        assert_ne!(limit_key(a), limit_key(other));
        assert_eq!(limit_key("::ffff:198.51.100.7".parse().unwrap()), "198.51.100.7".parse::<IpAddr>().unwrap());
        assert_eq!(limit_key("198.51.100.7".parse().unwrap()), "198.51.100.7".parse::<IpAddr>().unwrap());
    }
}
