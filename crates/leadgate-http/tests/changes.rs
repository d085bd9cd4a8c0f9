//! The change feed over the API, on both databases: an integrator follows every change
//! by cursor or by stream, waits for the next one, resumes where it stopped, and gets a
//! clear refusal for a cursor, limit, wait or kind that makes no sense.

mod support;

use axum::body::Body;
use axum::http::{Method, StatusCode};
use http_body_util::BodyExt;
use leadgate_core::Role;
use leadgate_store::Store;
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;
use support::{Api, assert_error};

leadgate_store::on_both_stores!(
    an_integrator_reads_every_change_of_a_contact_in_order,
    a_reader_that_waits_gets_the_next_change_when_it_commits,
    a_stream_sends_each_change_and_resumes_from_the_last_event_id,
    an_erased_person_leaves_an_erased_entry_and_no_personal_data_in_the_feed,
    nonsense_asked_of_the_feed_is_refused_clearly,
);

fn kinds(entry: &Value) -> Vec<&str> {
    entry["kinds"].as_array().unwrap().iter().map(|k| k.as_str().unwrap()).collect()
}

async fn an_integrator_reads_every_change_of_a_contact_in_order(store: Arc<dyn Store>) {
    let api = Api::new(store).await;
    let r = api.inquire_json(json!({"email": "ann@acme.example", "first_name": "Ann"})).await;
    assert!(r.status.is_success(), "{}", r.text);
    let id = api.contact_by_email("ann@acme.example").await["id"].as_str().unwrap().to_owned();
    let batch: Vec<Value> = (0..3).map(|_| json!({"email": "ann@acme.example", "kind": "page_view"})).collect();
    let r = api.post("/v1/events", json!({"events": batch})).await;
    assert!(r.status.is_success(), "{}", r.text);
    let r = api.post(&format!("/v1/contacts/{id}/stage"), json!({"stage": "mql", "reason": "asked for a demo"})).await;
    assert!(r.status.is_success(), "{}", r.text);

    api.scored().await;
    let (entries, next) = api.changes_until(None, 4, "").await;
    let ann: Vec<&Value> = entries.iter().filter(|e| e["contact_id"] == json!(id)).collect();
    let find = |what: &str, holds: &dyn Fn(&Value) -> bool| {
        ann.iter().position(|e| holds(e)).unwrap_or_else(|| panic!("no entry for {what}: {entries:#?}"))
    };
    let created = find("the inquiry", &|e| kinds(e).contains(&"created") && kinds(e).contains(&"response"));
    // Three events in one request are one entry, with their count by kind.
    let events = find("the events", &|e| e["events"] == json!({"page_view": 3}));
    let moved = find("the stage move", &|e| e["stages"][0]["to"] == json!("mql"));
    assert_eq!(ann[moved]["stages"][0]["cause"], json!("manual"));
    assert!(created < events && events < moved, "in the order they happened: {entries:#?}");
    assert_eq!(ann.iter().filter(|e| kinds(e).contains(&"events")).count(), 1);
    // Read again after the last: nothing, and the same place.
    let again = api.get(&format!("/v1/changes?after={next}")).await;
    assert_eq!(again.json["changes"], json!([]), "{}", again.text);
    assert_eq!(again.json["next"], json!(next));
    // Only stage changes, one at a time: each entry's cursor reads on from it.
    let stages = api.get("/v1/changes?kinds=stage_changed&limit=1").await;
    let first = &stages.json["changes"][0];
    assert!(kinds(first).contains(&"stage_changed"), "{}", stages.text);
    let rest = api.get(&format!("/v1/changes?kinds=stage_changed&after={}", first["cursor"].as_str().unwrap())).await;
    assert!(rest.json["changes"].as_array().unwrap().iter().all(|e| kinds(e).contains(&"stage_changed")));
    // Readers without write rights read the feed; without a key, nobody does.
    let readonly = api.key(Role::Readonly).await;
    assert_eq!(api.get_as("/v1/changes", &readonly).await.status, StatusCode::OK);
    let anonymous = api.send(api.req(Method::GET, "/v1/changes", None).body(Body::empty()).unwrap()).await;
    assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED);
}

async fn a_reader_that_waits_gets_the_next_change_when_it_commits(store: Arc<dyn Store>) {
    let api = Arc::new(Api::new(store).await);
    api.inquire_json(json!({"email": "ann@acme.example"})).await;
    let (_, next) = api.changes_until(None, 1, "").await;
    let sender = {
        let api = api.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(300)).await;
            api.post("/v1/events", json!({"email": "ann@acme.example", "kind": "webinar_attended"})).await
        })
    };
    // Asked before the event exists; answered with it.
    let waited = api.get(&format!("/v1/changes?after={next}&wait=30&kinds=events")).await;
    assert!(sender.await.unwrap().status.is_success());
    assert_eq!(waited.status, StatusCode::OK, "{}", waited.text);
    assert_eq!(waited.json["changes"][0]["events"], json!({"webinar_attended": 1}), "{}", waited.text);
    // With nothing to come, a wait ends empty at its time. (No other event comes; the
    // scoring consumer's own entries, which may still become readable, are not asked for.)
    let end = waited.json["next"].as_str().unwrap();
    let empty = api.get(&format!("/v1/changes?after={end}&wait=1&kinds=events")).await;
    assert_eq!((empty.status, empty.json["changes"].clone()), (StatusCode::OK, json!([])), "{}", empty.text);
}

/// The `data:` lines of server-sent events read from `body` until `n` came.
async fn read_events(body: &mut Body, n: usize) -> Vec<(String, Value)> {
    let mut text = String::new();
    let mut events = Vec::new();
    while events.len() < n {
        let frame = tokio::time::timeout(Duration::from_secs(20), body.frame())
            .await
            .expect("the next event within 20 s")
            .expect("the stream goes on")
            .unwrap();
        if let Ok(data) = frame.into_data() {
            text.push_str(&String::from_utf8_lossy(&data));
        }
        while let Some(end) = text.find("\n\n") {
            let block: String = text.drain(..end + 2).collect();
            let id = block.lines().find_map(|l| l.strip_prefix("id: ")).map(str::to_owned);
            let data = block.lines().find_map(|l| l.strip_prefix("data: ")).map(|d| serde_json::from_str(d).unwrap());
            if let (Some(id), Some(data)) = (id, data) {
                events.push((id, data));
            }
        }
    }
    events
}

async fn a_stream_sends_each_change_and_resumes_from_the_last_event_id(store: Arc<dyn Store>) {
    let api = Api::new(store).await;
    for who in ["ann", "bob", "cem"] {
        api.inquire_json(json!({"email": format!("{who}@acme.example")})).await;
    }
    let open = |last: Option<&str>| {
        let mut req = api.req(Method::GET, "/v1/changes/stream?kinds=created", Some(&api.admin));
        if let Some(last) = last {
            req = req.header("last-event-id", last);
        }
        api.router.clone().oneshot_req(req.body(Body::empty()).unwrap())
    };
    let resp = open(None).await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.headers()["content-type"], "text/event-stream");
    let mut body = resp.into_body();
    let first = read_events(&mut body, 3).await;
    for (id, e) in &first {
        assert_eq!(e["cursor"], json!(id), "the event's id is the entry's cursor");
        assert!(kinds(e).contains(&"created"), "{e}");
    }
    // New changes come down the open stream as they commit.
    api.inquire_json(json!({"email": "dee@acme.example"})).await;
    let fourth = read_events(&mut body, 1).await;
    drop(body);
    let dee = api.contact_by_email("dee@acme.example").await["id"].clone();
    assert_eq!(fourth[0].1["contact_id"], dee);
    // Reconnecting with the second event's id resumes after it: the third, then the fourth.
    let mut body = open(Some(&first[1].0)).await.into_body();
    let resumed = read_events(&mut body, 2).await;
    assert_eq!(resumed[0].0, first[2].0);
    assert_eq!(resumed[1].0, fourth[0].0);
    // A resume from a cursor that is not one is refused before the stream starts.
    let bad = open(Some("not-a-cursor")).await;
    assert_eq!(bad.status(), StatusCode::UNPROCESSABLE_ENTITY);
}

async fn an_erased_person_leaves_an_erased_entry_and_no_personal_data_in_the_feed(store: Arc<dyn Store>) {
    let api = Api::new(store).await;
    let email = "zebulon.quill@quillworks.example";
    api.inquire_json(json!({"email": email, "first_name": "Zebulon", "company": "Quillworks"})).await;
    api.post("/v1/events", json!({"email": email, "kind": "page_view", "url": "https://x.example/?who=zebulon"})).await;
    let id = api.contact_by_email(email).await["id"].as_str().unwrap().to_owned();
    let erased = api
        .json_as(Method::DELETE, &format!("/v1/contacts/{id}"), &api.admin.clone(), json!({"reason": "asked to"}))
        .await;
    assert!(erased.status.is_success(), "{}", erased.text);
    let (entries, _) = api.changes_until(None, 3, "").await;
    let last = entries.iter().rev().find(|e| e["contact_id"] == json!(id)).unwrap();
    assert!(kinds(last).contains(&"erased"), "integrators are told to erase their copy: {last}");
    let all = serde_json::to_string(&entries).unwrap().to_lowercase();
    for personal in ["zebulon", "quill", "x.example"] {
        assert!(!all.contains(personal), "{personal} in the feed: {all}");
    }
}

async fn nonsense_asked_of_the_feed_is_refused_clearly(store: Arc<dyn Store>) {
    let api = Api::new(store).await;
    api.inquire_json(json!({"email": "ann@acme.example"})).await;
    let (_, cursor) = api.changes_until(None, 1, "").await;
    let refused = |uri: &'static str, code: &'static str| (uri, code);
    for (uri, code) in [
        refused("/v1/changes?after=garbage", "invalid_cursor"),
        refused("/v1/changes?after=%00%27%3B--", "invalid_cursor"),
        refused("/v1/changes?limit=0", "invalid_limit"),
        refused("/v1/changes?limit=1000000", "invalid_limit"),
        refused("/v1/changes?limit=-5", "invalid_limit"),
        refused("/v1/changes?limit=ten", "invalid_query"),
        refused("/v1/changes?wait=61", "invalid_wait"),
        refused("/v1/changes?wait=99999999999999999999", "invalid_query"),
        refused("/v1/changes?kinds=page_view", "unknown_kind"),
        refused("/v1/changes?kinds=created,,nope", "unknown_kind"),
        refused("/v1/changes?since=0", "invalid_query"),
        refused("/v1/changes/stream?kinds=nope", "unknown_kind"),
    ] {
        let r = api.get(uri).await;
        assert_error(&r, StatusCode::UNPROCESSABLE_ENTITY, code);
        assert!(r.json["error"]["message"].as_str().is_some_and(|m| !m.is_empty()), "{uri}: {}", r.text);
    }
    let unknown = api.get("/v1/changes?kinds=page_view").await;
    assert!(unknown.text.contains("stage_changed"), "the kinds there are are listed: {}", unknown.text);
    // A cursor of another database (here a fresh SQLite one) is refused, not misread.
    let dir = tempfile::tempdir().unwrap();
    let other = Api::new(leadgate_store::testing::sqlite_store(dir.path()).await).await;
    other.inquire_json(json!({"email": "bob@acme.example"})).await;
    let (_, foreign) = other.changes_until(None, 1, "").await;
    let r = api.get(&format!("/v1/changes?after={foreign}")).await;
    assert_error(&r, StatusCode::UNPROCESSABLE_ENTITY, "invalid_cursor");
    assert!(r.text.contains("another database"), "{}", r.text);
    // The cursor this database gave out still works.
    assert_eq!(api.get(&format!("/v1/changes?after={cursor}")).await.status, StatusCode::OK);
}

trait Oneshot {
    fn oneshot_req(
        self,
        req: axum::http::Request<Body>,
    ) -> impl std::future::Future<Output = axum::http::Response<Body>> + Send;
}

impl Oneshot for axum::Router {
    async fn oneshot_req(self, req: axum::http::Request<Body>) -> axum::http::Response<Body> {
        use tower::ServiceExt;
        self.oneshot(req).await.unwrap()
    }
}
