//! Hand-off over the API, on both databases: teams, users and queues; contacts reaching
//! mql routed fairly to a person, with the reason; Sales accepting or rejecting them
//! with a reason; SLA clocks breached and escalated once; the audit of it all; and what
//! a user or attacker might send wrong.

mod support;

use axum::http::{Method, StatusCode};
use leadgate_core::Role;
use leadgate_store::Store;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use support::{Api, assert_error};

leadgate_store::on_both_stores!(
    teams_users_and_queues_are_created_and_wrong_ones_refused,
    contacts_reaching_mql_are_routed_fairly_and_show_where_they_wait,
    sales_accepts_or_rejects_with_a_reason_once_and_wrong_answers_are_refused,
    routing_rules_are_versioned_checked_and_tried_on_the_last_contacts,
    a_breached_clock_is_marked_and_escalated_once_and_reported,
);

/// A team whose calendar works every hour of every day, so that its clock runs now.
fn always_open(name: &str, sla: Value, escalation: &str) -> Value {
    let hours: serde_json::Map<String, Value> = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
        .iter()
        .map(|d| (d.to_string(), json!("00:00-24:00")))
        .collect();
    json!({"name": name, "direction": "inbound", "sla": sla, "escalation": escalation,
           "calendar": {"time_zone": "Europe/Berlin", "hours": hours}})
}

/// Creates a team of `people` qualifiers and sends every contact reaching mql to it;
/// gives the queue's id and the people's emails.
async fn team_of(api: &Api, name: &str, people: usize, sla: Value, escalation: &str) -> (String, Vec<String>) {
    let r = api.post("/v1/teams", always_open(name, sla, escalation)).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let queue = r.json["id"].as_str().unwrap().to_owned();
    let mut emails = Vec::new();
    for i in 0..people {
        let email = format!("q{i}@{}.example", name.to_lowercase().replace(' ', "-"));
        let r = api
            .post(
                "/v1/users",
                json!({"name": format!("Qualifier {i}"), "email": email, "role": "qualifier", "team": name}),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
        emails.push(email);
    }
    let rules = json!({"rules": [{"name": "everyone", "when": "true", "queue": name, "assign": ["round_robin"]}],
                       "fallback_queue": name});
    let r = api.put("/v1/routing", rules).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    (queue, emails)
}

/// A contact made by an inquiry and moved to mql by hand; its id once routed.
async fn lead(api: &Api, email: &str) -> String {
    let r = api.inquire_with_key(json!({"email": email, "country": "DE"})).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let id = r.json["contact_id"].as_str().unwrap().to_owned();
    let r = api.post(&format!("/v1/contacts/{id}/stage"), json!({"stage": "mql", "reason": "asked for a demo"})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    id
}

async fn settled(api: &Api) {
    assert!(api.app.wait_until_caught_up(Duration::from_secs(30)).await.unwrap(), "the consumers caught up");
}

async fn items(api: &Api, queue: &str, query: &str) -> Vec<Value> {
    let r = api.get(&format!("/v1/queues/{queue}/items?{query}")).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    r.json["items"].as_array().unwrap().clone()
}

async fn teams_users_and_queues_are_created_and_wrong_ones_refused(store: Arc<dyn Store>) {
    let api = Api::new(store).await;
    // The two default queues are there from the start.
    let queues = api.get("/v1/queues").await;
    let names: Vec<&str> =
        queues.json["queues"].as_array().unwrap().iter().map(|q| q["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["Market Response", "Sales Development"]);
    let sdr = &queues.json["queues"][1];
    assert_eq!((sdr["direction"].as_str(), &sdr["sla"]), (Some("outbound"), &json!({"business_days": 10})));
    assert_eq!(queues.json["queues"][0]["sla"], json!({"business_hours": 4.0}));

    let r = api.post("/v1/teams", always_open("Enterprise", json!({"business_hours": 2}), "manager")).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    assert_error(&api.post("/v1/teams", json!({"name": "enterprise"})).await, StatusCode::CONFLICT, "conflict");

    // Calendars that cannot be worked with, each named where it is wrong.
    for (calendar, field) in [
        (json!({"hours": {}}), "calendar.hours"),
        (json!({"hours": {"mon": ""}}), "calendar.hours"),
        (json!({"holidays": ["25/12/2026"]}), "calendar.holidays[0]"),
        (json!({"hours": {"mon": "17:00-09:00"}}), "calendar.hours.mon"),
        (json!({"time_zone": "Mars/Olympus"}), "calendar.time_zone"),
    ] {
        let r = api.post("/v1/teams", json!({"name": "Nights", "calendar": calendar})).await;
        assert_error(&r, StatusCode::UNPROCESSABLE_ENTITY, "invalid_calendar");
        assert_eq!(r.json["error"]["field"], json!(field), "{}", r.text);
    }
    let r = api.post("/v1/teams", json!({"name": "Nights", "sla": {"business_hours": 0}})).await;
    assert_error(&r, StatusCode::UNPROCESSABLE_ENTITY, "invalid_calendar");
    assert_error(
        &api.post("/v1/teams", json!({"name": "  "})).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "missing_field",
    );
    assert_eq!(api.get("/v1/teams").await.json["teams"].as_array().unwrap().len(), 3, "nothing half-saved");

    let ann = json!({"name": "Ann", "email": "Ann@Leadgate.example", "role": "seller", "team": "Enterprise",
                     "capacity": 6, "territories": ["DE", "AT"], "accounts": ["acme.example"]});
    let r = api.post("/v1/users", ann.clone()).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    assert_eq!((r.json["email"].as_str(), r.json["capacity"].as_i64()), (Some("ann@leadgate.example"), Some(6)));
    let ann_id = r.json["id"].as_str().unwrap().to_owned();
    assert_error(&api.post("/v1/users", ann.clone()).await, StatusCode::CONFLICT, "conflict");
    let taken = json!({"name": "Bob", "email": "bob@leadgate.example", "role": "seller", "accounts": ["ACME.example"]});
    assert_error(&api.post("/v1/users", taken).await, StatusCode::CONFLICT, "conflict");
    for (body, code, field) in [
        (
            json!({"name": "Cy", "email": "cy@leadgate.example", "role": "seller", "capacity": 0}),
            "invalid_value",
            "capacity",
        ),
        (
            json!({"name": "Cy", "email": "cy@leadgate.example", "role": "seller", "team": "Nowhere"}),
            "unknown_team",
            "team",
        ),
        (json!({"name": "Cy", "email": "not an email", "role": "seller"}), "invalid_email", "email"),
        (
            json!({"name": "Cy", "email": "cy@leadgate.example", "role": "seller", "away_until": "soon"}),
            "invalid_date",
            "away_until",
        ),
    ] {
        let r = api.post("/v1/users", body).await;
        assert_error(&r, StatusCode::UNPROCESSABLE_ENTITY, code);
        assert_eq!(r.json["error"]["field"], json!(field), "{}", r.text);
    }
    let r = api.post("/v1/users", json!({"name": "Cy", "email": "cy@leadgate.example", "role": "wizard"})).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
    assert_eq!(api.get("/v1/users").await.json["users"].as_array().unwrap().len(), 1, "only Ann");

    // Away for a while, and back.
    let r = api
        .json_as(Method::PATCH, &format!("/v1/users/{ann_id}"), &api.admin, json!({"away_until": "2099-01-01"}))
        .await;
    assert_eq!((r.status, r.json["away_until"].as_str()), (StatusCode::OK, Some("2099-01-01T00:00:00Z")), "{}", r.text);
    let r = api.json_as(Method::PATCH, &format!("/v1/users/{ann_id}"), &api.admin, json!({"capacity": -1})).await;
    assert_error(&r, StatusCode::UNPROCESSABLE_ENTITY, "invalid_value");
    let nobody =
        api.json_as(Method::PATCH, &format!("/v1/users/{}", uuid::Uuid::now_v7()), &api.admin, json!({})).await;
    assert_error(&nobody, StatusCode::NOT_FOUND, "unknown_user");

    // Only those who manage teams create them.
    let sales = api.key(Role::Sales).await;
    let r = api.post_as("/v1/teams", &sales, json!({"name": "Mine"})).await;
    assert_error(&r, StatusCode::FORBIDDEN, "forbidden");
    assert_error(&api.get_as("/v1/queues", "lg_nope").await, StatusCode::UNAUTHORIZED, "unauthenticated");
}

async fn contacts_reaching_mql_are_routed_fairly_and_show_where_they_wait(store: Arc<dyn Store>) {
    let api = Api::new(store).await;
    let (queue, people) = team_of(&api, "Inbound EU", 3, json!({"business_hours": 4}), "next_person").await;
    let mut ids = Vec::new();
    for i in 0..30 {
        ids.push(lead(&api, &format!("lead{i}@corp{i}.example")).await);
    }
    settled(&api).await;
    // Thirty over three: ten each, in turn.
    let mut taken: HashMap<String, usize> = HashMap::new();
    let (mut read, mut cursor) = (Vec::new(), String::new());
    loop {
        let r = api.get(&format!("/v1/queues/{queue}/items?limit=7&cursor={cursor}")).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        for item in r.json["items"].as_array().unwrap() {
            *taken.entry(item["assignee"].as_str().unwrap().to_owned()).or_default() += 1;
            read.push(item["contact_id"].as_str().unwrap().to_owned());
        }
        match r.json["next_cursor"].as_str() {
            Some(c) => cursor = c.to_owned(),
            None => break,
        }
    }
    read.sort();
    let mut all = ids.clone();
    all.sort();
    assert_eq!(read, all, "every contact once, over five pages");
    assert_eq!(taken.len(), 3);
    assert!(taken.values().all(|n| *n == 10), "{taken:?}");
    let users = api.get("/v1/users").await;
    assert!(users.json["users"].as_array().unwrap().iter().all(|u| u["load"] == json!(10)), "{}", users.text);

    // The contact says where it waits, for whom, until when, and why.
    let contact = api.contact(&json!(ids[0])).await;
    assert_eq!(contact["queue"], json!("Inbound EU"));
    assert!(people.iter().any(|p| contact["assignee"] == json!(p)), "{contact}");
    assert!(contact["sla_due_at"].as_str().is_some());
    let reason = contact["routing_reason"].as_str().unwrap();
    assert!(reason.contains("rule \"everyone\"") && reason.contains("round robin"), "{reason}");
    // Each person's own work, and the work nobody has.
    assert_eq!(items(&api, &queue, &format!("assignee={}", people[1])).await.len(), 10);
    assert!(items(&api, &queue, "unassigned=true").await.is_empty());
    // The routing decisions are in the audit, by the system.
    let audit = api.get(&format!("/v1/audit?contact_id={}", ids[0])).await;
    let actions: Vec<&str> =
        audit.json["entries"].as_array().unwrap().iter().map(|e| e["action"].as_str().unwrap()).collect();
    assert_eq!(actions, ["contact.routed"], "{}", audit.text);

    // A person away is passed over.
    let first = api.get("/v1/users").await.json["users"][0].clone();
    let r = api
        .json_as(
            Method::PATCH,
            &format!("/v1/users/{}", first["id"].as_str().unwrap()),
            &api.admin,
            json!({"away_until": "2099-01-01"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let later = lead(&api, "later@corp.example").await;
    settled(&api).await;
    let assignee = api.contact(&json!(later)).await["assignee"].clone();
    assert!(assignee.is_string() && assignee != first["email"], "{assignee}");

    // A person erased leaves the queue: nobody is to call them.
    let r = api
        .json_as(Method::DELETE, &format!("/v1/contacts/{}", ids[1]), &api.admin, json!({"reason": "asked by email"}))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    settled(&api).await;
    assert_eq!(api.contact(&json!(ids[1])).await["queue"], Value::Null);
    let audit = api.get(&format!("/v1/audit?contact_id={}", ids[1])).await;
    let left =
        audit.json["entries"].as_array().unwrap().iter().find(|e| e["action"] == json!("contact.left_queue")).cloned();
    assert_eq!(left.map(|e| e["detail"].clone()), Some(json!("erased")), "{}", audit.text);
    let queues = api.get("/v1/queues").await.json;
    let eu = queues["queues"].as_array().unwrap().iter().find(|q| q["id"] == json!(queue)).unwrap().clone();
    assert_eq!((eu["open"].as_i64(), eu["fallback"].as_i64()), (Some(30), Some(0)), "{eu}");

    // Wrong asks.
    let unknown = api.get(&format!("/v1/queues/{}/items", uuid::Uuid::now_v7())).await;
    assert_error(&unknown, StatusCode::NOT_FOUND, "unknown_queue");
    assert_error(&api.get("/v1/queues/x/items").await, StatusCode::NOT_FOUND, "unknown_queue");
    let bad_cursor = api.get(&format!("/v1/queues/{queue}/items?cursor=abc")).await;
    assert_error(&bad_cursor, StatusCode::UNPROCESSABLE_ENTITY, "invalid_cursor");
    let bad_limit = api.get(&format!("/v1/queues/{queue}/items?limit=0")).await;
    assert_error(&bad_limit, StatusCode::UNPROCESSABLE_ENTITY, "invalid_limit");
    let bad_flag = api.get(&format!("/v1/queues/{queue}/items?breached=maybe")).await;
    assert_error(&bad_flag, StatusCode::UNPROCESSABLE_ENTITY, "invalid_query");
    let nobody = api.get(&format!("/v1/queues/{queue}/items?assignee=nobody@x.example")).await;
    assert_error(&nobody, StatusCode::NOT_FOUND, "unknown_user");
}

async fn sales_accepts_or_rejects_with_a_reason_once_and_wrong_answers_are_refused(store: Arc<dyn Store>) {
    let api = Api::new(store).await;
    let (queue, people) = team_of(&api, "Inbound", 2, json!({"business_hours": 4}), "next_person").await;
    let (a, b, c) =
        (lead(&api, "a@one.example").await, lead(&api, "b@two.example").await, lead(&api, "c@three.example").await);
    settled(&api).await;
    let ann = api.app.create_user_api_key(&people[0]).await.unwrap().secret;

    // Accepting moves mql to sal, with what the qualifier learnt; the item closes.
    let body = json!({"qualification": {"budget": "40k", "need": "CRM"}});
    let r = api.post_as(&format!("/v1/contacts/{a}/accept"), &ann, body).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(
        (r.json["outcome"].as_str(), r.json["first_action_by"].as_str()),
        (Some("accepted"), Some(format!("user:{}", people[0]).as_str()))
    );
    let contact = api.contact(&json!(a)).await;
    assert_eq!((contact["stage"].as_str(), contact["qualification"]["budget"].as_str()), (Some("sal"), Some("40k")));
    assert_eq!(contact["queue"], Value::Null, "no longer waiting");
    assert_error(
        &api.post_as(&format!("/v1/contacts/{a}/accept"), &ann, json!({})).await,
        StatusCode::CONFLICT,
        "already_handled",
    );

    // Rejecting needs a reason among the codes; the contact goes to nurture, kept.
    let reject = |id: &str, body: Value| {
        let (api, ann, id) = (&api, ann.clone(), id.to_owned());
        async move { api.post_as(&format!("/v1/contacts/{id}/reject"), &ann, body).await }
    };
    assert_error(&reject(&b, json!({})).await, StatusCode::UNPROCESSABLE_ENTITY, "reason_required");
    assert_error(&reject(&b, json!({"reason": "meh"})).await, StatusCode::UNPROCESSABLE_ENTITY, "invalid_reason");
    assert_error(
        &reject(&b, json!({"reason": "no_budget", "note": "x".repeat(901)})).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "too_long",
    );
    assert_error(
        &reject(&b, json!({"reason": "no_budget", "color": "red"})).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_field",
    );
    let r = reject(&b, json!({"reason": "no_budget", "note": "frozen until Q3"})).await;
    assert_eq!((r.status, r.json["outcome"].as_str()), (StatusCode::OK, Some("rejected")), "{}", r.text);
    let contact = api.contact(&json!(b)).await;
    assert_eq!(contact["stage"], json!("nurture"));
    let last = contact["stage_history"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(
        (last["cause"].as_str(), last["detail"].as_str()),
        (Some("rejection"), Some("no_budget: frozen until Q3"))
    );
    assert_error(&reject(&b, json!({"reason": "no_need"})).await, StatusCode::CONFLICT, "already_handled");

    // The workspace sets its own codes: those, and only those, are taken.
    let codes = json!({"rejection_reasons": ["not_ready", "too_small"]});
    let r = api.json_as(Method::PATCH, "/v1/settings", &api.admin, codes).await;
    assert_eq!(
        (r.status, &r.json["rejection_reasons"]),
        (StatusCode::OK, &json!(["not_ready", "too_small"])),
        "{}",
        r.text
    );
    for bad in [json!([]), json!(["Too Small"]), json!(["a", "a"])] {
        let r = api.json_as(Method::PATCH, "/v1/settings", &api.admin, json!({"rejection_reasons": bad})).await;
        assert_error(&r, StatusCode::UNPROCESSABLE_ENTITY, "invalid_value");
    }
    let d = lead(&api, "d@five.example").await;
    settled(&api).await;
    assert_error(&reject(&d, json!({"reason": "no_budget"})).await, StatusCode::UNPROCESSABLE_ENTITY, "invalid_reason");
    let r = reject(&d, json!({"reason": "too_small"})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);

    // Nothing handed over, nobody there, no right to answer.
    let loose = api.inquire_with_key(json!({"email": "loose@four.example"})).await.json["contact_id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_error(
        &api.post_as(&format!("/v1/contacts/{loose}/accept"), &ann, json!({})).await,
        StatusCode::CONFLICT,
        "not_in_queue",
    );
    let nobody = uuid::Uuid::now_v7();
    assert_error(
        &api.post_as(&format!("/v1/contacts/{nobody}/accept"), &ann, json!({})).await,
        StatusCode::NOT_FOUND,
        "unknown_contact",
    );
    let marketing = api.key(Role::Marketing).await;
    assert_error(
        &api.post_as(&format!("/v1/contacts/{c}/accept"), &marketing, json!({})).await,
        StatusCode::FORBIDDEN,
        "forbidden",
    );

    // Two people accepting the same contact at the same moment: exactly one wins.
    let bob = api.app.create_user_api_key(&people[1]).await.unwrap().secret;
    let accept_c = format!("/v1/contacts/{c}/accept");
    let (first, second) =
        tokio::join!(api.post_as(&accept_c, &ann, json!({})), api.post_as(&accept_c, &bob, json!({})));
    let mut statuses = [first.status, second.status];
    statuses.sort();
    assert_eq!(statuses, [StatusCode::OK, StatusCode::CONFLICT], "{} / {}", first.text, second.text);
    let loser = if first.status == StatusCode::CONFLICT { &first } else { &second };
    assert_error(loser, StatusCode::CONFLICT, "already_handled");
    assert!(items(&api, &queue, "").await.is_empty(), "every item answered");
    settled(&api).await;
    let users = api.get("/v1/users").await;
    assert!(users.json["users"].as_array().unwrap().iter().all(|u| u["load"] == json!(0)), "{}", users.text);

    // The audit tells who did what, by actor too.
    let audit = api.get(&format!("/v1/audit?contact_id={b}")).await;
    let actions: Vec<(&str, &str)> = audit.json["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["action"].as_str().unwrap(), e["actor"].as_str().unwrap()))
        .collect();
    let by_ann = format!("user:{}", people[0]);
    assert_eq!(actions, [("contact.routed", "system"), ("contact.rejected", by_ann.as_str())]);
    let mine = api.get(&format!("/v1/audit?actor={by_ann}")).await;
    assert!(mine.json["entries"].as_array().unwrap().iter().all(|e| e["actor"] == json!(by_ann)));
    assert!(mine.json["entries"].as_array().unwrap().len() >= 2, "{}", mine.text);
    assert_error(&api.get("/v1/audit?from=yesterday").await, StatusCode::UNPROCESSABLE_ENTITY, "invalid_date");
}

async fn routing_rules_are_versioned_checked_and_tried_on_the_last_contacts(store: Arc<dyn Store>) {
    let api = Api::new(store).await;
    let builtin = api.get("/v1/routing").await;
    assert_eq!(
        (builtin.json["version"].as_i64(), builtin.json["fallback_queue"].as_str()),
        (Some(0), Some("Market Response"))
    );
    for (rules, field) in [
        (
            json!({"rules": [{"name": "a", "when": "true", "queue": "Nowhere"}], "fallback_queue": "Market Response"}),
            "rules[0].queue",
        ),
        (json!({"rules": [], "fallback_queue": "Nowhere"}), "fallback_queue"),
        (
            json!({"rules": [{"name": "a", "when": "contact.titel == 'x'", "queue": "Market Response"}], "fallback_queue": "Market Response"}),
            "rules[0].when",
        ),
        (
            json!({"rules": [{"name": "a", "when": "true", "queue": "Market Response", "weight": 0}], "fallback_queue": "Market Response"}),
            "rules[0].weight",
        ),
        (json!({"rules": [], "fallback_queue": "Market Response", "stages": ["customer"]}), "stages"),
        (
            json!({"rules": [{"name": "a", "when": "true", "queue": "Market Response", "assign": [{"person": "nobody@x.example"}]}],
                "fallback_queue": "Market Response"}),
            "rules[0].assign[0]",
        ),
    ] {
        let r = api.put("/v1/routing", rules).await;
        assert_error(&r, StatusCode::UNPROCESSABLE_ENTITY, "invalid_routing");
        assert_eq!(r.json["error"]["field"], json!(field), "{}", r.text);
    }
    assert_eq!(api.get("/v1/routing").await.json["version"], json!(0), "nothing saved");
    let (_, people) = team_of(&api, "Germany", 2, json!({"business_hours": 4}), "none").await;
    assert_eq!(api.get("/v1/routing").await.json["version"], json!(1));
    for i in 0..4 {
        lead(&api, &format!("p{i}@de{i}.example")).await;
    }
    settled(&api).await;
    // A draft sending Germans to Market Response instead.
    let draft = json!({"rules": {"rules": [{"name": "germans", "when": "contact.country == 'DE'", "queue": "Market Response", "assign": ["queue"]}],
                                  "fallback_queue": "Germany"}, "last": 3});
    let r = api.post("/v1/routing/preview", draft).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.json["contacts"].as_array().unwrap().len(), 3);
    assert_eq!(r.json["changed"], json!(3));
    assert_eq!(r.json["by_queue"]["Germany"], json!([3, 0]));
    assert_eq!(r.json["by_queue"]["Market Response"], json!([0, 3]));
    assert!(r.json["contacts"].as_array().unwrap().iter().all(|c| people.iter().any(|p| c["assignee"] == json!(p))));
    assert_eq!(api.get("/v1/routing").await.json["version"], json!(1), "a preview saves nothing");
    let r =
        api.post("/v1/routing/preview", json!({"rules": {"rules": [], "fallback_queue": "Germany"}, "last": 0})).await;
    assert_error(&r, StatusCode::UNPROCESSABLE_ENTITY, "invalid_value");
    // A contact no rule matches goes to the fallback queue, and is counted there.
    let french = json!({"rules": [{"name": "french", "when": "contact.country == 'FR'", "queue": "Market Response"}],
                        "fallback_queue": "Germany"});
    assert_eq!(api.put("/v1/routing", french).await.json["version"], json!(2));
    let stray = lead(&api, "stray@de9.example").await;
    settled(&api).await;
    let contact = api.contact(&json!(stray)).await;
    assert_eq!(contact["queue"], json!("Germany"));
    assert!(contact["routing_reason"].as_str().unwrap().contains("no rule matched"), "{contact}");
    let queues = api.get("/v1/queues").await.json;
    let germany = queues["queues"].as_array().unwrap().iter().find(|q| q["name"] == json!("Germany")).unwrap().clone();
    assert_eq!((germany["open"].as_i64(), germany["fallback"].as_i64()), (Some(5), Some(1)), "{germany}");

    // The change of rules is audited.
    let audit = api.get("/v1/audit?actor=api_key:ops").await;
    assert!(
        audit.json["entries"].as_array().unwrap().iter().any(|e| e["action"] == json!("routing.saved")),
        "{}",
        audit.text
    );
}

async fn a_breached_clock_is_marked_and_escalated_once_and_reported(store: Arc<dyn Store>) {
    let api = Api::new(store).await;
    // A second to act, on a team that works around the clock.
    let (queue, people) = team_of(&api, "Fast", 2, json!({"business_hours": 0.0003}), "next_person").await;
    let late = lead(&api, "late@slow.example").await;
    settled(&api).await;
    let before = api.contact(&json!(late)).await["assignee"].clone();
    tokio::time::sleep(Duration::from_millis(1_300)).await;
    // Two servers sweeping at once: one breach, one escalation.
    let (one, two) = tokio::join!(api.app.sweep_sla(), api.app.sweep_sla());
    let (one, two) = (one.unwrap(), two.unwrap());
    assert_eq!((one.breached + two.breached, one.reassigned + two.reassigned), (1, 1));
    assert_eq!(api.app.sweep_sla().await.unwrap().breached, 0, "never twice");
    let after = api.contact(&json!(late)).await["assignee"].clone();
    assert!(people.iter().any(|p| after == json!(p)) && after != before, "{before} then {after}");
    let breached = items(&api, &queue, "breached=true").await;
    assert_eq!((breached.len(), breached[0]["escalations"].as_i64()), (1, Some(1)));
    // The breach is in the feed, for alerts to deliver.
    // Routing's decisions and the sweeps are timed for /metrics.
    let metrics = api.get("/metrics").await.text;
    assert!(metrics.contains("leadgate_routing_decision_seconds_count 2"), "queue, then person: {metrics}");
    assert!(!metrics.contains("leadgate_sla_sweep_seconds_count 0"), "{metrics}");
    // (On PostgreSQL an entry is readable once every older transaction has ended: wait.)
    let feed = api.get("/v1/changes?kinds=sla_breached&wait=10").await;
    assert_eq!(feed.status, StatusCode::OK, "{}", feed.text);
    let entries = feed.json["changes"].as_array().unwrap();
    assert_eq!(entries.len(), 1, "{}", feed.text);
    assert_eq!(entries[0]["contact_id"], json!(late));

    // The report: one item, breached, per queue and per person; as CSV and SVG too.
    let report = api.get("/v1/reports/sla").await;
    assert_eq!(report.status, StatusCode::OK, "{}", report.text);
    let row = report.json["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["queue"] == json!("Fast") && r["assignee"].is_null())
        .unwrap()
        .clone();
    assert_eq!(
        (row["items"].as_i64(), row["breached"].as_i64(), row["compliance"].as_f64()),
        (Some(1), Some(1), Some(0.0))
    );
    let csv = api.get("/v1/reports/sla?format=csv").await;
    assert!(csv.text.starts_with("queue,assignee,items,met,breached"), "{}", csv.text);
    assert!(csv.text.contains("Fast,,1,0,1,0,0"), "{}", csv.text);
    let svg = api.get("/v1/reports/sla?format=svg").await;
    assert!(
        svg.text.contains("<svg") && svg.text.contains("SLA compliance"),
        "{}",
        &svg.text[..200.min(svg.text.len())]
    );
    assert_error(
        &api.get("/v1/reports/sla?from=2026-02-01&to=2026-01-01").await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_date",
    );
    assert_error(&api.get("/v1/reports/sla?format=pdf").await, StatusCode::UNPROCESSABLE_ENTITY, "invalid_value");

    // Acting afterwards still counts, late: the clock stops, the report says breached.
    let key = api.app.create_user_api_key(after.as_str().unwrap()).await.unwrap().secret;
    let r = api.post_as(&format!("/v1/contacts/{late}/reject"), &key, json!({"reason": "not_ready"})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert!(r.json["first_action_seconds"].as_i64().is_some_and(|s| s >= 1), "{}", r.text);
}
