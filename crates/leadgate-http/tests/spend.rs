//! Spend and the cost report over the API, on both databases: a marketer records what
//! each channel cost, as JSON and as a CSV file, and reads what each stage's contacts
//! cost and what the won ones brought back; mistakes are refused whole and clearly.

mod support;

use axum::http::{Method, StatusCode};
use leadgate_core::Role;
use leadgate_core::Timestamp;
use leadgate_core::time::MICROS_PER_DAY;
use leadgate_store::Store;
use serde_json::{Value, json};
use std::sync::Arc;
use support::{Api, assert_error};

leadgate_store::on_both_stores!(
    cost_per_stage_and_return_on_spend_come_from_spend_and_deal_values,
    spend_in_another_currency_is_converted_at_its_rate_and_the_currency_holds_while_used,
    wrong_spend_is_refused_whole_naming_the_entry_and_field,
    concurrent_spend_and_a_change_of_currency_never_mix_currencies,
);

/// This day's midnight (UTC), and days after it, as dates the API reads.
fn day(after: i64) -> String {
    let micros = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_micros() as i64;
    Timestamp((micros / MICROS_PER_DAY + after) * MICROS_PER_DAY).to_rfc3339()
}

/// Three contacts from paid search (one won for 9,000.00), one from a webinar.
async fn contacts(api: &Api) {
    let mut ids = Vec::new();
    for (email, channel) in [
        ("ann@acme.example", "paid_search"),
        ("bob@bigco.example", "paid_search"),
        ("cat@corp.example", "paid_search"),
        ("dan@dyn.example", "webinar"),
    ] {
        let r = api.inquire_with_key(json!({"email": email, "source": {"channel": channel}})).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
        ids.push(r.json["contact_id"].as_str().unwrap().to_owned());
    }
    for (stage, value) in [("mql", None), ("opportunity", Some(900_000)), ("customer", Some(900_000))] {
        let r = api
            .post(&format!("/v1/contacts/{}/stage", ids[0]), json!({"stage": stage, "reason": "call", "value": value}))
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    }
}

fn group<'a>(report: &'a Value, channel: &str) -> &'a Value {
    report["groups"].as_array().unwrap().iter().find(|g| g["group"]["channel"] == json!(channel)).unwrap()
}

fn stage<'a>(group: &'a Value, name: &str) -> &'a Value {
    group["stages"].as_array().unwrap().iter().find(|s| s["stage"] == json!(name)).unwrap()
}

async fn cost_per_stage_and_return_on_spend_come_from_spend_and_deal_values(store: Arc<dyn Store>) {
    let api = Api::new(store).await;
    contacts(&api).await;
    let marketing = api.key(Role::Marketing).await;
    let one = json!({"amount": 300_000, "from": day(0), "to": day(10), "channel": "Paid Search"});
    let r = api.post_as("/v1/spend", &marketing, one).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    assert_eq!(r.json["entries"][0]["channel"], json!("paid_search"), "named as contacts' channels are");
    assert_eq!(r.json["entries"][0]["direction"], json!("inbound"), "as the channel implies");
    // A file writes money as import files do: 500.00, not cents.
    let file = format!("from,to,channel,amount,note\n{},{},webinar,500.00,\"Spring, webinar\"\n", day(0), day(10));
    let r = api.upload("/v1/spend", &marketing, "text/csv", file).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    assert_eq!(
        (r.json["entries"][0]["note"].clone(), r.json["entries"][0]["amount"].clone()),
        (json!("Spring, webinar"), json!(50_000))
    );

    let readonly = api.key(Role::Readonly).await;
    let r = api.get_as("/v1/reports/cost?group_by=channel", &readonly).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let c = r.json;
    assert_eq!(c["currency"], json!("USD"), "the default currency");
    let paid = group(&c, "paid_search");
    assert_eq!((paid["spend"].clone(), paid["value_won"].clone()), (json!(300_000), json!(900_000)));
    assert_eq!(paid["return_on_spend"], json!(3.0));
    assert_eq!(stage(paid, "prospect")["cost_per"], json!(100_000), "300,000 over three inquiries");
    assert_eq!(stage(paid, "customer")["cost_per"], json!(300_000));
    assert_eq!(stage(paid, "sal")["count"], json!(1), "a skipped stage counts as passed");
    let webinar = group(&c, "webinar");
    assert_eq!((webinar["spend"].clone(), webinar["return_on_spend"].clone()), (json!(50_000), json!(0.0)));
    assert_eq!(stage(webinar, "mql")["cost_per"], Value::Null, "no contact reached it: no cost, not a division by 0");
    assert_eq!(c["totals"]["spend"], json!(350_000));
    assert_eq!(stage(&c["totals"], "prospect")["cost_per"], json!(87_500));

    // A day of a ten-day entry counts a tenth of it.
    let r = api.get(&format!("/v1/reports/cost?from={}&to={}", day(0), day(1))).await;
    assert_eq!(r.json["totals"]["spend"], json!(35_000), "{}", r.text);
    let r = api.get(&format!("/v1/reports/cost?from={}", day(20))).await;
    assert_eq!(
        (r.json["totals"]["spend"].clone(), r.json["totals"]["return_on_spend"].clone()),
        (json!(0), Value::Null)
    );

    let csv = api.get("/v1/reports/cost?group_by=channel&format=csv").await;
    assert_eq!(csv.status, StatusCode::OK);
    let mut lines = csv.text.lines();
    assert_eq!(lines.next(), Some("scope,channel,stage,count,cost_per,spend,value_won,return_on_spend,currency"));
    assert!(csv.text.contains("\ngroup,paid_search,customer,1,300000,300000,900000,3,USD\n"), "{}", csv.text);
    assert!(csv.text.contains("\ntotal,,prospect,4,87500,350000,900000,"), "{}", csv.text);

    let list = api.get_as("/v1/spend?limit=1", &readonly).await;
    assert_eq!(list.status, StatusCode::OK, "{}", list.text);
    assert_eq!(list.json["entries"].as_array().unwrap().len(), 1);
    let next = list.json["next_after"].as_str().unwrap();
    let rest = api.get(&format!("/v1/spend?after={next}")).await;
    assert_eq!(
        (rest.json["entries"][0]["channel"].clone(), rest.json["next_after"].clone()),
        (json!("webinar"), Value::Null)
    );
    // Readers read spend; they do not record it.
    let refused = api.post_as("/v1/spend", &readonly, json!({"amount": 1, "month": "2026-01"})).await;
    assert_error(&refused, StatusCode::FORBIDDEN, "forbidden");
}

async fn spend_in_another_currency_is_converted_at_its_rate_and_the_currency_holds_while_used(store: Arc<dyn Store>) {
    let api = Api::new(store).await;
    assert_eq!(api.get("/v1/settings").await.json["currency"], json!("USD"));
    let marketing = api.key(Role::Marketing).await;
    let r = api.json_as(Method::PATCH, "/v1/settings", &marketing, json!({"currency": "EUR"})).await;
    assert_error(&r, StatusCode::FORBIDDEN, "forbidden");
    let r = api.json_as(Method::PATCH, "/v1/settings", &api.admin.clone(), json!({"currency": "eur"})).await;
    assert_eq!((r.status, r.json["currency"].clone()), (StatusCode::OK, json!("EUR")), "{}", r.text);

    let usd = json!({"amount": 10_000, "currency": "USD", "month": "2026-03", "channel": "display"});
    let r = api.post("/v1/spend", usd.clone()).await;
    assert_error(&r, StatusCode::UNPROCESSABLE_ENTITY, "currency_mismatch");
    assert_eq!(r.json["error"]["field"], json!("currency"));
    assert!(r.json["error"]["message"].as_str().unwrap().contains("rate"), "{}", r.text);
    let mut with_rate = usd;
    with_rate["rate"] = json!(0.92);
    let r = api.post("/v1/spend", with_rate).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let entry = &r.json["entries"][0];
    assert_eq!(
        (entry["amount"].clone(), entry["amount_given"].clone(), entry["currency_given"].clone()),
        (json!(9_200), json!(10_000), json!("USD"))
    );
    assert_eq!(
        (entry["from"].clone(), entry["to"].clone()),
        (json!("2026-03-01T00:00:00Z"), json!("2026-04-01T00:00:00Z"))
    );
    assert_eq!(api.get("/v1/reports/cost").await.json["totals"]["spend"], json!(9_200));

    let r = api.json_as(Method::PATCH, "/v1/settings", &api.admin.clone(), json!({"currency": "GBP"})).await;
    assert_error(&r, StatusCode::CONFLICT, "currency_in_use");
    assert_eq!(api.get("/v1/settings").await.json["currency"], json!("EUR"), "unchanged");
    let id = entry["id"].as_str().unwrap();
    let deleted = api.json_as(Method::DELETE, &format!("/v1/spend/{id}"), &marketing, Value::Null).await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT, "{}", deleted.text);
    let again = api.json_as(Method::DELETE, &format!("/v1/spend/{id}"), &marketing, Value::Null).await;
    assert_error(&again, StatusCode::NOT_FOUND, "unknown_spend");
    let r = api.json_as(Method::PATCH, "/v1/settings", &api.admin.clone(), json!({"currency": "GBP"})).await;
    assert_eq!(r.json["currency"], json!("GBP"), "{}", r.text);
    let r = api.json_as(Method::PATCH, "/v1/settings", &api.admin.clone(), json!({"currency": "pounds"})).await;
    assert_error(&r, StatusCode::UNPROCESSABLE_ENTITY, "invalid_value");
}

async fn wrong_spend_is_refused_whole_naming_the_entry_and_field(store: Arc<dyn Store>) {
    let api = Api::new(store).await;
    let ok = json!({"amount": 100, "month": "2026-03"});
    for (body, code, field) in [
        (json!({"amount": -5, "month": "2026-03"}), "invalid_value", "amount"),
        (json!({"month": "2026-03"}), "missing_field", "amount"),
        (json!({"amount": 5}), "missing_field", "from"),
        (json!({"amount": 5, "from": "2026-03-10", "to": "2026-03-01"}), "invalid_value", "to"),
        (json!({"amount": 5, "month": "2026-13"}), "invalid_value", "month"),
        (json!({"amount": 5, "month": "2026-03", "from": "2026-03-01"}), "invalid_value", "month"),
        (json!({"amount": 5, "from": "yesterday", "to": "2026-03-01"}), "invalid_date", "from"),
        (json!({"amount": 5, "month": "2026-03", "direction": "sideways"}), "invalid_value", "direction"),
        (json!({"amount": 5, "month": "2026-03", "channel": "<script>"}), "invalid_identifier", "channel"),
        (json!({"amount": 5, "month": "2026-03", "currency": "USD", "rate": 2}), "invalid_value", "rate"),
        (json!({"amount": 5, "month": "2026-03", "colour": "red"}), "invalid_field", ""),
        (json!({"entries": [ok.clone(), {"amount": -1, "month": "2026-03"}]}), "invalid_value", "entries[1].amount"),
        (json!({"entries": []}), "empty_batch", ""),
    ] {
        let r = api.post("/v1/spend", body.clone()).await;
        assert_error(&r, StatusCode::UNPROCESSABLE_ENTITY, code);
        if !field.is_empty() {
            assert_eq!(r.json["error"]["field"], json!(field), "{body}: {}", r.text);
        }
    }
    let key = api.admin.clone();
    for (file, code, field) in [
        ("month,amount\n2026-03,100\n2026-04,12.505\n", "invalid_value", "line 3.amount"),
        ("month,note,amount\n2026-03,\"two\nlines\",100\n2026-04,,ten\n", "invalid_value", "line 4.amount"),
        ("month,amount,Amount\n2026-03,1,2\n", "invalid_value", "amount"),
        ("month,amount\n2026-03,100\n2026-04,-1\n", "invalid_value", "line 3.amount"),
        ("month,amount,colour\n2026-03,100,red\n", "unknown_field", "colour"),
        ("month,channel\n2026-03,display\n", "missing_field", "amount"),
        ("month,amount\n2026-03,100,extra\n", "not_csv", ""),
        ("month,amount\n", "empty_batch", ""),
    ] {
        let r = api.upload("/v1/spend", &key, "text/csv", file).await;
        assert_error(&r, StatusCode::UNPROCESSABLE_ENTITY, code);
        if !field.is_empty() {
            assert_eq!(r.json["error"]["field"], json!(field), "{file}: {}", r.text);
        }
    }
    let r = api.upload("/v1/spend", &key, "text/plain", "amount\n5\n").await;
    assert_error(&r, StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type");
    // Nothing of a refused batch was kept.
    assert_eq!(api.get("/v1/spend").await.json["entries"], json!([]));
    let r = api.get("/v1/reports/cost?group_by=owner").await;
    assert_error(&r, StatusCode::UNPROCESSABLE_ENTITY, "invalid_value");
    assert!(r.json["error"]["message"].as_str().unwrap().contains("not by owner"), "{}", r.text);
    let r = api.get("/v1/spend?limit=0").await;
    assert_error(&r, StatusCode::UNPROCESSABLE_ENTITY, "invalid_limit");
    // An empty database: a clearly empty report.
    let empty = api.get("/v1/reports/cost?group_by=channel").await;
    assert_eq!(empty.status, StatusCode::OK, "{}", empty.text);
    assert_eq!(empty.json["groups"], json!([]));
    assert_eq!(
        (empty.json["totals"]["spend"].clone(), empty.json["totals"]["return_on_spend"].clone()),
        (json!(0), Value::Null)
    );
    assert!(empty.json["totals"]["stages"].as_array().unwrap().iter().all(|s| s["cost_per"].is_null()));
}

async fn concurrent_spend_and_a_change_of_currency_never_mix_currencies(store: Arc<dyn Store>) {
    let api = Arc::new(Api::new(store).await);
    let admin = api.admin.clone();
    // Rounds from the same start (USD, no spend), the change sent first or last.
    for round in 0..4 {
        for e in api.get("/v1/spend?limit=1000").await.json["entries"].as_array().unwrap() {
            let id = e["id"].as_str().unwrap();
            let r = api.json_as(Method::DELETE, &format!("/v1/spend/{id}"), &admin, Value::Null).await;
            assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);
        }
        let r = api.json_as(Method::PATCH, "/v1/settings", &admin, json!({"currency": "USD"})).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        let change = |api: Arc<Api>| async move {
            api.json_as(Method::PATCH, "/v1/settings", &api.admin.clone(), json!({"currency": "EUR"})).await.status
        };
        let first = (round % 2 == 0).then(|| tokio::spawn(change(api.clone())));
        let mut tasks = Vec::new();
        for i in 0..8 {
            let api = api.clone();
            tasks.push(tokio::spawn(async move {
                let body = json!({"amount": 1_000 + i, "currency": "USD", "month": "2026-03", "channel": "display"});
                api.post("/v1/spend", body).await.status
            }));
        }
        let last = first.is_none().then(|| tokio::spawn(change(api.clone())));
        let mut recorded = 0;
        for t in tasks {
            let status = t.await.unwrap();
            assert!(matches!(status, StatusCode::CREATED | StatusCode::UNPROCESSABLE_ENTITY), "{status}");
            recorded += usize::from(status == StatusCode::CREATED);
        }
        let changed = first.or(last).unwrap().await.unwrap();
        assert!(matches!(changed, StatusCode::OK | StatusCode::CONFLICT), "{changed}");
        let currency = api.get("/v1/settings").await.json["currency"].clone();
        let entries = api.get("/v1/spend?limit=100").await.json["entries"].as_array().unwrap().clone();
        assert_eq!(entries.len(), recorded, "every entry acknowledged is kept");
        // Each entry is in the currency the workspace counts in, whichever came first.
        assert!(entries.iter().all(|e| e["currency_given"] == currency), "{currency}: {entries:?}");
        assert_eq!(changed == StatusCode::OK, currency == json!("EUR"));
        assert_eq!(changed == StatusCode::CONFLICT, recorded > 0, "refused exactly when spend in USD came first");
    }
}
