//! The public surface as an attacker and a marketer meet it, on both databases: the
//! capture endpoint says nothing of who is known and rewrites nothing that is known,
//! a browser's form post is thanked, exports are safe to open in a spreadsheet, and
//! heavy work is for those who may start it, a few at a time.

mod support;

use axum::body::Body;
use axum::http::{Method, StatusCode, header};
use leadgate_app::{AppOptions, HeavyWork};
use leadgate_core::Role;
use leadgate_http::HttpOptions;
use leadgate_store::Store;
use serde_json::{Value, json};
use std::sync::Arc;
use support::{Api, Reply, assert_error, multipart};

leadgate_store::on_both_stores!(
    the_public_answer_is_the_same_for_a_new_a_known_and_a_junk_sender,
    a_public_inquiry_never_rewrites_what_is_known,
    an_inquiry_can_make_a_contact_harder_to_reach_never_easier,
    a_browser_form_post_is_thanked_with_a_page_or_sent_to_the_thank_you_url,
    formulas_in_contact_data_are_neutralised_in_exports_and_read_back_exactly,
    heavy_work_needs_a_role_that_may_start_it_and_waits_its_turn,
    the_inbox_is_read_in_pages_with_bodies_cut_short,
    a_guessed_key_counts_against_the_address_like_any_public_post,
);

/// A customer known by name, company, title, phone, country and a custom field.
async fn known_customer(api: &Api) -> Value {
    let made = api
        .inquire_with_key(json!({"email": "ann@acme.example", "first_name": "Ann", "last_name": "Lee",
            "company": "Acme", "title": "CTO", "country": "UK", "plan": "enterprise"}))
        .await;
    assert_eq!(made.status, StatusCode::CREATED, "{}", made.text);
    let id = made.json["contact_id"].as_str().unwrap().to_owned();
    let moved = api.post(&format!("/v1/contacts/{id}/stage"), json!({"stage": "customer", "reason": "signed"})).await;
    assert_eq!(moved.status, StatusCode::OK, "{}", moved.text);
    api.contact(&json!(id)).await
}

/// The answer without its receipt id, to compare answers byte for byte.
fn without_receipt(r: &Reply) -> (StatusCode, Vec<(String, String)>, String) {
    let receipt = r.json["receipt"].as_str().unwrap_or("no receipt");
    let mut headers: Vec<(String, String)> =
        r.headers.iter().map(|(k, v)| (k.to_string(), v.to_str().unwrap().replace(receipt, "RECEIPT"))).collect();
    headers.sort();
    (r.status, headers, r.text.replace(receipt, "RECEIPT"))
}

async fn the_public_answer_is_the_same_for_a_new_a_known_and_a_junk_sender(store: Arc<dyn Store>) {
    let api = Api::new(store).await;
    known_customer(&api).await;
    let known = api.inquire_json(json!({"email": "ann@acme.example", "first_name": "Mallory"})).await;
    let unknown = api.inquire_json(json!({"email": "zed@elsewhere.example", "first_name": "Mallory"})).await;
    let junk = api.inquire_json(json!({"email": "ann@acme.example", "_gotcha": "http://spam.example"})).await;
    let junk_new = api.inquire_json(json!({"email": "bot@spam.example", "_gotcha": "x"})).await;
    assert_eq!(known.status, StatusCode::CREATED, "{}", known.text);
    for other in [&unknown, &junk, &junk_new] {
        assert_eq!(without_receipt(&known), without_receipt(other), "the answers tell nothing apart");
    }
    let fields: Vec<&String> = known.json.as_object().unwrap().keys().collect();
    assert_eq!(fields, ["receipt"], "no contact id, stage or duplicate: {}", known.text);
    for probe in ["customer", "duplicate", "contact_id", "stage"] {
        assert!(!known.text.contains(probe), "{}", known.text);
    }
    // The receipt names the inbox item, which an administrator can look up.
    let item = api.get(&format!("/v1/inbox/{}", known.json["receipt"].as_str().unwrap())).await;
    assert_eq!(item.json["status"], json!("processed"), "{}", item.text);

    // With a key that may send events, the details come back.
    let detailed = api.inquire_with_key(json!({"email": "ann@acme.example"})).await;
    assert_eq!((detailed.json["stage"].clone(), detailed.json["duplicate"].clone()), (json!("customer"), json!(true)));
    // A wrong key is refused, not taken for the public; a readonly key may not post.
    let req = api
        .req(Method::POST, "/v1/inquiries", Some("lg_wrong"))
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(json!({"form_key": api.form_key, "email": "ann@acme.example"}).to_string()))
        .unwrap();
    assert_error(&api.send(req).await, StatusCode::UNAUTHORIZED, "unauthenticated");
    let readonly = api.key(Role::Readonly).await;
    let body = json!({"form_key": api.form_key, "email": "ann@acme.example"});
    assert_error(
        &api.json_as(Method::POST, "/v1/inquiries", &readonly, body).await,
        StatusCode::FORBIDDEN,
        "forbidden",
    );
}

async fn a_public_inquiry_never_rewrites_what_is_known(store: Arc<dyn Store>) {
    let api = Api::new(store).await;
    let before = known_customer(&api).await;
    let attack = json!({"email": "ann@acme.example", "first_name": "Mallory", "last_name": "Evil",
        "company": "Evil Corp", "title": "Intern", "phone": "+1 555 0100", "country": "XX", "plan": "free",
        "team_size": 40});
    assert_eq!(api.inquire_json(attack.clone()).await.status, StatusCode::CREATED);
    let after = api.contact(&before["id"]).await;
    for field in ["first_name", "last_name", "company", "title", "country", "stage"] {
        assert_eq!(after[field], before[field], "{field} is not rewritten by the public");
    }
    assert_eq!(after["custom"]["plan"], json!("enterprise"));
    assert_eq!(after["phone"], json!("+1 555 0100"), "a blank field is filled");
    assert_eq!(after["custom"]["team_size"], json!(40), "a custom field it lacked is added");
    // What was sent is on the response, in the timeline.
    let sent = &after["responses"][0];
    assert_eq!(sent["contact_fields"]["first_name"], json!("Mallory"), "{sent}");
    assert_eq!(sent["contact_fields"]["company"], json!("Evil Corp"));
    assert_eq!(sent["fields"]["plan"], json!("free"));
    let change = &after["field_changes"].as_array().unwrap().last().unwrap();
    assert_eq!(change["changes"]["phone"], json!({"from": null, "to": "+1 555 0100"}), "{change}");

    // Junk changes nothing at all, not even a blank.
    let junk = json!({"email": "ann@acme.example", "_gotcha": "filled", "first_name": "Bot",
        "referral_code": "spam", "unsubscribe": "yes", "visitor_id": "v-bot"});
    assert_eq!(api.inquire_json(junk).await.status, StatusCode::CREATED);
    let junked = api.contact(&before["id"]).await;
    assert_eq!(junked["first_name"], json!("Ann"));
    assert_eq!(junked["custom"].get("referral_code"), None);
    assert_eq!(
        (junked["do_not_email"].clone(), junked["updated_at"].clone()),
        (json!(false), after["updated_at"].clone())
    );
    assert!(junked["responses"][0]["junk"].as_str().unwrap().starts_with("honeypot"));
    let events = api.post("/v1/events", json!({"visitor_id": "v-bot", "kind": "page_view"})).await;
    assert_eq!(events.status, StatusCode::ACCEPTED);
    assert!(api.contact(&before["id"]).await["recent_events"].as_array().unwrap().is_empty(), "junk claims no browser");

    // Nor does what junk claims qualify anyone.
    let asks_for_a_demo = json!({"expression": "responses.exists(r, r.action == 'demo_request')", "kind": "mql"});
    assert_eq!(api.put("/v1/definitions/demo", asks_for_a_demo).await.status, StatusCode::CREATED);
    assert_eq!(api.post("/v1/definitions/demo/activate", json!({})).await.status, StatusCode::OK);
    api.inquire_json(json!({"email": "pat@acme.example"})).await;
    let bot = json!({"email": "pat@acme.example", "action": "demo_request", "_gotcha": "x"});
    assert_eq!(api.inquire_json(bot).await.status, StatusCode::CREATED);
    assert_eq!(api.contact_by_email("pat@acme.example").await["stage"], json!("prospect"));
    api.inquire_json(json!({"email": "pat@acme.example", "action": "demo_request"})).await;
    assert_eq!(api.contact_by_email("pat@acme.example").await["stage"], json!("mql"), "a real request does");

    // Nor does the public say which browser is a known person's.
    let claim = json!({"email": "ann@acme.example", "visitor_id": "v-mallory"});
    assert_eq!(api.inquire_json(claim).await.status, StatusCode::CREATED);
    api.post("/v1/events", json!({"visitor_id": "v-mallory", "kind": "pricing_view"})).await;
    assert!(api.contact(&before["id"]).await["recent_events"].as_array().unwrap().is_empty());

    // A caller with a key still updates what it sends, as documented.
    api.inquire_with_key(json!({"email": "ann@acme.example", "title": "CEO"})).await;
    assert_eq!(api.contact(&before["id"]).await["title"], json!("CEO"));
}

async fn an_inquiry_can_make_a_contact_harder_to_reach_never_easier(store: Arc<dyn Store>) {
    let api = Api::new(store).await;
    let c = known_customer(&api).await;
    let id = c["id"].as_str().unwrap().to_owned();
    let optout = json!({"email": "ann@acme.example", "unsubscribe": "on", "consent.newsletter": "no",
        "consent.events": "yes"});
    assert_eq!(api.inquire_json(optout).await.status, StatusCode::CREATED);
    let after = api.contact(&c["id"]).await;
    assert_eq!((after["do_not_email"].clone(), after["do_not_call"].clone()), (json!(true), json!(false)));
    let consent = api.get(&format!("/v1/contacts/{id}/consent")).await;
    assert_eq!(consent.json["in_force"]["newsletter"]["granted"], json!(false), "{}", consent.text);
    assert_eq!(consent.json["in_force"].get("events"), None, "a public form withdraws consent, never gives it");
    // Nothing a form sends lifts it.
    let undo = json!({"email": "ann@acme.example", "do_not_email": "no", "unsubscribe": false});
    assert_eq!(api.inquire_json(undo).await.status, StatusCode::CREATED);
    assert_eq!(api.contact(&c["id"]).await["do_not_email"], json!(true));
    let bad = api.inquire_json(json!({"email": "ann@acme.example", "do_not_email": "perhaps"})).await;
    assert_error(&bad, StatusCode::UNPROCESSABLE_ENTITY, "invalid_value");
}

async fn a_browser_form_post_is_thanked_with_a_page_or_sent_to_the_thank_you_url(store: Arc<dyn Store>) {
    let api = Api::new(store).await;
    let browser = |form_key: &str, body: &str| {
        api.req(Method::POST, "/v1/inquiries", None)
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header(header::ACCEPT, "text/html,application/xhtml+xml,*/*;q=0.8")
            .body(Body::from(format!("form_key={form_key}&{body}")))
            .unwrap()
    };
    let page = api.send(browser(&api.form_key, "email=ann%40acme.example&name=Ann")).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.text);
    assert!(page.headers[header::CONTENT_TYPE].to_str().unwrap().starts_with("text/html"));
    assert!(page.text.contains("Thank you") && !page.text.contains("ann@acme.example"), "{}", page.text);
    api.contact_by_email("ann@acme.example").await;

    let thanked = api
        .post("/v1/forms", json!({"name": "Demo", "thank_you_url": "https://www.acme.example/thanks?from=demo"}))
        .await;
    assert_eq!(thanked.status, StatusCode::CREATED, "{}", thanked.text);
    let key = thanked.json["key"].as_str().unwrap();
    let sent = api.send(browser(key, "email=bo%40acme.example")).await;
    assert_eq!(sent.status, StatusCode::SEE_OTHER, "{}", sent.text);
    assert_eq!(sent.headers[header::LOCATION], "https://www.acme.example/thanks?from=demo");

    // A refusal is a page too, saying what was wrong, escaped.
    let refused = api.send(browser(&api.form_key, "email=%3Cscript%3Ealert(1)%3C%2Fscript%3E")).await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(refused.text.contains("not a valid email") && refused.text.contains("&lt;script&gt;"), "{}", refused.text);
    assert!(!refused.text.contains("<script>"), "{}", refused.text);
    // A page asking with fetch for JSON gets JSON.
    let req = api
        .req(Method::POST, "/v1/inquiries", None)
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from(format!("form_key={}&email=cy%40acme.example", api.form_key)))
        .unwrap();
    let fetched = api.send(req).await;
    assert_eq!(fetched.status, StatusCode::CREATED);
    assert!(fetched.json["receipt"].is_string(), "{}", fetched.text);

    for bad in ["javascript:alert(1)", "/thanks", "https://", "https://x.example/a b", "ftp://x.example"] {
        let r = api.post("/v1/forms", json!({"name": "Bad", "thank_you_url": bad})).await;
        assert_error(&r, StatusCode::UNPROCESSABLE_ENTITY, "invalid_url");
        assert_eq!(r.json["error"]["field"], json!("thank_you_url"));
    }
}

const FORMULAS: [(&str, &str); 4] = [
    ("first_name", "=HYPERLINK(\"http://x\",\"click\")"),
    ("last_name", "=1+1"),
    ("company", "@SUM(1+1)"),
    ("title", "+cmd|' /C calc'!A0"),
];

async fn formulas_in_contact_data_are_neutralised_in_exports_and_read_back_exactly(store: Arc<dyn Store>) {
    let api = Api::new(store).await;
    let mut body = json!({"email": "eve@acme.example", "phone": "-1 555", "note": "'quoted", "message": "@SUM(A1:A9)"});
    for (field, value) in FORMULAS {
        body[field] = json!(value);
    }
    let made = api.inquire_with_key(body).await;
    assert_eq!(made.status, StatusCode::CREATED, "{}", made.text);
    let csv = api.get("/v1/exports/contacts.csv").await;
    assert_eq!(csv.status, StatusCode::OK, "{}", csv.text);
    let mut reader = csv::Reader::from_reader(csv.text.as_bytes());
    let header = reader.headers().unwrap().clone();
    let row = reader.records().map(Result::unwrap).find(|r| r.iter().any(|c| c == "eve@acme.example")).unwrap();
    let cell = |name: &str| row[header.iter().position(|h| h == name).unwrap()].to_owned();
    for (field, value) in FORMULAS {
        assert_eq!(cell(field), format!("'{value}"), "{field} opens as text");
    }
    assert_eq!(cell("phone"), "'-1 555");
    let every_cell_is_safe = csv::Reader::from_reader(csv.text.as_bytes())
        .records()
        .flat_map(|r| r.unwrap().iter().map(str::to_owned).collect::<Vec<_>>())
        .all(|c| !c.starts_with(['=', '+', '@', '\t', '\r']) && (!c.starts_with('-') || c.parse::<f64>().is_ok()));
    assert!(every_cell_is_safe, "{}", csv.text);
    let responses = api.get("/v1/exports/responses.csv").await;
    assert!(responses.text.contains(",'@SUM(A1:A9),"), "the message too: {}", responses.text);

    let raw = api.get("/v1/exports/contacts.csv?raw=true").await;
    assert!(raw.text.contains("=1+1") && !raw.text.contains("'=1+1"), "for machines, as stored");
    let jsonl = api.get("/v1/exports/contacts.jsonl").await;
    assert!(jsonl.text.contains("\"last_name\":\"=1+1\""), "JSON is not a spreadsheet: {}", jsonl.text);

    // Imported back with leadgate's preset, the values are the originals.
    let upload = api.upload("/v1/imports?preset=leadgate-contacts", &api.admin.clone(), "text/csv", csv.text).await;
    assert_eq!(upload.status, StatusCode::ACCEPTED, "{}", upload.text);
    let job = api.finished(&upload.json["id"]).await;
    assert_eq!((job["status"].clone(), job["rows_failed"].clone()), (json!("finished"), json!(0)), "{job}");
    let eve = api.contact(&made.json["contact_id"]).await;
    for (field, value) in FORMULAS {
        assert_eq!(eve[field], json!(value), "{field} read back exactly");
    }
    assert_eq!((eve["phone"].clone(), eve["custom"]["note"].clone()), (json!("-1 555"), json!("'quoted")));
}

async fn heavy_work_needs_a_role_that_may_start_it_and_waits_its_turn(store: Arc<dyn Store>) {
    let app_opts = AppOptions { heavy_reads: 1, imports: 1, ..AppOptions::for_backend(store.backend()) };
    let opts = HttpOptions { inquiries_per_minute: 10_000, ..HttpOptions::default() };
    let api = Api::with_app(store, opts, app_opts).await;
    let definition = json!({"expression": "contact.stage == 'prospect'", "kind": "mql"});
    assert_eq!(api.put("/v1/definitions/simple", definition).await.status, StatusCode::CREATED);
    for i in 0..30 {
        api.inquire_json(json!({"email": format!("p{i}@acme.example")})).await;
    }
    let backtest = json!({"as_of": "2020-01-01"});
    let readonly = api.key(Role::Readonly).await;
    for (method, uri, body) in [
        (Method::POST, "/v1/definitions/simple/backtest", backtest.clone()),
        (Method::GET, "/v1/duplicates", Value::Null),
        (Method::GET, "/v1/exports/contacts.csv", Value::Null),
    ] {
        let r = api.json_as(method, uri, &readonly, body).await;
        assert_error(&r, StatusCode::FORBIDDEN, "forbidden");
    }
    let sales = api.key(Role::Sales).await;
    let ran = api.json_as(Method::POST, "/v1/definitions/simple/backtest", &sales, backtest.clone()).await;
    assert_eq!(ran.status, StatusCode::OK, "{}", ran.text);

    // An export being downloaded holds the one place for heavy reads until it ends.
    let held = api.router.clone();
    let req = api.req(Method::GET, "/v1/exports/contacts.csv", Some(&api.admin)).body(Body::empty()).unwrap();
    let downloading = tower::ServiceExt::oneshot(held, req).await.unwrap();
    assert_eq!(downloading.status(), StatusCode::OK);
    let busy = api.json_as(Method::POST, "/v1/definitions/simple/backtest", &sales, backtest.clone()).await;
    assert_error(&busy, StatusCode::SERVICE_UNAVAILABLE, "busy");
    assert_eq!(busy.headers[header::RETRY_AFTER], "5");
    assert_error(&api.get("/v1/duplicates").await, StatusCode::SERVICE_UNAVAILABLE, "busy");
    assert_error(&api.get("/v1/exports/events.csv").await, StatusCode::SERVICE_UNAVAILABLE, "busy");
    // Bad input is still told as such, not as busy.
    let bad = api.json_as(Method::POST, "/v1/definitions/simple/backtest", &sales, json!({"as_of": "soon"})).await;
    assert_error(&bad, StatusCode::UNPROCESSABLE_ENTITY, "invalid_date");
    drop(downloading);
    let after = api.json_as(Method::POST, "/v1/definitions/simple/backtest", &sales, backtest).await;
    assert_eq!(after.status, StatusCode::OK, "the place is given back: {}", after.text);

    // Imports have places of their own, taken before the upload is read.
    let importing = api.app.ration(HeavyWork::Import).unwrap();
    let (ct, body) = multipart(&[("preset", None, "hubspot"), ("file", Some("a.csv"), "Email\nx@acme.example\n")]);
    let refused = api.upload("/v1/imports", &api.admin.clone(), &ct, body.clone()).await;
    assert_error(&refused, StatusCode::SERVICE_UNAVAILABLE, "busy");
    assert_eq!(refused.headers[header::RETRY_AFTER], "30");
    drop(importing);
    assert_eq!(api.upload("/v1/imports", &api.admin.clone(), &ct, body).await.status, StatusCode::ACCEPTED);

    // A pattern taken from contact data would be compiled for every contact.
    let from_data = json!({"expression": "contact.title.matches(contact.company)", "kind": "mql"});
    let r = api.put("/v1/definitions/sneaky", from_data).await;
    assert_error(&r, StatusCode::UNPROCESSABLE_ENTITY, "invalid_expression");
    assert!(r.json["error"]["message"].as_str().unwrap().contains("literal"), "{}", r.text);
}

async fn the_inbox_is_read_in_pages_with_bodies_cut_short(store: Arc<dyn Store>) {
    let api = Api::new(store).await;
    let long = "x".repeat(10_000);
    for i in 0..5 {
        let r = api.inquire_json(json!({"email": format!("bad-{i}"), "message": long})).await;
        assert_error(&r, StatusCode::UNPROCESSABLE_ENTITY, "invalid_email");
    }
    let mut seen = Vec::new();
    let mut uri = "/v1/inbox?status=rejected&limit=2".to_owned();
    loop {
        let page = api.get(&uri).await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.text);
        for item in page.json["items"].as_array().unwrap() {
            assert_eq!(item["body_truncated"], json!(true));
            assert_eq!(item["body"].as_str().unwrap().len(), leadgate_app::INBOX_PREVIEW_BYTES as usize);
            assert!(item["body_bytes"].as_i64().unwrap() > 10_000);
            seen.push(item["id"].as_str().unwrap().to_owned());
        }
        match page.json["next_cursor"].as_str() {
            Some(next) => uri = format!("/v1/inbox?status=rejected&limit=2&cursor={next}"),
            None => break,
        }
    }
    assert_eq!(seen.len(), 5, "every item once: {seen:?}");
    seen.dedup();
    assert_eq!(seen.len(), 5);
    let one = api.get(&format!("/v1/inbox/{}", seen[0])).await;
    assert_eq!(one.json["body_truncated"], json!(false));
    assert!(one.json["body"].as_str().unwrap().contains(&long), "one item shows its whole body");

    let max = leadgate_app::INBOX_PAGE_MAX;
    assert_error(
        &api.get(&format!("/v1/inbox?limit={}", max + 1)).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_value",
    );
    assert_error(&api.get("/v1/inbox?cursor=nope").await, StatusCode::UNPROCESSABLE_ENTITY, "invalid_cursor");
    assert_error(&api.get("/v1/inbox/nope").await, StatusCode::NOT_FOUND, "unknown_inbox_item");
    let marketing = api.key(Role::Marketing).await;
    assert_error(&api.get_as(&format!("/v1/inbox/{}", seen[0]), &marketing).await, StatusCode::FORBIDDEN, "forbidden");
}

async fn a_guessed_key_counts_against_the_address_like_any_public_post(store: Arc<dyn Store>) {
    let opts = HttpOptions { inquiries_per_minute: 2, ..HttpOptions::default() };
    let api = Api::with(store, opts).await;
    let guess = || {
        let body = json!({"form_key": api.form_key, "email": "ann@acme.example"}).to_string();
        let req =
            api.req(Method::POST, "/v1/inquiries", Some("lg_guess")).header(header::CONTENT_TYPE, "application/json");
        api.send(req.body(Body::from(body)).unwrap())
    };
    assert_error(&guess().await, StatusCode::UNAUTHORIZED, "unauthenticated");
    assert_error(&guess().await, StatusCode::UNAUTHORIZED, "unauthenticated");
    assert_error(&guess().await, StatusCode::TOO_MANY_REQUESTS, "rate_limited");
    assert_error(
        &api.inquire_json(json!({"email": "ann@acme.example"})).await,
        StatusCode::TOO_MANY_REQUESTS,
        "rate_limited",
    );
    // A real key is not limited.
    assert_eq!(api.inquire_with_key(json!({"email": "ann@acme.example"})).await.status, StatusCode::CREATED);
}
