//! `GET /v1/openapi.json` describes the API the server really serves: every described
//! operation answers (none falls to the router's "no such endpoint"), the key is asked
//! for exactly where the description says, every error code is listed, and the guide's
//! table of roles names the same operations.

mod support;

use axum::body::Body;
use axum::http::{Method, StatusCode};
use leadgate_core::ErrorCode;
use serde_json::Value;
use std::collections::BTreeSet;
use support::Api;
use tower::ServiceExt;

const METHODS: [&str; 5] = ["get", "put", "post", "delete", "options"];

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

async fn spec(api: &Api) -> Value {
    let r = api.send(api.req(Method::GET, "/v1/openapi.json", None).body(Body::empty()).unwrap()).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    r.json
}

#[tokio::test]
async fn every_described_operation_is_served_and_asks_for_a_key_where_described() {
    let dir = tempfile::tempdir().unwrap();
    let store = leadgate_store::testing::sqlite_store(dir.path()).await;
    let api = Api::new(store.clone()).await;
    let spec = spec(&api).await;
    assert!(spec["openapi"].as_str().unwrap().starts_with("3."), "{}", spec["openapi"]);
    let ops = operations(&spec);
    assert!(ops.len() >= 48, "{} operations", ops.len());
    for (method, path, op) in &ops {
        let uri = concrete(path);
        let (status, code) = answer(&api, method, &uri, Some(&api.admin)).await;
        assert!(
            !(status == StatusCode::NOT_FOUND && code == "not_found") && status != StatusCode::METHOD_NOT_ALLOWED,
            "{method} {path} is described but not served: {status} {code}"
        );
        let open =
            op["security"].as_array().is_some_and(|s| s.iter().any(|r| r.as_object().is_some_and(|o| o.is_empty())));
        let (status, code) = answer(&api, method, &uri, None).await;
        if open {
            assert_ne!(status, StatusCode::UNAUTHORIZED, "{method} {path} is described as open");
        } else {
            assert_eq!((status, code.as_str()), (StatusCode::UNAUTHORIZED, "unauthenticated"), "{method} {path}");
            assert!(op["responses"]["401"].is_object(), "{method} {path} does not describe its 401");
        }
        assert!(op["responses"]["500"].is_object(), "{method} {path} does not describe its 500");
    }
    store.close().await;
}

#[tokio::test]
async fn every_error_code_is_in_the_description_with_its_status() {
    let dir = tempfile::tempdir().unwrap();
    let store = leadgate_store::testing::sqlite_store(dir.path()).await;
    let api = Api::new(store.clone()).await;
    let spec = spec(&api).await;
    let code = &spec["components"]["schemas"]["ErrorDetail"]["properties"]["code"];
    let listed: BTreeSet<&str> = code["enum"].as_array().unwrap().iter().map(|c| c.as_str().unwrap()).collect();
    let ours: BTreeSet<&str> = ErrorCode::ALL.iter().map(|c| c.as_str()).collect();
    assert_eq!(listed, ours);
    let description = code["description"].as_str().unwrap();
    for c in ErrorCode::ALL {
        let with_status = format!("`{}` ({})", c.as_str(), c.status());
        assert!(description.contains(&with_status), "{with_status} is not in the description");
    }
    store.close().await;
}

/// The guide's table of roles lists the operations that need a key: the same as the
/// description's.
#[tokio::test]
async fn the_guide_lists_the_operations_the_description_has() {
    let dir = tempfile::tempdir().unwrap();
    let store = leadgate_store::testing::sqlite_store(dir.path()).await;
    let api = Api::new(store.clone()).await;
    let spec = spec(&api).await;
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
