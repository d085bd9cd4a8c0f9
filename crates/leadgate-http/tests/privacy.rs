//! A person's data over the API, on both databases: erasure leaves nothing that says
//! who they were and keeps every number; subject access shows everything; consent,
//! do-not-contact, legal holds and retention do what they say, and are audited.

mod support;

use axum::http::{Method, StatusCode};
use leadgate_app::privacy::Retention;
use leadgate_app::{App, AppOptions, Clock};
use leadgate_core::{Role, Timestamp};
use leadgate_store::Store;
use serde_json::{Value, json};
use std::sync::Arc;
use support::{Api, assert_error};

leadgate_store::on_both_stores!(
    an_erased_person_is_found_nowhere_and_the_numbers_still_add_up,
    erasure_is_refused_under_a_legal_hold_and_without_a_reason,
    subject_access_shows_everything_held_and_is_audited,
    consent_and_do_not_contact_are_recorded_with_who_and_why,
    retention_removes_bodies_addresses_and_browsers_after_their_time,
    two_erasures_of_one_person_at_once_erase_it_once,
);

/// What says who the person is: none of it may be left after erasure.
const PERSONAL: [&str; 13] = [
    "zq@gmail.com",
    "zebulon.quill@quillworks.example",
    "Zebulon.Quill%40QuillWorks.example",
    "Zebulon",
    "Quixotic",
    "+44 20 7946 0999",
    "Chief Quill Officer",
    "I need 40 seats for Quillworks",
    "quill-secret-plan",
    "HostileBrowser/9.9",
    "v-quill-77",
    "quill-token-123",
    "zq-crm-42",
];

/// A person known every way leadgate knows people: inquiries (one refused), events
/// with properties and a page with a query, an id in another system, a duplicate
/// merged into them, consent and a qualification note. Returns the contact id.
async fn a_well_known_person(api: &Api) -> String {
    let send = |body: Value| {
        let req = api
            .req(Method::POST, "/v1/inquiries", None)
            .header("content-type", "application/json")
            .header("user-agent", "HostileBrowser/9.9")
            .body(axum::body::Body::from(body.to_string()))
            .unwrap();
        api.send(req)
    };
    let fk = api.form_key.clone();
    let first = send(json!({"form_key": fk, "email": "zebulon.quill@quillworks.example", "first_name": "Zebulon",
        "last_name": "Quixotic", "phone": "+44 20 7946 0999", "title": "Chief Quill Officer",
        "message": "I need 40 seats for Quillworks", "plan": "quill-secret-plan", "visitor_id": "v-quill-77",
        "referrer": "https://news.example/?who=zebulon.quill@quillworks.example"}))
    .await;
    assert_eq!(first.status, StatusCode::CREATED, "{}", first.text);
    // Refused: kept in the inbox, never a contact, naming the email.
    let form = format!("form_key={fk}&email=Zebulon.Quill%40QuillWorks.example&first_name={}", "x".repeat(300));
    let refused = api.inquire("application/x-www-form-urlencoded", form).await;
    assert_error(&refused, StatusCode::UNPROCESSABLE_ENTITY, "too_long");
    let events = json!({"events": [
        {"visitor_id": "v-quill-77", "kind": "pricing_view", "url": "https://acme.example/pricing?token=quill-token-123",
         "props": {"plan": "quill-secret-plan"}},
        {"email": "zebulon.quill@quillworks.example", "kind": "email_open"},
    ]});
    assert_eq!(api.post("/v1/events", events).await.status, StatusCode::ACCEPTED);
    // Events sent for the email before... and a duplicate record of the same person.
    let dup = api.inquire_with_key(json!({"email": "zq@gmail.com", "last_name": "Quixotic"})).await;
    let id = api.contact_by_email("zebulon.quill@quillworks.example").await["id"].as_str().unwrap().to_owned();
    let merged = api.post(&format!("/v1/contacts/{id}/merge"), json!({"other_id": dup.json["contact_id"]})).await;
    assert_eq!(merged.status, StatusCode::CREATED, "{}", merged.text);
    let csv = "id,email,external_id\n".to_owned()
        + &format!("{id},zebulon.quill@quillworks.example,zq-crm-42\n")
        + ",Zebulon <zebulon.quill@quillworks.example>,zq-crm-43\n";
    let mapping = "system = \"crm\"\n[contact]\nid = \"id\"\nemail = \"email\"\nexternal_id = \"external_id\"\n";
    let (ct, body) = support::multipart(&[("mapping", None, mapping), ("file", Some("crm.csv"), &csv)]);
    let imported = api.upload("/v1/imports", &api.admin.clone(), &ct, body).await;
    assert_eq!(api.finished(&imported.json["id"]).await["rows_failed"], json!(1), "a row error quotes the email");
    let qualified = api
        .put(&format!("/v1/contacts/{id}/qualification"), json!({"need": "Zebulon wants quills", "budget": "40k"}))
        .await;
    assert_eq!(qualified.status, StatusCode::OK, "{}", qualified.text);
    let consent = api
        .post(
            &format!("/v1/contacts/{id}/consent"),
            json!({"purpose": "newsletter", "granted": true, "source": "double opt-in"}),
        )
        .await;
    assert_eq!(consent.status, StatusCode::CREATED, "{}", consent.text);
    id
}

/// Every place a person could be found over the API, as one text.
async fn everything_shown(api: &Api, id: &str) -> String {
    let mut all = String::new();
    let mut add = |r: support::Reply| {
        assert!(r.status.is_success(), "{}", r.text);
        all.push_str(&r.text);
    };
    add(api.get(&format!("/v1/contacts/{id}")).await);
    add(api.get(&format!("/v1/contacts/{id}/personal-data")).await);
    add(api.get("/v1/contacts?limit=1000").await);
    add(api.get("/v1/audit").await);
    for kind in ["contacts", "responses", "stage_changes", "events"] {
        add(api.get(&format!("/v1/exports/{kind}.csv?raw=true")).await);
        add(api.get(&format!("/v1/exports/{kind}.jsonl")).await);
    }
    let inbox = api.get("/v1/inbox?limit=200").await;
    for item in inbox.json["items"].as_array().unwrap() {
        add(api.get(&format!("/v1/inbox/{}", item["id"].as_str().unwrap())).await);
    }
    add(inbox);
    add(api.get("/v1/duplicates").await);
    add(api.get("/v1/imports").await);
    all
}

async fn an_erased_person_is_found_nowhere_and_the_numbers_still_add_up(store: Arc<dyn Store>) {
    let api = Api::new(store).await;
    let id = a_well_known_person(&api).await;
    let other = api.inquire_with_key(json!({"email": "someone@else.example", "first_name": "Other"})).await;
    let before = everything_shown(&api, &id).await;
    for text in PERSONAL {
        assert!(before.contains(text), "the test looks for what is there: {text}");
    }
    let contact = api.contact(&json!(id)).await;
    let stats = api.get("/v1/stats").await.json;

    let marketing = api.key(Role::Marketing).await;
    let uri = format!("/v1/contacts/{id}?reason=asked+by+email");
    assert_error(&api.json_as(Method::DELETE, &uri, &marketing, Value::Null).await, StatusCode::FORBIDDEN, "forbidden");
    let erased = api
        .json_as(Method::DELETE, &format!("/v1/contacts/{id}"), &api.admin.clone(), json!({"reason": "asked by email"}))
        .await;
    assert_eq!(erased.status, StatusCode::OK, "{}", erased.text);
    assert_eq!(erased.json["merged_contacts"].as_array().unwrap().len(), 1, "{}", erased.text);
    assert!(
        erased.json["removed"]["inbox_items"].as_u64().unwrap() >= 2,
        "its inquiry and the refused one: {}",
        erased.text
    );

    let after = everything_shown(&api, &id).await;
    for text in PERSONAL {
        assert!(!after.contains(text), "{text} is still shown somewhere");
    }
    assert_eq!(api.get("/v1/contacts?email=zebulon.quill@quillworks.example").await.json["contacts"], json!([]));

    // The anonymous facts stay: how it came, where it got, what it did, how often.
    let now = api.contact(&json!(id)).await;
    for kept in ["stage", "channel", "direction", "created_at", "account_id"] {
        assert_eq!(now[kept], contact[kept], "{kept}");
    }
    assert_eq!(now["stage_history"], contact["stage_history"]);
    assert_eq!(now["responses"].as_array().unwrap().len(), contact["responses"].as_array().unwrap().len());
    assert_eq!(now["responses"][0]["channel"], contact["responses"][0]["channel"]);
    assert_eq!(now["recent_events"].as_array().unwrap().len(), contact["recent_events"].as_array().unwrap().len());
    let pricing = now["recent_events"].as_array().unwrap().iter().find(|e| e["kind"] == json!("pricing_view")).unwrap();
    assert_eq!(pricing["url"], json!("https://acme.example/pricing"), "the page stays, its query goes");
    assert_eq!(api.get("/v1/stats").await.json, stats, "every total is the same");
    assert_eq!((now["do_not_email"].clone(), now["do_not_call"].clone()), (json!(true), json!(true)));
    let data = api.get(&format!("/v1/contacts/{id}/personal-data")).await;
    assert_eq!(data.json["privacy"]["erased"]["reason"], json!("asked by email"), "{}", data.text);
    // Someone else is untouched.
    assert_eq!(api.contact(&other.json["contact_id"]).await["first_name"], json!("Other"));

    let audit = api.get(&format!("/v1/audit?contact={id}")).await;
    let entry = audit.json["entries"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["action"] == json!("contact.erased"))
        .unwrap()
        .clone();
    assert_eq!(entry["actor"], json!("api_key:ops"));
    assert!(entry["detail"].as_str().unwrap().starts_with("asked by email"), "{entry}");

    let again =
        api.json_as(Method::DELETE, &format!("/v1/contacts/{id}?reason=again"), &api.admin.clone(), Value::Null).await;
    assert_error(&again, StatusCode::CONFLICT, "already_erased");
    // The person may come back: as a new contact, knowing nothing of before.
    let back = api.inquire_with_key(json!({"email": "zebulon.quill@quillworks.example"})).await;
    assert_eq!(back.json["duplicate"], json!(false), "{}", back.text);
    assert_ne!(back.json["contact_id"], json!(id));
}

async fn erasure_is_refused_under_a_legal_hold_and_without_a_reason(store: Arc<dyn Store>) {
    let api = Api::new(store).await;
    let made = api.inquire_with_key(json!({"email": "held@acme.example", "first_name": "Held"})).await;
    let id = made.json["contact_id"].as_str().unwrap().to_owned();
    let admin = api.admin.clone();
    let hold = api
        .json_as(
            Method::PUT,
            &format!("/v1/contacts/{id}/legal-hold"),
            &admin,
            json!({"hold": true, "reason": "litigation 2026-14"}),
        )
        .await;
    assert_eq!(hold.status, StatusCode::OK, "{}", hold.text);
    assert_eq!(hold.json["legal_hold"]["reason"], json!("litigation 2026-14"));
    let refused = api.json_as(Method::DELETE, &format!("/v1/contacts/{id}?reason=asked"), &admin, Value::Null).await;
    assert_error(&refused, StatusCode::CONFLICT, "legal_hold");
    assert_eq!(api.contact(&json!(id)).await["first_name"], json!("Held"), "nothing was erased");

    let lift = api
        .json_as(
            Method::PUT,
            &format!("/v1/contacts/{id}/legal-hold"),
            &admin,
            json!({"hold": false, "reason": "case closed"}),
        )
        .await;
    assert_eq!(lift.json["legal_hold"], Value::Null, "{}", lift.text);
    for (uri, body, code) in [
        (format!("/v1/contacts/{id}"), Value::Null, "reason_required"),
        (format!("/v1/contacts/{id}?reason=%20%20"), Value::Null, "reason_required"),
        (format!("/v1/contacts/{id}"), json!({"reason": "x".repeat(1_001)}), "too_long"),
    ] {
        assert_error(&api.json_as(Method::DELETE, &uri, &admin, body).await, StatusCode::UNPROCESSABLE_ENTITY, code);
    }
    let bad_body = api.json_as(Method::DELETE, &format!("/v1/contacts/{id}"), &admin, json!({"why": "x"})).await;
    assert_error(&bad_body, StatusCode::UNPROCESSABLE_ENTITY, "invalid_field");
    assert_error(
        &api.json_as(Method::DELETE, "/v1/contacts/not-an-id?reason=x", &admin, Value::Null).await,
        StatusCode::NOT_FOUND,
        "unknown_contact",
    );
    let unknown = format!("/v1/contacts/{}?reason=x", uuid::Uuid::now_v7());
    assert_error(
        &api.json_as(Method::DELETE, &unknown, &admin, Value::Null).await,
        StatusCode::NOT_FOUND,
        "unknown_contact",
    );
    let hold_wrong =
        api.json_as(Method::PUT, &format!("/v1/contacts/{id}/legal-hold"), &admin, json!({"hold": true})).await;
    assert_error(&hold_wrong, StatusCode::UNPROCESSABLE_ENTITY, "reason_required");
    let sales = api.key(Role::Sales).await;
    let hold_sales = api
        .json_as(Method::PUT, &format!("/v1/contacts/{id}/legal-hold"), &sales, json!({"hold": true, "reason": "x"}))
        .await;
    assert_error(&hold_sales, StatusCode::FORBIDDEN, "forbidden");

    let audit = api.get(&format!("/v1/audit?contact={id}")).await;
    let actions: Vec<&str> =
        audit.json["entries"].as_array().unwrap().iter().map(|e| e["action"].as_str().unwrap()).collect();
    assert_eq!(actions, ["contact.legal_hold_set", "contact.legal_hold_lifted"]);
    // A hold on a record later merged into the contact holds the whole person.
    let other = api.inquire_with_key(json!({"email": "held.too@gmail.com"})).await;
    let other_id = other.json["contact_id"].as_str().unwrap().to_owned();
    let hold = json!({"hold": true, "reason": "litigation 2026-15"});
    assert_eq!(
        api.json_as(Method::PUT, &format!("/v1/contacts/{other_id}/legal-hold"), &admin, hold).await.status,
        StatusCode::OK
    );
    let merged = api.post(&format!("/v1/contacts/{id}/merge"), json!({"other_id": other_id})).await;
    assert_eq!(merged.status, StatusCode::CREATED, "{}", merged.text);
    let refused = api.json_as(Method::DELETE, &format!("/v1/contacts/{id}?reason=asked"), &admin, Value::Null).await;
    assert_error(&refused, StatusCode::CONFLICT, "legal_hold");
    assert!(refused.json["error"]["message"].as_str().unwrap().contains(&other_id), "{}", refused.text);
    let lift = json!({"hold": false, "reason": "settled"});
    assert_eq!(
        api.json_as(Method::PUT, &format!("/v1/contacts/{other_id}/legal-hold"), &admin, lift).await.status,
        StatusCode::OK
    );
    let erased = api.json_as(Method::DELETE, &format!("/v1/contacts/{id}?reason=asked"), &admin, Value::Null).await;
    assert_eq!(erased.status, StatusCode::OK, "{}", erased.text);
    assert_eq!(erased.json["merged_contacts"], json!([other_id]));
}

async fn subject_access_shows_everything_held_and_is_audited(store: Arc<dyn Store>) {
    let api = Api::new(store).await;
    let id = a_well_known_person(&api).await;
    let data = api.get(&format!("/v1/contacts/{id}/personal-data")).await;
    assert_eq!(data.status, StatusCode::OK, "{}", data.text);
    let d = &data.json;
    assert_eq!(d["contact"]["email"], json!("zebulon.quill@quillworks.example"));
    assert_eq!(d["merged_contacts"][0]["email"], json!("zq@gmail.com"));
    assert_eq!(d["qualification"]["need"], json!("Zebulon wants quills"));
    assert_eq!(d["external_ids"][0]["external_id"], json!("zq-crm-42"));
    assert_eq!(d["visitor_ids"], json!(["v-quill-77"]));
    assert_eq!(d["consent"][0]["purpose"], json!("newsletter"));
    assert_eq!(d["merges"].as_array().unwrap().len(), 1);
    let events: Vec<&str> = d["events"].as_array().unwrap().iter().map(|e| e["kind"].as_str().unwrap()).collect();
    assert_eq!(events.len(), 2, "{events:?}");
    let inbox = d["inbox"].as_array().unwrap();
    assert_eq!(inbox.len(), 3, "its two inquiries, and the refused one naming its email: {}", data.text);
    assert!(inbox.iter().all(|i| i["body"].as_str().unwrap().contains("Quixotic") || i["status"] == json!("rejected")));
    let refused = inbox.iter().find(|i| i["status"] == json!("rejected")).unwrap();
    assert!(refused["body"].as_str().unwrap().contains("Zebulon.Quill%40QuillWorks.example"), "{refused}");
    assert_eq!(inbox[0]["user_agent"], json!("HostileBrowser/9.9"));
    assert_eq!(d["merges"][0]["before"]["other"]["email"], json!("zq@gmail.com"), "both records as they were");
    assert!(d["responses"].as_array().unwrap().len() >= 2);
    let readonly = api.key(Role::Readonly).await;
    let denied = api.get_as(&format!("/v1/contacts/{id}/personal-data"), &readonly).await;
    assert_error(&denied, StatusCode::FORBIDDEN, "forbidden");
    let audit = api.get("/v1/audit").await;
    let read =
        audit.json["entries"].as_array().unwrap().iter().any(|e| e["action"] == json!("contact.personal_data_read"));
    assert!(read, "{}", audit.text);
    assert_error(&api.get("/v1/audit?cursor=-1").await, StatusCode::UNPROCESSABLE_ENTITY, "invalid_cursor");
    assert_error(&api.get_as("/v1/audit", &readonly).await, StatusCode::FORBIDDEN, "forbidden");
}

async fn consent_and_do_not_contact_are_recorded_with_who_and_why(store: Arc<dyn Store>) {
    let api = Api::new(store).await;
    let made = api.inquire_with_key(json!({"email": "cy@acme.example"})).await;
    let id = made.json["contact_id"].as_str().unwrap().to_owned();
    let sales = api.key(Role::Sales).await;
    let consent = format!("/v1/contacts/{id}/consent");
    let given = api
        .json_as(
            Method::POST,
            &consent,
            &sales,
            json!({"purpose": "Product News", "granted": true, "source": "double opt-in of 2026-12-01"}),
        )
        .await;
    assert_eq!(given.status, StatusCode::CREATED, "{}", given.text);
    assert_eq!(given.json["in_force"]["product_news"]["granted"], json!(true));
    let withdrawn = api
        .json_as(
            Method::POST,
            &consent,
            &sales,
            json!({"purpose": "product_news", "granted": false, "source": "phone call", "reason": "too many emails"}),
        )
        .await;
    assert_eq!(withdrawn.json["in_force"]["product_news"]["granted"], json!(false), "{}", withdrawn.text);
    assert_eq!(withdrawn.json["records"].as_array().unwrap().len(), 2);
    assert!(withdrawn.json["records"][1]["actor"].as_str().unwrap().starts_with("api_key:sales"));
    for (body, code) in [
        (json!({"purpose": "<b>", "granted": true, "source": "x"}), "invalid_identifier"),
        (json!({"purpose": "news", "granted": true, "source": " "}), "invalid_value"),
        (json!({"purpose": "news", "granted": "yes", "source": "x"}), "invalid_field"),
        (json!({"purpose": "news", "source": "x"}), "invalid_field"),
    ] {
        assert_error(&api.json_as(Method::POST, &consent, &sales, body).await, StatusCode::UNPROCESSABLE_ENTITY, code);
    }
    let readonly = api.key(Role::Readonly).await;
    let body = json!({"purpose": "news", "granted": true, "source": "x"});
    assert_error(&api.json_as(Method::POST, &consent, &readonly, body).await, StatusCode::FORBIDDEN, "forbidden");
    assert_eq!(api.get_as(&consent, &readonly).await.status, StatusCode::OK, "readers may read it");

    let dnc = format!("/v1/contacts/{id}/do-not-contact");
    assert_error(
        &api.json_as(Method::PUT, &dnc, &sales, json!({"do_not_call": true})).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "reason_required",
    );
    assert_error(
        &api.json_as(Method::PUT, &dnc, &sales, json!({"reason": "x"})).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "missing_field",
    );
    let set =
        api.json_as(Method::PUT, &dnc, &sales, json!({"do_not_call": true, "reason": "asked on the phone"})).await;
    assert_eq!(
        (set.status, set.json["do_not_call"].clone(), set.json["do_not_email"].clone()),
        (StatusCode::OK, json!(true), json!(false)),
        "{}",
        set.text
    );
    let c = api.contact(&json!(id)).await;
    let change = c["field_changes"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(change["cause"], json!("do not contact: asked on the phone"));
    assert_eq!(change["changes"]["do_not_call"], json!({"from": false, "to": true}));
    assert_eq!(api.get(&consent).await.json["in_force"]["product_news"]["granted"], json!(false));
    // Lifted by a person with a reason, which an inquiry never can.
    let lifted = api
        .json_as(Method::PUT, &dnc, &sales, json!({"do_not_call": false, "reason": "asked to be called back"}))
        .await;
    assert_eq!(lifted.json["do_not_call"], json!(false));
}

/// A clock at a fixed moment.
struct At(Timestamp);

impl Clock for At {
    fn now(&self) -> Timestamp {
        self.0
    }
}

async fn retention_removes_bodies_addresses_and_browsers_after_their_time(store: Arc<dyn Store>) {
    let api = Api::new(store.clone()).await;
    api.inquire_json(json!({"email": "old@acme.example"})).await;
    let refused = api.inquire_json(json!({"email": "nope"})).await;
    assert_error(&refused, StatusCode::UNPROCESSABLE_ENTITY, "invalid_email");
    let items = api.get("/v1/inbox").await.json["items"].as_array().unwrap().clone();
    assert_eq!(items.len(), 2);

    // 100 days on, bodies (kept 90 days) and addresses (kept 30) go; browsers (kept 365) stay.
    let later = Timestamp(leadgate_app::SystemClock.now().0 + 100 * 86_400 * 1_000_000);
    let app = App::new(store.clone(), Arc::new(At(later)), AppOptions::for_backend(store.backend()));
    let visit = api.post("/v1/events", json!({"email": "old@acme.example", "kind": "page_view"})).await;
    assert!(visit.status.is_success(), "{}", visit.text);
    let (before, _) = api.changes_until(None, 2, "").await;
    assert!(before.len() >= 2, "{before:?}");
    // Pruning stops at the entries scoring has yet to handle: let it handle them all.
    api.scored().await;
    let retention = Retention { inbox_body_days: 90, ip_address_days: 30, user_agent_days: 365, changes_days: 30 };
    let swept = app.sweep_retention(&retention).await.unwrap();
    assert_eq!((swept.inbox_bodies, swept.ip_addresses, swept.user_agents), (2, 2, 0));
    // The change feed's entries (kept 30 days) go too; a reader still at the start is
    // told so, and the history the entries told of stays (below).
    assert!(swept.changes > 0, "{swept:?}");
    let first = before[0]["cursor"].as_str().unwrap();
    let expired = api.get(&format!("/v1/changes?after={first}")).await;
    assert_error(&expired, StatusCode::GONE, "cursor_expired");
    for item in &items {
        let now = api.get(&format!("/v1/inbox/{}", item["id"].as_str().unwrap())).await.json;
        assert_eq!(
            (now["body"].clone(), now["body_bytes"].clone(), now["remote_ip"].clone()),
            (json!(""), json!(0), Value::Null),
            "{now}"
        );
        assert!(now["body_removed_at"].is_string() && now["user_agent"] == item["user_agent"], "{now}");
    }
    // Swept once: again finds nothing; and a replay has nothing to process.
    assert_eq!(app.sweep_retention(&retention).await.unwrap(), Default::default());
    let rejected = items.iter().find(|i| i["status"] == json!("rejected")).unwrap();
    let replay = api.post(&format!("/v1/inbox/{}/replay", rejected["id"].as_str().unwrap()), json!({})).await;
    assert_error(&replay, StatusCode::CONFLICT, "body_removed");
    // The contact the inquiry made keeps everything it became.
    assert_eq!(api.contact_by_email("old@acme.example").await["responses"].as_array().unwrap().len(), 1);
}

async fn two_erasures_of_one_person_at_once_erase_it_once(store: Arc<dyn Store>) {
    let api = Api::new(store).await;
    let made = api.inquire_with_key(json!({"email": "twice@acme.example", "first_name": "Twice"})).await;
    let id = made.json["contact_id"].as_str().unwrap().to_owned();
    let uri = format!("/v1/contacts/{id}?reason=asked");
    let admin = api.admin.clone();
    let (a, b, c) = tokio::join!(
        api.json_as(Method::DELETE, &uri, &admin, Value::Null),
        api.json_as(Method::DELETE, &uri, &admin, Value::Null),
        api.inquire_json(json!({"email": "twice@acme.example", "first_name": "Again"})),
    );
    let mut statuses = [a.status.as_u16(), b.status.as_u16()];
    statuses.sort();
    assert_eq!(statuses, [200, 409], "{} / {}", a.text, b.text);
    assert_eq!(c.status, StatusCode::CREATED, "an inquiry beside them is taken: {}", c.text);
    let audit = api.get(&format!("/v1/audit?contact={id}")).await;
    let erasures =
        audit.json["entries"].as_array().unwrap().iter().filter(|e| e["action"] == json!("contact.erased")).count();
    assert_eq!(erasures, 1, "{}", audit.text);
    // The inquiry came before the erasure (and was erased with it) or after (a new contact).
    let erased = api.contact(&json!(id)).await;
    assert_eq!((erased["email"].clone(), erased["first_name"].clone()), (Value::Null, Value::Null));
}
