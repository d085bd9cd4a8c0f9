//! The API description says what the code does: its error codes, its limits and its
//! table of roles are read from docs/api.md and checked against the code (the roles by
//! sending each request with a key of each role).

mod support;

use axum::http::{Method, StatusCode};
use leadgate_core::{ErrorCode, Role};
use serde_json::Value;
use support::Api;

const API: &str = include_str!("../../../docs/api.md");

/// The rows of the first table after `heading`, each as its cells.
fn table(heading: &str) -> Vec<Vec<String>> {
    let from = API.find(heading).unwrap_or_else(|| panic!("docs/api.md has no {heading:?}"));
    API[from..]
        .lines()
        .skip_while(|l| !l.starts_with('|'))
        .take_while(|l| l.starts_with('|'))
        .skip(2)
        .map(|l| l.trim_matches('|').split(" | ").map(|c| c.trim().to_owned()).collect())
        .collect()
}

/// The `code`-quoted words of a cell.
fn quoted(cell: &str) -> Vec<String> {
    cell.split('`').skip(1).step_by(2).map(str::to_owned).collect()
}

#[test]
fn every_error_code_is_documented_with_its_status() {
    let mut documented: Vec<(String, String)> = table("### Error codes")
        .iter()
        .flat_map(|row| quoted(&row[0]).into_iter().map(|code| (code, row[1].clone())))
        .collect();
    documented.sort();
    let mut codes: Vec<(String, String)> =
        ErrorCode::ALL.iter().map(|c| (c.as_str().to_owned(), c.status().to_string())).collect();
    codes.sort();
    assert_eq!(documented, codes, "docs/api.md's error codes and statuses against leadgate_core::ErrorCode");
}

/// `64 KiB`, `1 GiB`, `1000` as a number.
fn amount(text: &str) -> u64 {
    let (n, unit) = text.split_once(' ').unwrap_or((text, ""));
    let n: u64 = n.replace(',', "").parse().unwrap_or_else(|_| panic!("{text:?} is not a number"));
    n * match unit {
        "KiB" => 1 << 10,
        "MiB" => 1 << 20,
        "GiB" => 1 << 30,
        "" => 1,
        other => panic!("unknown unit {other}"),
    }
}

#[test]
fn the_limits_documented_are_the_limits_in_force() {
    let in_force: [(&str, u64); 13] = [
        ("Body of `POST /v1/inquiries`", leadgate_http::INQUIRY_BODY_LIMIT as u64),
        ("Body of `POST /v1/events`", leadgate_http::EVENTS_BODY_LIMIT as u64),
        ("Body of `POST /v1/imports`", leadgate_http::IMPORT_BODY_LIMIT as u64),
        ("A `mapping`, `preset` or `dry_run` part of a multipart import", leadgate_http::MAPPING_LIMIT as u64),
        ("One row of an imported CSV file", leadgate_app::import::RECORD_BYTES_MAX),
        ("Body of any other endpoint", leadgate_http::DEFAULT_BODY_LIMIT as u64),
        ("Events in one `POST /v1/events`", leadgate_app::MAX_EVENTS_PER_BATCH as u64),
        ("Items in a page of `GET /v1/inbox`", leadgate_app::INBOX_PAGE_MAX as u64),
        ("Bytes of each body in a page of `GET /v1/inbox`", leadgate_app::INBOX_PREVIEW_BYTES as u64),
        ("Contacts in a page of `GET /v1/contacts`", leadgate_app::CONTACTS_PAGE_MAX as u64),
        ("Custom fields of one inquiry", leadgate_core::inquiry::CUSTOM_FIELDS_MAX as u64),
        ("Entries in a page of `GET /v1/changes`", leadgate_app::changes::MAX_LIMIT as u64),
        ("Seconds a `GET /v1/changes` may wait", leadgate_app::changes::MAX_WAIT_SECS),
    ];
    let documented = table("### Limits");
    assert_eq!(documented.len(), in_force.len(), "{documented:?}");
    for (what, limit) in in_force {
        let row = documented.iter().find(|r| r[0] == what).unwrap_or_else(|| panic!("no row {what:?}"));
        assert_eq!(amount(&row[1]), limit, "{what}");
    }
}

/// A request that reaches `endpoint` (`GET /v1/contacts/{id}`), with made-up ids.
fn request(endpoint: &str) -> (Method, String, Value) {
    let endpoint = endpoint.trim_end_matches(" with a key");
    let (method, path) = endpoint.split_once(' ').unwrap();
    let id = uuid::Uuid::now_v7().to_string();
    let path = path.replace("{id}", &id).replace("{name}", "x").replace("{kind}", "contacts.csv");
    // A stream that would not end: a cursor it refuses makes it answer at once (after
    // the role is checked).
    let path = if path == "/v1/changes/stream" { format!("{path}?after=x") } else { path };
    let body = if matches!(method, "GET" | "DELETE") { Value::Null } else { serde_json::json!({}) };
    (method.parse().unwrap(), path, body)
}

#[tokio::test]
async fn the_roles_table_is_what_each_role_may_do() {
    let dir = tempfile::tempdir().unwrap();
    let store = leadgate_store::testing::sqlite_store(dir.path()).await;
    let api = Api::new(store.clone()).await;
    let rows = table("### Roles");
    assert!(rows.len() > 30, "{rows:?}");
    let roles = [Role::Admin, Role::Marketing, Role::Sales, Role::Manager, Role::Readonly];
    let mut keys = Vec::new();
    for role in roles {
        keys.push(api.key(role).await);
    }
    for row in &rows {
        let endpoint = quoted(&row[0]).pop().unwrap();
        let (method, path, body) = request(&endpoint);
        let path = if path == "/v1/inquiries" { format!("{path}?form_key={}", api.form_key) } else { path };
        for (i, role) in roles.iter().enumerate() {
            let allowed = match row[i + 1].as_str() {
                "✓" => true,
                "–" => false,
                other => panic!("{endpoint}: {other:?} is neither ✓ nor –"),
            };
            let r = api.json_as(method.clone(), &path, &keys[i], body.clone()).await;
            assert_eq!(r.status == StatusCode::FORBIDDEN, !allowed, "{endpoint} as {role}: {} {}", r.status, r.text);
        }
    }
    store.close().await;
}

/// The text of every test in the workspace: test binaries, `tests.rs` modules, and what
/// follows `#[cfg(test)]` in a source file.
fn test_sources(dir: &std::path::Path, into: &mut String) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            if !path.ends_with("target") {
                test_sources(&path, into);
            }
            continue;
        }
        if path.extension().is_none_or(|e| e != "rs") {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        let whole = path.components().any(|c| c.as_os_str() == "tests") || path.ends_with("tests.rs");
        if whole {
            into.push_str(&text);
        } else if let Some(at) = text.find("#[cfg(test)]") {
            into.push_str(&text[at..]);
        }
    }
}

#[test]
fn every_error_code_is_met_in_some_test() {
    let mut tests = String::new();
    test_sources(&std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(".."), &mut tests);
    let untested: Vec<&str> = ErrorCode::ALL
        .iter()
        .filter(|c| !tests.contains(&format!("\"{}\"", c.as_str())) && !tests.contains(&format!("ErrorCode::{c:?}")))
        .map(|c| c.as_str())
        .collect();
    assert!(untested.is_empty(), "no test meets these error codes: {untested:?}");
}
