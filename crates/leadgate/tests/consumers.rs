//! The change feed's consumers inside leadgate (scoring) handle every change exactly
//! once, whatever happens to the servers running them: the real binary, killed with
//! SIGKILL under traffic. On PostgreSQL two servers share the database and the one
//! running the consumer is killed; on SQLite the one server is, and starts again.

mod common;

use common::{Server, leadgate};
use serde_json::{Value, json};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

/// What the scoring consumer reads (`GET /v1/changes?kinds=`).
const SCORING_KINDS: &str =
    "created,fields_changed,response,events,stage_changed,qualification_changed,merged,unmerged,imported";

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_scoring_resumes_where_it_stopped_after_kill_9() {
    let dir = tempfile::tempdir().unwrap();
    let env = vec![("LEADGATE_DATA_DIR".to_owned(), dir.path().to_string_lossy().into_owned())];
    each_change_is_handled_once_when_the_consumer_s_server_is_killed(env, 1).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_two_servers_handle_each_change_once_when_one_is_killed() {
    let Some(url) = leadgate_store::testing::pg_url() else { return };
    let schema = leadgate_store::testing::PgSchema::create(&url).await;
    let env = vec![("LEADGATE_DATABASE_URL".to_owned(), schema.url())];
    each_change_is_handled_once_when_the_consumer_s_server_is_killed(env, 2).await;
}

/// Sends inquiries and events to every server until told to stop; counts the
/// acknowledged ones. A sender ends with a panic should an answer be an error.
fn traffic(
    bases: Vec<String>,
    key: String,
    form_key: String,
    stop: Arc<AtomicBool>,
    acked: Arc<AtomicU64>,
) -> Vec<tokio::task::JoinHandle<()>> {
    let mut senders = Vec::new();
    for w in 0..8 {
        let (bases, key, form_key, stop, acked) =
            (bases.clone(), key.clone(), form_key.clone(), stop.clone(), acked.clone());
        senders.push(tokio::spawn(async move {
            let client = reqwest::Client::new();
            for i in 0.. {
                if stop.load(Ordering::SeqCst) {
                    return;
                }
                // A server that was killed refuses connections: the others take it.
                let base = &bases[(w + i) % bases.len()];
                let email = format!("w{w}-{}@feed.example", i % 40);
                let sent = if i % 5 == 0 {
                    client
                        .post(format!("{base}/v1/inquiries"))
                        .json(&json!({"form_key": form_key, "email": email}))
                        .send()
                        .await
                } else {
                    let events: Vec<Value> =
                        (0..3).map(|k| json!({"email": email, "kind": "page_view", "url": format!("/p{k}")})).collect();
                    client
                        .post(format!("{base}/v1/events"))
                        .bearer_auth(&key)
                        .json(&json!({"events": events}))
                        .send()
                        .await
                };
                match sent {
                    Ok(r) if r.status().is_success() => {
                        acked.fetch_add(1, Ordering::SeqCst);
                    }
                    Ok(r) => panic!("unexpected status {}: {}", r.status(), r.text().await.unwrap_or_default()),
                    Err(_) => tokio::time::sleep(Duration::from_millis(5)).await,
                }
            }
        }));
    }
    senders
}

/// Entries of the kinds the scoring consumer reads, from the start of the feed.
async fn scoring_entries(server: &Server, key: &str) -> u64 {
    let mut after = String::new();
    let mut n = 0;
    loop {
        let page = server.get_json(&format!("/v1/changes?limit=1000&kinds={SCORING_KINDS}{after}"), key).await;
        let got = page["changes"].as_array().expect("a page").len();
        n += got as u64;
        if got == 0 {
            return n;
        }
        after = format!("&after={}", page["next"].as_str().unwrap());
    }
}

async fn wait_for(acked: &AtomicU64, at_least: u64) {
    for _ in 0..6_000 {
        if acked.load(Ordering::SeqCst) >= at_least {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("traffic did not flow");
}

async fn each_change_is_handled_once_when_the_consumer_s_server_is_killed(env: Vec<(String, String)>, servers: usize) {
    let key = leadgate(&env, &["apikey", "create", "--name", "feed", "--role", "admin"]);
    let form_key = leadgate(&env, &["form", "create", "--name", "Feed"]);
    let mut running: Vec<Server> = (0..servers).map(|_| Server::start(&env)).collect();
    let stop = Arc::new(AtomicBool::new(false));
    let acked = Arc::new(AtomicU64::new(0));
    let mut senders = traffic(
        running.iter().map(|s| s.base.clone()).collect(),
        key.clone(),
        form_key.clone(),
        stop.clone(),
        acked.clone(),
    );
    wait_for(&acked, 300).await;

    // The server running the scoring consumer now, killed in the middle of its work.
    let mut holder = None;
    for _ in 0..500 {
        for (i, s) in running.iter().enumerate() {
            let c = s.get_json("/v1/consumers", &key).await;
            let scoring = c["consumers"].as_array().and_then(|all| all.iter().find(|c| c["name"] == "scoring"));
            if scoring.is_some_and(|scoring| scoring["server"] == c["this_server"]) {
                holder = Some(i);
            }
        }
        if holder.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let holder = holder.expect("a server runs the scoring consumer");
    let killed = running.remove(holder).kill_9();
    drop(killed);
    let before = acked.load(Ordering::SeqCst);
    if running.is_empty() {
        running.push(Server::start(&env));
    }
    // Traffic goes on meanwhile, to the server left.
    if servers == 1 {
        senders.extend(traffic(
            vec![running[0].base.clone()],
            key.clone(),
            form_key.clone(),
            stop.clone(),
            acked.clone(),
        ));
    }
    wait_for(&acked, before + 200).await;
    stop.store(true, Ordering::SeqCst);
    // Every request answered before looking: none commits after.
    for sender in senders {
        sender.await.expect("every answer was a success");
    }

    let survivor = &running[0];
    let consumers = survivor.caught_up(&key, Duration::from_secs(120)).await;
    let all = consumers["consumers"].as_array().expect("a list of consumers");
    let scoring = all.iter().find(|c| c["name"] == "scoring").expect("scoring is among them");
    assert_eq!(
        (scoring["name"].as_str(), scoring["caught_up"].as_bool()),
        (Some("scoring"), Some(true)),
        "{consumers}"
    );
    assert_eq!(scoring["server"], consumers["this_server"], "the server left took the consumer over: {consumers}");
    let entries = scoring_entries(survivor, &key).await;
    assert!(entries > 50, "changes were made: {entries}");
    // Each entry counted once as it was handled, in the transaction that handled it:
    // one handled twice would make more, one skipped fewer.
    assert_eq!(scoring["handled"].as_u64(), Some(entries), "{consumers}");
}
