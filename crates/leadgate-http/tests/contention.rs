//! Many clients writing to the same contacts at once, on both databases: overlapping
//! batches of events and inquiries, in different orders, all answered with success.
//! A deadlock or serialization failure the database reports is retried by leadgate,
//! never passed to the client as a fault.

mod support;

use axum::http::StatusCode;
use leadgate_store::Store;
use serde_json::{Value, json};
use std::sync::Arc;
use support::Api;

leadgate_store::on_both_stores!(overlapping_batches_for_the_same_contacts_all_succeed);

const SCORING: &str = "[[fit]]\nname = \"director\"\nwhen = \"contact.title.contains('Director')\"\npoints = 20\n\n\
[[engagement]]\nname = \"visits\"\nwhen = \"activity.kind == 'page_view'\"\npoints = 1\n";

const CONTACTS: usize = 24;
const CLIENTS: usize = 12;
const ROUNDS: usize = 8;

async fn overlapping_batches_for_the_same_contacts_all_succeed(store: Arc<dyn Store>) {
    let api = Arc::new(Api::new(store).await);
    let saved = api.put_text("/v1/scoring/default", &api.admin.clone(), "application/toml", SCORING).await;
    assert_eq!(saved.status, StatusCode::CREATED, "{}", saved.text);
    let emails: Vec<String> = (0..CONTACTS).map(|i| format!("c{i}@acme.example")).collect();
    for email in &emails {
        let r = api.inquire_with_key(json!({"email": email, "title": "Director"})).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    }

    // Each client sends batches naming every contact, each client in its own order (a
    // rotation, half of them reversed), so that two commits meet the same rows in
    // opposite orders; and inquiries that change the same contacts in between.
    let mut clients = Vec::new();
    for client in 0..CLIENTS {
        let (api, emails) = (api.clone(), emails.clone());
        clients.push(tokio::spawn(async move {
            let mut answers = Vec::new();
            for round in 0..ROUNDS {
                let mut order: Vec<&String> = emails.iter().collect();
                order.rotate_left((client * 5 + round) % CONTACTS);
                if client % 2 == 1 {
                    order.reverse();
                }
                let events: Vec<Value> = order
                    .iter()
                    .flat_map(|e| {
                        (0..4).map(move |n| json!({"email": e, "kind": "page_view", "url": format!("/p/{n}")}))
                    })
                    .collect();
                let r = api.post("/v1/events", json!({"events": events})).await;
                answers.push((r.status, r.text));
                let who = order[round % CONTACTS];
                let r = api.inquire_with_key(json!({"email": who, "company": format!("Acme {client}-{round}")})).await;
                answers.push((r.status, r.text));
            }
            answers
        }));
    }
    let mut events_accepted = 0;
    for client in clients {
        for (status, text) in client.await.unwrap() {
            assert!(status.is_success(), "every write succeeds, got {status}: {text}");
            if let Ok(v) = serde_json::from_str::<Value>(&text) {
                events_accepted += v["accepted"].as_u64().unwrap_or(0);
            }
        }
    }
    let sent = (CLIENTS * ROUNDS * CONTACTS * 4) as u64;
    assert_eq!(events_accepted, sent, "every event was accepted");

    // Nothing was lost: each contact has every event sent for it, and its score counts them.
    let per_contact = (CLIENTS * ROUNDS * 4) as u64;
    for email in &emails {
        let contact = api.contact_by_email(email).await;
        let id = contact["id"].as_str().unwrap();
        let held = api.get(&format!("/v1/contacts/{id}/personal-data")).await;
        assert_eq!(held.status, StatusCode::OK, "{}", held.text);
        let n = held.json["events"].as_array().map_or(0, Vec::len) as u64;
        assert_eq!(n, per_contact, "{email} has every event sent for it");
        assert_eq!(contact["scores"]["fit"], json!(20), "{email}: {contact}");
        assert!(contact["scores"]["engagement"].as_f64().unwrap() > 0.0, "{email}: {contact}");
    }
}
