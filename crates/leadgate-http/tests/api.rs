//! The API as a client sees it, on both databases: status codes, JSON bodies and
//! errors, through the real router (in-process, no socket).

mod support;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use leadgate_core::Role;
use leadgate_http::HttpOptions;
use leadgate_store::Store;
use serde_json::{Value, json};
use std::sync::Arc;
use support::{Api, assert_error, multipart};

leadgate_store::on_both_stores!(
    an_inquiry_creates_a_prospect_and_a_repeat_is_the_same_contact,
    a_plain_html_form_works_and_keeps_every_field_literally,
    junk_is_kept_as_disqualified_with_its_reason,
    visits_before_the_first_form_join_the_contact,
    events_report_each_rejected_item_and_refuse_oversized_batches,
    requests_without_the_right_key_or_role_are_refused,
    malformed_input_gets_a_json_error_and_the_server_keeps_serving,
    stage_changes_need_a_reason_and_are_recorded_with_the_actor,
    contacts_are_listed_with_filters_and_cursors,
    each_address_is_rate_limited,
    behind_a_proxy_the_address_it_saw_is_limited_not_the_one_the_client_claims,
    cors_follows_the_forms_allowed_origins,
    the_inbox_keeps_refused_inquiries_and_replays_them,
    the_start_page_health_and_metrics_answer,
    an_uploaded_csv_is_imported_in_the_background_and_its_job_reports_it,
    bad_uploads_are_refused_before_anything_is_written,
    exports_stream_csv_and_json_lines,
    duplicates_are_merged_and_unmerged_over_the_api,
    scoring_models_and_definitions_are_managed_over_the_api,
    bad_models_definitions_and_qualification_are_refused_over_the_api,
    the_likelihood_model_is_trained_over_the_api,
);

async fn an_inquiry_creates_a_prospect_and_a_repeat_is_the_same_contact(store: Arc<dyn Store>) {
    let api = Api::new(store).await;
    let first = api
        .inquire_json(json!({"email": "  Ann.Lee@Acme.COM ", "first_name": "Ann", "company": "Acme",
                            "action": "download", "source": {"campaign": "q3"}}))
        .await;
    assert_eq!(first.status, StatusCode::CREATED, "{}", first.text);
    let again = api.inquire_json(json!({"email": "ann.lee@acme.com", "title": "CTO", "action": "demo_request"})).await;
    assert_eq!(again.status, StatusCode::CREATED);
    assert_ne!(again.json["receipt"], first.json["receipt"]);

    let c = api.contact_by_email("ann.lee@acme.com").await;
    assert_eq!(c["stage"], json!("prospect"));
    assert_eq!((c["first_name"].clone(), c["title"].clone()), (json!("Ann"), json!("CTO")));
    assert_eq!(c["account"]["domain"], json!("acme.com"));
    assert_eq!(c["account"]["name"], json!("Acme"));
    let responses = c["responses"].as_array().unwrap();
    assert_eq!(responses.len(), 2);
    assert_eq!(responses[1]["channel"], json!("paid_search"), "the form's channel is the default where");
    assert_eq!(responses[1]["offer"], json!("CRM buyer's guide"));
    assert_eq!(responses[1]["campaign"], json!("q3"));
    assert_eq!(responses[0]["action"], json!("demo_request"));
    assert_eq!(c["stage_history"].as_array().unwrap().len(), 1, "a repeat inquiry does not move a prospect");

    // A free-mail address makes no account.
    api.inquire_json(json!({"email": "bob@gmail.com"})).await;
    assert_eq!(api.contact_by_email("bob@gmail.com").await["account"], Value::Null);
}

async fn a_plain_html_form_works_and_keeps_every_field_literally(store: Arc<dyn Store>) {
    let api = Api::new(store).await;
    let body = format!(
        "form_key={}&email=eve%40example.org&name=Eve+O%27Neil&company=Robert%27%29%3B+DROP+TABLE+contacts%3B--\
         &message=%3Cscript%3Ealert(1)%3C%2Fscript%3E&team_size=40&topic=crm&topic=api&_gotcha=\
         &tools%5B%5D=excel&tools%5B%5D=hubspot",
        api.form_key
    );
    let r = api.inquire("application/x-www-form-urlencoded", body).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let c = api.contact_by_email("eve@example.org").await;
    assert_eq!(c["company"], json!("Robert'); DROP TABLE contacts;--"));
    assert_eq!(c["last_name"], json!("O'Neil"));
    assert_eq!(c["custom"]["team_size"], json!("40"));
    assert_eq!(c["custom"]["topic"], json!(["crm", "api"]));
    assert_eq!(c["custom"]["tools"], json!(["excel", "hubspot"]), "tools[] as HTML forms name lists");
    assert_eq!(c["responses"][0]["message"], json!("<script>alert(1)</script>"));
    assert_eq!(c["stage"], json!("prospect"));
}

async fn junk_is_kept_as_disqualified_with_its_reason(store: Arc<dyn Store>) {
    let api = Api::new(store).await;
    let cases = [
        (json!({"email": "bot@spam.example", "_gotcha": "http://buy.example"}), "honeypot"),
        (
            json!({"email": "jo@uni.example", "message": "Please find my CV attached, I am applying for the sales role"}),
            "job_application",
        ),
        (
            json!({"email": "seo@agency.example", "message": "We offer SEO services to rank your website"}),
            "vendor_solicitation",
        ),
    ];
    for (body, reason) in cases {
        let email = body["email"].as_str().unwrap().to_owned();
        let r = api.inquire_json(body).await;
        assert_eq!(r.status, StatusCode::CREATED, "junk is stored, not dropped: {}", r.text);
        let c = api.contact_by_email(&email).await;
        assert_eq!(c["stage"], json!("disqualified"));
        let change = &c["stage_history"][0];
        assert_eq!((change["to"].clone(), change["cause"].clone()), (json!("disqualified"), json!("junk")));
        assert!(change["detail"].as_str().unwrap().starts_with(reason), "{change}");
        assert!(c["responses"][0]["junk"].as_str().unwrap().starts_with(reason));
        assert_eq!(c["account"], Value::Null, "junk from a stranger creates no account");
    }
}

async fn visits_before_the_first_form_join_the_contact(store: Arc<dyn Store>) {
    let api = Api::new(store).await;
    let visits = json!({"events": [
        {"visitor_id": "v-77", "kind": "page_view", "url": "https://acme.example/blog", "at": "2026-01-05T10:00:00Z"},
        {"visitor_id": "v-77", "kind": "pricing_view", "at": "2026-01-06T10:00:00Z"},
        {"email": "kim@bigco.example", "kind": "email_open", "at": "2026-01-04T10:00:00Z"},
    ]});
    let r = api.post("/v1/events", visits).await;
    assert_eq!((r.status, r.json["accepted"].clone()), (StatusCode::ACCEPTED, json!(3)), "{}", r.text);

    let q = api.inquire_with_key(json!({"email": "kim@bigco.example", "visitor_id": "v-77"})).await;
    let c = api.contact(&q.json["contact_id"]).await;
    let kinds: Vec<_> = c["recent_events"].as_array().unwrap().iter().map(|e| e["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["pricing_view", "page_view", "email_open"], "the timeline shows the visits before the form");

    let later = api.post("/v1/events", json!({"visitor_id": "v-77", "kind": "download"})).await;
    assert_eq!(later.status, StatusCode::ACCEPTED);
    assert_eq!(api.contact(&q.json["contact_id"]).await["recent_events"][0]["kind"], json!("download"));
    // The contact is scored after, by the change feed's scoring consumer; how long after
    // each change that took is in the metrics.
    api.scored().await;
    // Metrics are counted just after the consumer commits: look until they show it.
    let count = |text: &str, series: &str| {
        text.lines().find_map(|l| l.strip_prefix(series)).and_then(|n| n.trim().parse::<u64>().ok()).unwrap_or(0)
    };
    let started = std::time::Instant::now();
    loop {
        let metrics = api.get("/metrics").await;
        let handled = count(&metrics.text, "leadgate_change_lag_seconds_count{consumer=\"scoring\"}");
        let assessed = count(&metrics.text, "leadgate_assessing_seconds_count{phase=\"evaluate\"}");
        // The inquiry and the event were handled, and how long assessing them took is shown.
        if handled >= 2 && assessed >= 1 {
            break;
        }
        assert!(started.elapsed() < std::time::Duration::from_secs(10), "{}", metrics.text);
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
}

async fn events_report_each_rejected_item_and_refuse_oversized_batches(store: Arc<dyn Store>) {
    let api = Api::new(store).await;
    let q = api.inquire_with_key(json!({"email": "ann@acme.example"})).await;
    let id = q.json["contact_id"].clone();
    let batch = json!({"events": [
        {"contact_id": id, "kind": "page_view"},
        {"email": "ann@acme.example", "kind": "roi_calculator_used"},
        {"email": "ann@acme.example", "kind": "Page View!"},
        {"email": "ann@acme.example", "kind": "page_view", "at": "2999-01-01T00:00:00Z"},
        {"email": "ann@acme.example", "kind": "page_view", "at": "last tuesday"},
        {"contact_id": "018f0000-0000-7000-8000-000000000000", "kind": "page_view"},
        {"kind": "page_view"},
        "not an object",
    ]});
    let r = api.post("/v1/events", batch).await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.text);
    assert_eq!(r.json["accepted"], json!(2));
    let rejected: Vec<_> = r.json["rejected"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| (x["index"].as_u64().unwrap(), x["error"]["code"].as_str().unwrap()))
        .collect();
    assert_eq!(
        rejected,
        [
            (2, "invalid_identifier"),
            (3, "future_timestamp"),
            (4, "invalid_timestamp"),
            (5, "unknown_contact"),
            (6, "missing_identity"),
            (7, "invalid_event")
        ]
    );
    let c = api.contact(&id).await;
    assert_eq!(c["recent_events"].as_array().unwrap().len(), 2, "exactly the accepted events are stored");

    let too_many: Vec<_> = (0..1_001).map(|_| json!({"email": "ann@acme.example", "kind": "page_view"})).collect();
    assert_error(
        &api.post("/v1/events", json!({"events": too_many})).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "batch_too_large",
    );
    let all_bad = api.post("/v1/events", json!({"events": [{"kind": "x"}, {"email": "nope", "kind": "x"}]})).await;
    assert_error(&all_bad, StatusCode::UNPROCESSABLE_ENTITY, "no_valid_events");
    assert_eq!(all_bad.json["rejected"].as_array().unwrap().len(), 2);
    let single = api.post("/v1/events", json!({"email": "ann@acme.example", "kind": "drop table;"})).await;
    assert_error(&single, StatusCode::UNPROCESSABLE_ENTITY, "invalid_identifier");
    assert_eq!(single.json["error"]["field"], json!("kind"));
    let nobody = json!({"contact_id": "018f0000-0000-7000-8000-000000000000", "kind": "page_view"});
    let unknown = api.post("/v1/events", nobody).await;
    assert_error(&unknown, StatusCode::NOT_FOUND, "unknown_contact");
    assert_eq!(unknown.json["error"]["field"], json!("contact_id"));
    assert_error(&api.post("/v1/events", json!({"events": []})).await, StatusCode::UNPROCESSABLE_ENTITY, "empty_batch");
    let extra =
        api.post("/v1/events", json!({"events": [{"email": "ann@acme.example", "kind": "x"}], "source": "crm"})).await;
    assert_error(&extra, StatusCode::UNPROCESSABLE_ENTITY, "unknown_field");
    assert_eq!(extra.json["error"]["field"], json!("source"));
    assert_eq!(api.contact(&id).await["recent_events"].as_array().unwrap().len(), 2, "refused batches store nothing");
}

async fn requests_without_the_right_key_or_role_are_refused(store: Arc<dyn Store>) {
    let api = Api::new(store).await;
    let event = json!({"email": "a@b.example", "kind": "page_view"});
    let none = api.send(api.req(Method::GET, "/v1/contacts", None).body(Body::empty()).unwrap()).await;
    assert_error(&none, StatusCode::UNAUTHORIZED, "unauthenticated");
    // A client is told how to authenticate.
    assert_eq!(none.headers.get(header::WWW_AUTHENTICATE).map(|v| v.to_str().unwrap()), Some("Bearer"));
    // The key may come in X-Api-Key instead of Authorization.
    let by_header = |key: &str| {
        let req = Request::builder().method(Method::GET).uri("/v1/contacts").header("x-api-key", key);
        req.body(Body::empty()).unwrap()
    };
    assert_eq!(api.send(by_header(&api.admin)).await.status, StatusCode::OK);
    let wrong = api.send(by_header("lg_wrong")).await;
    assert_error(&wrong, StatusCode::UNAUTHORIZED, "unauthenticated");
    assert_eq!(wrong.headers.get(header::WWW_AUTHENTICATE).map(|v| v.to_str().unwrap()), Some("Bearer"));
    assert_error(
        &api.post_as("/v1/events", "lg_wrong", event.clone()).await,
        StatusCode::UNAUTHORIZED,
        "unauthenticated",
    );
    let readonly = api.app.create_api_key("viewer", Role::Readonly).await.unwrap().secret;
    assert_error(&api.post_as("/v1/events", &readonly, event.clone()).await, StatusCode::FORBIDDEN, "forbidden");
    let refused = api.post_as("/v1/forms", &readonly, json!({"name": "x"})).await;
    assert_error(&refused, StatusCode::FORBIDDEN, "forbidden");
    assert_eq!(refused.json["error"]["message"], "the readonly role may not manage web forms", "said in words");
    let list = api.send(api.req(Method::GET, "/v1/contacts", Some(&readonly)).body(Body::empty()).unwrap()).await;
    assert_eq!(list.status, StatusCode::OK, "readonly may read");
    // The role is checked before the body is read.
    let req = api.req(Method::POST, "/v1/forms", Some(&readonly)).header(header::CONTENT_TYPE, "text/plain");
    assert_error(&api.send(req.body(Body::from("{not json")).unwrap()).await, StatusCode::FORBIDDEN, "forbidden");
    // A revoked key stops working at once.
    let temp = api.app.create_api_key("temp", Role::Admin).await.unwrap();
    assert_eq!(api.post_as("/v1/events", &temp.secret, event.clone()).await.status, StatusCode::ACCEPTED);
    api.app.revoke_api_key(temp.key.id).await.unwrap();
    assert_error(
        &api.post_as("/v1/events", &temp.secret, event.clone()).await,
        StatusCode::UNAUTHORIZED,
        "unauthenticated",
    );
    assert_eq!(api.app.revoke_api_key(temp.key.id).await.unwrap_err().code, "unknown_api_key");
    let sales = api.app.create_api_key("rep", Role::Sales).await.unwrap().secret;
    assert_eq!(api.post_as("/v1/events", &sales, event).await.status, StatusCode::ACCEPTED);
    assert_error(&api.post_as("/v1/forms", &sales, json!({"name": "x"})).await, StatusCode::FORBIDDEN, "forbidden");
    let inbox = api.send(api.req(Method::GET, "/v1/inbox", Some(&sales)).body(Body::empty()).unwrap()).await;
    assert_error(&inbox, StatusCode::FORBIDDEN, "forbidden");
}

async fn malformed_input_gets_a_json_error_and_the_server_keeps_serving(store: Arc<dyn Store>) {
    let api = Api::new(store).await;
    let fk = api.form_key.clone();
    let json_ct = "application/json";
    assert_error(&api.inquire(json_ct, "{\"email\": ").await, StatusCode::BAD_REQUEST, "invalid_json");
    assert_error(
        &api.inquire("application/xml", "<email/>").await,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
    );
    let no_ct = api.send(api.req(Method::POST, "/v1/inquiries", None).body(Body::from("{}")).unwrap()).await;
    assert_error(&no_ct, StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type");
    let missing = api.inquire(json_ct, json!({"form_key": fk}).to_string()).await;
    assert_error(&missing, StatusCode::UNPROCESSABLE_ENTITY, "missing_field");
    assert_eq!(missing.json["error"]["field"], json!("email"));
    assert_error(
        &api.inquire_json(json!({"email": "not-an-email"})).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_email",
    );
    assert_error(&api.inquire_json(json!({"email": ""})).await, StatusCode::UNPROCESSABLE_ENTITY, "invalid_email");
    let unknown = api.inquire(json_ct, json!({"form_key": "f_nope", "email": "a@b.example"}).to_string()).await;
    assert_error(&unknown, StatusCode::NOT_FOUND, "unknown_form");
    let no_form = api.inquire(json_ct, json!({"email": "a@b.example"}).to_string()).await;
    assert_error(&no_form, StatusCode::UNPROCESSABLE_ENTITY, "missing_field");
    assert_eq!(no_form.json["error"]["field"], json!("form_key"));

    let huge = format!("{{\"form_key\":\"{fk}\",\"email\":\"a@b.example\",\"message\":\"{}\"}}", "x".repeat(10 << 20));
    assert_error(&api.inquire(json_ct, huge.clone()).await, StatusCode::PAYLOAD_TOO_LARGE, "body_too_large");
    let req = api.req(Method::POST, "/v1/events", Some(&api.admin)).header(header::CONTENT_TYPE, json_ct);
    assert_error(&api.send(req.body(Body::from(huge)).unwrap()).await, StatusCode::PAYLOAD_TOO_LARGE, "body_too_large");

    let mut bad_utf8 = format!("{{\"form_key\":\"{fk}\",\"email\":\"a@b.example\",\"company\":\"").into_bytes();
    bad_utf8.extend_from_slice(&[0xff, 0xfe, 0xfd]);
    bad_utf8.extend_from_slice(b"\"}");
    assert_error(&api.inquire(json_ct, bad_utf8).await, StatusCode::BAD_REQUEST, "invalid_encoding");
    let form = format!("form_key={fk}&email=a%40b.example&company=%FF%FE");
    assert_error(
        &api.inquire("application/x-www-form-urlencoded", form).await,
        StatusCode::BAD_REQUEST,
        "invalid_encoding",
    );

    let req = api.req(Method::POST, "/v1/events", Some(&api.admin)).header(header::CONTENT_TYPE, "text/csv");
    assert_error(
        &api.send(req.body(Body::from("a,b")).unwrap()).await,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
    );
    let req = api.req(Method::POST, "/v1/events", Some(&api.admin)).header(header::CONTENT_TYPE, json_ct);
    assert_error(&api.send(req.body(Body::from("[1,2")).unwrap()).await, StatusCode::BAD_REQUEST, "invalid_json");
    let form = api.post("/v1/forms", json!({"name": "x", "colour": "red"})).await;
    assert_error(&form, StatusCode::UNPROCESSABLE_ENTITY, "invalid_field");
    assert!(form.json["error"]["message"].as_str().unwrap().contains("colour"));
    let origin = api.post("/v1/forms", json!({"name": "x", "allowed_origins": ["javascript:alert(1)"]})).await;
    assert_error(&origin, StatusCode::UNPROCESSABLE_ENTITY, "invalid_origin");
    assert_eq!(origin.json["error"]["field"], json!("allowed_origins[0]"));

    // NUL cannot be stored by PostgreSQL: refused as input on both databases, never a 500.
    let nul = api.inquire_json(json!({"email": "n@b.example", "note": "a\u{0}b"})).await;
    assert_error(&nul, StatusCode::UNPROCESSABLE_ENTITY, "invalid_value");
    let nul_event = api.post("/v1/events", json!({"email": "n@b.example", "kind": "x", "props": {"k": "\u{0}"}})).await;
    assert_error(&nul_event, StatusCode::UNPROCESSABLE_ENTITY, "invalid_value");
    assert_error(&api.get("/v1/contacts/%FF%FE").await, StatusCode::NOT_FOUND, "unknown_contact");
    assert_error(&api.get("/v1/nothing-here").await, StatusCode::NOT_FOUND, "not_found");
    let put = api.send(api.req(Method::PUT, "/v1/inquiries", None).body(Body::empty()).unwrap()).await;
    assert_error(&put, StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed");

    // Nothing half-written: only the inquiries that were valid made contacts.
    assert_eq!(api.get("/v1/contacts").await.json["contacts"].as_array().unwrap().len(), 0);
    assert_eq!(api.get("/healthz").await.status, StatusCode::OK, "the server keeps serving");
    assert_eq!(api.inquire_json(json!({"email": "ok@b.example"})).await.status, StatusCode::CREATED);
}

async fn stage_changes_need_a_reason_and_are_recorded_with_the_actor(store: Arc<dyn Store>) {
    let api = Api::new(store).await;
    let q = api.inquire_with_key(json!({"email": "ann@acme.example"})).await;
    let id = q.json["contact_id"].as_str().unwrap().to_owned();
    let uri = format!("/v1/contacts/{id}/stage");
    assert_error(&api.post(&uri, json!({"stage": "sql"})).await, StatusCode::UNPROCESSABLE_ENTITY, "reason_required");
    let nul = api.post(&uri, json!({"stage": "sql", "reason": "ok\u{0}"})).await;
    assert_error(&nul, StatusCode::UNPROCESSABLE_ENTITY, "invalid_value");
    assert_error(
        &api.post(&uri, json!({"stage": "hot", "reason": "x"})).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_stage",
    );
    assert_error(&api.post(&uri, json!({"stage": "prospect", "reason": "x"})).await, StatusCode::CONFLICT, "no_change");
    let ok = api.post(&uri, json!({"stage": "sql", "reason": "budget confirmed on call"})).await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.text);
    let c = api.contact(&json!(id)).await;
    assert_eq!(c["stage"], json!("sql"));
    let last = &c["stage_history"][1];
    assert_eq!(
        (
            last["from"].clone(),
            last["to"].clone(),
            last["cause"].clone(),
            last["detail"].clone(),
            last["actor"].clone()
        ),
        (json!("prospect"), json!("sql"), json!("manual"), json!("budget confirmed on call"), json!("api_key:ops"))
    );
    // A deal's value goes with its outcome, in minor units.
    for (bad, why) in [
        (json!({"stage": "mql", "reason": "x", "value": 500}), "a value goes only with opportunity, customer or lost"),
        (json!({"stage": "customer", "reason": "x", "value": -500}), "the value is negative"),
    ] {
        let r = api.post(&uri, bad).await;
        assert_error(&r, StatusCode::UNPROCESSABLE_ENTITY, "invalid_value");
        assert!(r.json["error"]["message"].as_str().unwrap().contains(why), "{}", r.text);
        assert_eq!(r.json["error"]["field"], json!("value"), "{}", r.text);
    }
    for not_minor_units in [json!(12.5), json!("1200"), json!(1e20)] {
        let r = api.post(&uri, json!({"stage": "customer", "reason": "x", "value": not_minor_units})).await;
        assert_error(&r, StatusCode::UNPROCESSABLE_ENTITY, "invalid_field");
        assert_eq!(r.json["error"]["field"], json!("value"), "{not_minor_units}: {}", r.text);
    }
    assert_eq!(api.contact(&json!(id)).await["stage"], json!("sql"), "nothing refused was recorded");
    let won = api.post(&uri, json!({"stage": "customer", "reason": "signed", "value": 1_250_000})).await;
    assert_eq!((won.status, won.json["value"].clone()), (StatusCode::OK, json!(1_250_000)), "{}", won.text);
    let c = api.contact(&json!(id)).await;
    assert_eq!((c["stage"].clone(), c["stage_history"][2]["value"].clone()), (json!("customer"), json!(1_250_000)));
    let missing = api
        .post("/v1/contacts/018f0000-0000-7000-8000-000000000000/stage", json!({"stage": "sql", "reason": "x"}))
        .await;
    assert_error(&missing, StatusCode::NOT_FOUND, "unknown_contact");
    assert_error(&api.get("/v1/contacts/42").await, StatusCode::NOT_FOUND, "unknown_contact");
}

async fn contacts_are_listed_with_filters_and_cursors(store: Arc<dyn Store>) {
    let api = Api::new(store).await;
    for i in 0..7 {
        let mut body = json!({"email": format!("p{i}@acme.example")});
        if i % 3 == 0 {
            body["channel"] = json!("purchased_list");
        }
        assert_eq!(api.inquire_json(body).await.status, StatusCode::CREATED);
    }
    let mut seen = Vec::new();
    let mut uri = "/v1/contacts?limit=3".to_owned();
    loop {
        let page = api.get(&uri).await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.text);
        seen.extend(page.json["contacts"].as_array().unwrap().iter().map(|c| c["email"].as_str().unwrap().to_owned()));
        match page.json["next_cursor"].as_str() {
            Some(cursor) => uri = format!("/v1/contacts?limit=3&cursor={cursor}"),
            None => break,
        }
    }
    let expected: Vec<_> = (0..7).rev().map(|i| format!("p{i}@acme.example")).collect();
    assert_eq!(seen, expected, "every contact once, newest first");
    let exact = api.get("/v1/contacts?limit=7").await;
    assert_eq!(exact.json["contacts"].as_array().unwrap().len(), 7);
    assert_eq!(exact.json["next_cursor"], Value::Null, "no cursor when nothing follows");
    let outbound = api.get("/v1/contacts?direction=outbound&channel=purchased_list").await;
    assert_eq!(outbound.json["contacts"].as_array().unwrap().len(), 3);
    let by_email = api.get("/v1/contacts?email=P3@ACME.example").await;
    assert_eq!(by_email.json["contacts"][0]["email"], json!("p3@acme.example"));
    assert_eq!(api.get("/v1/contacts?stage=customer").await.json["contacts"], json!([]));
    assert_error(&api.get("/v1/contacts?stage=hot").await, StatusCode::UNPROCESSABLE_ENTITY, "invalid_stage");
    assert_error(&api.get("/v1/contacts?limit=0").await, StatusCode::UNPROCESSABLE_ENTITY, "invalid_value");
    assert_error(&api.get("/v1/contacts?cursor=abc").await, StatusCode::UNPROCESSABLE_ENTITY, "invalid_cursor");
    assert_error(&api.get("/v1/contacts?colour=red").await, StatusCode::UNPROCESSABLE_ENTITY, "invalid_query");
}

async fn each_address_is_rate_limited(store: Arc<dyn Store>) {
    let api = Api::with(store, HttpOptions { inquiries_per_minute: 3, ..HttpOptions::default() }).await;
    for i in 0..3 {
        assert_eq!(api.inquire_json(json!({"email": format!("r{i}@acme.example")})).await.status, StatusCode::CREATED);
    }
    let limited = api.inquire_json(json!({"email": "r9@acme.example"})).await;
    assert_error(&limited, StatusCode::TOO_MANY_REQUESTS, "rate_limited");
    let retry: u64 = limited.headers[header::RETRY_AFTER].to_str().unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry), "Retry-After {retry}");
    assert_eq!(api.get("/v1/contacts?email=r9@acme.example").await.json["contacts"], json!([]), "nothing stored");
}

async fn behind_a_proxy_the_address_it_saw_is_limited_not_the_one_the_client_claims(store: Arc<dyn Store>) {
    let opts = HttpOptions { inquiries_per_minute: 2, trust_forwarded_for: true, ..HttpOptions::default() };
    let api = Api::with(store, opts).await;
    let mut statuses = Vec::new();
    for i in 0..3 {
        // The client forges a different first entry each time; the proxy appends the
        // address it really saw.
        let body = json!({"form_key": api.form_key, "email": format!("x{i}@acme.example")}).to_string();
        let req = api
            .req(Method::POST, "/v1/inquiries", None)
            .header(header::CONTENT_TYPE, "application/json")
            .header("x-forwarded-for", format!("10.0.0.{i}, 198.51.100.9"))
            .body(Body::from(body))
            .unwrap();
        statuses.push(api.send(req).await.status);
    }
    assert_eq!(statuses, [StatusCode::CREATED, StatusCode::CREATED, StatusCode::TOO_MANY_REQUESTS]);
}

async fn cors_follows_the_forms_allowed_origins(store: Arc<dyn Store>) {
    let api = Api::new(store).await;
    let form = api.post("/v1/forms", json!({"name": "site", "allowed_origins": ["https://www.acme.example/"]})).await;
    let key = form.json["key"].as_str().unwrap().to_owned();
    let post = |origin: &'static str| {
        let body = json!({"form_key": key, "email": format!("c{}@acme.example", origin.len())}).to_string();
        api.req(Method::POST, "/v1/inquiries", None)
            .header(header::CONTENT_TYPE, "application/json")
            .header(header::ORIGIN, origin)
            .body(Body::from(body))
            .unwrap()
    };
    let ok = api.send(post("https://www.acme.example")).await;
    assert_eq!(ok.status, StatusCode::CREATED, "{}", ok.text);
    assert_eq!(ok.headers[header::ACCESS_CONTROL_ALLOW_ORIGIN], "https://www.acme.example");
    let evil = api.send(post("https://evil.example")).await;
    assert_error(&evil, StatusCode::FORBIDDEN, "origin_not_allowed");
    assert!(!evil.headers.contains_key(header::ACCESS_CONTROL_ALLOW_ORIGIN));
    let pre = api
        .send(
            api.req(Method::OPTIONS, "/v1/inquiries", None)
                .header(header::ORIGIN, "https://www.acme.example")
                .header(header::ACCESS_CONTROL_REQUEST_METHOD, "POST")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(pre.status, StatusCode::NO_CONTENT);
    assert_eq!(pre.headers[header::ACCESS_CONTROL_ALLOW_ORIGIN], "https://www.acme.example");
    assert!(pre.headers[header::ACCESS_CONTROL_ALLOW_HEADERS].to_str().unwrap().contains("Content-Type"));
}

async fn the_inbox_keeps_refused_inquiries_and_replays_them(store: Arc<dyn Store>) {
    let api = Api::new(store).await;
    let bad = api.inquire_json(json!({"email": "not-an-email", "company": "Acme"})).await;
    assert_error(&bad, StatusCode::UNPROCESSABLE_ENTITY, "invalid_email");
    let good = api.inquire_json(json!({"email": "ok@acme.example"})).await;
    let rejected = api.get("/v1/inbox?status=rejected").await;
    let items = rejected.json["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{}", rejected.text);
    assert!(items[0]["error"].as_str().unwrap().contains("invalid_email"));
    let id = items[0]["id"].as_str().unwrap().to_owned();
    let stored = api.app.inbox_item(id.parse().unwrap()).await.unwrap();
    assert!(String::from_utf8(stored.body).unwrap().contains("not-an-email"), "the raw body is kept");

    let replay = api.post(&format!("/v1/inbox/{id}/replay"), json!({})).await;
    assert_error(&replay, StatusCode::UNPROCESSABLE_ENTITY, "invalid_email");
    assert_eq!(api.get("/v1/inbox?status=rejected").await.json["items"][0]["attempts"], json!(2));

    let processed = api.get("/v1/inbox?status=processed").await;
    let item = &processed.json["items"][0];
    assert_eq!(item["id"], good.json["receipt"], "the receipt names the inbox item");
    let again = api.post(&format!("/v1/inbox/{}/replay", item["id"].as_str().unwrap()), json!({})).await;
    assert_error(&again, StatusCode::CONFLICT, "already_processed");
    assert_error(&api.get("/v1/inbox?status=lost").await, StatusCode::UNPROCESSABLE_ENTITY, "invalid_value");
}

async fn the_start_page_health_and_metrics_answer(store: Arc<dyn Store>) {
    let api = Api::new(store).await;
    api.inquire_json(json!({"email": "ann@acme.example"})).await;
    let anonymous = |uri: &str| api.req(Method::GET, uri, None).body(Body::empty()).unwrap();
    let page = api.send(anonymous("/")).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.text.contains("/v1/api.md") && page.text.contains("id=\"database\""), "{}", page.text);
    assert!(!page.text.contains("ann@acme.example"));
    assert_error(&api.send(anonymous("/metrics")).await, StatusCode::UNAUTHORIZED, "unauthenticated");
    assert_error(&api.send(anonymous("/v1/stats")).await, StatusCode::UNAUTHORIZED, "unauthenticated");
    let stats = api.get("/v1/stats").await;
    assert_eq!(stats.json["totals"]["contacts"], json!(1), "{}", stats.text);
    assert_eq!(stats.json["totals"]["accounts"], json!(1));
    let ready = api.get("/readyz").await;
    assert_eq!(ready.json["status"], json!("ready"));
    let metrics = api.get("/metrics").await;
    assert!(metrics.text.contains("leadgate_inquiries_total{outcome=\"created\"} 1"), "{}", metrics.text);
    assert!(
        metrics.text.contains("leadgate_http_requests_total{method=\"POST\",route=\"/v1/inquiries\",status=\"201\"} 1")
    );
    let doc = api.get("/v1/api.md").await;
    assert!(doc.text.contains("POST /v1/inquiries"), "the API description is served");

    // A database that does not answer: 503, and when to try again.
    api.app.close().await;
    let down = api.send(anonymous("/readyz")).await;
    assert_error(&down, StatusCode::SERVICE_UNAVAILABLE, "unavailable");
    assert_eq!(down.headers.get(header::RETRY_AFTER).map(|v| v.to_str().unwrap()), Some("1"));
    let down = api.get("/v1/stats").await;
    assert_error(&down, StatusCode::SERVICE_UNAVAILABLE, "unavailable");
    assert_eq!(down.headers.get(header::RETRY_AFTER).map(|v| v.to_str().unwrap()), Some("1"));
    assert_eq!(api.send(anonymous("/healthz")).await.status, StatusCode::OK, "the process still answers");
}

const HUBSPOT_CSV: &str = "Record ID,First Name,Last Name,Email,Create Date,Original Traffic Source\n\
    1,Ann,Lee,ann@acme.example,2024-01-05 10:00,Organic Search\n\
    2,Bob,Ray,bob@initech.example,2024-01-06 10:00,Paid Search\n\
    3,Cy,Day,not-an-email,2024-01-07 10:00,Paid Search\n";

async fn an_uploaded_csv_is_imported_in_the_background_and_its_job_reports_it(store: Arc<dyn Store>) {
    let api = Api::new(store).await;
    let admin = api.admin.clone();
    let r = api.upload("/v1/imports?preset=hubspot&file_name=contacts.csv", &admin, "text/csv", HUBSPOT_CSV).await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.text);
    assert_eq!(r.headers[header::LOCATION], format!("/v1/imports/{}", r.json["id"].as_str().unwrap()));
    let job = api.finished(&r.json["id"]).await;
    assert_eq!(job["status"], json!("finished"), "{job}");
    assert_eq!(
        (job["rows"].clone(), job["contacts_created"].clone(), job["rows_failed"].clone()),
        (json!(3), json!(2), json!(1))
    );
    assert_eq!(job["errors"][0]["row"], json!(4));
    assert_eq!(job["errors"][0]["code"], json!("invalid_email"));
    assert_eq!((job["file_name"].clone(), job["mapping"].clone()), (json!("contacts.csv"), json!("preset hubspot")));
    let found = api.get("/v1/contacts?external_id=2").await;
    assert_eq!(found.json["contacts"][0]["email"], json!("bob@initech.example"), "{}", found.text);

    // A form with the mapping as TOML, as a dry run: counted, not written.
    let mapping = "[contact]\nemail = \"mail\"\nfirst_name = \"name\"\n";
    let (ct, body) = multipart(&[
        ("mapping", None, mapping),
        ("dry_run", None, "true"),
        ("file", Some("people.csv"), "mail,name\ncy@acme.example,Cy\ndee@acme.example,Dee\n"),
    ]);
    let r = api.upload("/v1/imports", &admin, &ct, body).await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.text);
    let job = api.finished(&r.json["id"]).await;
    assert_eq!(
        (job["status"].clone(), job["dry_run"].clone(), job["contacts_created"].clone()),
        (json!("finished"), json!(true), json!(2))
    );
    assert_eq!(job["file_name"], json!("people.csv"));
    assert_eq!(api.get("/v1/contacts?email=cy@acme.example").await.json["contacts"], json!([]));
    let list = api.get("/v1/imports").await;
    assert_eq!(list.json["imports"].as_array().unwrap().len(), 2);
}

async fn bad_uploads_are_refused_before_anything_is_written(store: Arc<dyn Store>) {
    let api = Api::new(store.clone()).await;
    let admin = api.admin.clone();
    let csv = "text/csv";
    assert_error(
        &api.upload("/v1/imports", &admin, csv, HUBSPOT_CSV).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "missing_mapping",
    );
    assert_error(
        &api.upload("/v1/imports?preset=pipedrive", &admin, csv, HUBSPOT_CSV).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "unknown_preset",
    );
    assert_error(
        &api.upload("/v1/imports?mapping=%5Bcontact%5D%0Aname%3D1", &admin, csv, HUBSPOT_CSV).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_mapping",
    );
    assert_error(
        &api.upload("/v1/imports?preset=hubspot", &admin, csv, "").await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "empty_file",
    );
    assert_error(
        &api.upload("/v1/imports?preset=hubspot", &admin, csv, b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR".to_vec()).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "not_csv",
    );
    let wrong = "[contact]\nemail = \"E-mail\"\n";
    let (ct, body) = multipart(&[("mapping", None, wrong), ("file", Some("x.csv"), "mail\na@b.example\n")]);
    let r = api.upload("/v1/imports", &admin, &ct, body).await;
    assert_error(&r, StatusCode::UNPROCESSABLE_ENTITY, "mapping_mismatch");
    assert!(r.json["error"]["message"].as_str().unwrap().contains("E-mail"), "{}", r.text);
    let (ct, body) = multipart(&[("mapping", None, wrong)]);
    assert_error(&api.upload("/v1/imports", &admin, &ct, body).await, StatusCode::UNPROCESSABLE_ENTITY, "missing_file");
    let (ct, body) = multipart(&[("script", None, "x"), ("file", Some("x.csv"), "a\n")]);
    assert_error(
        &api.upload("/v1/imports", &admin, &ct, body).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "unknown_field",
    );
    assert_error(
        &api.upload("/v1/imports", &admin, "multipart/form-data; boundary=x", "--x\r\nbroken").await,
        StatusCode::BAD_REQUEST,
        "invalid_body",
    );
    assert_error(
        &api.upload("/v1/imports?preset=hubspot", &admin, "application/json", "{}").await,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
    );
    assert_error(
        &api.upload("/v1/imports?preset=hubspot&wat=1", &admin, csv, HUBSPOT_CSV).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_query",
    );
    let sales = api.app.create_api_key("rep", Role::Sales).await.unwrap().secret;
    assert_error(
        &api.upload("/v1/imports?preset=hubspot", &sales, csv, HUBSPOT_CSV).await,
        StatusCode::FORBIDDEN,
        "forbidden",
    );
    assert_error(&api.get("/v1/imports/not-an-id").await, StatusCode::NOT_FOUND, "unknown_import");
    assert_error(
        &api.get(&format!("/v1/imports/{}", uuid::Uuid::now_v7())).await,
        StatusCode::NOT_FOUND,
        "unknown_import",
    );
    assert_eq!(store.totals().await.unwrap().contacts, 0);
    assert_eq!(api.get("/v1/imports").await.json["imports"], json!([]), "refused files leave no job");
}

async fn exports_stream_csv_and_json_lines(store: Arc<dyn Store>) {
    let api = Api::new(store).await;
    api.inquire_json(json!({"email": "ann@acme.example", "first_name": "<b>Ann</b>"})).await;
    let r = api.get("/v1/exports/contacts.csv").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert!(r.headers[header::CONTENT_TYPE].to_str().unwrap().starts_with("text/csv"));
    let mut lines = r.text.lines();
    assert!(lines.next().unwrap().starts_with("id,email,first_name"));
    assert!(lines.next().unwrap().contains(",ann@acme.example,<b>Ann</b>,"), "{}", r.text);
    let r = api.get("/v1/exports/responses?format=jsonl").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let first: Value = serde_json::from_str(r.text.lines().next().unwrap()).unwrap();
    assert_eq!((first["email"].clone(), first["action"].clone()), (json!("ann@acme.example"), json!("form_fill")));
    let r = api.get("/v1/exports/stage_changes.csv").await;
    assert!(r.text.lines().nth(1).unwrap().contains(",prospect,"), "{}", r.text);
    assert_error(&api.get("/v1/exports/passwords.csv").await, StatusCode::NOT_FOUND, "unknown_export");
    assert_error(&api.get("/v1/exports/contacts.xlsx").await, StatusCode::UNPROCESSABLE_ENTITY, "invalid_value");
    assert_error(
        &api.get("/v1/exports/contacts.csv?format=jsonl").await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_value",
    );
    let sales = api.app.create_api_key("rep", Role::Sales).await.unwrap().secret;
    let r = api.send(api.req(Method::GET, "/v1/exports/contacts.csv", Some(&sales)).body(Body::empty()).unwrap()).await;
    assert_error(&r, StatusCode::FORBIDDEN, "forbidden");
}

async fn duplicates_are_merged_and_unmerged_over_the_api(store: Arc<dyn Store>) {
    let api = Api::new(store).await;
    let a = api.inquire_with_key(json!({"email": "john.smith@initech.example", "first_name": "John"})).await;
    let b = api.inquire_with_key(json!({"email": "jsmith@initech.example", "last_name": "Smith"})).await;
    let (a, b) = (a.json["contact_id"].clone(), b.json["contact_id"].clone());
    let dups = api.get("/v1/duplicates").await;
    assert_eq!(dups.status, StatusCode::OK, "{}", dups.text);
    assert_eq!(dups.json["total"], json!(1));
    assert_eq!(dups.json["pairs"][0]["reasons"], json!(["similar_email"]));
    assert_error(&api.get("/v1/duplicates?reason=hunch").await, StatusCode::UNPROCESSABLE_ENTITY, "invalid_value");
    assert_error(&api.get("/v1/duplicates?limit=-1").await, StatusCode::UNPROCESSABLE_ENTITY, "invalid_query");

    let merge_uri = format!("/v1/contacts/{}/merge", a.as_str().unwrap());
    assert_error(&api.post(&merge_uri, json!({"other": b})).await, StatusCode::UNPROCESSABLE_ENTITY, "invalid_field");
    assert_error(
        &api.post(&merge_uri, json!({"other_id": "nope"})).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_field",
    );
    assert_error(&api.post(&merge_uri, json!({"other_id": a})).await, StatusCode::UNPROCESSABLE_ENTITY, "same_contact");
    let readonly = api.app.create_api_key("viewer", Role::Readonly).await.unwrap().secret;
    assert_error(&api.post_as(&merge_uri, &readonly, json!({"other_id": b})).await, StatusCode::FORBIDDEN, "forbidden");
    let merged = api.post(&merge_uri, json!({"other_id": b})).await;
    assert_eq!(merged.status, StatusCode::CREATED, "{}", merged.text);
    assert_eq!(merged.json["contact"]["last_name"], json!("Smith"));
    assert_eq!(merged.json["merge"]["moved"]["responses"], json!(1));
    let gone = api.contact(&b).await;
    assert_eq!(gone["merged_into"], a, "{gone}");
    assert_eq!(api.contact(&a).await["responses"].as_array().unwrap().len(), 2);
    assert_eq!(api.get("/v1/duplicates").await.json["total"], json!(0));
    assert_error(&api.post(&merge_uri, json!({"other_id": b})).await, StatusCode::CONFLICT, "already_merged");

    let merge_id = merged.json["merge"]["id"].as_str().unwrap();
    assert_eq!(api.get(&format!("/v1/merges/{merge_id}")).await.json["other_id"], b);
    let undo = api.post(&format!("/v1/merges/{merge_id}/undo"), json!({})).await;
    assert_eq!(undo.status, StatusCode::OK, "{}", undo.text);
    assert!(undo.json["undone_at"].is_string());
    assert_eq!(api.contact(&a).await["responses"].as_array().unwrap().len(), 1);
    assert_eq!(api.contact(&b).await["merged_into"], Value::Null);
    assert_error(
        &api.post(&format!("/v1/merges/{merge_id}/undo"), json!({})).await,
        StatusCode::CONFLICT,
        "already_undone",
    );
    assert_error(&api.post("/v1/merges/bogus/undo", json!({})).await, StatusCode::NOT_FOUND, "unknown_merge");
}

const SCORING: &str = "[[fit]]\nname = \"director\"\nwhen = \"contact.title.contains('Director')\"\npoints = 20\n\n\
[[engagement]]\nname = \"downloads\"\nwhen = \"activity.kind == 'download'\"\npoints = 5\n";

async fn scoring_models_and_definitions_are_managed_over_the_api(store: Arc<dyn Store>) {
    let api = Api::new(store).await;
    let admin = api.admin.clone();
    let saved = api.put_text("/v1/scoring/default", &admin, "application/toml", SCORING).await;
    assert_eq!(saved.status, StatusCode::CREATED, "{}", saved.text);
    assert_eq!((saved.json["version"].clone(), saved.json["active"].clone()), (json!(1), json!(true)));
    // The same model as JSON is version 2.
    let as_json = json!({"half_life_days": 14, "fit": [{"name": "director", "when": "contact.title.contains('Director')", "points": 25}]});
    let v2 = api.put("/v1/scoring/default", as_json).await;
    assert_eq!((v2.status, v2.json["version"].clone()), (StatusCode::CREATED, json!(2)), "{}", v2.text);
    let one = api.get("/v1/scoring/default?version=1").await;
    assert_eq!(one.json["source"], SCORING, "the model is kept as it was written");
    let list = api.get("/v1/scoring").await;
    assert_eq!(
        (list.json["active"]["target"].clone(), list.json["active"]["version"].clone()),
        (json!("default"), json!(2))
    );

    // An inquiry from a director: scored in the request path.
    let r = api.inquire_with_key(json!({"email": "dee@acme.example", "title": "Director of Sales"})).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let contact = api.contact(&r.json["contact_id"]).await;
    assert_eq!(contact["scores"]["fit"], 25);
    assert_eq!(contact["scores"]["model"], "default@2");
    assert_eq!(contact["scores"]["factors"][0]["rule"], "director");
    assert_eq!(contact["scores"]["likelihood"], Value::Null);
    assert!(["tofu", "mofu", "bofu"].contains(&contact["funnel_position"].as_str().unwrap()));
    assert!(contact["pain_reason"].as_str().is_some_and(|r| !r.is_empty()));

    // Sales writes the definition; it qualifies once activated.
    let sales = api.app.create_api_key("sales-lead", Role::Sales).await.unwrap().secret;
    let def = json!({"expression": "scores.fit >= 20", "kind": "mql", "note": "directors qualify"});
    let put = api.put_text("/v1/definitions/marketing", &sales, "application/json", &def.to_string()).await;
    assert_eq!(put.status, StatusCode::CREATED, "{}", put.text);
    assert_eq!((put.json["version"].clone(), put.json["author"].clone()), (json!(1), json!("api_key:sales-lead")));
    let activated = api.post_as("/v1/definitions/marketing/activate", &sales, json!({})).await;
    assert_eq!(activated.status, StatusCode::OK, "{}", activated.text);
    let r = api.inquire_with_key(json!({"email": "dan@acme.example", "title": "Director of IT"})).await;
    assert_eq!(r.json["stage"], "mql", "qualified as it arrived: {}", r.text);
    let contact = api.contact(&r.json["contact_id"]).await;
    let last = contact["stage_history"].as_array().unwrap().last().unwrap().clone();
    assert_eq!((last["cause"].clone(), last["detail"].clone()), (json!("definition"), json!("marketing@1")));
    let listed = api.get("/v1/definitions").await;
    assert_eq!(listed.json["definitions"][0]["active_version"], 1);
    let versions = api.get("/v1/definitions/marketing").await;
    assert_eq!(versions.json["versions"][0]["note"], "directors qualify");
    let off = api.post_as("/v1/definitions/marketing/deactivate", &sales, json!({})).await;
    assert_eq!(off.status, StatusCode::NO_CONTENT);

    // Qualification fields, recorded by Sales.
    let id = r.json["contact_id"].as_str().unwrap().to_owned();
    let q = api
        .put_text(
            &format!("/v1/contacts/{id}/qualification"),
            &sales,
            "application/json",
            r#"{"budget": "confirmed", "timeline": "Q3"}"#,
        )
        .await;
    assert_eq!((q.status, q.json["budget"].clone()), (StatusCode::OK, json!("confirmed")), "{}", q.text);
    assert_eq!(api.contact(&json!(id)).await["qualification"]["timeline"], "Q3");

    // Who may do what: Sales may not change scoring, read-only keys only read.
    let put = api.put_text("/v1/scoring/default", &sales, "application/toml", SCORING).await;
    assert_error(&put, StatusCode::FORBIDDEN, "forbidden");
    let readonly = api.app.create_api_key("viewer", Role::Readonly).await.unwrap().secret;
    let put = api.put_text("/v1/definitions/x", &readonly, "application/json", &def.to_string()).await;
    assert_error(&put, StatusCode::FORBIDDEN, "forbidden");
    let q = api.put_text(&format!("/v1/contacts/{id}/qualification"), &readonly, "application/json", "{}").await;
    assert_error(&q, StatusCode::FORBIDDEN, "forbidden");
    let read = api.send(api.req(Method::GET, "/v1/definitions", Some(&readonly)).body(Body::empty()).unwrap()).await;
    assert_eq!(read.status, StatusCode::OK);
    let none = api.send(api.req(Method::GET, "/v1/scoring", None).body(Body::empty()).unwrap()).await;
    assert_error(&none, StatusCode::UNAUTHORIZED, "unauthenticated");
}

async fn bad_models_definitions_and_qualification_are_refused_over_the_api(store: Arc<dyn Store>) {
    let api = Api::new(store).await;
    let admin = api.admin.clone();
    let typo = SCORING.replace("activity.kind", "activity.knid");
    let r = api.put_text("/v1/scoring/default", &admin, "application/toml", &typo).await;
    assert_error(&r, StatusCode::UNPROCESSABLE_ENTITY, "invalid_model");
    assert_eq!(r.json["error"]["field"], "engagement[0].when");
    assert_eq!((r.json["error"]["line"].clone(), r.json["error"]["column"].clone()), (json!(1), json!(9)));
    assert!(r.json["error"]["message"].as_str().unwrap().contains("did you mean `kind`?"), "{}", r.text);
    let cases = [
        ("text/csv", SCORING.to_owned(), StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type"),
        ("application/json", "[1, 2]".to_owned(), StatusCode::BAD_REQUEST, "invalid_json"),
        ("application/toml", "[[fit]\nname = ".to_owned(), StatusCode::UNPROCESSABLE_ENTITY, "invalid_model"),
        ("application/toml", format!("{SCORING}\ncolour = \"red\"\n"), StatusCode::UNPROCESSABLE_ENTITY, "invalid_model"),
        ("application/toml", "[[fit]]\nname = \"x\"\nwhen = \"responses.exists(a, responses.exists(b, responses.exists(c, true)))\"\npoints = 1\n".to_owned(), StatusCode::UNPROCESSABLE_ENTITY, "invalid_model"),
    ];
    for (ct, body, status, code) in cases {
        assert_error(&api.put_text("/v1/scoring/default", &admin, ct, &body).await, status, code);
    }
    let bytes = api.put_text("/v1/scoring/default", &admin, "application/toml", &"#".repeat(300 * 1024)).await;
    assert_eq!(bytes.status, StatusCode::PAYLOAD_TOO_LARGE, "{}", bytes.text);
    assert_error(
        &api.put_text("/v1/scoring/Not%20A%20Name", &admin, "application/toml", SCORING).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_name",
    );
    assert_eq!(api.get("/v1/scoring").await.json["models"], json!([]), "nothing was saved");
    assert_error(&api.get("/v1/scoring/default").await, StatusCode::NOT_FOUND, "unknown_model");
    assert_error(&api.get("/v1/scoring/default?version=x").await, StatusCode::UNPROCESSABLE_ENTITY, "invalid_query");

    let r = api.put("/v1/definitions/marketing", json!({"expression": "contact.stage == ", "kind": "mql"})).await;
    assert_error(&r, StatusCode::UNPROCESSABLE_ENTITY, "invalid_expression");
    assert_eq!((r.json["error"]["field"].clone(), r.json["error"]["line"].clone()), (json!("expression"), json!(1)));
    assert_error(
        &api.put("/v1/definitions/marketing", json!({"expression": "true", "kind": "lead"})).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_kind",
    );
    assert_error(
        &api.put("/v1/definitions/marketing", json!({"expression": "true", "kind": "mql", "owner": "me"})).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_field",
    );
    assert_error(
        &api.put("/v1/definitions/marketing", json!({"kind": "mql"})).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_field",
    );
    assert_error(
        &api.put("/v1/definitions/marketing", json!({"expression": "true", "kind": "mql", "note": "n".repeat(2001)}))
            .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_note",
    );
    assert_error(
        &api.post("/v1/definitions/marketing/activate", json!({})).await,
        StatusCode::NOT_FOUND,
        "unknown_definition",
    );
    assert_eq!(api.get("/v1/definitions").await.json["definitions"], json!([]));
    api.put("/v1/definitions/marketing", json!({"expression": "true", "kind": "mql"})).await;
    assert_error(
        &api.post("/v1/definitions/marketing/activate", json!({"version": 7})).await,
        StatusCode::NOT_FOUND,
        "unknown_definition",
    );
    assert_error(
        &api.post("/v1/definitions/marketing/activate", json!({"version": "1"})).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_field",
    );
    assert_error(
        &api.post("/v1/definitions/marketing/deactivate", json!({})).await,
        StatusCode::CONFLICT,
        "not_active",
    );

    let r = api.inquire_with_key(json!({"email": "q@acme.example"})).await;
    let id = r.json["contact_id"].as_str().unwrap().to_owned();
    let uri = format!("/v1/contacts/{id}/qualification");
    assert_error(&api.put(&uri, json!({"budget": 5})).await, StatusCode::UNPROCESSABLE_ENTITY, "invalid_field");
    assert_error(&api.put(&uri, json!({"bugdet": "yes"})).await, StatusCode::UNPROCESSABLE_ENTITY, "invalid_field");
    assert_error(
        &api.put(&uri, json!({"need": "x".repeat(300)})).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_value",
    );
    assert_error(&api.put(&uri, json!({"need": "a\u{7}b"})).await, StatusCode::UNPROCESSABLE_ENTITY, "invalid_value");
    assert_error(
        &api.put("/v1/contacts/nope/qualification", json!({})).await,
        StatusCode::NOT_FOUND,
        "unknown_contact",
    );
    assert_eq!(
        api.contact(&json!(id)).await["qualification"],
        json!({"budget": null, "authority": null, "need": null, "timeline": null})
    );
}

async fn the_likelihood_model_is_trained_over_the_api(store: Arc<dyn Store>) {
    let api = Api::new(store).await;
    assert_error(&api.get("/v1/likelihood").await, StatusCode::NOT_FOUND, "no_model");
    assert_error(&api.post("/v1/likelihood/train", json!({})).await, StatusCode::UNPROCESSABLE_ENTITY, "no_outcomes");

    // Forty contacts of 2024, the `pro` half of whom became customers.
    let mut csv = String::from("email,created,plan,won\n");
    for i in 0..40 {
        let (plan, won) = if i % 2 == 0 { ("pro", "2024-03-01") } else { ("free", "") };
        csv += &format!("p{i}@example.com,2024-01-05,{plan},{won}\n");
    }
    let mapping = leadgate_core::import::Mapping::from_toml(
        "[contact]\nemail = \"email\"\n[contact.custom]\nplan = \"plan\"\n[response]\nat = \"created\"\n\
         action = { value = \"form_fill\" }\n[[stage]]\nstage = { value = \"customer\" }\nat = \"won\"\n",
    )
    .unwrap();
    api.app
        .import_csv(
            std::io::Cursor::new(csv.into_bytes()),
            &mapping,
            Default::default(),
            &leadgate_core::Actor::Operator,
            &(),
        )
        .await
        .unwrap();

    for (body, field) in [
        (json!({"target": "banana"}), "target"),
        (json!({"horizon_days": -1}), "horizon_days"),
        (json!({"horizon_days": 36_500}), "horizon_days"),
        (json!({"budget": 9}), "budget"),
        (json!({"budget": 0}), "budget"),
        (json!({"exclude": ["*"]}), "."),
        (json!({"target": "opportunity", "horizon_days": 1}), "."),
        (json!({"exclude": "custom.plan"}), "exclude"),
        (json!({"exclude": ["Plan"]}), "exclude"),
        (json!({"excluded": []}), "."),
    ] {
        let r = api.post("/v1/likelihood/train", body.clone()).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{body}: {}", r.text);
        if field != "." {
            assert_eq!(r.json["error"]["field"], field, "{body}: {}", r.text);
        }
    }
    let garbled = api
        .send(
            api.req(Method::POST, "/v1/likelihood/train", Some(&api.admin))
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from("{\"target\":"))
                .unwrap(),
        )
        .await;
    assert_eq!(garbled.status, StatusCode::BAD_REQUEST, "{}", garbled.text);
    let unmatched = api.post("/v1/likelihood/train", json!({"exclude": ["Plan"]})).await;
    let message = unmatched.json["error"]["message"].as_str().unwrap_or_default();
    assert!(message.contains(r#""Plan" (did you mean custom.plan?)"#), "{}", unmatched.text);
    let sales = api.app.create_api_key("rep", Role::Sales).await.unwrap().secret;
    assert_error(&api.post_as("/v1/likelihood/train", &sales, json!({})).await, StatusCode::FORBIDDEN, "forbidden");
    let anonymous = api.send(api.req(Method::POST, "/v1/likelihood/train", None).body(Body::empty()).unwrap()).await;
    assert_error(&anonymous, StatusCode::UNAUTHORIZED, "unauthenticated");
    assert_error(&api.get("/v1/likelihood").await, StatusCode::NOT_FOUND, "no_model");

    // An empty body trains with every default.
    let trained =
        api.send(api.req(Method::POST, "/v1/likelihood/train", Some(&api.admin)).body(Body::empty()).unwrap()).await;
    assert_eq!(trained.status, StatusCode::OK, "{}", trained.text);
    assert_eq!(trained.json["model"]["version"], 1);
    assert_eq!(trained.json["model"]["options"]["target"], "customer");
    assert_eq!(
        (
            trained.json["model"]["evaluation"]["positives"].clone(),
            trained.json["model"]["evaluation"]["negatives"].clone()
        ),
        (json!(20), json!(20))
    );
    let now = api.get("/v1/likelihood").await;
    assert_eq!((now.status, now.json["version"].clone()), (StatusCode::OK, json!(1)));
    // Its reliability table: ten deciles of the 40 contacts learned from, a pro half that
    // bought and a free half that did not, each about as likely as it turned out.
    let table = now.json["evaluation"]["reliability"].as_array().expect("a reliability table").clone();
    assert_eq!(table.iter().map(|b| b["contacts"].as_u64().unwrap()).collect::<Vec<_>>(), vec![4; 10], "{table:?}");
    for bin in &table {
        let (predicted, rate) = (bin["mean_predicted"].as_f64().unwrap(), bin["observed_rate"].as_f64().unwrap());
        assert!((predicted - rate).abs() < 0.05, "{table:?}");
    }
    let page = api.get("/v1/contacts?limit=1").await;
    let contact = api.contact(&page.json["contacts"][0]["id"]).await;
    let p = contact["scores"]["likelihood"].as_f64().expect("a likelihood once trained");
    assert!((0.0..=1.0).contains(&p), "{contact}");
    assert_eq!(contact["scores"]["likelihood_model"], "likelihood@1", "{contact}");
    assert_eq!(contact["scores"]["model"], "builtin@0", "{contact}");
}
