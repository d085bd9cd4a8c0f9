//! What the API tests share: the real router in-process, with an admin key and a form,
//! and the requests a client sends.

#![allow(dead_code)]

use axum::Router;
use axum::body::Body;
use axum::extract::connect_info::MockConnectInfo;
use axum::http::{HeaderMap, Method, Request, StatusCode, header};
use http_body_util::BodyExt;
use leadgate_app::{App, AppOptions, SystemClock};
use leadgate_core::Role;
use leadgate_http::{HttpOptions, router};
use leadgate_store::Store;
use serde_json::{Value, json};
use std::net::SocketAddr;
use std::sync::Arc;
use tower::ServiceExt;

pub struct Api {
    pub router: Router,
    pub app: Arc<App>,
    pub admin: String,
    pub form_key: String,
}

pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub json: Value,
    pub text: String,
    /// The request it answers: its method and path.
    pub request: (Method, String),
}

impl Api {
    pub async fn new(store: Arc<dyn Store>) -> Self {
        Self::with(store, HttpOptions { inquiries_per_minute: 10_000, ..HttpOptions::default() }).await
    }

    pub async fn with(store: Arc<dyn Store>, opts: HttpOptions) -> Self {
        let app_opts = AppOptions::for_backend(store.backend());
        Self::with_app(store, opts, app_opts).await
    }

    pub async fn with_app(store: Arc<dyn Store>, opts: HttpOptions, app_opts: AppOptions) -> Self {
        let app = App::new(store.clone(), Arc::new(SystemClock), app_opts);
        app.start_consumers();
        let admin = app.create_api_key("ops", Role::Admin).await.unwrap().secret;
        let router = router(app.clone(), opts).layer(MockConnectInfo(SocketAddr::from(([203, 0, 113, 7], 4242))));
        let mut api = Self { router, app, admin, form_key: String::new() };
        let form = api
            .post("/v1/forms", json!({"name": "CRM guide", "channel": "paid_search", "offer": "CRM buyer's guide"}))
            .await;
        assert_eq!(form.status, StatusCode::CREATED, "{}", form.text);
        api.form_key = form.json["key"].as_str().unwrap().to_owned();
        api
    }

    pub async fn send(&self, req: Request<Body>) -> Reply {
        let request = (req.method().clone(), req.uri().path().to_owned());
        let resp = self.router.clone().oneshot(req).await.unwrap();
        let status = resp.status();
        let headers = resp.headers().clone();
        let bytes = resp.into_body().collect().await.unwrap().to_bytes();
        let text = String::from_utf8_lossy(&bytes).into_owned();
        let json = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        Reply { status, headers, json, text, request }
    }

    pub fn req(&self, method: Method, uri: &str, key: Option<&str>) -> axum::http::request::Builder {
        let b = Request::builder().method(method).uri(uri);
        match key {
            Some(k) => b.header(header::AUTHORIZATION, format!("Bearer {k}")),
            None => b,
        }
    }

    pub async fn get(&self, uri: &str) -> Reply {
        self.send(self.req(Method::GET, uri, Some(&self.admin)).body(Body::empty()).unwrap()).await
    }

    pub async fn post(&self, uri: &str, body: Value) -> Reply {
        self.post_as(uri, &self.admin.clone(), body).await
    }

    pub async fn post_as(&self, uri: &str, key: &str, body: Value) -> Reply {
        let req = self.req(Method::POST, uri, Some(key)).header(header::CONTENT_TYPE, "application/json");
        self.send(req.body(Body::from(body.to_string())).unwrap()).await
    }

    pub async fn put_text(&self, uri: &str, key: &str, content_type: &str, body: &str) -> Reply {
        let req = self.req(Method::PUT, uri, Some(key)).header(header::CONTENT_TYPE, content_type);
        self.send(req.body(Body::from(body.to_owned())).unwrap()).await
    }

    pub async fn put(&self, uri: &str, body: Value) -> Reply {
        self.put_text(uri, &self.admin.clone(), "application/json", &body.to_string()).await
    }

    /// Posts an inquiry as a browser would: no API key.
    pub async fn inquire(&self, content_type: &str, body: impl Into<Body>) -> Reply {
        let req = self.req(Method::POST, "/v1/inquiries", None).header(header::CONTENT_TYPE, content_type);
        self.send(req.body(body.into()).unwrap()).await
    }

    pub async fn inquire_json(&self, mut body: Value) -> Reply {
        body["form_key"] = json!(self.form_key);
        self.inquire("application/json", body.to_string()).await
    }

    pub async fn contact(&self, id: &Value) -> Value {
        let r = self.get(&format!("/v1/contacts/{}", id.as_str().unwrap())).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        r.json
    }
}

/// Fails unless `r` is the error `status` `code`, with a message, and the OpenAPI
/// description of the operation names that code under that status: so every error a test
/// meets is one the description tells clients of.
pub fn assert_error(r: &Reply, status: StatusCode, code: &str) {
    assert_eq!(r.status, status, "{}", r.text);
    assert_eq!(r.json["error"]["code"], json!(code), "{}", r.text);
    assert!(r.json["error"]["message"].as_str().is_some_and(|m| !m.is_empty()), "{}", r.text);
    let (method, path) = &r.request;
    if let Some(op) = described_operation(method, path) {
        let described = op["responses"][status.as_str()]["description"].as_str().unwrap_or("");
        assert!(
            described.contains(&format!("`{code}`")),
            "{method} {path} answered {status} {code}, which its description does not name under {status}: {described:?}"
        );
    }
}

/// The description of the operation a request reaches, if it reaches one (not a path or
/// method the router does not know).
fn described_operation(method: &Method, path: &str) -> Option<&'static Value> {
    static SPEC: std::sync::OnceLock<Value> = std::sync::OnceLock::new();
    let spec = SPEC.get_or_init(|| serde_json::to_value(leadgate_http::openapi_description()).unwrap());
    let segments: Vec<&str> = path.split('/').collect();
    let template = spec["paths"]
        .as_object()?
        .keys()
        .filter(|t| {
            let parts: Vec<&str> = t.split('/').collect();
            parts.len() == segments.len()
                && parts.iter().zip(&segments).all(|(p, s)| p == s || (p.starts_with('{') && !s.is_empty()))
        })
        // A literal segment is a closer match than a parameter (`/v1/changes/stream`).
        .max_by_key(|t| t.split('/').filter(|p| !p.starts_with('{')).count())?;
    let op = &spec["paths"][template][method.as_str().to_lowercase()];
    op.is_object().then_some(op)
}

impl Api {
    pub async fn upload(&self, uri: &str, key: &str, content_type: &str, body: impl Into<Body>) -> Reply {
        let req = self.req(Method::POST, uri, Some(key)).header(header::CONTENT_TYPE, content_type);
        self.send(req.body(body.into()).unwrap()).await
    }

    /// Waits for an import job to stop running.
    pub async fn finished(&self, id: &Value) -> Value {
        for _ in 0..500 {
            let r = self.get(&format!("/v1/imports/{}", id.as_str().unwrap())).await;
            assert_eq!(r.status, StatusCode::OK, "{}", r.text);
            if r.json["status"] != json!("running") {
                return r.json;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        panic!("the import did not finish");
    }
}

pub fn multipart(parts: &[(&str, Option<&str>, &str)]) -> (String, String) {
    let boundary = "leadgate-test-boundary";
    let mut body = String::new();
    for (name, file_name, content) in parts {
        body.push_str(&format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\""));
        if let Some(f) = file_name {
            body.push_str(&format!("; filename=\"{f}\""));
        }
        body.push_str(&format!("\r\n\r\n{content}\r\n"));
    }
    body.push_str(&format!("--{boundary}--\r\n"));
    (format!("multipart/form-data; boundary={boundary}"), body)
}

impl Api {
    /// Posts an inquiry as an integration would, with the admin key: the answer says
    /// what became of it.
    pub async fn inquire_with_key(&self, mut body: Value) -> Reply {
        body["form_key"] = json!(self.form_key);
        let req =
            self.req(Method::POST, "/v1/inquiries", Some(&self.admin)).header(header::CONTENT_TYPE, "application/json");
        self.send(req.body(Body::from(body.to_string())).unwrap()).await
    }

    /// A key of a new API key with `role`.
    pub async fn key(&self, role: Role) -> String {
        self.app.create_api_key(&format!("{role}-{}", uuid::Uuid::now_v7()), role).await.unwrap().secret
    }

    pub async fn get_as(&self, uri: &str, key: &str) -> Reply {
        self.send(self.req(Method::GET, uri, Some(key)).body(Body::empty()).unwrap()).await
    }

    /// Sends `body` as JSON with `method`, with `key`.
    /// (`Value::Null` sends no body.)
    pub async fn json_as(&self, method: Method, uri: &str, key: &str, body: Value) -> Reply {
        let req = self.req(method, uri, Some(key));
        if body.is_null() {
            return self.send(req.body(Body::empty()).unwrap()).await;
        }
        let req = req.header(header::CONTENT_TYPE, "application/json");
        self.send(req.body(Body::from(body.to_string())).unwrap()).await
    }

    /// The contact with this email, as `GET /v1/contacts/{id}` shows it.
    pub async fn contact_by_email(&self, email: &str) -> Value {
        let found = self.get(&format!("/v1/contacts?email={}", email.replace('+', "%2B"))).await;
        assert_eq!(found.status, StatusCode::OK, "{}", found.text);
        let id = found.json["contacts"][0]["id"].clone();
        assert!(id.is_string(), "no contact {email}: {}", found.text);
        self.contact(&id).await
    }
}

impl Api {
    /// Follows `GET /v1/changes` (with `extra` query parameters) from `after` until at
    /// least `n` entries came, or 20 seconds passed: on PostgreSQL an entry is read once
    /// every transaction older than its own has ended, and other tests run meanwhile.
    /// Returns the entries and the cursor to read on from.
    pub async fn changes_until(&self, after: Option<&str>, n: usize, extra: &str) -> (Vec<Value>, String) {
        let started = std::time::Instant::now();
        let mut all = Vec::new();
        let mut after = after.map(str::to_owned);
        loop {
            let uri = match &after {
                Some(a) => format!("/v1/changes?wait=1&limit=1000&after={a}{extra}"),
                None => format!("/v1/changes?wait=1&limit=1000{extra}"),
            };
            let r = self.get(&uri).await;
            assert_eq!(r.status, StatusCode::OK, "{}", r.text);
            all.extend(r.json["changes"].as_array().unwrap().iter().cloned());
            after = Some(r.json["next"].as_str().unwrap().to_owned());
            if all.len() >= n || started.elapsed() > std::time::Duration::from_secs(20) {
                return (all, after.unwrap());
            }
        }
    }

    /// Waits until the scoring consumer has handled every change committed so far
    /// (`GET /v1/consumers`), so that scores and the stages definitions lead to can be
    /// read; at most 20 seconds.
    pub async fn scored(&self) {
        let started = std::time::Instant::now();
        loop {
            let r = self.get("/v1/consumers").await;
            assert_eq!(r.status, StatusCode::OK, "{}", r.text);
            let scoring = r.json["consumers"].as_array().unwrap().iter().find(|c| c["name"] == "scoring").cloned();
            if scoring.is_some_and(|c| c["caught_up"] == true) {
                return;
            }
            assert!(started.elapsed() < std::time::Duration::from_secs(20), "scoring did not catch up: {}", r.text);
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
    }
}
