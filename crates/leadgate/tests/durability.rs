//! Nothing acknowledged is lost: the real binary is killed with SIGKILL under
//! concurrent traffic, restarted, and every inquiry and event it acknowledged must be
//! there. Runs on SQLite, and on PostgreSQL when `LEADGATE_TEST_PG_URL` is set.

mod common;

use common::{Server, leadgate};
use serde_json::json;
use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_acknowledged_writes_survive_kill_9() {
    let dir = tempfile::tempdir().unwrap();
    let env = vec![("LEADGATE_DATA_DIR".to_owned(), dir.path().to_string_lossy().into_owned())];
    acknowledged_writes_survive_kill_9(env).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_acknowledged_writes_survive_kill_9() {
    let Some(url) = leadgate_store::testing::pg_url() else { return };
    let schema = leadgate_store::testing::PgSchema::create(&url).await;
    let env = vec![("LEADGATE_DATABASE_URL".to_owned(), schema.url())];
    acknowledged_writes_survive_kill_9(env).await;
}

#[derive(Default)]
struct Acked {
    emails: Vec<String>,
    /// Unique `url` of every acknowledged event.
    event_urls: Vec<String>,
}

async fn acknowledged_writes_survive_kill_9(env: Vec<(String, String)>) {
    let key = leadgate(&env, &["apikey", "create", "--name", "durability", "--role", "admin"]);
    let form_key = leadgate(&env, &["form", "create", "--name", "Durability"]);
    let server = Server::start(&env);
    let client = reqwest::Client::new();

    let acked = Arc::new(Mutex::new(Acked::default()));
    let deadline = Instant::now() + Duration::from_millis(1_500);
    let mut workers = Vec::new();
    for w in 0..16 {
        let (client, base, key, form_key, acked) =
            (client.clone(), server.base.clone(), key.clone(), form_key.clone(), acked.clone());
        workers.push(tokio::spawn(async move {
            for i in 0.. {
                let sent = if w % 4 == 0 {
                    let email = format!("w{w}-{i}@durable.example");
                    let r = client
                        .post(format!("{base}/v1/inquiries"))
                        .json(&json!({"form_key": form_key, "email": email, "visitor_id": format!("v{w}")}))
                        .send()
                        .await;
                    match r {
                        Ok(r) if r.status() == 201 => {
                            acked.lock().unwrap().emails.push(email);
                            true
                        }
                        Ok(r) => panic!("unexpected status {}", r.status()),
                        Err(_) => false,
                    }
                } else {
                    let urls: Vec<String> = (0..5).map(|k| format!("https://durable.example/w{w}/{i}/{k}")).collect();
                    let events: Vec<_> = urls
                        .iter()
                        .map(|u| json!({"visitor_id": format!("v{w}"), "kind": "page_view", "url": u}))
                        .collect();
                    let r = client
                        .post(format!("{base}/v1/events"))
                        .bearer_auth(&key)
                        .json(&json!({ "events": events }))
                        .send()
                        .await;
                    match r {
                        Ok(r) if r.status() == 202 => {
                            acked.lock().unwrap().event_urls.extend(urls);
                            true
                        }
                        Ok(r) => panic!("unexpected status {}", r.status()),
                        Err(_) => false,
                    }
                };
                // After the kill, connections fail: stop once the server is gone.
                if !sent && Instant::now() > deadline {
                    break;
                }
            }
        }));
    }
    // Killed once traffic has flowed, however slow the machine: some of every kind
    // acknowledged, and more in flight.
    let flowing = Instant::now() + Duration::from_secs(60);
    tokio::time::sleep(Duration::from_millis(1_200)).await;
    let flowed = || {
        let a = acked.lock().unwrap();
        a.emails.len() > 20 && a.event_urls.len() > 100
    };
    while !flowed() && Instant::now() < flowing {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let server = server.kill_9();
    for w in workers {
        w.await.unwrap();
    }
    let acked = std::mem::take(&mut *acked.lock().unwrap());
    assert!(acked.emails.len() > 20 && acked.event_urls.len() > 100, "traffic flowed before the kill");
    eprintln!("acknowledged before the kill: {} inquiries, {} events", acked.emails.len(), acked.event_urls.len());

    // Restart on the same data and look for every acknowledged write.
    let restarted = Server::start(&env);
    let mut missing = Vec::new();
    for email in &acked.emails {
        let r = restarted.get_json(&format!("/v1/contacts?email={email}"), &key).await;
        if r["contacts"].as_array().is_none_or(|c| c.is_empty()) {
            missing.push(email.clone());
        }
    }
    assert!(
        missing.is_empty(),
        "{} acknowledged inquiries lost: {:?}",
        missing.len(),
        &missing[..missing.len().min(5)]
    );

    let export = leadgate_store_events(&env).await;
    let lost: Vec<_> = acked.event_urls.iter().filter(|u| !export.contains(*u)).collect();
    assert!(lost.is_empty(), "{} of {} acknowledged events lost", lost.len(), acked.event_urls.len());
    drop(server);
}

/// The url of every stored event, read straight from the database.
async fn leadgate_store_events(env: &[(String, String)]) -> HashSet<String> {
    let (k, v) = &env[0];
    let sql = "SELECT url FROM events";
    let rows: Vec<(Option<String>,)> = if k == "LEADGATE_DATABASE_URL" {
        let pool = sqlx::PgPool::connect(v).await.unwrap();
        sqlx::query_as(sql).fetch_all(&pool).await.unwrap()
    } else {
        let pool = sqlx::SqlitePool::connect(&format!("sqlite://{v}/leadgate.db")).await.unwrap();
        sqlx::query_as(sql).fetch_all(&pool).await.unwrap()
    };
    rows.into_iter().filter_map(|r| r.0).collect()
}
