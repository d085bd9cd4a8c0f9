//! The public capture endpoint: the only one that needs no API key, so it carries its
//! own defences: a body limit, a per-IP rate limit, a honeypot (in the core) and CORS
//! limited per form.

use crate::AppState;
use crate::error::{ApiError, error_response};
use crate::extract::body_rejection;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{ConnectInfo, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use leadgate_app::RawInquiry;
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

pub async fn preflight(headers: HeaderMap) -> Response {
    let mut resp = StatusCode::NO_CONTENT.into_response();
    allow_origin(&mut resp, headers.get(header::ORIGIN));
    let h = resp.headers_mut();
    h.insert(header::ACCESS_CONTROL_ALLOW_METHODS, HeaderValue::from_static("POST, OPTIONS"));
    h.insert(header::ACCESS_CONTROL_ALLOW_HEADERS, HeaderValue::from_static("Content-Type"));
    h.insert(header::ACCESS_CONTROL_MAX_AGE, HeaderValue::from_static("86400"));
    resp
}

pub async fn create(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let origin = headers.get(header::ORIGIN).cloned();
    let ip = client_ip(&headers, peer, state.opts.trust_forwarded_for);
    let outcome =
        |o: &'static str| state.metrics.inquiries.get_or_create(&crate::metrics::OutcomeLabels { outcome: o }).inc();
    if let Err(not_until) = state.limiter.check_key(&limit_key(ip)) {
        outcome("refused");
        let wait = not_until.wait_time_from(DefaultClock::default().now()).as_secs().max(1);
        let mut resp = error_response(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limited",
            &format!("too many inquiries from this address; try again in {wait} s"),
        );
        resp.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(wait));
        allow_origin(&mut resp, origin.as_ref());
        return resp;
    }
    let result = match body {
        Err(r) => Err(body_rejection(r)),
        Ok(body) => {
            let raw = RawInquiry {
                body: body.to_vec(),
                content_type: header_string(&headers, header::CONTENT_TYPE),
                query,
                remote_ip: Some(ip.to_string()),
                user_agent: header_string(&headers, header::USER_AGENT),
                origin: origin.as_ref().and_then(|o| o.to_str().ok()).map(str::to_owned),
            };
            state.app.capture_inquiry(raw).await.map_err(ApiError)
        }
    };
    let mut resp = match result {
        Ok(receipt) => {
            outcome(if receipt.junk {
                "junk"
            } else if receipt.duplicate {
                "duplicate"
            } else {
                "created"
            });
            (StatusCode::CREATED, axum::Json(receipt)).into_response()
        }
        // A refused origin gets no CORS grant, so the page cannot read the answer.
        Err(e) if e.0.code == "origin_not_allowed" => {
            outcome("refused");
            return e.into_response();
        }
        Err(e) => {
            outcome("refused");
            e.into_response()
        }
    };
    allow_origin(&mut resp, origin.as_ref());
    resp
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
