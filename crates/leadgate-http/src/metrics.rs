//! Prometheus metrics, kept in a registry owned by the server (no global state).

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::Response;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;
use std::sync::Arc;
use std::time::Instant;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    pub method: String,
    pub route: String,
    pub status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OutcomeLabels {
    pub outcome: &'static str,
}

pub struct Metrics {
    registry: Registry,
    pub requests: Family<RequestLabels, Counter>,
    pub durations: Family<RequestLabels, Histogram>,
    pub events_accepted: Counter,
    pub events_rejected: Counter,
    pub inquiries: Family<OutcomeLabels, Counter>,
}

impl Metrics {
    /// `consumer_lag`: how long after a change each consumer of the change feed had
    /// handled it; `assessing`: how long scoring took for what changed; routing's
    /// decisions and the SLA sweeps: all kept by the application.
    pub fn new(
        consumer_lag: Family<leadgate_app::ConsumerLabel, Histogram>,
        assessing: Family<leadgate_app::PhaseLabel, Histogram>,
        (routing, sweeps): (Histogram, Histogram),
    ) -> Self {
        let mut registry = Registry::with_prefix("leadgate");
        let requests = Family::<RequestLabels, Counter>::default();
        let durations = Family::<RequestLabels, Histogram>::new_with_constructor(|| {
            Histogram::new([0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5])
        });
        let events_accepted = Counter::default();
        let events_rejected = Counter::default();
        let inquiries = Family::<OutcomeLabels, Counter>::default();
        registry.register("http_requests", "HTTP requests answered", requests.clone());
        registry.register("http_request_duration_seconds", "Time to answer HTTP requests", durations.clone());
        registry.register("events_accepted", "Activity events committed", events_accepted.clone());
        registry.register("events_rejected", "Activity events refused as invalid", events_rejected.clone());
        registry.register(
            "change_lag_seconds",
            "Time from a change's commit to a consumer of the change feed (scoring) committing what it did about it",
            consumer_lag,
        );
        registry.register(
            "assessing_seconds",
            "Time the scoring consumer took to assess the contacts of one step of the change feed, by phase: read, evaluate (score, predict, requalify), write (and commit)",
            assessing,
        );
        registry.register(
            "routing_decision_seconds",
            "Time routing took to decide one contact's queue, then its person (two observations a contact handed over)",
            routing,
        );
        registry.register("sla_sweep_seconds", "Time a sweep of every open item's SLA clock took", sweeps);
        registry.register("inquiries", "Inquiries by outcome (created, duplicate, junk, refused)", inquiries.clone());
        Self { registry, requests, durations, events_accepted, events_rejected, inquiries }
    }

    pub fn render(&self) -> String {
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &self.registry).expect("writing to a String cannot fail");
        out
    }
}

/// Counts and times every request by route template (never by raw path, which would
/// let anyone create unbounded label values).
pub async fn track(State(metrics): State<Arc<Metrics>>, req: Request, next: Next) -> Response {
    let route = req.extensions().get::<MatchedPath>().map_or("unmatched", |p| p.as_str()).to_owned();
    // Only standard methods become labels: anyone can send `FOO1`, `FOO2`, …
    let method = match req.method().as_str() {
        m @ ("GET" | "POST" | "PUT" | "PATCH" | "DELETE" | "HEAD" | "OPTIONS") => m,
        _ => "other",
    }
    .to_owned();
    let started = Instant::now();
    let resp = next.run(req).await;
    let labels = RequestLabels { method, route, status: resp.status().as_u16() };
    metrics.requests.get_or_create(&labels).inc();
    metrics.durations.get_or_create(&labels).observe(started.elapsed().as_secs_f64());
    resp
}
