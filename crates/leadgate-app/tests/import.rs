//! Importing real files through the shipped example mappings, and the bad rows and
//! bad files a user sends, on SQLite and PostgreSQL.

mod support;

use support::{app, example, import_csv, shared_data};

use leadgate_app::App;
use leadgate_app::import::ImportOptions;
use leadgate_core::Actor;
use leadgate_core::import::{Mapping, presets};
use leadgate_core::model::ContactFilter;
use leadgate_core::model::ImportJob;
use leadgate_store::Store;
use std::path::PathBuf;
use std::sync::Arc;

leadgate_store::on_both_stores!(
    xeducation_imports_every_lead_and_its_outcome_once,
    olist_mqls_then_closed_deals_make_the_real_waterfall,
    bad_rows_are_reported_and_the_good_ones_imported,
    a_file_that_is_not_csv_or_lacks_mapped_columns_is_refused_before_writing,
    a_changed_row_updates_the_contact_and_records_what_changed,
    the_hubspot_preset_reads_a_hubspot_export,
    the_hubspot_preset_keeps_the_lifecycle_stage_and_a_lead_status_that_rejects,
    a_person_repeated_far_down_a_long_file_stays_one_contact,
    the_same_file_through_another_mapping_is_read_again,
    a_row_that_runs_on_for_megabytes_is_refused_and_the_rows_before_it_kept,
    a_file_with_other_separators_and_no_emails_takes_its_identity_from_the_row,
    hubspot_deals_bring_revenue_onto_their_contacts,
    salesforce_opportunities_bring_revenue_onto_their_contacts,
);

async fn import_file(app: &App, path: PathBuf, mapping: &Mapping) -> ImportJob {
    import_csv(app, std::fs::read(path).unwrap(), mapping).await.unwrap()
}

async fn one(store: &Arc<dyn Store>, filter: ContactFilter) -> leadgate_core::model::Contact {
    store.contacts(&filter, None, 2).await.unwrap().into_iter().next().expect("the contact exists")
}

async fn count(store: &Arc<dyn Store>, filter: ContactFilter) -> usize {
    let mut n = 0;
    let mut after = None;
    loop {
        let page = store.contacts(&filter, after, 1_000).await.unwrap();
        n += page.len();
        match page.last() {
            Some(c) if page.len() == 1_000 => after = Some(c.id),
            _ => return n,
        }
    }
}

fn at_stage(stage: &str) -> ContactFilter {
    ContactFilter { stage: Some(stage.parse().unwrap()), ..ContactFilter::default() }
}

async fn xeducation_imports_every_lead_and_its_outcome_once(store: Arc<dyn Store>) {
    let app = app(&store);
    let mapping = example("xeducation.toml");
    let first = import_file(&app, shared_data("xeducation/Leads.csv"), &mapping).await;
    assert_eq!(first.counts.rows, 9_240);
    assert_eq!(first.counts.rows_failed, 0, "{:?}", first.errors.first());
    assert_eq!(first.counts.contacts_created, 9_240);
    assert_eq!(store.totals().await.unwrap().contacts, 9_240);
    assert_eq!(count(&store, at_stage("customer")).await, 3_561);
    assert_eq!(count(&store, at_stage("lost")).await, 9_240 - 3_561);

    // A lead is found by its Prospect ID, and carries what the file said.
    let by_id =
        ContactFilter { external_id: Some("7927b2df-8bba-4d29-b9a2-b6e0beafe620".into()), ..ContactFilter::default() };
    let found = store.contacts(&by_id, None, 10).await.unwrap();
    assert_eq!(found.len(), 1);
    let c = &found[0];
    assert_eq!(c.custom["lead_number"], "660737");
    assert!(!c.custom.contains_key("specialization"), "\"Select\" means no answer");
    let responses = store.responses(c.id).await.unwrap();
    assert_eq!((responses[0].channel.as_deref(), responses[0].action.as_str()), (Some("live_chat"), "form_fill"));

    // The same file again creates nothing.
    let again = import_file(&app, shared_data("xeducation/Leads.csv"), &mapping).await;
    assert_eq!(again.counts.contacts_created, 0);
    assert_eq!(again.counts.contacts_unchanged, 9_240);
    assert_eq!(again.counts.responses_created + again.counts.stage_changes_created, 0);
    assert_eq!(store.totals().await.unwrap().contacts, 9_240);
}

async fn olist_mqls_then_closed_deals_make_the_real_waterfall(store: Arc<dyn Store>) {
    let app = app(&store);
    let mqls = import_file(
        &app,
        shared_data("olist/olist_marketing_qualified_leads_dataset.csv"),
        &example("olist-mqls.toml"),
    )
    .await;
    assert_eq!((mqls.counts.contacts_created, mqls.counts.rows_failed), (8_000, 0));
    let deals =
        import_file(&app, shared_data("olist/olist_closed_deals_dataset.csv"), &example("olist-closed-deals.toml"))
            .await;
    assert_eq!((deals.counts.rows, deals.counts.rows_failed, deals.counts.contacts_created), (842, 0, 0));
    assert_eq!(count(&store, at_stage("customer")).await, 842);
    assert_eq!(count(&store, at_stage("mql")).await, 8_000 - 842);
    // Again: nothing changes, not even for the deal won before its lead's first contact.
    let again =
        import_file(&app, shared_data("olist/olist_closed_deals_dataset.csv"), &example("olist-closed-deals.toml"))
            .await;
    assert_eq!((again.counts.contacts_unchanged, again.counts.stage_changes_created), (842, 0));
    assert_eq!(count(&store, at_stage("customer")).await, 842);
    // Organic search: 271 of 2,296 MQLs closed.
    let organic = ContactFilter { channel: Some("organic_search".into()), ..ContactFilter::default() };
    assert_eq!(count(&store, organic.clone()).await, 2_296);
    let won = ContactFilter { stage: Some("customer".parse().unwrap()), ..organic };
    assert_eq!(count(&store, won).await, 271);

    // The deal is in the history on its real date, with the sales rep as owner.
    let by_id = ContactFilter { external_id: Some("5420aad7fec3549a85876ba1c529bd84".into()), ..Default::default() };
    let c = store.contacts(&by_id, None, 1).await.unwrap().remove(0);
    assert_eq!(c.owner.as_deref(), Some("4ef15afb4b2723d8f3d81e51ec7afefe"));
    let history = store.stage_history(c.id).await.unwrap();
    let won = history.iter().find(|s| s.to.as_str() == "customer").unwrap();
    assert_eq!(won.at.to_rfc3339(), "2018-02-26T19:58:54Z");
}

const PEOPLE: &str = "system = \"crm\"\n[contact]\nexternal_id = \"id\"\nemail = \"email\"\nfirst_name = \"name\"\n\
    [response]\nat = \"created\"\nchannel = \"channel\"\n[[stage]]\nstage = \"stage\"\nat = \"closed\"\n";

async fn bad_rows_are_reported_and_the_good_ones_imported(store: Arc<dyn Store>) {
    let app = app(&store);
    let mapping = Mapping::from_toml(PEOPLE).unwrap();
    let mut csv = b"id,email,name,created,channel,stage,closed\n".to_vec();
    csv.extend_from_slice(b"1,ann@acme.example,Ann,2024-01-02,organic_search,,\n"); // line 2: good
    csv.extend_from_slice(b"2,bob@acme.example,Bob,02/30/2024,paid_search,,\n"); // 3: bad date
    csv.extend_from_slice(b"3,not-an-email,Cy,2024-01-02,,,\n"); // 4: bad email
    csv.extend_from_slice(b"4,dee@acme.example,Dee,2024-01-02,,winner,2024-03-01\n"); // 5: unknown stage
    csv.extend_from_slice(b"5,eve@acme.example,Eve\n"); // 6: too few columns
    csv.extend_from_slice(b"6,fay@acme.example,F\xffy,2024-01-02,,,\n"); // 7: not UTF-8
    csv.extend_from_slice(b"7,gus@acme.example,'; DROP TABLE contacts; --,2024-01-02,,customer,2024-05-01\n"); // 8: good
    csv.extend_from_slice(b"8,hal@acme.example,\"<script>alert(1)</script>\",2024-01-02,,,\n"); // 9: good
    csv.extend_from_slice(b"9,ivy@acme.example,\"Ivy,2024-01-02,,,\n"); // 10: a quote never closed
    let report = import_csv(&app, &csv, &mapping).await.unwrap();
    let problems: Vec<_> = report.errors.iter().map(|e| (e.row, e.column.as_deref(), e.code.as_ref())).collect();
    assert_eq!(
        problems,
        [
            (3, Some("created"), "invalid_value"),
            (4, Some("email"), "invalid_email"),
            (5, Some("stage"), "invalid_value"),
            (6, None, "column_count"),
            (7, Some("name"), "not_utf8"),
            (10, None, "column_count"),
        ]
    );
    assert_eq!(report.counts.contacts_created, 3);
    assert_eq!(store.totals().await.unwrap().contacts, 3);
    // Hostile text is kept literally.
    let gus = one(&store, ContactFilter { email: Some("gus@acme.example".into()), ..Default::default() }).await;
    assert_eq!(gus.first_name.as_deref(), Some("'; DROP TABLE contacts; --"));
    assert_eq!(gus.stage.as_str(), "customer");
    assert_eq!(gus.created_at.to_rfc3339(), "2024-01-02T00:00:00Z");

    // A file with no good row at all is an error.
    let all_bad = b"id,email,name,created,channel,stage,closed\n1,nope,A,,,,\n";
    let report = import_csv(&app, all_bad, &mapping).await.unwrap();
    assert_eq!(report.counts.rows_failed, report.counts.rows);
}

async fn a_file_that_is_not_csv_or_lacks_mapped_columns_is_refused_before_writing(store: Arc<dyn Store>) {
    let app = app(&store);
    let mapping = Mapping::from_toml(PEOPLE).unwrap();
    let cases: [(&[u8], &str, &str); 6] = [
        (b"", "empty_file", "empty"),
        (b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0", "not_csv", "not CSV"),
        (b"GIF89a\0\x01\0\x01\0\0\0,\n", "not_csv", "binary"),
        (b"{\"contacts\": [{\"email\": \"ann@acme.example\"}]}\n", "mapping_mismatch", "\"email\""),
        (b"id,mail,name,created,channel,stage,closed\n1,ann@acme.example,Ann,,,,\n", "mapping_mismatch", "\"email\""),
        (b"id,email,name,created,channel,stage,closed\n", "empty_file", "no rows"),
    ];
    for (csv, code, says) in cases {
        let err = import_csv(&app, csv, &mapping).await.unwrap_err();
        assert_eq!(err.code, code, "{}", err.message);
        assert!(err.message.contains(says), "{}", err.message);
    }
    assert_eq!(store.totals().await.unwrap().contacts, 0);

    // Mappings that cannot work are refused with what is wrong.
    for (text, says) in [
        ("[contact]\nfirst_name = \"n\"\n", "`email`, `external_id` or `id`"),
        ("[contact]\nexternal_id = \"id\"\n", "`system`"),
        ("[contact]\nemail = \"e\"\nfrist_name = \"n\"\n", "frist_name"),
        ("[contact]\nemail = { column = \"e\", format = \"%Q\" }\n", "%Q"),
    ] {
        let err = Mapping::from_toml(text).unwrap_err().to_string();
        assert!(err.contains(says), "{err}");
    }
}

async fn a_changed_row_updates_the_contact_and_records_what_changed(store: Arc<dyn Store>) {
    let app = app(&store);
    let mapping = Mapping::from_toml(
        "system = \"crm\"\n[contact]\nemail = \"email\"\ntitle = \"title\"\ndo_not_email = \"optout\"\n",
    )
    .unwrap();
    import_csv(&app, b"email,title,optout\nann@acme.example,Engineer,yes\n", &mapping).await.unwrap();
    let report = import_csv(&app, b"email,title,optout\nANN@acme.example ,CTO,no\n", &mapping).await.unwrap();
    assert_eq!((report.counts.contacts_created, report.counts.contacts_updated), (0, 1));
    let ann = one(&store, ContactFilter { email: Some("ann@acme.example".into()), ..Default::default() }).await;
    assert_eq!(ann.title.as_deref(), Some("CTO"));
    assert!(ann.do_not_email, "a file never lifts a do-not-email flag");
    let changes = store.contact_changes(ann.id).await.unwrap();
    assert_eq!(changes.len(), 1);
    assert_eq!(changes[0].changes["title"], serde_json::json!({"from": "Engineer", "to": "CTO"}));
    assert!(changes[0].cause.starts_with("import "));
    // A blank cell erases nothing.
    import_csv(&app, b"email,title,optout\nann@acme.example,,\n", &mapping).await.unwrap();
    let ann = store.contact(ann.id).await.unwrap().unwrap();
    assert_eq!(ann.title.as_deref(), Some("CTO"));
}

async fn the_hubspot_preset_reads_a_hubspot_export(store: Arc<dyn Store>) {
    let app = app(&store);
    let csv = "Record ID,First Name,Last Name,Email,Company Name,Lifecycle Stage,Create Date,Original Traffic Source,\
               Became a Lead Date,Became a Marketing Qualified Lead Date,Became a Customer Date,Contact owner\n\
               101,Ann,Lee,ann@acme.example,Acme,Customer,2024-01-05 10:00,Organic Search,2024-01-05 10:00,\
               2024-02-01 09:30,2024-04-11 16:45,Rita Rep\n\
               102,Bob,Ray,bob@gmail.com,,Lead,2024-03-01 08:00,Paid Social,2024-03-01 08:00,,,\n";
    let report = import_csv(&app, csv.as_bytes(), &presets::preset("hubspot").unwrap()).await.unwrap();
    assert_eq!((report.counts.contacts_created, report.counts.rows_failed), (2, 0), "{:?}", report.errors);
    assert_eq!(report.counts.accounts_created, 1, "gmail.com makes no account");
    let ann = one(&store, ContactFilter { external_id: Some("101".into()), ..Default::default() }).await;
    assert_eq!((ann.stage.as_str(), ann.owner.as_deref()), ("customer", Some("Rita Rep")));
    assert_eq!(ann.channel.as_deref(), Some("organic_search"));
    let stages: Vec<_> = store.stage_history(ann.id).await.unwrap().iter().map(|s| s.to.as_str()).collect();
    // "Became a Lead Date" at the create date is how Ann arrived: no suspect stage before.
    assert_eq!(stages, ["prospect", "mql", "customer"]);
}

/// HubSpot's default contact export: no "Became a … Date" columns, the stage in
/// "Lifecycle Stage" (by label, or by internal value through the API), and "Lead Status".
async fn the_hubspot_preset_keeps_the_lifecycle_stage_and_a_lead_status_that_rejects(store: Arc<dyn Store>) {
    let app = app(&store);
    let csv = "\"Record ID\",\"First Name\",\"Last Name\",\"Email\",\"Phone Number\",\"Contact owner\",\"Lead Status\",\"Create Date\",\"Lifecycle Stage\",\"Original Source\"\n\
               201,Ann,Lee,ann@acme.example,,Rita Rep,In Progress,2024-02-11 14:30,Marketing Qualified Lead,Organic Search\n\
               202,Bob,Ray,bob@bigco.example,,,Open,2024-02-12 09:00,Sales Qualified Lead,Paid Search\n\
               203,Cat,Day,cat@corp.example,,,,2024-02-13 10:15,salesqualifiedlead,Direct Traffic\n\
               204,Dan,Fox,dan@dyn.example,,,Unqualified,2024-02-14 11:00,Lead,Paid Search\n\
               205,Eve,Gee,eve@evil.example,,,Bad Timing,2024-02-15 12:00,Marketing Qualified Lead,Organic Search\n\
               206,Fay,Hu,fay@fab.example,,,Unqualified,2024-01-02 08:00,Customer,Referrals\n\
               207,Gus,Ito,gus@gem.example,,,,2024-01-03 08:00,Other,Offline Sources\n";
    let hubspot = presets::preset("hubspot").unwrap();
    let report = import_csv(&app, csv.as_bytes(), &hubspot).await.unwrap();
    assert_eq!((report.counts.contacts_created, report.counts.rows_failed), (7, 0), "{:?}", report.errors);
    let contact = |id: &'static str| {
        let store = store.clone();
        async move { one(&store, ContactFilter { external_id: Some(id.into()), ..Default::default() }).await }
    };
    let stage_of = |id| async move { contact(id).await.stage.as_str().to_owned() };
    assert_eq!(stage_of("201").await, "mql", "a Marketing Qualified Lead is an mql");
    assert_eq!(stage_of("202").await, "sql", "a Sales Qualified Lead without a date is an sql");
    assert_eq!(stage_of("203").await, "sql", "HubSpot's internal value too");
    assert_eq!(stage_of("204").await, "disqualified", "Unqualified turns the contact away");
    assert_eq!(stage_of("206").await, "customer", "a status left from before the deal does not unmake it");
    let ann = contact("201").await;
    assert_eq!(ann.created_at, leadgate_core::Timestamp::parse_rfc3339("2024-02-11T14:30:00Z").unwrap());
    let eve = contact("205").await;
    let eve_history = store.stage_history(eve.id).await.unwrap();
    let steps: Vec<_> = eve_history.iter().map(|s| s.to.as_str()).collect();
    assert_eq!(steps.last(), Some(&"nurture"), "Bad Timing sends her to nurture after the mql: {steps:?}");
    assert!(steps.contains(&"mql"), "{steps:?}");
    assert!(eve_history.last().unwrap().detail.ends_with(": Bad Timing"), "{:?}", eve_history.last());
    let gus = contact("207").await;
    assert_eq!(gus.stage.as_str(), "suspect", "Other says nothing of a stage: Gus is where his arrival put him");
    // Importing the same file again moves no one and records nothing twice.
    let before = store.stage_history(ann.id).await.unwrap().len();
    let again = import_csv(&app, csv.as_bytes(), &hubspot).await.unwrap();
    assert_eq!((again.counts.contacts_created, again.counts.rows_failed), (0, 0));
    assert_eq!(store.stage_history(ann.id).await.unwrap().len(), before);
    assert_eq!(stage_of("205").await, "nurture");
    // An older export, where Fay was still a Sales Qualified Lead, does not take her back.
    let older = "Record ID,Email,Lifecycle Stage\n206,fay@fab.example,Sales Qualified Lead\n";
    import_csv(&app, older.as_bytes(), &hubspot).await.unwrap();
    assert_eq!(stage_of("206").await, "customer");
}

/// A file longer than several chunks: `n` people, then the first person again with a
/// new title.
fn long_file(n: usize) -> Vec<u8> {
    let mut csv = String::from("email,title\n");
    for i in 0..n {
        csv.push_str(&format!("p{i}@acme.example,Engineer\n"));
    }
    csv.push_str("p0@acme.example,CTO\n");
    csv.into_bytes()
}

async fn a_person_repeated_far_down_a_long_file_stays_one_contact(store: Arc<dyn Store>) {
    let app = app(&store);
    let mapping = Mapping::from_toml("[contact]\nemail = \"email\"\ntitle = \"title\"\n").unwrap();
    // Three chunks of rows apart: read, looked up and written separately.
    let n = 3 * leadgate_app::import::CHUNK_ROWS;
    let csv = long_file(n);
    let dry = app
        .import_csv(std::io::Cursor::new(csv.clone()), &mapping, ImportOptions { dry_run: true }, &Actor::Operator, &())
        .await
        .unwrap();
    assert_eq!(
        (dry.counts.contacts_created, dry.counts.contacts_updated),
        (n as u64, 1),
        "a dry run counts people once"
    );
    assert_eq!(store.totals().await.unwrap().contacts, 0, "a dry run writes nothing");

    let first = import_csv(&app, &csv, &mapping).await.unwrap();
    assert_eq!((first.counts.contacts_created, first.counts.contacts_updated), (n as u64, 1));
    assert_eq!(store.totals().await.unwrap().contacts, n as i64);
    let p0 = || ContactFilter { email: Some("p0@acme.example".into()), ..Default::default() };
    assert_eq!(one(&store, p0()).await.title.as_deref(), Some("CTO"), "the later row wins");

    // Again: the first row and the last still disagree, so both are applied in turn, as
    // the first time; every other row is recognised and left alone.
    let again = import_csv(&app, &csv, &mapping).await.unwrap();
    assert_eq!(
        (again.counts.contacts_created, again.counts.contacts_updated, again.counts.contacts_unchanged),
        (0, 2, n as u64 - 1)
    );
    let p0 = one(&store, p0()).await;
    assert_eq!(p0.title.as_deref(), Some("CTO"));
    let titles: Vec<_> =
        store.contact_changes(p0.id).await.unwrap().iter().map(|c| c.changes["title"]["to"].clone()).collect();
    assert_eq!(titles, ["CTO", "Engineer", "CTO"], "each change is recorded");
}

async fn the_same_file_through_another_mapping_is_read_again(store: Arc<dyn Store>) {
    let app = app(&store);
    let csv = b"email,title,country\nann@acme.example,CTO,Germany\nbob@acme.example,CFO,France\n";
    let names = Mapping::from_toml("[contact]\nemail = \"email\"\n").unwrap();
    let titles = Mapping::from_toml("[contact]\nemail = \"email\"\ntitle = \"title\"\n").unwrap();
    import_csv(&app, csv, &names).await.unwrap();
    let unchanged = import_csv(&app, csv, &names).await.unwrap();
    assert_eq!((unchanged.counts.contacts_unchanged, unchanged.counts.contacts_updated), (2, 0));
    // The same rows read through a mapping that reads more of them are applied.
    let more = import_csv(&app, csv, &titles).await.unwrap();
    assert_eq!((more.counts.contacts_unchanged, more.counts.contacts_updated), (0, 2));
    let ann = one(&store, ContactFilter { email: Some("ann@acme.example".into()), ..Default::default() }).await;
    assert_eq!(ann.title.as_deref(), Some("CTO"));
    // And a file that differs in a column the mapping does not read changes nothing.
    let other = b"email,title,country\nann@acme.example,CTO,Spain\nbob@acme.example,CFO,France\n";
    let report = import_csv(&app, other, &titles).await.unwrap();
    assert_eq!((report.counts.contacts_unchanged, report.counts.contacts_updated), (2, 0));
    assert_eq!(store.contact(ann.id).await.unwrap().unwrap().country, None);
}

async fn a_row_that_runs_on_for_megabytes_is_refused_and_the_rows_before_it_kept(store: Arc<dyn Store>) {
    let app = app(&store);
    let mapping = Mapping::from_toml("[contact]\nemail = \"email\"\nfirst_name = \"name\"\n").unwrap();
    // A quote left open: the rest of the file would be one cell, held whole.
    let mut csv = b"email,name\nann@acme.example,Ann\nbob@acme.example,\"Bob".to_vec();
    csv.extend(std::iter::repeat_n(b'x', 3 << 20));
    csv.extend(b"\"\ncy@acme.example,Cy\n");
    let job = import_csv(&app, &csv, &mapping).await.unwrap();
    assert_eq!((job.counts.contacts_created, job.error_count), (1, 1), "{job:?}");
    let e = &job.errors[0];
    assert_eq!((e.row, &*e.code), (3, "unreadable"), "{e:?}");
    assert!(e.message.contains("runs on past 1 MiB"), "{}", e.message);
    assert_eq!(count(&store, ContactFilter::default()).await, 1, "nothing of the long row, nor after it");

    // A header that never ends is not CSV.
    let endless: Vec<u8> = std::iter::repeat_n(b'h', 3 << 20).collect();
    let refused = import_csv(&app, &endless, &mapping).await.unwrap_err();
    assert_eq!(refused.code, "not_csv", "{refused}");
    assert!(refused.message.contains("runs on past 1 MiB"), "{}", refused.message);
}

/// A bank's campaign file as it is published: `;`-separated, one anonymous person per
/// row, the outcome in the last column.
const BANK: &str = "age;job;y\n30;admin.;no\n41;technician;yes\n30;admin.;no\n";

const BANK_MAPPING: &str = r#"
system = "bank"
[contact]
external_id = { row_number = true }
[contact.custom]
age = { column = "age", type = "number" }
job = "job"
[[stage]]
stage = { column = "y", map = { "yes" = "customer", "no" = "lost" } }
"#;

async fn a_file_with_other_separators_and_no_emails_takes_its_identity_from_the_row(store: Arc<dyn Store>) {
    let app = app(&store);
    // Read with the default comma, the header is one column: refused, saying what the
    // file looks like and which setting reads it.
    let comma = Mapping::from_toml(BANK_MAPPING).unwrap();
    let e = import_csv(&app, BANK.as_bytes(), &comma).await.unwrap_err();
    assert_eq!(e.code, "mapping_mismatch", "{}", e.message);
    assert!(e.message.contains("the file looks `;`-separated"), "{}", e.message);
    assert!(e.message.contains("3 columns under `;` (age, job, y)"), "{}", e.message);
    assert!(e.message.contains(r#"set `delimiter = ";"` at the top of the mapping"#), "{}", e.message);
    let tabs = BANK.replace(';', "\t");
    let e = import_csv(&app, tabs.as_bytes(), &comma).await.unwrap_err();
    assert!(
        e.message.contains(r#"looks tab-separated"#) && e.message.contains(r#"`delimiter = "\t"`"#),
        "{}",
        e.message
    );
    // A semicolon mapping given a comma file is told the same the other way round.
    let semicolon = Mapping::from_toml(&format!("delimiter = \";\"\n{BANK_MAPPING}")).unwrap();
    let e = import_csv(&app, BANK.replace(';', ",").as_bytes(), &semicolon).await.unwrap_err();
    assert!(e.message.contains(r#"`delimiter = ","`"#), "{}", e.message);
    // A file of one column is not second-guessed: it lacks the column, as it says.
    let e = import_csv(&app, b"name\nAnn\n".as_slice(), &comma).await.unwrap_err();
    assert!(e.message.starts_with("the file has no column"), "{}", e.message);
    assert_eq!(store.totals().await.unwrap().contacts, 0);

    // With the delimiter set, each row is a contact named by its row number.
    let first = import_csv(&app, BANK.as_bytes(), &semicolon).await.unwrap();
    assert_eq!((first.counts.rows_failed, first.counts.contacts_created), (0, 3), "{:?}", first.errors);
    let by_row = |n: &str| ContactFilter {
        external_id: Some(n.into()),
        system: Some("bank".into()),
        ..ContactFilter::default()
    };
    let second = one(&store, by_row("2")).await;
    assert_eq!(second.custom["job"], "technician");
    assert_eq!(second.stage.as_str(), "customer");
    // Rows 1 and 3 say the same, and are still two people.
    let (r1, r3) = (one(&store, by_row("1")).await, one(&store, by_row("3")).await);
    assert_ne!(r1.id, r3.id);
    assert_eq!(r1.stage.as_str(), "lost");
    // The same file again finds the same contacts and adds nothing.
    let again = import_csv(&app, BANK.as_bytes(), &semicolon).await.unwrap();
    assert_eq!((again.counts.contacts_created, again.counts.contacts_unchanged), (0, 3), "{:?}", again.counts);
    assert_eq!(store.totals().await.unwrap().contacts, 3);

    // The row number is an identity, not a value for other fields.
    for (text, says) in [
        (
            "system = \"s\"\n[contact]\nemail = { row_number = true }\n",
            "contact.email: `row_number` is for contact.external_id only",
        ),
        (
            "system = \"s\"\n[contact]\nexternal_id = { column = \"id\", row_number = true }\n",
            "takes no `column`, `value`, `map`, `format` or `type`",
        ),
        (
            "system = \"s\"\n[contact]\nexternal_id = { row_number = true, map = { \"1\" = \"a\" } }\n",
            "takes no `column`, `value`, `map`, `format` or `type`",
        ),
        ("[contact]\nexternal_id = { row_number = true }\n", "`system`"),
    ] {
        let err = Mapping::from_toml(text).unwrap_err().to_string();
        assert!(err.contains(says), "{err}");
    }
}

/// A contact's stage now, and its moves as `stage at value`.
async fn outcome(store: &Arc<dyn Store>, filter: ContactFilter) -> (String, Vec<String>) {
    let c = one(store, filter).await;
    let steps = store.stage_history(c.id).await.unwrap();
    let moves = steps.iter().map(|s| format!("{} {} {:?}", s.to, &s.at.to_rfc3339()[..16], s.value)).collect();
    (c.stage.as_str().to_owned(), moves)
}

async fn hubspot_deals_bring_revenue_onto_their_contacts(store: Arc<dyn Store>) {
    let app = app(&store);
    let contacts = "\"Record ID\",\"First Name\",\"Last Name\",\"Email\",\"Create Date\",\"Lifecycle Stage\",\"Original Source\"\n\
                    301,Ann,Lee,ann@acme.example,2024-01-05 10:00,Sales Qualified Lead,Organic Search\n\
                    302,Bob,Ray,bob@acme.example,2024-01-06 10:00,Lead,Paid Search\n\
                    303,Cat,Day,cat@corp.example,2024-01-07 10:00,,Paid Search\n\
                    304,Dan,Fox,dan@dyn.example,2024-01-08 10:00,,Referrals\n\
                    305,Eve,Gee,eve@evil.example,2024-01-09 10:00,Sales Qualified Lead,Referrals\n";
    import_csv(&app, contacts.as_bytes(), &presets::preset("hubspot").unwrap()).await.unwrap();
    // HubSpot's deal export: its default columns, then the associated contacts.
    let deals = "\"Record ID\",\"Deal Name\",\"Deal Stage\",\"Close Date\",\"Deal owner\",\"Amount\",\"Associated Contact\",\"Associated Contact IDs\"\n\
                 \"9001\",\"Acme licence\",\"Closed Won\",\"2024-03-31 17:00\",\"Jane Sales\",\"12500.51\",\"Ann Lee (ann@acme.example);Bob Ray (bob@acme.example)\",\"301;302\"\n\
                 \"9002\",\"Corp pilot\",\"closedlost\",\"2024-04-02 09:00\",\"Sam Seller\",\"3000\",\"Cat Day (cat@corp.example)\",\"303\"\n\
                 \"9003\",\"Dyn renewal\",\"Contract Sent\",\"2024-06-30 17:00\",\"Sam Seller\",\"8000\",\"Dan Fox (dan@dyn.example)\",\"304\"\n\
                 \"9004\",\"Nobody\",\"Closed Won\",\"2024-05-01 10:00\",\"Sam Seller\",\"100\",\"Zed (zed@x.example)\",\"999\"\n\
                 \"9005\",\"Acme upsell\",\"Closed Lost\",\"2024-07-01 10:00\",\"Jane Sales\",\"900\",\"Ann Lee (ann@acme.example)\",\"301\"\n\
                 \"9006\",\"Acme renewal\",\"Closed Won\",\"2024-08-01 10:00\",\"Jane Sales\",\"7000\",\"Ann Lee (ann@acme.example)\",\"301\"\n\
                 \"9007\",\"Dyn extra\",\"Closed Won\",\"2024-09-01 10:00\",\"Sam Seller\",\"100\",\"Dan Fox (dan@dyn.example)\",\"304;999\"\n\
                 \"9008\",\"Evil trial\",\"Closed Lost\",\"2024-02-20 10:00\",\"Sam Seller\",\"50\",\"Eve Gee (eve@evil.example)\",\"305\"\n";
    let deals_preset = presets::preset("hubspot-deals").unwrap();
    let report = import_csv(&app, deals.as_bytes(), &deals_preset).await.unwrap();
    assert_eq!((report.counts.rows, report.counts.rows_failed), (8, 2), "{:?}", report.errors);
    assert_eq!(report.errors[0].code, "unknown_contact", "a deal of a contact not imported is reported");
    assert!(report.errors.iter().all(|e| e.message.contains("999")), "{:?}", report.errors);
    let by = |id: &str| ContactFilter { external_id: Some(id.into()), ..Default::default() };
    let (ann, ann_moves) = outcome(&store, by("301")).await;
    assert_eq!(ann, "customer", "{ann_moves:?}");
    assert!(ann_moves.contains(&"customer 2024-03-31T17:00 Some(625026)".to_owned()), "{ann_moves:?}");
    let (bob, bob_moves) = outcome(&store, by("302")).await;
    assert_eq!(bob, "customer");
    assert!(
        bob_moves.contains(&"customer 2024-03-31T17:00 Some(625025)".to_owned()),
        "shared, won once: {bob_moves:?}"
    );
    let (cat, cat_moves) = outcome(&store, by("303")).await;
    assert_eq!(cat, "lost");
    assert!(cat_moves.contains(&"lost 2024-04-02T09:00 Some(300000)".to_owned()), "{cat_moves:?}");
    // Ann's later deals, lost and won, neither take her back nor win her twice.
    assert!(!ann_moves.iter().any(|m| m.starts_with("lost") || m.contains("2024-08-01")), "{ann_moves:?}");
    let (dan, dan_moves) = outcome(&store, by("304")).await;
    assert_eq!(dan, "customer", "{dan_moves:?}");
    assert!(dan_moves.iter().any(|m| m.starts_with("opportunity")), "an open deal is an opportunity: {dan_moves:?}");
    assert!(
        dan_moves.contains(&"customer 2024-09-01T10:00 Some(5000)".to_owned()),
        "his share of a deal naming one contact not imported: {dan_moves:?}"
    );
    // Eve was an sql when the contacts came in (undated): a lost deal is in her history
    // without taking her to an open opportunity.
    let (eve, eve_moves) = outcome(&store, by("305")).await;
    assert_eq!(eve, "sql", "{eve_moves:?}");
    assert!(eve_moves.contains(&"lost 2024-02-20T10:00 Some(5000)".to_owned()), "{eve_moves:?}");
    // The revenue is in the reports: the deal won once, on the channels it came from.
    let by_channel = leadgate_app::reports::ReportQuery { group_by: Some("channel".into()), ..Default::default() };
    let cost = app.cost(&by_channel).await.unwrap();
    assert_eq!(cost.totals.value_won, 1_250_051 + 5_000);
    let again = import_csv(&app, deals.as_bytes(), &deals_preset).await.unwrap();
    let (_, ann_again) = outcome(&store, by("301")).await;
    assert_eq!(ann_again, ann_moves, "Ann's later deals won once is once, however often the file comes in");
    assert_eq!((again.counts.stage_changes_created, again.counts.rows_failed), (0, 2), "nothing recorded twice");
}

async fn salesforce_opportunities_bring_revenue_onto_their_contacts(store: Arc<dyn Store>) {
    let app = app(&store);
    // Contacts from the Data Export's Contact.csv, by their Salesforce ids.
    let contacts = "\"Id\",\"FirstName\",\"LastName\",\"Email\",\"LeadSource\",\"CreatedDate\"\n\
                    \"0035g00000LmNoPAAV\",\"Ann\",\"Lee\",\"ann@acme.example\",\"Web\",\"2024-01-05T09:00:00.000Z\"\n\
                    \"0035g00000LmNoQAAV\",\"Bob\",\"Ray\",\"bob@globex.example\",\"Partner Referral\",\"2023-11-20T09:00:00.000Z\"\n\
                    \"0035g00000LmNoRAAV\",\"Sue\",\"Kim\",\"sue@initech.example\",\"Web\",\"2024-01-09T09:00:00.000Z\"\n";
    import_csv(&app, contacts.as_bytes(), &presets::preset("salesforce").unwrap()).await.unwrap();
    let preset = presets::preset("salesforce-opportunities").unwrap();
    // The Data Export's Opportunity.csv: API names, the primary contact's id.
    let data_export = "\"Id\",\"IsDeleted\",\"AccountId\",\"Name\",\"StageName\",\"Amount\",\"Probability\",\"CloseDate\",\"Type\",\"LeadSource\",\"IsClosed\",\"IsWon\",\"OwnerId\",\"CreatedDate\",\"ContactId\"\n\
        \"0065g00000AbCdEAAV\",\"false\",\"0015g00000XyZaBAAV\",\"Acme licence\",\"Negotiation/Review\",\"1500.0\",\"90\",\"2024-03-31\",\"New Customer\",\"Web\",\"false\",\"false\",\"0055g00000QrStUAAV\",\"2024-02-11T14:30:00.000Z\",\"0035g00000LmNoPAAV\"\n\
        \"0065g00000AbCdFAAV\",\"false\",\"0015g00000XyZaCAAV\",\"Globex renewal\",\"Closed Won\",\"12500.5\",\"100\",\"2024-02-28\",\"Existing Customer - Upgrade\",\"Partner Referral\",\"true\",\"true\",\"0055g00000QrStUAAV\",\"2024-01-05T09:12:44.000Z\",\"0035g00000LmNoQAAV\"\n\
        \"0065g00000AbCdGAAV\",\"false\",\"0015g00000XyZaDAAV\",\"No contact\",\"Closed Lost\",\"700\",\"0\",\"2024-02-01\",\"New Customer\",\"Web\",\"true\",\"false\",\"0055g00000QrStUAAV\",\"2024-01-02T09:00:00.000Z\",\"\"\n";
    let report = import_csv(&app, data_export.as_bytes(), &preset).await.unwrap();
    assert_eq!((report.counts.rows, report.counts.rows_failed), (3, 1), "{:?}", report.errors);
    assert_eq!(report.errors[0].code, "missing_identity", "an opportunity without a contact is reported");
    let by = |id: &str| ContactFilter { external_id: Some(id.into()), ..Default::default() };
    let (ann, ann_moves) = outcome(&store, by("0035g00000LmNoPAAV")).await;
    assert_eq!(ann, "opportunity", "{ann_moves:?}");
    assert!(ann_moves.contains(&"opportunity 2024-02-11T14:30 Some(150000)".to_owned()), "{ann_moves:?}");
    let (bob, bob_moves) = outcome(&store, by("0035g00000LmNoQAAV")).await;
    assert_eq!(bob, "customer");
    assert!(bob_moves.contains(&"customer 2024-02-28T00:00 Some(1250050)".to_owned()), "{bob_moves:?}");
    // A report export, "Opportunities with Contact Roles": labels, the contact's email,
    // thousands written apart, and the footer Salesforce writes under it.
    let report_export = "\"Opportunity Owner\",\"Account Name\",\"Opportunity Name\",\"Stage\",\"Amount\",\"Close Date\",\"Created Date\",\"Lead Source\",\"Contact: Email\"\n\
        \"Jane Sales\",\"Initech\",\"Initech expansion\",\"Closed Won\",\"21,500.00\",\"3/15/2024\",\"2/1/2024\",\"Web\",\"sue@initech.example\"\n\
        \n\
        \"Grand Totals (1 records)\"\n\
        \n\
        \"Confidential Information - Do Not Distribute\"\n\
        \"Copyright (c) 2000-2024 salesforce.com, inc. All rights reserved.\"\n";
    let report = import_csv(&app, report_export.as_bytes(), &preset).await.unwrap();
    assert_eq!((report.counts.rows, report.counts.rows_failed), (1, 0), "the footer is not data: {:?}", report.errors);
    let (sue, sue_moves) =
        outcome(&store, ContactFilter { email: Some("sue@initech.example".into()), ..Default::default() }).await;
    assert_eq!(sue, "customer");
    assert!(sue_moves.contains(&"customer 2024-03-15T00:00 Some(2150000)".to_owned()), "{sue_moves:?}");
    let cost = app.cost(&leadgate_app::reports::ReportQuery::default()).await.unwrap();
    assert_eq!(cost.totals.value_won, 1_250_050 + 2_150_000);
}
