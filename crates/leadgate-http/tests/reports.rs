//! Reports over the API, on both databases: a marketer reads the waterfall of the
//! contacts that came in, by channel and vendor, as JSON and as CSV, and nonsense asked
//! of it is refused clearly.

mod support;

use axum::http::{StatusCode, header};
use leadgate_core::Role;
use leadgate_store::Store;
use serde_json::{Value, json};
use std::sync::Arc;
use support::{Api, assert_error};

leadgate_store::on_both_stores!(
    the_waterfall_counts_each_stage_by_group_and_reads_as_csv,
    cohorts_follow_this_month_s_contacts_stage_by_stage,
    inflow_counts_this_week_s_inquiries_by_channel,
    each_number_opens_into_the_contacts_behind_it_page_by_page,
    nonsense_asked_of_a_report_is_refused_clearly,
    contacts_rejected_then_won_are_found_with_their_reason_and_what_they_did_between,
    the_funnel_mix_counts_each_contact_in_the_band_of_its_stage_at_each_month_end,
    every_report_draws_its_chart_as_svg_with_names_as_text,
    a_forecast_made_months_ago_stands_beside_what_then_happened,
    nonsense_asked_of_a_forecast_is_refused_clearly,
    a_report_asked_while_contacts_move_counts_every_move_acknowledged_before_it,
);

/// Today's date in UTC, `2026-12-07`, as the server dates what it is sent now.
fn today() -> String {
    let micros = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_micros();
    leadgate_core::Timestamp(micros as i64).to_rfc3339()[..10].to_owned()
}

fn counts(group: &Value) -> Vec<u64> {
    group["stages"].as_array().unwrap().iter().map(|s| s["count"].as_u64().unwrap()).collect()
}

/// Five contacts: three from paid search (one won, one an mql), one from a webinar
/// through nurture and back, and one from the webinar disqualified.
async fn funnel(api: &Api) {
    let mut ids = Vec::new();
    for (email, source) in [
        ("ann@acme.example", json!({"channel": "paid_search", "vendor": "TechLeads"})),
        ("bob@bigco.example", json!({"channel": "paid_search", "vendor": "TechLeads"})),
        ("cat@corp.example", json!({"channel": "paid_search", "vendor": "TechLeads"})),
        ("dan@dyn.example", json!({"channel": "webinar", "vendor": "=HYPERLINK(\"http://x.example\")"})),
        ("eve@evil.example", json!({"channel": "webinar"})),
    ] {
        let r = api.inquire_with_key(json!({"email": email, "source": source})).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
        ids.push(r.json["contact_id"].as_str().unwrap().to_owned());
    }
    assert_eq!(api.contact(&json!(ids[3])).await["channel"], json!("webinar"), "the inquiry's own channel");
    let moves: [(usize, &str, Option<i64>); 8] = [
        (0, "mql", None),
        (0, "sql", None),
        (0, "customer", Some(900_000)),
        (1, "mql", None),
        (3, "mql", None),
        (3, "nurture", None),
        (3, "mql", None),
        (4, "disqualified", None),
    ];
    for (who, stage, value) in moves {
        let body = json!({"stage": stage, "reason": "call", "value": value});
        let r = api.post(&format!("/v1/contacts/{}/stage", ids[who]), body).await;
        assert_eq!(r.status, StatusCode::OK, "{stage}: {}", r.text);
    }
}

async fn the_waterfall_counts_each_stage_by_group_and_reads_as_csv(store: Arc<dyn Store>) {
    let api = Api::new(store).await;
    funnel(&api).await;
    let readonly = api.key(Role::Readonly).await;

    let r = api.get_as("/v1/reports/waterfall?group_by=channel", &readonly).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let w = r.json;
    // Skipped stages count as passed; the one recycled through nurture counts once; the
    // disqualified one is left out, and counted.
    assert_eq!(counts(&w["totals"]), [4, 4, 3, 1, 1, 1, 1], "{w}");
    assert_eq!(w["excluded"]["disqualified"], json!(1));
    assert_eq!(w["groups"][0]["group"], json!({"channel": "paid_search"}));
    assert_eq!(counts(&w["groups"][0]), [3, 3, 2, 1, 1, 1, 1]);
    assert_eq!(w["groups"][1]["group"], json!({"channel": "webinar"}));
    assert_eq!(counts(&w["groups"][1]), [1, 1, 1, 0, 0, 0, 0]);
    let mql = &w["totals"]["stages"][2];
    assert_eq!((mql["stage"].clone(), mql["conversion_from_previous"].clone()), (json!("mql"), json!(0.75)));
    assert_eq!(w["totals"]["stages"][0]["conversion_from_previous"], Value::Null, "nothing before the first");
    assert!(mql["median_days_from_previous"].as_f64().is_some_and(|d| (0.0..0.01).contains(&d)), "{mql}");

    let two = api.get("/v1/reports/waterfall?group_by=vendor,channel").await;
    let groups: Vec<Value> = two.json["groups"].as_array().unwrap().iter().map(|g| g["group"].clone()).collect();
    assert_eq!(
        groups,
        [
            json!({"vendor": "TechLeads", "channel": "paid_search"}),
            json!({"vendor": "=HYPERLINK(\"http://x.example\")", "channel": "webinar"}),
        ],
        "{}",
        two.text
    );

    let outbound = api.get("/v1/reports/waterfall?group_by=channel&direction=outbound").await;
    assert_eq!(outbound.status, StatusCode::OK, "{}", outbound.text);
    assert_eq!(outbound.json["groups"], json!([]));
    assert_eq!(counts(&outbound.json["totals"]), [0; 7]);
    assert_eq!(outbound.json["totals"]["stages"][2]["conversion_from_first"], Value::Null, "no ratio of nothing");
    // Ungrouped, or by direction alone, the waterfall reads no responses: the same totals,
    // the disqualified contact still told apart and left out.
    for plain in ["/v1/reports/waterfall", "/v1/reports/waterfall?group_by=direction"] {
        let plain = api.get(plain).await;
        assert_eq!(counts(&plain.json["totals"]), [4, 4, 3, 1, 1, 1, 1], "{}", plain.text);
        assert_eq!(plain.json["excluded"]["disqualified"], json!(1));
        assert_eq!(
            plain.json["totals"]["stages"][6]["median_days_from_first"],
            w["totals"]["stages"][6]["median_days_from_first"]
        );
    }
    let later = api.get("/v1/reports/waterfall?from=2999-01-01").await;
    assert_eq!(counts(&later.json["totals"]), [0; 7], "nobody entered in the period");

    let csv = api.get("/v1/reports/waterfall?group_by=vendor&format=csv").await;
    assert_eq!(csv.status, StatusCode::OK, "{}", csv.text);
    assert!(csv.headers[header::CONTENT_TYPE].to_str().unwrap().starts_with("text/csv"));
    let lines: Vec<&str> = csv.text.lines().collect();
    assert!(lines[0].starts_with("scope,vendor,stage,count,conversion_from_previous,"), "{}", csv.text);
    // Won at the moment it became an opportunity (skipped): no days between the two.
    assert!(
        lines.iter().any(|l| l.starts_with("group,TechLeads,customer,1,1,0.3333333333333333,0,0,")),
        "{}",
        csv.text
    );
    // The totals' rows say so: they never read as a group without a vendor.
    assert!(lines.iter().any(|l| l.starts_with("total,,customer,1,")), "{}", csv.text);
    assert!(
        lines.iter().any(|l| l.starts_with("group,\"'=HYPERLINK(\"\"http://x.example\"\")\",mql,1,")),
        "a formula is written as text: {}",
        csv.text
    );
    assert_eq!(lines.len(), 1 + 7 * 3, "a row per group and stage, and the totals' rows: {}", csv.text);
}

async fn cohorts_follow_this_month_s_contacts_stage_by_stage(store: Arc<dyn Store>) {
    let api = Api::new(store).await;
    funnel(&api).await;
    let r = api.get_as("/v1/reports/cohorts", &api.key(Role::Readonly).await).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let this_month = &today()[..7];
    assert_eq!(r.json["cohorts"].as_array().unwrap().len(), 1, "{}", r.text);
    let cohort = &r.json["cohorts"][0];
    assert_eq!((cohort["month"].as_str().unwrap(), cohort["contacts"].clone()), (this_month, json!(4)));
    assert_eq!(r.json["excluded"]["disqualified"], json!(1));
    let reached = |stage: &str| {
        let s = cohort["stages"].as_array().unwrap().iter().find(|s| s["stage"] == stage).unwrap();
        (s["by_month"][0]["reached"].clone(), s["by_month"][0]["share"].clone())
    };
    assert_eq!(reached("mql"), (json!(3), json!(0.75)));
    assert_eq!(reached("customer"), (json!(1), json!(0.25)));
    let csv = api.get("/v1/reports/cohorts?format=csv").await;
    let lines: Vec<&str> = csv.text.lines().collect();
    assert_eq!(lines[0], "month,contacts,stage,months_after,reached,share");
    assert!(lines.contains(&format!("{this_month},4,customer,0,1,0.25").as_str()), "{}", csv.text);
    let grouped = api.get("/v1/reports/cohorts?group_by=channel").await;
    assert_error(&grouped, StatusCode::UNPROCESSABLE_ENTITY, "invalid_value");
    assert_eq!(grouped.json["error"]["field"], json!("group_by"));
}

async fn inflow_counts_this_week_s_inquiries_by_channel(store: Arc<dyn Store>) {
    let api = Api::new(store).await;
    funnel(&api).await;
    // By default the 26 whole weeks before this one: this week's inquiries are not in it.
    let default = api.get_as("/v1/reports/inflow?group_by=channel", &api.key(Role::Readonly).await).await;
    assert_eq!(default.status, StatusCode::OK, "{}", default.text);
    assert_eq!(default.json["weeks"].as_array().unwrap().len(), 26, "{}", default.text);
    assert_eq!((default.json["totals"]["total"].clone(), default.json["groups"].clone()), (json!(0), json!([])));
    // From today, to now: this week.
    let today = today();
    let r = api.get(&format!("/v1/reports/inflow?group_by=channel&from={today}")).await;
    assert_eq!(r.json["weeks"].as_array().unwrap().len(), 1, "{}", r.text);
    let group = |i: usize| (r.json["groups"][i]["group"].clone(), r.json["groups"][i]["total"].clone());
    assert_eq!(group(0), (json!({"channel": "paid_search"}), json!(3)));
    assert_eq!(group(1), (json!({"channel": "webinar"}), json!(2)), "a disqualified contact's inquiry came in too");
    assert_eq!(r.json["totals"]["counts"], json!([5]));
    assert_eq!(r.json["totals"]["mean_per_week"], json!(5.0));
    assert_eq!(r.json["totals"]["trend_per_week"], Value::Null, "no trend of one week");
    let csv = api.get(&format!("/v1/reports/inflow?group_by=direction&from={today}&format=csv")).await;
    let lines: Vec<&str> = csv.text.lines().collect();
    assert_eq!(lines[0], "scope,direction,week,count");
    assert!(lines[1].starts_with("group,inbound,") && lines[1].ends_with(",5"), "{}", csv.text);
    assert!(lines[2].starts_with("total,,") && lines[2].ends_with(",5"), "{}", csv.text);
    let outbound = api.get(&format!("/v1/reports/inflow?direction=outbound&from={today}")).await;
    assert_eq!(outbound.json["totals"]["total"], json!(0));
    assert_eq!(outbound.json["totals"]["variation"], Value::Null, "no spread of nothing");
}

async fn each_number_opens_into_the_contacts_behind_it_page_by_page(store: Arc<dyn Store>) {
    let api = Api::new(store).await;
    funnel(&api).await;
    let emails = |r: &support::Reply| -> Vec<String> {
        r.json["contacts"].as_array().unwrap().iter().map(|c| c["email"].as_str().unwrap().to_owned()).collect()
    };
    let group = "%7B%22channel%22%3A%22paid_search%22%7D"; // {"channel":"paid_search"}
    let all = api.get(&format!("/v1/reports/waterfall/contacts?group_by=channel&group={group}&stage=mql")).await;
    assert_eq!(all.status, StatusCode::OK, "{}", all.text);
    assert_eq!(all.json["count"], json!(2), "the waterfall's paid_search mql number");
    let mut both = emails(&all);
    both.sort();
    assert_eq!(both, ["ann@acme.example", "bob@bigco.example"]);
    assert_eq!(all.json["next_after"], Value::Null);
    // A page at a time, in id order, nobody twice.
    let first =
        api.get(&format!("/v1/reports/waterfall/contacts?group_by=channel&group={group}&stage=mql&limit=1")).await;
    let after = first.json["next_after"].as_str().expect("a second page").to_owned();
    let second = api
        .get(&format!("/v1/reports/waterfall/contacts?group_by=channel&group={group}&stage=mql&limit=1&after={after}"))
        .await;
    assert_eq!((second.json["count"].clone(), second.json["next_after"].clone()), (json!(2), Value::Null));
    assert_eq!([emails(&first), emails(&second)].concat(), emails(&all));
    // The totals' cell, with no grouping: every contact that reached sql.
    let sql = api.get("/v1/reports/waterfall/contacts?stage=sql").await;
    assert_eq!((sql.json["count"].clone(), emails(&sql)), (json!(1), vec!["ann@acme.example".to_owned()]));
    assert!(sql.json["contacts"][0]["reached_at"].is_string());

    let month = &today()[..7];
    let won = api.get(&format!("/v1/reports/cohorts/contacts?month={month}&stage=customer")).await;
    assert_eq!(
        (won.json["count"].clone(), emails(&won)),
        (json!(1), vec!["ann@acme.example".to_owned()]),
        "{}",
        won.text
    );

    for (uri, code, field) in [
        ("/v1/reports/waterfall/contacts?stage=nurture", "invalid_stage", "stage"),
        ("/v1/reports/waterfall/contacts?stage=mql&group_by=channel", "invalid_value", "group"),
        (
            "/v1/reports/waterfall/contacts?stage=mql&group_by=channel&group=%7B%22vendor%22%3Anull%7D",
            "invalid_value",
            "group",
        ),
        ("/v1/reports/waterfall/contacts?stage=mql&limit=0", "invalid_value", "limit"),
        ("/v1/reports/cohorts/contacts?stage=mql", "invalid_value", "month"),
        ("/v1/reports/cohorts/contacts?stage=mql&month=2026-13", "invalid_value", "month"),
        ("/v1/reports/cohorts/contacts?stage=mql&month=2026-01&months_after=25", "invalid_value", "months_after"),
        ("/v1/reports/cohorts/contacts?stage=mql&month=2026-01&group_by=channel", "invalid_value", "group_by"),
        ("/v1/reports/waterfall/contacts?stage=mql&month=2026-01", "invalid_value", "month"),
    ] {
        let r = api.get(uri).await;
        assert_error(&r, StatusCode::UNPROCESSABLE_ENTITY, code);
        assert_eq!(r.json["error"]["field"], json!(field), "{uri}: {}", r.text);
    }
    let no_stage = api.get("/v1/reports/waterfall/contacts").await;
    assert_error(&no_stage, StatusCode::UNPROCESSABLE_ENTITY, "invalid_query");
}

async fn nonsense_asked_of_a_report_is_refused_clearly(store: Arc<dyn Store>) {
    let api = Api::new(store).await;
    let cohorts = api.get("/v1/reports/cohorts?from=2026-02-01&to=2026-01-01").await;
    assert_error(&cohorts, StatusCode::UNPROCESSABLE_ENTITY, "invalid_value");
    for (query, code, field, says) in [
        ("group_by=colour", "invalid_value", "group_by", "unknown grouping \"colour\""),
        ("group_by=channel,vendor,offer", "invalid_value", "group_by", "at most 2"),
        ("from=2026-02-01&to=2026-01-01", "invalid_value", "to", "ends"),
        ("from=1950-01-01&to=2050-01-01", "invalid_value", "to", "longer than"),
        ("direction=sideways", "invalid_value", "direction", "inbound or outbound"),
        ("format=pdf", "invalid_value", "format", "json, csv or svg"),
        ("from=last%20tuesday", "invalid_date", "from", "a date"),
    ] {
        let r = api.get(&format!("/v1/reports/waterfall?{query}")).await;
        assert_error(&r, StatusCode::UNPROCESSABLE_ENTITY, code);
        assert_eq!(r.json["error"]["field"], json!(field), "{query}: {}", r.text);
        assert!(r.json["error"]["message"].as_str().unwrap().contains(says), "{query}: {}", r.text);
    }
    let unknown = api.get("/v1/reports/waterfall?group=channel").await;
    assert_error(&unknown, StatusCode::UNPROCESSABLE_ENTITY, "invalid_query");
    let anonymous = api
        .send(api.req(axum::http::Method::GET, "/v1/reports/waterfall", None).body(axum::body::Body::empty()).unwrap())
        .await;
    assert_error(&anonymous, StatusCode::UNAUTHORIZED, "unauthenticated");
    // An empty database: a clearly empty report.
    let empty = api.get("/v1/reports/waterfall?group_by=channel").await;
    assert_eq!(empty.status, StatusCode::OK, "{}", empty.text);
    assert_eq!((empty.json["groups"].clone(), counts(&empty.json["totals"])), (json!([]), vec![0; 7]));
}

async fn contacts_rejected_then_won_are_found_with_their_reason_and_what_they_did_between(store: Arc<dyn Store>) {
    let api = Api::new(store).await;
    let mut ids = Vec::new();
    for email in ["ann@acme.example", "bob@bigco.example", "cat@corp.example", "dan@dyn.example"] {
        let r = api.inquire_with_key(json!({"email": email, "source": {"channel": "paid_search"}})).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
        ids.push(r.json["contact_id"].as_str().unwrap().to_owned());
    }
    let go = |who: usize, stage: &'static str, reason: &'static str, value: Option<i64>| {
        let (api, id) = (&api, ids[who].clone());
        async move {
            let r = api
                .post(&format!("/v1/contacts/{id}/stage"), json!({"stage": stage, "reason": reason, "value": value}))
                .await;
            assert_eq!(r.status, StatusCode::OK, "{stage}: {}", r.text);
        }
    };
    go(0, "mql", "fit", None).await;
    go(0, "nurture", "not ready: budget next year", None).await;
    // Ann comes back: two visits and a second inquiry, then a deal.
    let events = json!({"events": [{"email": "ann@acme.example", "kind": "pricing_view"}, {"email": "ann@acme.example", "kind": "page_view"}]});
    assert_eq!(api.post("/v1/events", events).await.status, StatusCode::ACCEPTED);
    let again =
        api.inquire_with_key(json!({"email": "ann@acme.example", "source": {"channel": "organic_search"}})).await;
    assert_eq!(again.status, StatusCode::CREATED, "{}", again.text);
    go(0, "opportunity", "demo booked", Some(100_000)).await;
    go(0, "customer", "signed", Some(120_000)).await;
    go(1, "lost", "price", None).await;
    go(2, "disqualified", "student", None).await;

    let r = api.get_as("/v1/reports/rejected-then-won", &api.key(Role::Readonly).await).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let t = &r.json["totals"];
    assert_eq!((t["rejected"].clone(), t["won_back"].clone(), t["customers"].clone()), (json!(3), json!(1), json!(1)));
    assert_eq!(t["rejected_to"], json!({"nurture": 1, "lost": 1, "disqualified": 1}));
    assert_eq!((t["value"].clone(), t["share_won_back"].clone()), (json!(120_000), json!(1.0 / 3.0)));
    assert_eq!(t["stage_now"], json!({"customer": 1, "lost": 1, "disqualified": 1}));
    assert_eq!(r.json["months"][0]["month"], json!(today()[..7]));
    assert_eq!(r.json["months"][0]["rejected"], json!(3));
    let ann = &r.json["contacts"][0];
    assert_eq!(r.json["contacts"].as_array().unwrap().len(), 1, "dan was never rejected");
    assert_eq!(
        (ann["email"].clone(), ann["reason"].clone()),
        (json!("ann@acme.example"), json!("not ready: budget next year"))
    );
    assert_eq!(
        (ann["rejected_to"].clone(), ann["won_stage"].clone(), ann["value"].clone()),
        (json!("nurture"), json!("customer"), json!(120_000))
    );
    assert_eq!((ann["responses_between"].clone(), ann["events_between"].clone()), (json!(1), json!(2)));

    let outbound = api.get("/v1/reports/rejected-then-won?direction=outbound").await;
    assert_eq!(outbound.json["totals"]["rejected"], json!(0), "{}", outbound.text);
    assert_eq!(outbound.json["totals"]["share_won_back"], Value::Null, "no rejections: no share, not 0/0");
    let csv = api.get("/v1/reports/rejected-then-won?format=csv").await;
    assert!(
        csv.text.starts_with(
            "scope,month,rejected,to_nurture,to_lost,to_disqualified,won_back,customers,share_won_back,value\n"
        ),
        "{}",
        csv.text
    );
    assert!(csv.text.ends_with("total,,3,1,1,1,1,1,0.3333333333333333,120000\n"), "{}", csv.text);
    let grouped = api.get("/v1/reports/rejected-then-won?group_by=channel").await;
    assert_error(&grouped, StatusCode::UNPROCESSABLE_ENTITY, "invalid_value");
}

async fn the_funnel_mix_counts_each_contact_in_the_band_of_its_stage_at_each_month_end(store: Arc<dyn Store>) {
    let api = Api::new(store).await;
    funnel(&api).await;
    let r = api.get_as("/v1/reports/funnel-mix", &api.key(Role::Readonly).await).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let months = r.json["months"].as_array().unwrap();
    assert_eq!(months.len(), 12, "the last twelve months, this one included");
    let now = months.last().unwrap();
    assert_eq!(now["month"], json!(today()[..7]));
    let bands: Vec<u64> = ["top", "middle", "bottom", "customer", "nurture", "out", "contacts"]
        .map(|b| now[b].as_u64().unwrap())
        .to_vec();
    // A prospect; two mqls (one back from nurture); a customer; one disqualified.
    assert_eq!(bands, [1, 2, 0, 1, 0, 1, 5], "{now}");
    assert!(months[..11].iter().all(|m| m["contacts"] == json!(0)), "no contact before it was created");
    let outbound = api.get("/v1/reports/funnel-mix?direction=outbound").await;
    assert_eq!(outbound.json["months"][11]["contacts"], json!(0), "{}", outbound.text);
    let this_month = format!("{}-01", &today()[..7]);
    let one = api.get(&format!("/v1/reports/funnel-mix?from={this_month}&format=csv")).await;
    let lines: Vec<&str> = one.text.lines().collect();
    assert_eq!(lines[0], "month,at,top,middle,bottom,customer,nurture,out,contacts");
    assert_eq!((lines.len(), lines[1].split(',').next_back()), (2, Some("5")), "{}", one.text);
    let grouped = api.get("/v1/reports/funnel-mix?group_by=channel").await;
    assert_error(&grouped, StatusCode::UNPROCESSABLE_ENTITY, "invalid_value");
    let ages = api.get("/v1/reports/funnel-mix?from=1900-01-01").await;
    assert_error(&ages, StatusCode::UNPROCESSABLE_ENTITY, "invalid_value");
    assert_eq!(ages.json["error"]["field"], json!("from"), "{}", ages.text);
    // A single month is drawn as points, not as an invisible line.
    let one = api.get(&format!("/v1/reports/funnel-mix?from={this_month}&format=svg")).await;
    assert!(one.text.contains("<circle"), "{}", one.text);
}

async fn every_report_draws_its_chart_as_svg_with_names_as_text(store: Arc<dyn Store>) {
    let api = Api::new(store).await;
    funnel(&api).await;
    let hostile =
        json!({"email": "max@mal.example", "source": {"channel": "paid_search", "campaign": "<b onload=x>\"Q1\"</b>"}});
    assert_eq!(api.inquire_with_key(hostile).await.status, StatusCode::CREATED);
    for (report, title) in [
        ("waterfall?group_by=campaign", "Demand waterfall"),
        ("cost?group_by=campaign", "Cost per stage"),
        ("cohorts", "Cohorts: customers by month of entry"),
        ("inflow?group_by=campaign", "Inflow: responses per week"),
        ("funnel-mix", "Funnel mix"),
        ("rejected-then-won", "Rejected, then won"),
        ("forecast", "Forecast: contacts first reaching each stage"),
    ] {
        let sep = if report.contains('?') { '&' } else { '?' };
        let r = api.get(&format!("/v1/reports/{report}{sep}format=svg")).await;
        assert_eq!(r.status, StatusCode::OK, "{report}: {}", r.text);
        assert_eq!(r.headers[header::CONTENT_TYPE], "image/svg+xml", "{report}");
        assert!(r.text.starts_with("<svg") && r.text.trim_end().ends_with("</svg>"), "{report}: {}", r.text);
        assert!(r.text.contains(title), "{report} is titled: {}", r.text);
        assert!(!r.text.contains("<b onload") && !r.text.contains("</b>"), "{report}: a name is text, not markup");
    }
    // The campaign's name is in the waterfall's legend, as text.
    let w = api.get("/v1/reports/waterfall?group_by=campaign&format=svg").await;
    assert!(w.text.contains("campaign=&lt;b onload=x&gt;"), "{}", w.text);
    assert!(w.text.contains("share of contacts that entered"), "the axis says what it counts");
}

/// Day `day` of the month `ago` months before this one, 10:00, as HubSpot writes it.
fn months_ago(ago: i32, day: u32) -> String {
    let t = today();
    let (y, m): (i32, i32) = (t[..4].parse().unwrap(), t[5..7].parse().unwrap());
    let n = y * 12 + m - 1 - ago;
    format!("{:04}-{:02}-{day:02} 10:00", n.div_euclid(12), n.rem_euclid(12) + 1)
}

async fn a_forecast_made_months_ago_stands_beside_what_then_happened(store: Arc<dyn Store>) {
    let api = Api::new(store).await;
    // A year of history, as a HubSpot export gives it: ten contacts enter each month,
    // five are mqls on entry, and two of those become customers the month after (all
    // before this month, whatever day it is).
    let mut csv = "Record ID,Email,Create Date,Original Source,Became a Marketing Qualified Lead Date,\
                   Became a Customer Date\n"
        .to_owned();
    for ago in 2..=13 {
        for i in 0..10 {
            let entered = months_ago(ago, 10);
            let mql = if i < 5 { entered.clone() } else { String::new() };
            let won = if i < 2 { months_ago(ago - 1, 5) } else { String::new() };
            csv += &format!("{ago}-{i},p{ago}x{i}@firm.example,{entered},Organic Search,{mql},{won}\n");
        }
    }
    let r = api.upload("/v1/imports?preset=hubspot", &api.admin.clone(), "text/csv", csv).await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.text);
    assert_eq!(api.finished(&r.json["id"]).await["status"], json!("finished"));

    // As of the first of the month four months ago: made at that month's start, for it
    // and the two after, all over by now.
    let as_of = &months_ago(4, 1)[..10];
    let reader = api.key(Role::Readonly).await;
    let r = api.get_as(&format!("/v1/reports/forecast?as_of={as_of}"), &reader).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let f = &r.json;
    assert_eq!(f["made_at"], json!(format!("{}T00:00:00Z", as_of)));
    assert_eq!(f["months"], json!([&months_ago(4, 1)[..7], &months_ago(3, 1)[..7], &months_ago(2, 1)[..7]]));
    assert_eq!((f["confidence"].clone(), f["currency"].clone()), (json!(0.9), json!("USD")));
    let inbound = &f["directions"][0];
    assert_eq!(inbound["direction"], json!("inbound"));
    assert_eq!(inbound["entered"]["recent"], json!([10, 10, 10, 10, 10, 10]));
    let stage = |name: &str| inbound["stages"].as_array().unwrap().iter().find(|s| s["stage"] == json!(name)).unwrap();
    for k in 0..3 {
        let (entered, mqls, customers) =
            (&inbound["entered"]["months"][k], &stage("mql")["months"][k], &stage("customer")["months"][k]);
        assert_eq!((entered["expected"].as_f64(), entered["actual"].as_i64()), (Some(10.0), Some(10)), "{entered}");
        assert_eq!((mqls["expected"].as_f64(), mqls["actual"].as_i64()), (Some(5.0), Some(5)), "{mqls}");
        let expected = customers["expected"].as_f64().unwrap();
        assert!((1.8..=2.2).contains(&expected), "two a month: {customers}");
        assert_eq!(customers["actual"], json!(2));
        assert!(
            customers["low"].as_f64().unwrap() <= 2.0 && 2.0 <= customers["high"].as_f64().unwrap(),
            "what happened is inside the interval: {customers}"
        );
    }
    assert_eq!(stage("customer")["recent"], json!([2, 2, 2, 2, 2, 2]));

    // Made now: this month and the two after, none over yet.
    let now = api.get("/v1/reports/forecast?months=2").await;
    assert_eq!(now.json["months"], json!([&today()[..7], &months_ago(-1, 1)[..7]]), "{}", now.text);
    assert!(now.json["directions"][0]["stages"][0]["months"][0]["actual"].is_null());

    let table = api.get(&format!("/v1/reports/forecast?as_of={as_of}&format=csv")).await;
    let lines: Vec<&str> = table.text.lines().collect();
    assert_eq!(lines[0], "direction,measure,month,kind,expected,low,high,in_funnel,new,actual");
    let mql_row = lines.iter().find(|l| l.starts_with(&format!("inbound,mql,{},forecast,", &months_ago(4, 1)[..7])));
    assert!(mql_row.is_some_and(|l| l.ends_with(",5")), "{}", table.text);
}

async fn nonsense_asked_of_a_forecast_is_refused_clearly(store: Arc<dyn Store>) {
    let api = Api::new(store).await;
    for (query, code, field, says) in [
        ("months=0", "invalid_value", Some("months"), "1 to 3"),
        ("months=4", "invalid_value", Some("months"), "1 to 3"),
        ("as_of=2999-01-01", "invalid_date", Some("as_of"), "in the future"),
        ("as_of=yesterday", "invalid_date", Some("as_of"), "a date"),
        ("format=pdf", "invalid_value", Some("format"), "json, csv or svg"),
        ("months=three", "invalid_query", None, "months"),
        ("group_by=channel", "invalid_query", None, "group_by"),
    ] {
        let r = api.get(&format!("/v1/reports/forecast?{query}")).await;
        assert_error(&r, StatusCode::UNPROCESSABLE_ENTITY, code);
        if let Some(field) = field {
            assert_eq!(r.json["error"]["field"], json!(field), "{query}: {}", r.text);
        }
        assert!(r.json["error"]["message"].as_str().unwrap().contains(says), "{query}: {}", r.text);
    }
    let anonymous = api
        .send(api.req(axum::http::Method::GET, "/v1/reports/forecast", None).body(axum::body::Body::empty()).unwrap())
        .await;
    assert_error(&anonymous, StatusCode::UNAUTHORIZED, "unauthenticated");
    // An empty database: zeros with empty intervals, not a division by zero.
    let empty = api.get("/v1/reports/forecast").await;
    assert_eq!(empty.status, StatusCode::OK, "{}", empty.text);
    for d in empty.json["directions"].as_array().unwrap() {
        for s in d["stages"].as_array().unwrap() {
            for m in s["months"].as_array().unwrap() {
                assert_eq!((m["expected"].as_f64(), m["high"].as_f64()), (Some(0.0), Some(0.0)), "{m}");
            }
        }
    }
}

async fn a_report_asked_while_contacts_move_counts_every_move_acknowledged_before_it(store: Arc<dyn Store>) {
    use std::sync::atomic::{AtomicU64, Ordering};
    let api = Api::new(store).await;
    funnel(&api).await;
    let mqls = |w: &Value| counts(&w["totals"])[2];
    let before = api.get("/v1/reports/waterfall").await;
    assert_eq!(mqls(&before.json), 3, "{}", before.text);
    // Twenty people inquire and are handed over as mqls, while the waterfall is asked
    // again and again.
    let handed_over = AtomicU64::new(0);
    let people = 20u64;
    let moving = futures_util::future::join_all((0..people).map(|n| {
        let (api, handed_over) = (&api, &handed_over);
        async move {
            let r = api.inquire_with_key(json!({"email": format!("p{n}@many.example")})).await;
            assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
            let id = r.json["contact_id"].as_str().unwrap().to_owned();
            let r = api.post(&format!("/v1/contacts/{id}/stage"), json!({"stage": "mql", "reason": "call"})).await;
            assert_eq!(r.status, StatusCode::OK, "{}", r.text);
            handed_over.fetch_add(1, Ordering::SeqCst);
        }
    }));
    // Asked one after another while the moves go on: each answer counts at least the
    // moves acknowledged before it was asked, and at most all of them.
    let asking = async {
        let mut asked = 0;
        while handed_over.load(Ordering::SeqCst) < people || asked == 0 {
            let acknowledged = handed_over.load(Ordering::SeqCst);
            let w = api.get("/v1/reports/waterfall").await;
            assert_eq!(w.status, StatusCode::OK, "{}", w.text);
            let counted = mqls(&w.json) - 3;
            assert!(acknowledged <= counted && counted <= people, "{acknowledged} acknowledged, {counted} counted");
            asked += 1;
        }
    };
    tokio::join!(moving, asking);
    // And once more after each further move: it counts at once.
    for n in 0..3u64 {
        let r = api.inquire_with_key(json!({"email": format!("late{n}@many.example")})).await;
        let id = r.json["contact_id"].as_str().unwrap().to_owned();
        let r = api.post(&format!("/v1/contacts/{id}/stage"), json!({"stage": "mql", "reason": "call"})).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        let w = api.get("/v1/reports/waterfall").await;
        assert_eq!(mqls(&w.json), 3 + people + n + 1, "{}", w.text);
    }
    let people = people + 3;
    let after = api.get("/v1/reports/waterfall").await;
    assert_eq!(mqls(&after.json), 3 + people, "{}", after.text);
    assert_eq!(counts(&after.json["totals"])[0], 4 + people, "every new contact entered");
}
