//! Hand-off with several servers on one PostgreSQL database, the real binary: under
//! concurrent inquiries to both, each contact is routed once, the rotation stays fair,
//! each breached clock is escalated once, and when the server routing is killed with
//! SIGKILL the other finishes its work.

mod common;

use common::{Server, leadgate};
use serde_json::{Value, json};
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

async fn send(base: &str, key: &str, method: reqwest::Method, path: &str, body: Value) -> Value {
    let r = reqwest::Client::new()
        .request(method, format!("{base}{path}"))
        .bearer_auth(key)
        .json(&body)
        .send()
        .await
        .expect("request");
    let status = r.status();
    let body: Value = r.json().await.unwrap_or(Value::Null);
    assert!(status.is_success(), "{path}: {status} {body}");
    body
}

/// Every entry of the audit log with this action.
async fn audited(server: &Server, key: &str, action: &str) -> Vec<Value> {
    let (mut all, mut cursor) = (Vec::new(), String::new());
    loop {
        let page = server.get_json(&format!("/v1/audit?limit=1000{cursor}"), key).await;
        all.extend(page["entries"].as_array().expect("entries").iter().filter(|e| e["action"] == action).cloned());
        match page["next_cursor"].as_str() {
            Some(c) => cursor = format!("&cursor={c}"),
            None => return all,
        }
    }
}

/// Inquiries of new people to every server until told to stop; counts those
/// acknowledged.
fn inquiries(
    bases: Vec<String>,
    form_key: String,
    stop: Arc<AtomicBool>,
    acked: Arc<AtomicU64>,
) -> Vec<tokio::task::JoinHandle<()>> {
    (0..6)
        .map(|w| {
            let (bases, form_key, stop, acked) = (bases.clone(), form_key.clone(), stop.clone(), acked.clone());
            tokio::spawn(async move {
                let client = reqwest::Client::new();
                for i in 0.. {
                    if stop.load(Ordering::SeqCst) {
                        return;
                    }
                    let base = &bases[(w + i) % bases.len()];
                    let body = json!({"form_key": form_key, "email": format!("p{w}-{i}@handoff{w}.example")});
                    match client.post(format!("{base}/v1/inquiries")).json(&body).send().await {
                        Ok(r) if r.status().is_success() => {
                            acked.fetch_add(1, Ordering::SeqCst);
                        }
                        Ok(r) => panic!("unexpected status {}: {}", r.status(), r.text().await.unwrap_or_default()),
                        // A server that was killed refuses connections: the other takes it.
                        Err(_) => tokio::time::sleep(Duration::from_millis(5)).await,
                    }
                }
            })
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_two_servers_route_each_contact_once_and_fairly_when_one_is_killed() {
    let Some(url) = leadgate_store::testing::pg_url() else { return };
    let schema = leadgate_store::testing::PgSchema::create(&url).await;
    let env = vec![("LEADGATE_DATABASE_URL".to_owned(), schema.url())];
    let key = leadgate(&env, &["apikey", "create", "--name", "ops", "--role", "admin"]);
    let form_key = leadgate(&env, &["form", "create", "--name", "Demo request"]);
    let mut running: Vec<Server> = (0..2).map(|_| Server::start(&env)).collect();
    let base = running[0].base.clone();

    // A team of three that works around the clock, a second to act, breaches going to
    // its manager; every new prospect routed to it.
    let hours: serde_json::Map<String, Value> = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
        .iter()
        .map(|d| (d.to_string(), json!("00:00-24:00")))
        .collect();
    let team = json!({"name": "Inbound", "sla": {"business_hours": 0.0003}, "escalation": "manager",
                      "calendar": {"time_zone": "UTC", "hours": hours}});
    send(&base, &key, reqwest::Method::POST, "/v1/teams", team).await;
    let people = ["ann", "bob", "cy"];
    for name in people {
        let user = json!({"name": name, "email": format!("{name}@team.example"), "role": "qualifier", "team": "Inbound", "capacity": 100000});
        send(&base, &key, reqwest::Method::POST, "/v1/users", user).await;
    }
    let manager =
        json!({"name": "Max", "email": "max@team.example", "role": "manager", "team": "Inbound", "capacity": 1});
    send(&base, &key, reqwest::Method::POST, "/v1/users", manager).await;
    let rules = json!({"rules": [{"name": "everyone", "when": "true", "queue": "Inbound", "assign": ["round_robin"], "at_any_stage": true}],
                       "fallback_queue": "Inbound"});
    send(&base, &key, reqwest::Method::PUT, "/v1/routing", rules).await;

    let (stop, acked) = (Arc::new(AtomicBool::new(false)), Arc::new(AtomicU64::new(0)));
    let senders =
        inquiries(running.iter().map(|s| s.base.clone()).collect(), form_key.clone(), stop.clone(), acked.clone());
    while acked.load(Ordering::SeqCst) < 150 {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // The server routing now, killed in the middle of its work.
    let mut holder = None;
    while holder.is_none() {
        for (i, s) in running.iter().enumerate() {
            let c = s.get_json("/v1/consumers", &key).await;
            let routing =
                c["consumers"].as_array().and_then(|all| all.iter().find(|c| c["name"] == "routing").cloned());
            if routing.is_some_and(|r| r["server"] == c["this_server"]) {
                holder = Some(i);
            }
        }
    }
    drop(running.remove(holder.unwrap()).kill_9());
    let before = acked.load(Ordering::SeqCst);
    while acked.load(Ordering::SeqCst) < before + 150 {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    stop.store(true, Ordering::SeqCst);
    for s in senders {
        s.await.expect("every answer was a success");
    }
    let survivor = &running[0];
    let consumers = survivor.caught_up(&key, Duration::from_secs(120)).await;
    let routing = consumers["consumers"].as_array().unwrap().iter().find(|c| c["name"] == "routing").unwrap().clone();
    assert_eq!(
        (routing["caught_up"].as_bool(), &routing["server"]),
        (Some(true), &consumers["this_server"]),
        "{consumers}"
    );

    // Every contact routed once: one routing decision each, none twice.
    let contacts = survivor.get_json("/v1/stats", &key).await["totals"]["contacts"].as_u64().unwrap();
    assert!(contacts >= 300, "{contacts}");
    let routed = audited(survivor, &key, "contact.routed").await;
    let ids: HashSet<&str> = routed.iter().map(|e| e["contact_id"].as_str().unwrap()).collect();
    assert_eq!((routed.len() as u64, ids.len() as u64), (contacts, contacts), "one decision per contact");
    // The rotation stayed fair across the two servers and the takeover.
    let mut taken: HashMap<&str, u64> = HashMap::new();
    for e in &routed {
        let detail = e["detail"].as_str().unwrap();
        let who = people.iter().find(|p| detail.ends_with(&format!("{p}@team.example"))).expect(detail);
        *taken.entry(who).or_default() += 1;
    }
    let (least, most) = (taken.values().min().unwrap(), taken.values().max().unwrap());
    assert!(most - least <= 1, "in turn: {taken:?}");

    // Every clock runs out (a second each); both servers sweep, each breach is
    // escalated once, to the manager.
    let mut breached = Vec::new();
    for _ in 0..600 {
        breached = audited(survivor, &key, "contact.sla_breached").await;
        if breached.len() as u64 >= contacts {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let escalated = audited(survivor, &key, "contact.reassigned").await;
    let once: HashSet<&str> = breached.iter().map(|e| e["contact_id"].as_str().unwrap()).collect();
    assert_eq!((breached.len() as u64, once.len() as u64, escalated.len() as u64), (contacts, contacts, contacts));
    let feed = survivor.get_json("/v1/changes?kinds=sla_breached&limit=1000", &key).await;
    assert_eq!(feed["changes"].as_array().unwrap().len() as u64, contacts.min(1000), "each breach in the feed once");
    drop(schema);
}
