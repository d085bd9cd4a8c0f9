//! The operator's commands, run as the real binary.

mod common;

use common::{Server, command, leadgate};

fn data_dir_env(dir: &tempfile::TempDir) -> Vec<(String, String)> {
    vec![("LEADGATE_DATA_DIR".to_owned(), dir.path().to_string_lossy().into_owned())]
}

#[test]
fn apikey_create_prints_the_key_last_and_only_a_hash_is_stored() {
    let dir = tempfile::tempdir().unwrap();
    let env = data_dir_env(&dir);
    let key = leadgate(&env, &["apikey", "create", "--name", "ops", "--role", "marketing"]);
    assert!(key.starts_with("lg_") && key.len() == 67, "{key}");
    let list = command(&env).args(["apikey", "list"]).output().unwrap();
    let listed = String::from_utf8(list.stdout).unwrap();
    assert!(listed.contains("ops\tmarketing"), "{listed}");
    assert!(!listed.contains(&key));
    let db = std::fs::read(dir.path().join("leadgate.db")).unwrap();
    let wal = std::fs::read(dir.path().join("leadgate.db-wal")).unwrap_or_default();
    let needle = key.as_bytes();
    assert!(!db.windows(needle.len()).any(|w| w == needle) && !wal.windows(needle.len()).any(|w| w == needle));

    let bad = command(&env).args(["apikey", "create", "--name", "x", "--role", "boss"]).output().unwrap();
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("roles are admin, marketing, sales, manager, readonly"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_data_fills_an_empty_database_and_the_start_page_shows_it() {
    let dir = tempfile::tempdir().unwrap();
    let env = data_dir_env(&dir);
    let out = command(&env).args(["demo", "--contacts", "3000"]).output().unwrap();
    let out = String::from_utf8(out.stdout).unwrap();
    assert!(out.starts_with("loaded 3000 contacts, 500 accounts"), "{out}");
    assert!(out.contains("11 users in 3 teams;"), "{out}");
    let again = command(&env).args(["demo", "--contacts", "10"]).output().unwrap();
    assert!(!again.status.success(), "demo refuses a database that has data");
    assert!(String::from_utf8_lossy(&again.stderr).contains("already holds 3000 contacts"));
    let none = command(&env).args(["demo", "--activity", "0"]).output().unwrap();
    assert!(!none.status.success(), "no activity at all is refused");
    assert!(String::from_utf8_lossy(&none.stderr).contains("0 is not in 1..=50"));

    let key = leadgate(&env, &["apikey", "create", "--name", "t", "--role", "readonly"]);
    let server = Server::start(&env);
    let page = reqwest::get(format!("{}/", server.base)).await.unwrap().text().await.unwrap();
    assert!(page.contains("/v1/api.md"), "{page}");
    assert_eq!(server.get_json("/v1/stats", &key).await["totals"]["contacts"], 3000);
    let customers = server.get_json("/v1/contacts?stage=customer&limit=1000", &key).await;
    let n = customers["contacts"].as_array().unwrap().len();
    assert!(n > 10, "the demo has customers ({n})");
    let id = customers["contacts"][0]["id"].as_str().unwrap();
    let c = server.get_json(&format!("/v1/contacts/{id}"), &key).await;
    let path: Vec<_> = c["stage_history"].as_array().unwrap().iter().map(|s| s["to"].as_str().unwrap()).collect();
    assert_eq!(path.last(), Some(&"customer"));
    assert!(path.len() >= 4, "a customer has a full history: {path:?}");

    // The people who work the contacts: teams and their queues, with work waiting,
    // some of it past its SLA, and answers with reasons.
    let queues = server.caught_up(&key, std::time::Duration::from_secs(60)).await;
    assert!(queues["consumers"].as_array().unwrap().iter().any(|c| c["name"] == "routing"), "{queues}");
    let queues = server.get_json("/v1/queues", &key).await;
    let queues = queues["queues"].as_array().unwrap();
    assert_eq!(queues.len(), 3, "{queues:?}");
    assert!(queues.iter().all(|q| q["open"].as_i64() > Some(0)), "work waits in every queue: {queues:?}");
    assert!(queues.iter().any(|q| q["breached"].as_i64() > Some(0)), "some past their SLA: {queues:?}");
    assert_eq!(server.get_json("/v1/users", &key).await["users"].as_array().unwrap().len(), 11);
    assert_eq!(server.get_json("/v1/routing", &key).await["version"], 1);
    let nurtured = server.get_json("/v1/contacts?stage=nurture&limit=1000", &key).await;
    let mut with_code = false;
    for c in nurtured["contacts"].as_array().unwrap().iter().take(30) {
        let c = server.get_json(&format!("/v1/contacts/{}", c["id"].as_str().unwrap()), &key).await;
        with_code |= c["stage_history"].as_array().unwrap().iter().any(|s| {
            s["cause"] == "rejection"
                && s["detail"].as_str().is_some_and(|d| d.starts_with("no_") || d.starts_with("not_ready"))
        });
    }
    assert!(with_code, "rejections carry a reason code");
}

#[test]
fn reports_of_the_demo_read_as_tables_csv_and_json_and_refuse_nonsense() {
    let dir = tempfile::tempdir().unwrap();
    let env = data_dir_env(&dir);
    leadgate(&env, &["demo", "--contacts", "1000"]);
    let all_of = |args: &[&str]| {
        let out = command(&env).args(args).output().unwrap();
        assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).unwrap()
    };
    let table = all_of(&["report", "waterfall", "--group-by", "direction"]);
    assert!(table.contains("direction=inbound") && table.contains("direction=outbound"), "{table}");
    assert!(table.contains("all contacts") && table.contains("disqualified contacts"), "{table}");
    let out = dir.path().join("waterfall.csv");
    leadgate(&env, &["report", "waterfall", "--format", "csv", "--output", out.to_str().unwrap()]);
    let csv = std::fs::read_to_string(&out).unwrap();
    let rows: Vec<&str> = csv.lines().collect();
    assert!(rows[0].starts_with("scope,stage,count,"), "{csv}");
    let entered: u64 = rows[1].split(',').nth(2).unwrap().parse().unwrap();
    let json: serde_json::Value = serde_json::from_str(&all_of(&["report", "waterfall", "--format", "json"])).unwrap();
    assert_eq!(json["totals"]["stages"][0]["count"], entered, "the same numbers either way");
    let excluded = json["excluded"]["disqualified"].as_u64().unwrap();
    assert_eq!(entered + excluded, 1000, "every demo contact is counted or said to be left out");
    let cohorts: serde_json::Value = serde_json::from_str(&all_of(&["report", "cohorts", "--format", "json"])).unwrap();
    let in_cohorts: u64 = cohorts["cohorts"].as_array().unwrap().iter().map(|c| c["contacts"].as_u64().unwrap()).sum();
    assert_eq!(in_cohorts, entered, "each counted contact is in the cohort of its month");
    let text = all_of(&["report", "cohorts"]);
    assert!(text.starts_with("mql: share reached by month after entry"), "{text}");
    // The demo records spend on its paid channels, and values on its deals won.
    let cost: serde_json::Value =
        serde_json::from_str(&all_of(&["report", "cost", "--group-by", "channel", "--format", "json"])).unwrap();
    let of = |channel: &str| {
        cost["groups"].as_array().unwrap().iter().find(|g| g["group"]["channel"] == channel).unwrap().clone()
    };
    assert!(of("paid_search")["spend"].as_i64().unwrap() > 0 && of("organic_search")["spend"] == 0, "{cost}");
    assert!(cost["totals"]["value_won"].as_i64().unwrap() > 0, "{cost}");
    let listed = all_of(&["spend", "list"]);
    let spent: i64 = listed.lines().skip(1).map(|l| l.split(',').nth(3).unwrap().parse::<i64>().unwrap()).sum();
    assert_eq!(cost["totals"]["spend"], spent, "the report counts every entry listed");
    let text = all_of(&["report", "cost", "--group-by", "direction"]);
    assert!(text.starts_with("amounts in USD") && text.contains("return on spend"), "{text}");
    let file = dir.path().join("spend.csv");
    std::fs::write(&file, "month,channel,amount\n2026-01,display,100\n2026-02,display,-5\n").unwrap();
    let refused = command(&env).args(["spend", "import", file.to_str().unwrap()]).output().unwrap();
    let says = String::from_utf8_lossy(&refused.stderr);
    assert!(!refused.status.success() && says.contains("line 3.amount") && says.contains("negative"), "{says}");
    assert_eq!(all_of(&["spend", "list"]), listed, "nothing of a refused file is recorded");
    std::fs::write(&file, "month,channel,amount\n2026-01,display,100\n").unwrap();
    assert!(all_of(&["spend", "import", file.to_str().unwrap()]).starts_with("recorded 1 spend entries, 100.00 USD"));
    // The demo's rejected contacts include some won back later, with their reasons.
    let rejected: serde_json::Value =
        serde_json::from_str(&all_of(&["report", "rejected-then-won", "--format", "json"])).unwrap();
    let won_back = rejected["totals"]["won_back"].as_u64().unwrap();
    assert!(won_back > 0 && rejected["contacts"].as_array().unwrap().len() as u64 == won_back, "{rejected}");
    assert!(rejected["contacts"].as_array().unwrap().iter().all(|c| c["reason"].is_string()), "{rejected}");
    let text = all_of(&["report", "rejected-then-won"]);
    assert!(text.starts_with("by month of rejection") && text.contains("won back ("), "{text}");
    let mix: serde_json::Value = serde_json::from_str(&all_of(&["report", "funnel-mix", "--format", "json"])).unwrap();
    assert_eq!(mix["months"].as_array().unwrap().last().unwrap()["contacts"], 1000, "every contact, as of now");
    assert!(all_of(&["report", "funnel-mix"]).starts_with("contacts at the end of each month"));
    // The forecast: inbound and outbound apart, each expecting mqls; made months ago, it
    // stands beside what happened.
    let micros = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_micros() as i64;
    let three_ago =
        leadgate_core::reports::Month(leadgate_core::reports::Month::of(leadgate_core::Timestamp(micros)).0 - 3);
    let as_of = three_ago.start().to_rfc3339()[..10].to_owned();
    let forecast: serde_json::Value =
        serde_json::from_str(&all_of(&["report", "forecast", "--as-of", &as_of, "--format", "json"])).unwrap();
    for d in forecast["directions"].as_array().unwrap() {
        let mqls = &d["stages"][0];
        assert_eq!(mqls["stage"], "mql");
        assert!(mqls["months"][0]["expected"].as_f64().unwrap() > 0.0, "{d}");
        assert!(mqls["months"][0]["actual"].as_i64().unwrap() > 0, "the month is over: {d}");
    }
    let text = all_of(&["report", "forecast", "--months", "1"]);
    assert!(text.starts_with("made at") && text.contains("outbound") && text.contains("interval"), "{text}");
    let chart = dir.path().join("waterfall.svg");
    all_of(&["report", "waterfall", "--group-by", "channel", "--svg", chart.to_str().unwrap()]);
    let svg = std::fs::read_to_string(&chart).unwrap();
    assert!(svg.starts_with("<svg") && svg.contains("Demand waterfall") && svg.contains("channel=paid_search"));
    let inflow = all_of(&["report", "inflow", "--group-by", "direction"]);
    assert!(inflow.contains("direction=inbound") && inflow.contains("all responses"), "{inflow}");
    for (args, says) in [
        (vec!["--group-by", "colour"], "unknown grouping \"colour\""),
        (vec!["--from", "2027-01-01", "--to", "2026-01-01"], "ends"),
        (vec!["--format", "pdf"], "table, json or csv"),
    ] {
        let bad = command(&env).args(["report", "waterfall"]).args(&args).output().unwrap();
        assert!(!bad.status.success(), "{args:?}");
        assert!(
            String::from_utf8_lossy(&bad.stderr).contains(says),
            "{args:?}: {}",
            String::from_utf8_lossy(&bad.stderr)
        );
    }
}

#[test]
fn the_same_seed_loads_the_same_demo_data() {
    let dump = |seed: &str| {
        let dir = tempfile::tempdir().unwrap();
        let env = data_dir_env(&dir);
        leadgate(&env, &["demo", "--contacts", "500", "--seed", seed]);
        let rt = tokio::runtime::Runtime::new().unwrap();
        rt.block_on(async {
            let pool =
                sqlx::SqlitePool::connect(&format!("sqlite://{}/leadgate.db", dir.path().display())).await.unwrap();
            let rows: Vec<(String, String)> =
                sqlx::query_as("SELECT email, stage FROM contacts ORDER BY id").fetch_all(&pool).await.unwrap();
            rows
        })
    };
    let a = dump("7");
    assert_eq!(a.len(), 500);
    assert_eq!(a, dump("7"));
    assert_ne!(a, dump("8"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_with_demo_loads_an_empty_database_once() {
    let dir = tempfile::tempdir().unwrap();
    let env = data_dir_env(&dir);
    let key = leadgate(&env, &["apikey", "create", "--name", "t", "--role", "readonly"]);
    let first = Server::start_with(&env, &["--demo"]);
    assert_eq!(first.get_json("/v1/stats", &key).await["totals"]["contacts"], 5_000);
    drop(first);
    let second = Server::start_with(&env, &["--demo"]);
    assert_eq!(second.get_json("/v1/stats", &key).await["totals"]["contacts"], 5_000, "a second start adds nothing");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_clean_stop_leaves_a_single_database_file() {
    let dir = tempfile::tempdir().unwrap();
    let env = data_dir_env(&dir);
    let form_key = leadgate(&env, &["form", "create", "--name", "f"]);
    let server = Server::start(&env);
    let sent = reqwest::Client::new()
        .post(format!("{}/v1/inquiries", server.base))
        .json(&serde_json::json!({"form_key": form_key, "email": "ann@acme.example"}))
        .send()
        .await
        .unwrap();
    assert_eq!(sent.status(), 201);
    assert!(dir.path().join("leadgate.db-wal").exists(), "WAL mode while serving");
    assert!(server.stop().success(), "a clean exit on SIGTERM");
    assert!(wal_is_empty(dir.path()), "the WAL was checkpointed into the database file");
    // Everything is in the database file itself: a copy of it alone has the contact.
    let copy = tempfile::tempdir().unwrap();
    std::fs::copy(dir.path().join("leadgate.db"), copy.path().join("leadgate.db")).unwrap();
    let copy_env = data_dir_env(&copy);
    let key = leadgate(&copy_env, &["apikey", "create", "--name", "k", "--role", "readonly"]);
    let restored = Server::start(&copy_env);
    assert_eq!(restored.get_json("/v1/stats", &key).await["totals"]["contacts"], 1);
}

#[test]
fn a_revoked_key_is_listed_as_revoked() {
    let dir = tempfile::tempdir().unwrap();
    let env = data_dir_env(&dir);
    leadgate(&env, &["apikey", "create", "--name", "old", "--role", "admin"]);
    let list = leadgate(&env, &["apikey", "list"]);
    let id = list.split('\t').next().unwrap().to_owned();
    assert_eq!(leadgate(&env, &["apikey", "revoke", &id]), format!("revoked API key {id}"));
    assert!(leadgate(&env, &["apikey", "list"]).ends_with("revoked"));
    let again = command(&env).args(["apikey", "revoke", &id]).output().unwrap();
    assert!(!again.status.success(), "revoking twice is an error");
}

#[test]
fn an_unsupported_database_url_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let out =
        command(&data_dir_env(&dir)).args(["--database-url", "mysql://x@localhost/db", "migrate"]).output().unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("database_url must start with postgres://"));
}

#[test]
fn inbox_replay_without_work_says_so_and_fails() {
    let dir = tempfile::tempdir().unwrap();
    let env = data_dir_env(&dir);
    let out = command(&env).args(["inbox", "replay", "--all"]).output().unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("nothing to replay"));
}

#[test]
fn a_misspelt_config_key_is_refused_with_its_name() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("leadgate.toml");
    std::fs::write(&cfg, "listn = \"127.0.0.1:1\"\n").unwrap();
    let out = command(&data_dir_env(&dir)).args(["--config", cfg.to_str().unwrap(), "migrate"]).output().unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("listn"), "{}", String::from_utf8_lossy(&out.stderr));
}

#[test]
fn model_train_reports_its_figures_and_refuses_a_history_without_outcomes() {
    let dir = tempfile::tempdir().unwrap();
    let env = data_dir_env(&dir);
    let out = command(&env).args(["model", "train"]).output().unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no contact has a known outcome"), "{out:?}");

    assert!(command(&env).args(["demo", "--contacts", "3000"]).output().unwrap().status.success());
    let out = command(&env).args(["model", "train", "--exclude", "custom.*"]).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{out:?}");
    assert!(stdout.contains("likelihood@1: reaching customer within 365 days"), "{stdout}");
    assert!(stdout.contains("5-fold cross-validated ROC AUC"), "{stdout}");
    assert!(stdout.contains("3000 contacts scored"), "{stdout}");
    // The reliability table: ten deciles, each with its contacts, mean predicted and rate.
    let table: Vec<Vec<f64>> = stdout
        .lines()
        .skip_while(|l| !l.trim_start().starts_with("decile"))
        .skip(1)
        .map_while(|l| l.split_whitespace().map(|c| c.parse().ok()).collect::<Option<Vec<f64>>>())
        .collect();
    assert_eq!(table.len(), 10, "{stdout}");
    // Every contact learned from is in one decile.
    let known: f64 = table.iter().map(|row| row[1]).sum();
    // "learned from P contacts that did and N that did not"
    let words: Vec<&str> =
        stdout.split("learned from ").nth(1).unwrap_or_else(|| panic!("{stdout}")).split(' ').collect();
    let learned: f64 = words[0].parse::<f64>().unwrap() + words[5].parse::<f64>().unwrap();
    assert_eq!(known, learned, "{stdout}");
    // The demo's buyers are more likely the higher the decile the model put them in.
    assert!(table[9][3] > table[0][3] + 0.2, "the top decile bought more often than the lowest: {stdout}");

    // The rows it learned from, with their folds, for another tool to check.
    let csv = dir.path().join("examples.csv");
    let out = command(&env)
        .args(["model", "examples", "--exclude", "custom.*", "--out", csv.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let written = std::fs::read_to_string(&csv).unwrap();
    let header: Vec<&str> = written.lines().next().unwrap().split(',').collect();
    assert!(header.ends_with(&["outcome", "fold"]) && header.contains(&"contact.country"), "{header:?}");
    assert!(!header.iter().any(|h| h.starts_with("custom.")), "excluded features are left out: {header:?}");
    assert_eq!(written.lines().count() as f64 - 1.0, known, "one row per contact learned from");
    // Refused: the file already written is left as it was, and nothing half-written.
    let out = command(&env)
        .args(["model", "examples", "--exclude", "Countryy", "--out", csv.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(65), "{out:?}");
    assert_eq!(std::fs::read_to_string(&csv).unwrap(), written);
    assert!(!csv.with_extension("partial").exists());
    let out = command(&env).args(["model", "examples", "--out", "/nonexistent/dir/x.csv"]).output().unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot write /nonexistent/dir/x.csv"), "{out:?}");
    // A command that wrote (the model, every contact's scores) leaves the database whole
    // in its file, not partly in a WAL for the next command to read through.
    assert!(wal_is_empty(dir.path()), "the WAL was checkpointed into the database file");
    let out = command(&env).args(["rescore"]).output().unwrap();
    assert!(out.status.success(), "{out:?}");
    // Training scored every contact a moment ago: a rescore finds them as they were, but
    // for the few whose activity crossed a window's edge (7, 30, 90 days, a whole day
    // since the last) in the seconds between, which the clock of a command cannot hold.
    let said = String::from_utf8_lossy(&out.stdout);
    let changed: u64 = said
        .split("; ")
        .nth(1)
        .and_then(|rest| rest.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{said}"));
    assert!(said.contains("rescored 3000 contacts") && changed < 30, "{said}");
    assert!(wal_is_empty(dir.path()), "the WAL was checkpointed into the database file");
    // A name that leaves out no feature is refused, with the one it most likely meant,
    // and the model trained before stays in force.
    let out = command(&env).args(["model", "train", "--exclude", "custom.*,Countryy"]).output().unwrap();
    let said = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(65), "{out:?}");
    assert!(said.contains(r#""Countryy" (did you mean contact.country"#), "{said}");
    assert_eq!(said.trim().lines().count(), 1, "{said}");
    let out = command(&env).args(["model", "train", "--exclude", "custom.*"]).output().unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).contains("likelihood@2:"), "the refused one kept nothing: {out:?}");
    let out =
        command(&env).args(["model", "train", "--target", "opportunity", "--horizon-days", "0"]).output().unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("horizon_days must be from 1 to 3650"), "{out:?}");
}

#[test]
fn contact_erase_finds_a_person_by_email_and_says_what_it_removed() {
    let dir = tempfile::tempdir().unwrap();
    let env = data_dir_env(&dir);
    leadgate(&env, &["demo", "--contacts", "20"]);
    let export = command(&env).args(["export", "contacts"]).output().unwrap();
    let csv = String::from_utf8(export.stdout).unwrap();
    let mut rows = csv.lines().skip(1).map(|l| l.split(',').collect::<Vec<_>>());
    let row = rows.next().unwrap();
    let (id, email) = (row[0].to_owned(), row[1].to_owned());
    assert!(email.contains('@'), "{email}");

    let no_reason = command(&env).args(["contact", "erase", &email]).output().unwrap();
    assert!(!no_reason.status.success() && String::from_utf8_lossy(&no_reason.stderr).contains("--reason"));
    let erased = leadgate(&env, &["contact", "erase", &email, "--reason", "asked by letter"]);
    assert!(erased.starts_with(&format!("erased contact {id} (0 merged into it)")), "{erased}");
    let data = leadgate(&env, &["contact", "personal-data", &id]);
    assert!(data.ends_with('}'), "the last line closes the JSON: {data}");
    let all = command(&env).args(["contact", "personal-data", &id]).output().unwrap();
    let json: serde_json::Value = serde_json::from_slice(&all.stdout).unwrap();
    assert_eq!(json["contact"]["email"], serde_json::Value::Null);
    assert_eq!(json["privacy"]["erased"]["actor"], "operator");
    assert_eq!(json["audit"][0]["action"], "contact.erased");

    let again = command(&env).args(["contact", "erase", &id, "--reason", "again"]).output().unwrap();
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("the contact was erased at"), "{again:?}");
    assert_eq!(again.status.code(), Some(65), "erasing twice is bad input");
    let gone = command(&env).args(["contact", "erase", &email, "--reason", "x"]).output().unwrap();
    assert!(String::from_utf8_lossy(&gone.stderr).contains("no contact has this email"));
    let swept = leadgate(&env, &["inbox", "sweep"]);
    assert!(swept.starts_with("removed 0 raw bodies"), "{swept}");
}

#[test]
fn model_train_warns_of_a_field_that_gives_the_outcome_away() {
    let dir = tempfile::tempdir().unwrap();
    let env = data_dir_env(&dir);
    // Forty contacts of 2024: those a sales team marked `won` are the ones who bought.
    let mut csv = String::from("email,created,status,won\n");
    for i in 0..40 {
        let (status, won) = if i % 2 == 0 { ("won", "2024-03-01") } else { (["open", "lost"][i % 4 / 2], "") };
        csv += &format!("p{i}@example.com,2024-01-{:02},{status},{won}\n", i % 28 + 1);
    }
    let file = dir.path().join("history.csv");
    std::fs::write(&file, csv).unwrap();
    let mapping = dir.path().join("history.toml");
    std::fs::write(
        &mapping,
        "[contact]\nemail = \"email\"\n[contact.custom]\nsales_status = \"status\"\n[response]\nat = \"created\"\n\
         action = { value = \"form_fill\" }\n[[stage]]\nstage = { value = \"customer\" }\nat = \"won\"\n",
    )
    .unwrap();
    leadgate(&env, &["import", file.to_str().unwrap(), "--mapping", mapping.to_str().unwrap()]);
    let out = command(&env).args(["model", "train"]).output().unwrap();
    assert!(out.status.success(), "a warning is not a failure: {out:?}");
    let warned = String::from_utf8_lossy(&out.stderr);
    assert!(warned.contains("warning: custom.sales_status (ROC AUC 1.000 on its own)"), "{warned}");
    assert!(warned.contains(r#"train again excluding "custom.sales_status""#), "{warned}");
    assert!(warned.contains("warning: a cross-validated ROC AUC of"), "{warned}");
}

#[test]
fn exports_are_spreadsheet_safe_unless_raw_is_asked_for() {
    let dir = tempfile::tempdir().unwrap();
    let env = data_dir_env(&dir);
    let file = dir.path().join("people.csv");
    std::fs::write(&file, "email,name\neve@acme.example,=1+1\n").unwrap();
    let mapping = dir.path().join("people.toml");
    std::fs::write(&mapping, "[contact]\nemail = \"email\"\nfirst_name = \"name\"\n").unwrap();
    leadgate(&env, &["import", file.to_str().unwrap(), "--mapping", mapping.to_str().unwrap()]);
    let safe = command(&env).args(["export", "contacts"]).output().unwrap();
    assert!(String::from_utf8(safe.stdout).unwrap().contains(",'=1+1,"));
    let raw = command(&env).args(["export", "contacts", "--raw"]).output().unwrap();
    let raw = String::from_utf8(raw.stdout).unwrap();
    assert!(raw.contains(",=1+1,") && !raw.contains("'=1+1"), "{raw}");

    // A raw export of a value that starts with ' imports back as it is with --raw.
    std::fs::write(&file, "email,name\nbo@acme.example,'=quoted\n").unwrap();
    leadgate(&env, &["import", file.to_str().unwrap(), "--mapping", mapping.to_str().unwrap()]);
    let exported = dir.path().join("raw.csv");
    leadgate(&env, &["export", "contacts", "--raw", "--out", exported.to_str().unwrap()]);
    let other = tempfile::tempdir().unwrap();
    let other_env = data_dir_env(&other);
    let path = exported.to_str().unwrap();
    leadgate(&other_env, &["import", path, "--preset", "leadgate-contacts", "--raw"]);
    let back = command(&other_env).args(["export", "contacts", "--raw"]).output().unwrap();
    let back = String::from_utf8(back.stdout).unwrap();
    assert!(back.contains(",'=quoted,") && back.contains(",=1+1,"), "{back}");
}

/// What a script sees of each kind of failure: one line on stderr, and a status saying
/// whether the command, its data, or something else was wrong (docs/operations.md).
#[test]
fn a_failed_command_says_what_to_fix_in_one_line_with_a_status_for_scripts() {
    let dir = tempfile::tempdir().unwrap();
    let mut env = data_dir_env(&dir);
    env.push(("RUST_BACKTRACE".to_owned(), "1".to_owned()));
    let cfg = dir.path().join("leadgate.toml");
    std::fs::write(&cfg, "listn = \"127.0.0.1:1\"\n").unwrap();
    let mapping = dir.path().join("mapping.toml");
    std::fs::write(&mapping, "[columns]\nEmail = \"nonsense\"\n").unwrap();
    let csv = dir.path().join("contacts.csv");
    std::fs::write(&csv, "Email\nann@acme.example\n").unwrap();
    let (cfg, mapping, csv) = (cfg.to_str().unwrap(), mapping.to_str().unwrap(), csv.to_str().unwrap());
    let cases: &[(&[&str], i32, &str)] = &[
        (&["export", "contactz"], 2, "exports are contacts, responses, stage_changes and events"),
        (&["--config", cfg, "migrate"], 2, "listn"),
        (&["inbox", "replay"], 2, "nothing to replay"),
        (&["import", "no-such-file.csv", "--preset", "hubspot"], 65, "cannot open no-such-file.csv"),
        (&["import", csv, "--mapping", mapping], 65, "unknown field `columns`"),
        (&["contact", "erase", "nobody@acme.example", "--reason", "asked"], 65, "no contact has this email"),
        (&["backtest", "nosuch", "--as-of", "2025-01-01"], 65, "there is no definition \"nosuch\""),
        (&["--database-url", "postgres://127.0.0.1:1/none", "migrate"], 1, "Connection refused"),
    ];
    for (args, status, says) in cases {
        let out = command(&env).args(*args).output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(*status), "{args:?}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "{args:?} says it in one line: {stderr}");
        assert!(stderr.starts_with("error: ") && stderr.contains(says), "{args:?}: {stderr}");
        assert!(!stderr.contains("backtrace"), "{args:?}: {stderr}");
    }
    // A flag clap does not know: its usage text, and status 2.
    let out = command(&env).args(["export", "--nope", "contacts"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("unexpected argument '--nope'"));
}

/// `leadgate openapi` prints the description a server serves, without a database: a
/// client can be generated on a machine that runs none.
#[test]
fn openapi_prints_the_description_without_a_database() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("never-made");
    let env = vec![("LEADGATE_DATA_DIR".to_owned(), data.to_string_lossy().into_owned())];
    let out = command(&env).args(["--database-url", "postgres://127.0.0.1:1/none", "openapi"]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let printed: serde_json::Value = serde_json::from_slice(&out.stdout).expect("the description is JSON");
    assert!(printed["openapi"].as_str().is_some_and(|v| v.starts_with("3.1")), "{}", printed["openapi"]);
    for path in ["/v1/inquiries", "/v1/events", "/v1/changes", "/v1/openapi.json"] {
        assert!(printed["paths"][path].is_object(), "{path} is not described");
    }
    assert!(!data.exists(), "printing the description made a data directory");
}

/// Whether everything written is in the database file: no WAL beside it, or an empty
/// one (a reader's connection still closing as the last command ended keeps the file,
/// emptied).
fn wal_is_empty(dir: &std::path::Path) -> bool {
    !std::fs::metadata(dir.join("leadgate.db-wal")).is_ok_and(|m| m.len() > 0)
}
