//! Reports on the real Olist funnel, on SQLite and PostgreSQL: each channel's figures
//! are recounted here straight from the two CSV files.

mod support;

use leadgate_app::reports::ReportQuery;
use leadgate_app::reports::cells::{CellOf, CellQuery};
use leadgate_app::reports::forecast::ForecastQuery;
use leadgate_core::reports::Grouping;
use leadgate_core::time::MICROS_PER_DAY;
use leadgate_core::{Stage, Timestamp};
use leadgate_store::Store;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use support::{app, example, import_csv, shared_data};

leadgate_store::on_both_stores!(
    the_olist_reports_are_the_files_own,
    x_education_conversion_by_lead_source_is_the_files_own,
    reports_are_the_same_whatever_the_row_order_a_merge_undone_or_summaries_rebuilt
);

/// The month of a date or time written `2018-02-26[ 19:58:54]`, counted from year 0.
fn month(s: &str) -> i32 {
    let (y, m) = (s[..4].parse::<i32>().unwrap(), s[5..7].parse::<i32>().unwrap());
    y * 12 + m - 1
}

/// What the files say of each month of first contact: MQLs, and how many were won in
/// each month after (by the mql's id).
fn cohorts_recounted() -> BTreeMap<i32, (u64, BTreeMap<i32, u64>)> {
    let mut won: HashMap<String, i32> = HashMap::new();
    for r in csv::Reader::from_path(shared_data("olist/olist_closed_deals_dataset.csv")).unwrap().records() {
        let r = r.unwrap();
        won.insert(r[0].to_owned(), month(&r[4]));
    }
    let mut out: BTreeMap<i32, (u64, BTreeMap<i32, u64>)> = BTreeMap::new();
    for r in csv::Reader::from_path(shared_data("olist/olist_marketing_qualified_leads_dataset.csv")).unwrap().records()
    {
        let r = r.unwrap();
        let entered = month(&r[1]);
        let cohort = out.entry(entered).or_default();
        cohort.0 += 1;
        if let Some(w) = won.get(&r[0]) {
            *cohort.1.entry((w - entered).max(0)).or_default() += 1;
        }
    }
    out
}

/// What the files say of each channel: MQLs, and the days from first contact to won of
/// each that closed. The origins are named as the shipped mapping names them.
/// A file's origin as the shipped mapping names the channel.
fn channel_of(origin: &str) -> Option<String> {
    match origin {
        "" | "unknown" => None,
        "direct_traffic" => Some("direct".to_owned()),
        "email" => Some("email_newsletter".to_owned()),
        other => Some(other.to_owned()),
    }
}

fn recounted() -> HashMap<Option<String>, (u64, Vec<f64>)> {
    let channel = channel_of;
    let at = |s: &str| Timestamp::parse_rfc3339(&format!("{}Z", s.replace(' ', "T"))).unwrap();
    let mut won: HashMap<String, Timestamp> = HashMap::new();
    for r in csv::Reader::from_path(shared_data("olist/olist_closed_deals_dataset.csv")).unwrap().records() {
        let r = r.unwrap();
        won.insert(r[0].to_owned(), at(&r[4]));
    }
    let mut out: HashMap<Option<String>, (u64, Vec<f64>)> = HashMap::new();
    for r in csv::Reader::from_path(shared_data("olist/olist_marketing_qualified_leads_dataset.csv")).unwrap().records()
    {
        let r = r.unwrap();
        let entry = out.entry(channel(&r[3])).or_default();
        entry.0 += 1;
        if let Some(w) = won.get(&r[0]) {
            let first = at(&format!("{}T00:00:00", &r[1]));
            entry.1.push((w.0 - first.0) as f64 / MICROS_PER_DAY as f64);
        }
    }
    out
}

async fn the_olist_reports_are_the_files_own(store: Arc<dyn Store>) {
    let app = app(&store);
    for (file, mapping) in [
        ("olist/olist_marketing_qualified_leads_dataset.csv", "olist-mqls.toml"),
        ("olist/olist_closed_deals_dataset.csv", "olist-closed-deals.toml"),
    ] {
        import_csv(&app, std::fs::read(shared_data(file)).unwrap(), &example(mapping)).await.unwrap();
    }
    let q = ReportQuery { group_by: Some("channel".into()), ..ReportQuery::default() };
    let w = app.waterfall(&q).await.unwrap();
    let files = recounted();
    assert_eq!(w.groups.len(), files.len(), "a group per channel of the file");
    let (mql, customer) = (2, 6);
    for g in &w.groups {
        let channel = g.group[&Grouping::Channel].clone();
        let (mqls, won_days) = &files[&channel];
        let mut days = won_days.clone();
        days.sort_by(f64::total_cmp);
        assert_eq!((g.stages[mql].count, g.stages[customer].count), (*mqls, days.len() as u64), "{channel:?}");
        let n = days.len();
        let theirs = (n > 0).then(|| if n % 2 == 1 { days[n / 2] } else { (days[n / 2 - 1] + days[n / 2]) / 2.0 });
        let ours = g.stages[customer].median_days_from_first;
        assert!(
            ours.zip(theirs).is_some_and(|(a, b)| (a - b).abs() < 1e-9) || ours == theirs,
            "{channel:?}: median days to won {ours:?} against the files' {theirs:?}"
        );
    }
    let organic = w.groups.iter().find(|g| g.group[&Grouping::Channel].as_deref() == Some("organic_search")).unwrap();
    assert_eq!((organic.stages[mql].count, organic.stages[customer].count), (2_296, 271));
    // Opened, the number is its contacts: the 271 closed deals of organic search.
    let cell = CellQuery {
        group_by: Some("channel".into()),
        group: Some(r#"{"channel": "organic_search"}"#.into()),
        stage: "customer".into(),
        limit: Some(1_000),
        ..CellQuery::default()
    };
    let opened = app.report_cell(CellOf::Waterfall, &cell).await.unwrap();
    assert_eq!((opened.count, opened.contacts.len(), opened.next_after), (271, 271, None));
    let email = w.groups.iter().find(|g| g.group[&Grouping::Channel].as_deref() == Some("email_newsletter")).unwrap();
    assert_eq!((email.stages[mql].count, email.stages[customer].count), (493, 15));
    // Groups add up to the totals, stage by stage.
    for k in 0..w.totals.stages.len() {
        assert_eq!(w.groups.iter().map(|g| g.stages[k].count).sum::<u64>(), w.totals.stages[k].count);
    }
    assert_eq!((w.totals.stages[mql].count, w.totals.stages[customer].count), (8_000, 842));

    // Cohorts: each month's MQLs, and the customers among them by each month after.
    let c = app.cohorts(&ReportQuery::default()).await.unwrap();
    let files = cohorts_recounted();
    let months: Vec<i32> = c.cohorts.iter().map(|c| c.month.0).collect();
    assert_eq!(months, files.keys().copied().collect::<Vec<_>>());
    for cohort in &c.cohorts {
        let (mqls, won_in) = &files[&cohort.month.0];
        assert_eq!(cohort.contacts, *mqls, "{}", cohort.month);
        let customers = cohort.stages.iter().find(|s| s.stage == leadgate_core::Stage::Customer).unwrap();
        for cell in &customers.by_month {
            let by_then: u64 = won_in.range(..=cell.months_after as i32).map(|(_, n)| n).sum();
            assert_eq!(cell.reached, by_then, "{} + {} months", cohort.month, cell.months_after);
        }
    }
    let won_cohorts: u64 = c.cohorts.iter().map(|c| c.stages[5].by_month.last().unwrap().reached).sum();
    assert_eq!(won_cohorts, 842, "every deal is in its cohort, followed to today");

    // Inflow: each week's MQLs by channel, as the file dates them.
    let q = ReportQuery {
        group_by: Some("channel".into()),
        from: Some("2018-01-01".into()),
        to: Some("2018-06-04".into()),
        ..ReportQuery::default()
    };
    let inflow = app.inflow(&q).await.unwrap();
    assert_eq!(inflow.weeks.len(), 22, "Monday 2018-01-01 to Sunday 2018-06-03");
    let mut by_week: HashMap<(Option<String>, String), u64> = HashMap::new();
    for r in csv::Reader::from_path(shared_data("olist/olist_marketing_qualified_leads_dataset.csv")).unwrap().records()
    {
        let r = r.unwrap();
        let at = Timestamp::parse_rfc3339(&format!("{}T00:00:00Z", &r[1])).unwrap();
        if at.to_rfc3339().as_str() >= "2018-01-01" && at.to_rfc3339().as_str() < "2018-06-04" {
            let week = leadgate_core::reports::inflow::week_start(leadgate_core::reports::inflow::week_of(at));
            *by_week.entry((channel_of(&r[3]), week)).or_default() += 1;
        }
    }
    for g in &inflow.groups {
        let channel = g.group[&Grouping::Channel].clone();
        for (week, n) in inflow.weeks.iter().zip(&g.counts) {
            assert_eq!(*n, by_week.get(&(channel.clone(), week.clone())).copied().unwrap_or(0), "{channel:?} {week}");
        }
    }
    assert_eq!(inflow.totals.total, by_week.values().sum::<u64>());

    // The forecast made at 2018-03-01 for March to May, beside what the files say then
    // happened: the months' MQLs and deals won.
    let q = ForecastQuery { as_of: Some("2018-02-28".into()), ..ForecastQuery::default() };
    let f = app.forecast(&q).await.unwrap();
    assert_eq!(f.made_at.to_rfc3339(), "2018-03-01T00:00:00Z");
    let files = cohorts_recounted();
    let mut won_in: BTreeMap<i32, i64> = BTreeMap::new();
    for r in csv::Reader::from_path(shared_data("olist/olist_closed_deals_dataset.csv")).unwrap().records() {
        *won_in.entry(month(&r.unwrap()[4])).or_default() += 1;
    }
    let inbound = &f.directions[0];
    let line = |stage: Stage| &inbound.stages.iter().find(|s| s.stage == stage).unwrap().line;
    let recent: Vec<i64> = f.recent_months.iter().map(|m| files.get(&m.0).map_or(0, |c| c.0 as i64)).collect();
    assert_eq!(inbound.entered.recent, recent, "September to February's MQLs, as the file dates them");
    for (k, m) in f.months.iter().enumerate() {
        let (mqls, customers) = (&line(Stage::Mql).months[k], &line(Stage::Customer).months[k]);
        assert_eq!(mqls.actual, Some(files[&m.0].0 as i64), "{m}");
        assert_eq!(customers.actual, Some(won_in[&m.0]), "{m}");
        let happened = files[&m.0].0 as f64;
        assert!(mqls.low <= happened && happened <= mqls.high, "{m}: what happened is inside {mqls:?}");
        // The inflow of MQLs is forecast within 15 % (docs/reports.md has the whole backtest).
        let error = (mqls.expected - files[&m.0].0 as f64).abs() / files[&m.0].0 as f64;
        assert!(error < 0.15, "{m}: {mqls:?}");
    }
    assert!(f.directions[1].stages.iter().all(|s| s.line.months.iter().all(|e| e.expected == 0.0)), "no outbound");
}

/// X Education's `Lead Source` as the shipped mapping names the channel.
fn xeducation_channel(source: &str) -> Option<String> {
    let channel = match source {
        "" => return None,
        "Google" | "google" | "bing" | "Pay per Click Ads" => "paid_search",
        "Direct Traffic" => "direct",
        "Olark Chat" | "Live Chat" => "live_chat",
        "Organic Search" => "organic_search",
        "Reference" | "Referral Sites" | "Welingak Website" | "WeLearn" | "welearnblog_Home" | "blog" => "referral",
        "Facebook" | "Social Media" | "youtubechannel" => "social",
        "Click2call" => "phone",
        "Press_Release" => "pr",
        "NC_EDM" => "email_newsletter",
        other => other,
    };
    Some(channel.to_owned())
}

async fn x_education_conversion_by_lead_source_is_the_files_own(store: Arc<dyn Store>) {
    let app = app(&store);
    let bytes = std::fs::read(shared_data("xeducation/Leads.csv")).unwrap();
    import_csv(&app, bytes, &example("xeducation.toml")).await.unwrap();
    // From the file: leads and conversions by source.
    let mut files: HashMap<Option<String>, (u64, u64)> = HashMap::new();
    for r in
        csv::Reader::from_path(shared_data("xeducation/Leads.csv")).unwrap().deserialize::<HashMap<String, String>>()
    {
        let r = r.unwrap();
        let entry = files.entry(xeducation_channel(&r["Lead Source"])).or_default();
        entry.0 += 1;
        entry.1 += u64::from(r["Converted"] == "1");
    }
    let q = ReportQuery { group_by: Some("channel".into()), ..ReportQuery::default() };
    let w = app.waterfall(&q).await.unwrap();
    assert_eq!(w.groups.len(), files.len(), "{:?}", w.groups.iter().map(|g| &g.group).collect::<Vec<_>>());
    for g in &w.groups {
        let channel = g.group[&Grouping::Channel].clone();
        let (leads, converted) = files[&channel];
        let customer = &g.stages[6];
        assert_eq!((g.stages[0].count, customer.count), (leads, converted), "{channel:?}");
        assert_eq!(customer.conversion_from_first, Some(converted as f64 / leads as f64), "{channel:?}");
    }
    assert_eq!(w.totals.stages[0].count, 9_240);
}

/// Every report of Olist that does not list contacts, as JSON (the lists name contacts
/// by ids, which differ from one import to another).
async fn olist_reports(app: &leadgate_app::App) -> Vec<serde_json::Value> {
    let q = |group_by: Option<&str>, from: Option<&str>, to: Option<&str>| ReportQuery {
        group_by: group_by.map(str::to_owned),
        from: from.map(str::to_owned),
        to: to.map(str::to_owned),
        ..ReportQuery::default()
    };
    let mut rejected = json(&app.rejected_then_won(&q(None, None, None)).await.unwrap());
    rejected.as_object_mut().unwrap().remove("contacts");
    vec![
        json(&app.waterfall(&q(Some("channel"), None, None)).await.unwrap()),
        json(&app.waterfall(&q(Some("direction,offer"), Some("2017-06-01"), Some("2018-01-01"))).await.unwrap()),
        json(&app.cost(&q(Some("channel"), None, None)).await.unwrap()),
        json(&app.cohorts(&q(None, None, None)).await.unwrap()),
        json(&app.funnel_mix(&q(None, Some("2017-06-01"), Some("2018-12-01"))).await.unwrap()),
        json(&app.inflow(&q(Some("channel"), Some("2017-06-05"), Some("2018-06-04"))).await.unwrap()),
        rejected,
        json(&app.forecast(&ForecastQuery { as_of: Some("2018-02-28".into()), ..Default::default() }).await.unwrap()),
    ]
}

fn json<T: serde::Serialize>(report: &T) -> serde_json::Value {
    serde_json::to_value(report).unwrap()
}

/// A CSV file with its rows (not its header) in reverse order.
fn reversed(csv: &[u8]) -> Vec<u8> {
    let text = std::str::from_utf8(csv).unwrap();
    let mut lines: Vec<&str> = text.lines().collect();
    lines[1..].reverse();
    (lines.join("\n") + "\n").into_bytes()
}

async fn reports_are_the_same_whatever_the_row_order_a_merge_undone_or_summaries_rebuilt(store: Arc<dyn Store>) {
    let files = [
        ("olist/olist_marketing_qualified_leads_dataset.csv", "olist-mqls.toml"),
        ("olist/olist_closed_deals_dataset.csv", "olist-closed-deals.toml"),
    ];
    let app = app(&store);
    for (file, mapping) in files {
        import_csv(&app, std::fs::read(shared_data(file)).unwrap(), &example(mapping)).await.unwrap();
        // Asked between the files, the reports' summaries are built after the first and
        // follow the second through the change feed.
        app.waterfall(&ReportQuery::default()).await.unwrap();
    }
    let in_order = olist_reports(&app).await;
    // The same files, each read from its last row to its first, into a database of its
    // own, its summaries built once both are in.
    let dir = tempfile::tempdir().unwrap();
    let other_store = leadgate_store::testing::sqlite_store(dir.path()).await;
    let other = support::app(&other_store);
    for (file, mapping) in files {
        import_csv(&other, reversed(&std::fs::read(shared_data(file)).unwrap()), &example(mapping)).await.unwrap();
    }
    let backwards = olist_reports(&other).await;
    for (a, b) in in_order.iter().zip(&backwards) {
        assert_eq!(a, b, "a report read the other way round differs");
    }
    other_store.close().await;

    // A merge changes the numbers; its undo puts every one of them back.
    let two = store.contacts(&Default::default(), None, 2).await.unwrap();
    let actor = leadgate_core::Actor::Operator;
    let (merge, _) = app.merge_contacts(two[0].id, two[1].id, &actor).await.unwrap();
    let merged = olist_reports(&app).await;
    assert_ne!(merged[0], in_order[0], "one contact fewer in the waterfall");
    app.undo_merge(merge.id, &actor).await.unwrap();
    let undone = olist_reports(&app).await;
    for (a, b) in in_order.iter().zip(&undone) {
        assert_eq!(a, b, "a report differs after a merge and its undo");
    }

    // More changes, each followed from the feed: new contacts, a deal won, one
    // disqualified, a merge left in place. Built again from scratch, the summaries
    // give every report as followed.
    let new_rows = "mql_id,first_contact_date,landing_page_id,origin\n\
        00000000000000000000000000000001,2018-03-02,aa,organic_search\n\
        00000000000000000000000000000002,2018-03-03,bb,email\n";
    import_csv(&app, new_rows, &example("olist-mqls.toml")).await.unwrap();
    let mut mqls = store.contacts(&Default::default(), None, 50).await.unwrap();
    mqls.retain(|c| c.stage == Stage::Mql);
    app.change_stage(mqls[0].id, "customer", Some("signed"), Some(990_000), &actor).await.unwrap();
    app.change_stage(mqls[1].id, "disqualified", Some("a competitor"), None, &actor).await.unwrap();
    app.merge_contacts(mqls[2].id, mqls[3].id, &actor).await.unwrap();
    let followed = olist_reports(&app).await;
    assert_ne!(followed[0], in_order[0], "the changes show in the waterfall");
    app.forget_report_summaries().await;
    let rebuilt = olist_reports(&app).await;
    for (a, b) in followed.iter().zip(&rebuilt) {
        assert_eq!(a, b, "a report differs once its summaries are built again from scratch");
    }
}
