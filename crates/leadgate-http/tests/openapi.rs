//! `GET /v1/openapi.json` describes the API the server really serves: every described
//! operation answers (none falls to the router's "no such endpoint"), the key is asked
//! for exactly where the description says, every error code named sits under its own
//! status, real answers fit their schemas, and the guide's table of roles names the same
//! operations.

mod support;

use axum::body::Body;
use axum::http::{Method, StatusCode};
use leadgate_core::ErrorCode;
use leadgate_store::Store;
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::sync::Arc;
use support::Api;
use tower::ServiceExt;

const METHODS: [&str; 6] = ["get", "put", "post", "delete", "patch", "options"];

/// Every described operation: (method, path template, the operation).
fn operations(spec: &Value) -> Vec<(String, String, Value)> {
    let mut ops = Vec::new();
    for (path, item) in spec["paths"].as_object().expect("paths") {
        for method in METHODS {
            if let Some(op) = item.get(method) {
                ops.push((method.to_uppercase(), path.clone(), op.clone()));
            }
        }
    }
    ops
}

/// A path with made-up values for its parameters.
fn concrete(path: &str) -> String {
    path.replace("{id}", &uuid::Uuid::now_v7().to_string()).replace("{name}", "x")
}

/// The status and JSON `error.code` of a request, without reading more than the start of
/// an endless stream.
async fn answer(api: &Api, method: &str, path: &str, key: Option<&str>) -> (StatusCode, String) {
    let mut req = api.req(method.parse::<Method>().unwrap(), path, key);
    let body = if matches!(method, "POST" | "PUT") {
        req = req.header("content-type", "application/json");
        Body::from("{}")
    } else {
        Body::empty()
    };
    let resp = api.router.clone().oneshot(req.body(body).unwrap()).await.unwrap();
    let status = resp.status();
    if resp.headers().get("content-type").is_some_and(|v| v.as_bytes().starts_with(b"text/event-stream")) {
        return (status, String::new());
    }
    let bytes = http_body_util::BodyExt::collect(resp.into_body()).await.unwrap().to_bytes();
    let json: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    (status, json["error"]["code"].as_str().unwrap_or("").to_owned())
}

/// A server on a fresh SQLite store, and the description it serves.
async fn served() -> (tempfile::TempDir, Arc<dyn Store>, Api, Value) {
    let dir = tempfile::tempdir().unwrap();
    let store = leadgate_store::testing::sqlite_store(dir.path()).await;
    let api = Api::new(store.clone()).await;
    let r = api.send(api.req(Method::GET, "/v1/openapi.json", None).body(Body::empty()).unwrap()).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert!(r.headers["content-type"].to_str().unwrap().starts_with("application/json"));
    (dir, store, api, r.json)
}

#[tokio::test]
async fn every_described_operation_is_served_and_asks_for_a_key_where_described() {
    let (_dir, store, api, spec) = served().await;
    assert!(spec["openapi"].as_str().unwrap().starts_with("3."), "{}", spec["openapi"]);
    let ops = operations(&spec);
    assert!(ops.len() >= 48, "{} operations", ops.len());
    let mut undescribed = Vec::new();
    for (method, path, op) in &ops {
        let uri = concrete(path);
        let (status, code) = answer(&api, method, &uri, Some(&api.admin)).await;
        assert!(
            !(status == StatusCode::NOT_FOUND && code == "not_found") && status != StatusCode::METHOD_NOT_ALLOWED,
            "{method} {path} is described but not served: {status} {code}"
        );
        if !op["responses"][status.as_str()].is_object() {
            undescribed.push(format!("{method} {path} answered {status} {code}"));
        }
        let open =
            op["security"].as_array().is_some_and(|s| s.iter().any(|r| r.as_object().is_some_and(|o| o.is_empty())));
        let (status, code) = answer(&api, method, &uri, None).await;
        if open {
            assert_ne!(status, StatusCode::UNAUTHORIZED, "{method} {path} is described as open");
        } else {
            assert_eq!((status, code.as_str()), (StatusCode::UNAUTHORIZED, "unauthenticated"), "{method} {path}");
            assert!(op["responses"]["401"].is_object(), "{method} {path} does not describe its 401");
        }
    }
    assert!(undescribed.is_empty(), "answers the description does not have: {undescribed:#?}");
    store.close().await;
}

/// Each operation names the codes each of its error answers may carry: every code named
/// under a status must be one answered with that status.
#[tokio::test]
async fn every_error_code_is_described_under_its_own_status() {
    let (_dir, store, _api, spec) = served().await;
    assert_eq!(
        spec["components"]["schemas"]["ErrorDetail"]["properties"]["code"]["$ref"],
        "#/components/schemas/ErrorCode"
    );
    let mut misplaced = Vec::new();
    for (method, path, op) in operations(&spec) {
        for (status, response) in op["responses"].as_object().unwrap() {
            let description = response["description"].as_str().unwrap_or("");
            for named in description.split('`').skip(1).step_by(2) {
                if let Some(c) = ErrorCode::parse(named)
                    && c.status().to_string() != *status
                {
                    misplaced.push(format!("{method} {path}: `{named}` under {status}, answered with {}", c.status()));
                }
            }
        }
    }
    assert!(misplaced.is_empty(), "{misplaced:#?}");
    store.close().await;
}

/// The guide's table of roles lists the operations that need a key: the same as the
/// description's.
#[tokio::test]
async fn the_guide_lists_the_operations_the_description_has() {
    let (_dir, store, _api, spec) = served().await;
    let described: BTreeSet<String> = operations(&spec)
        .into_iter()
        .filter(|(_, _, op)| op["security"].as_array().is_some_and(|s| s.iter().any(|r| r.get("api_key").is_some())))
        .map(|(method, path, _)| format!("{method} {path}"))
        .collect();
    let guide = include_str!("../../../docs/api.md");
    let from = guide.find("### Roles").expect("docs/api.md has a table of roles");
    let in_guide: BTreeSet<String> = guide[from..]
        .lines()
        .skip_while(|l| !l.starts_with('|'))
        .take_while(|l| l.starts_with('|'))
        .skip(2)
        .filter_map(|l| l.split('`').nth(1).map(|e| e.trim_end_matches(" with a key").to_owned()))
        .map(|e| e.replace("{kind}", "{name}"))
        .collect();
    assert_eq!(in_guide, described, "docs/api.md's table of roles against /v1/openapi.json");
    store.close().await;
}

/// A route added with axum's own `.route(…)` would be served without being described;
/// the router takes routes only through `routes!`, which describes them.
#[test]
fn no_route_bypasses_the_description() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/src");
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let text = std::fs::read_to_string(&path).unwrap();
        for bypass in [".route(", ".route_service(", ".nest(", ".nest_service("] {
            assert!(!text.contains(bypass), "{} adds a route with {bypass}", path.display());
        }
    }
}

/// The schemas of what an operation answers, as the description gives them.
struct Described<'a> {
    spec: &'a Value,
}

impl Described<'_> {
    /// Fails unless `reply` is an answer `method template` describes, and its JSON body
    /// fits the schema described for its status.
    fn check(&self, method: &str, template: &str, reply: &support::Reply) {
        let problems = self.problems(method, template, reply.status, &reply.json);
        assert!(problems.is_empty(), "{method} {template} answered what its description does not allow: {problems:#?}");
    }

    /// What is wrong with answering `json` with `status` to `method template`.
    fn problems(&self, method: &str, template: &str, status: StatusCode, json: &Value) -> Vec<String> {
        let op = &self.spec["paths"][template][method.to_lowercase()];
        assert!(op.is_object(), "{method} {template} is not described");
        let described = &op["responses"][status.as_str()];
        if !described.is_object() {
            return vec![format!("{status} is not described")];
        }
        let Some(schema) = described["content"]["application/json"]["schema"].as_object() else {
            return Vec::new();
        };
        let mut schema = Value::Object(schema.clone());
        schema["$schema"] = "https://json-schema.org/draft/2020-12/schema".into();
        schema["components"] = self.spec["components"].clone();
        let validator = jsonschema::validator_for(&schema).unwrap_or_else(|e| panic!("{method} {template}: {e}"));
        validator.iter_errors(json).map(|e| format!("{} at {}", e, e.instance_path())).collect()
    }
}

#[tokio::test]
async fn what_the_server_answers_fits_the_description() {
    let (_dir, store, api, spec) = served().await;
    let described = Described { spec: &spec };
    // The check can fail: a contact page whose contacts are not a list does not fit.
    let wrong = json!({"contacts": 5, "next_cursor": null});
    assert!(!described.problems("GET", "/v1/contacts", StatusCode::OK, &wrong).is_empty());
    let wrong = json!({"error": {"code": "no_such_code", "message": "x", "field": null}});
    assert!(!described.problems("GET", "/v1/contacts/{id}", StatusCode::NOT_FOUND, &wrong).is_empty());
    let model = "[[fit]]\nname = \"director\"\nwhen = \"contact.title.contains('Director')\"\npoints = 20\n\n\
                 [[engagement]]\nname = \"downloads\"\nwhen = \"activity.kind == 'download'\"\npoints = 5\n";
    let saved = api.put_text("/v1/scoring/default", &api.admin, "application/toml", model).await;
    described.check("PUT", "/v1/scoring/{name}", &saved);
    let inquiry = api.inquire_with_key(json!({"email": "dee@acme.example", "title": "Director of Sales"})).await;
    described.check("POST", "/v1/inquiries", &inquiry);
    described.check("POST", "/v1/inquiries", &api.inquire_json(json!({"email": "someone@else.example"})).await);
    let id = inquiry.json["contact_id"].as_str().unwrap().to_owned();
    let other = api.inquire_with_key(json!({"email": "dee.two@acme.example"})).await;
    let other_id = other.json["contact_id"].as_str().unwrap().to_owned();
    let events = json!({"events": [{"email": "dee@acme.example", "kind": "download"}, {"kind": "page_view"}]});
    described.check("POST", "/v1/events", &api.post("/v1/events", events).await);
    api.scored().await;
    let contact = format!("/v1/contacts/{id}");
    let definition = json!({"expression": "scores.fit >= 20", "kind": "mql", "note": "directors"});
    let calls: Vec<(&str, &str, String, Value)> = vec![
        ("GET", "/v1/contacts/{id}", contact.clone(), Value::Null),
        ("GET", "/v1/contacts", "/v1/contacts?limit=5".into(), Value::Null),
        ("PUT", "/v1/contacts/{id}/qualification", format!("{contact}/qualification"), json!({"need": "quills"})),
        ("POST", "/v1/contacts/{id}/stage", format!("{contact}/stage"), json!({"stage": "sql", "reason": "call"})),
        (
            "POST",
            "/v1/contacts/{id}/consent",
            format!("{contact}/consent"),
            json!({"purpose": "newsletter", "granted": true, "source": "form"}),
        ),
        ("GET", "/v1/contacts/{id}/consent", format!("{contact}/consent"), Value::Null),
        (
            "PUT",
            "/v1/contacts/{id}/do-not-contact",
            format!("{contact}/do-not-contact"),
            json!({"do_not_call": true, "reason": "asked"}),
        ),
        (
            "PUT",
            "/v1/contacts/{id}/legal-hold",
            format!("{contact}/legal-hold"),
            json!({"hold": false, "reason": "none"}),
        ),
        ("GET", "/v1/contacts/{id}/personal-data", format!("{contact}/personal-data"), Value::Null),
        ("GET", "/v1/audit", "/v1/audit".into(), Value::Null),
        ("GET", "/v1/stats", "/v1/stats".into(), Value::Null),
        ("GET", "/v1/changes", "/v1/changes?limit=50".into(), Value::Null),
        ("GET", "/v1/consumers", "/v1/consumers".into(), Value::Null),
        ("GET", "/v1/inbox", "/v1/inbox".into(), Value::Null),
        ("GET", "/v1/scoring", "/v1/scoring".into(), Value::Null),
        ("GET", "/v1/scoring/{name}", "/v1/scoring/default".into(), Value::Null),
        ("POST", "/v1/scoring/{name}/activate", "/v1/scoring/default/activate".into(), json!({})),
        ("PUT", "/v1/definitions/{name}", "/v1/definitions/directors".into(), definition),
        ("POST", "/v1/definitions/{name}/activate", "/v1/definitions/directors/activate".into(), json!({})),
        ("GET", "/v1/definitions", "/v1/definitions".into(), Value::Null),
        ("GET", "/v1/definitions/{name}", "/v1/definitions/directors".into(), Value::Null),
        (
            "POST",
            "/v1/definitions/{name}/backtest",
            "/v1/definitions/directors/backtest".into(),
            json!({"as_of": "2020-01-01"}),
        ),
        ("GET", "/v1/duplicates", "/v1/duplicates".into(), Value::Null),
        ("POST", "/v1/forms", "/v1/forms".into(), json!({"name": "Contact us", "channel": "website"})),
        ("GET", "/v1/imports", "/v1/imports".into(), Value::Null),
        ("GET", "/healthz", "/healthz".into(), Value::Null),
        ("GET", "/readyz", "/readyz".into(), Value::Null),
    ];
    for (method, template, uri, body) in calls {
        let reply = api.json_as(method.parse().unwrap(), &uri, &api.admin, body).await;
        assert!(reply.status.is_success(), "{method} {uri}: {} {}", reply.status, reply.text);
        described.check(method, template, &reply);
    }
    let inbox = api.get("/v1/inbox").await;
    let item = inbox.json["items"][0]["id"].as_str().unwrap().to_owned();
    described.check("GET", "/v1/inbox/{id}", &api.get(&format!("/v1/inbox/{item}")).await);
    let merged = api.post(&format!("{contact}/merge"), json!({"other_id": other_id})).await;
    described.check("POST", "/v1/contacts/{id}/merge", &merged);
    let merge = merged.json["merge"]["id"].as_str().unwrap().to_owned();
    described.check("GET", "/v1/merges/{id}", &api.get(&format!("/v1/merges/{merge}")).await);
    described.check("POST", "/v1/merges/{id}/undo", &api.post(&format!("/v1/merges/{merge}/undo"), json!({})).await);
    let erased = api.json_as(Method::DELETE, &format!("/v1/contacts/{id}?reason=asked"), &api.admin, Value::Null).await;
    described.check("DELETE", "/v1/contacts/{id}", &erased);
    store.close().await;
}
