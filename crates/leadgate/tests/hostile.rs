//! The real server under what an attacker or a careless client sends: slow headers,
//! slow bodies, more connections than it takes, a huge part in an upload; and an
//! erased person searched for in the bytes of the database and in the log.

mod common;

use common::{Server, leadgate};
use serde_json::json;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

fn env_in(dir: &tempfile::TempDir, more: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut env = vec![("LEADGATE_DATA_DIR".to_owned(), dir.path().to_string_lossy().into_owned())];
    env.extend(more.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    env
}

/// Reads what the server answers until it closes the connection (or `patience` runs out).
fn answer(stream: &mut TcpStream, patience: Duration) -> String {
    stream.set_read_timeout(Some(patience)).unwrap();
    let mut got = Vec::new();
    let _ = stream.read_to_end(&mut got);
    String::from_utf8_lossy(&got).into_owned()
}

#[test]
fn a_client_sending_its_headers_a_byte_a_second_is_cut_off() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&env_in(&dir, &[("LEADGATE_HEADER_TIMEOUT_SECS", "2")]));
    let mut stream = TcpStream::connect(server.addr()).unwrap();
    let request = "POST /v1/inquiries HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nX-Slow: yes\r\n\r\n";
    let mut sent = 0;
    for byte in request.bytes() {
        if stream.write_all(&[byte]).is_err() {
            break;
        }
        sent += 1;
        std::thread::sleep(Duration::from_secs(1));
        // Answered or closed by the server: a read returns at once (with its answer,
        // or with the end of the stream) instead of waiting.
        stream.set_nonblocking(true).unwrap();
        let mut probe = [0u8; 512];
        let closed = stream.read(&mut probe).is_ok();
        stream.set_nonblocking(false).unwrap();
        if closed {
            break;
        }
    }
    assert!(sent < request.len(), "the server waited for all {} bytes of headers", request.len());
}

#[test]
fn a_connection_that_sends_nothing_is_closed() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&env_in(&dir, &[("LEADGATE_HEADER_TIMEOUT_SECS", "2")]));
    let mut stream = TcpStream::connect(server.addr()).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let mut got = Vec::new();
    let read = stream.read_to_end(&mut got);
    assert!(read.is_ok(), "the server closed the connection rather than waiting: {read:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_stops_reading_an_export_gives_its_place_back() {
    let dir = tempfile::tempdir().unwrap();
    let env = env_in(&dir, &[("LEADGATE_BODY_TIMEOUT_SECS", "2"), ("LEADGATE_CONCURRENT_HEAVY_READS", "1")]);
    let key = leadgate(&env, &["apikey", "create", "--name", "ops", "--role", "admin"]);
    leadgate(&env, &["demo", "--contacts", "30000"]);
    let server = Server::start(&env);
    // Once the demo contacts are scored, the server has nothing else to do.
    let consumers = server.caught_up(&key, Duration::from_secs(120)).await;
    assert_eq!(consumers["consumers"][0]["caught_up"], true, "{consumers}");
    // Asks for an export of many megabytes, and reads none of it.
    let mut stalled = TcpStream::connect(server.addr()).unwrap();
    let ask = format!("GET /v1/exports/contacts.csv HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {key}\r\n\r\n");
    stalled.write_all(ask.as_bytes()).unwrap();
    // Its answer has begun (the export holds its place), and is read no further.
    let mut head = [0u8; 12];
    stalled.read_exact(&mut head).unwrap();
    assert_eq!(&head, b"HTTP/1.1 200", "the export began");
    let client = reqwest::Client::new();
    let mut statuses = Vec::new();
    for _ in 0..60 {
        let r = client.get(format!("{}/v1/exports/events.csv", server.base)).bearer_auth(&key).send().await.unwrap();
        statuses.push(r.status().as_u16());
        if r.status() == 200 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    assert_eq!(statuses.first(), Some(&503), "the stalled export held the one place at first: {statuses:?}");
    assert_eq!(statuses.last(), Some(&200), "then gave it back: {statuses:?}");
    drop(stalled);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_body_is_cut_off_and_counted_against_the_rate_limit() {
    let dir = tempfile::tempdir().unwrap();
    let env = env_in(&dir, &[("LEADGATE_BODY_TIMEOUT_SECS", "2"), ("LEADGATE_INQUIRIES_PER_MINUTE", "1")]);
    let form_key = leadgate(&env, &["form", "create", "--name", "F"]);
    let server = Server::start(&env);
    let addr = server.addr();
    // Declares 60,000 bytes and sends one.
    let slow = std::thread::spawn(move || {
        let mut stream = TcpStream::connect(addr).unwrap();
        let head = "POST /v1/inquiries HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 60000\r\n\r\n{";
        stream.write_all(head.as_bytes()).unwrap();
        answer(&mut stream, Duration::from_secs(30))
    });
    let answered = slow.join().unwrap();
    assert!(answered.starts_with("HTTP/1.1 408"), "{answered}");
    assert!(answered.contains("body_timeout"), "{answered}");
    // The slow request took this address's one inquiry of the minute.
    let fast = reqwest::Client::new()
        .post(format!("{}/v1/inquiries", server.base))
        .json(&json!({"form_key": form_key, "email": "ann@acme.example"}))
        .send()
        .await
        .unwrap();
    assert_eq!(fast.status(), 429);
    assert!(fast.headers().contains_key("retry-after"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn beyond_its_connections_the_server_takes_no_more_until_one_closes() {
    let dir = tempfile::tempdir().unwrap();
    let server =
        Server::start(&env_in(&dir, &[("LEADGATE_MAX_CONNECTIONS", "2"), ("LEADGATE_HEADER_TIMEOUT_SECS", "60")]));
    let held: Vec<TcpStream> = (0..2).map(|_| TcpStream::connect(server.addr()).unwrap()).collect();
    let client = reqwest::Client::builder().timeout(Duration::from_secs(2)).build().unwrap();
    let waiting = client.get(format!("{}/healthz", server.base)).send().await;
    assert!(waiting.is_err_and(|e| e.is_timeout()), "a third connection is not served while two are held");
    drop(held);
    let served = reqwest::get(format!("{}/healthz", server.base)).await.unwrap();
    assert_eq!(served.status(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_huge_part_in_an_upload_is_refused_as_it_streams_not_held_in_memory() {
    let dir = tempfile::tempdir().unwrap();
    let env = env_in(&dir, &[]);
    let key = leadgate(&env, &["apikey", "create", "--name", "ops", "--role", "admin"]);
    let server = Server::start(&env);
    let peak_before = server.peak_memory_kib();
    let mut stream = TcpStream::connect(server.addr()).unwrap();
    let boundary = "b0undary";
    let part_head = format!("--{boundary}\r\nContent-Disposition: form-data; name=\"mapping\"\r\n\r\n");
    let size: usize = 100 << 20;
    let head = format!(
        "POST /v1/imports HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {key}\r\n\
         Content-Type: multipart/form-data; boundary={boundary}\r\nContent-Length: {}\r\n\r\n{part_head}",
        part_head.len() + size + 4 + boundary.len() + 6
    );
    stream.write_all(head.as_bytes()).unwrap();
    let chunk = vec![b'a'; 1 << 20];
    let mut sent = 0;
    while sent < size {
        if stream.write_all(&chunk).is_err() {
            break;
        }
        sent += chunk.len();
        stream.set_nonblocking(true).unwrap();
        let mut peek = [0u8; 1];
        let answered = stream.peek(&mut peek).is_ok_and(|n| n > 0);
        stream.set_nonblocking(false).unwrap();
        if answered {
            break;
        }
    }
    let answered = answer(&mut stream, Duration::from_secs(10));
    assert!(answered.starts_with("HTTP/1.1 413"), "{}", &answered[..answered.len().min(300)]);
    assert!(answered.contains("body_too_large") && answered.contains("\"field\":\"mapping\""), "{answered}");
    assert!(sent < size, "refused before the 100 MB were sent ({sent} bytes were)");
    let grew_mib = (server.peak_memory_kib() - peak_before) / 1024;
    assert!(grew_mib < 40, "the server's memory grew by {grew_mib} MiB for a part it refused");
}

/// What says who the person is, in every form it is sent.
const PERSONAL: [&str; 10] = [
    "zebulon.quill@quillworks.example",
    "zebulon.quill%40quillworks.example",
    "Zebulon",
    "Quixotic",
    "+44 20 7946 0999",
    "I need 40 seats for Quillworks",
    "quill-secret-plan",
    "HostileBrowser/9.9",
    "v-quill-77",
    "quill-token-123",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_erased_person_is_not_in_the_database_files_nor_in_the_log() {
    let dir = tempfile::tempdir().unwrap();
    let env = env_in(&dir, &[("LEADGATE_LOG", "info")]);
    let key = leadgate(&env, &["apikey", "create", "--name", "ops", "--role", "admin"]);
    let form_key = leadgate(&env, &["form", "create", "--name", "F"]);
    leadgate(&env, &["demo", "--contacts", "200"]);
    let server = Server::start_logged(&env);
    let client = reqwest::Client::new();
    let post = |body: String, content_type: &'static str| {
        client
            .post(format!("{}/v1/inquiries", server.base))
            .header("content-type", content_type)
            .header("user-agent", "HostileBrowser/9.9")
            .body(body)
            .send()
    };
    let inquiry = json!({"form_key": form_key, "email": "zebulon.quill@quillworks.example", "first_name": "Zebulon",
        "last_name": "Quixotic", "phone": "+44 20 7946 0999", "message": "I need 40 seats for Quillworks",
        "plan": "quill-secret-plan", "visitor_id": "v-quill-77"});
    assert_eq!(post(inquiry.to_string(), "application/json").await.unwrap().status(), 201);
    let again = format!(
        "form_key={form_key}&email=zebulon.quill%40quillworks.example&last_name=Quixotic&plan=quill-secret-plan"
    );
    assert_eq!(post(again, "application/x-www-form-urlencoded").await.unwrap().status(), 201);
    let refused =
        format!("form_key={form_key}&email=zebulon.quill%40quillworks.example&first_name={}", "Zebulon".repeat(40));
    assert_eq!(post(refused, "application/x-www-form-urlencoded").await.unwrap().status(), 422);
    let events = json!({"events": [{"visitor_id": "v-quill-77", "kind": "pricing_view",
        "url": "https://acme.example/pricing?token=quill-token-123", "props": {"plan": "quill-secret-plan"}}]});
    let sent = client.post(format!("{}/v1/events", server.base)).bearer_auth(&key).json(&events).send().await.unwrap();
    assert_eq!(sent.status(), 202);
    let found = server.get_json("/v1/contacts?email=zebulon.quill@quillworks.example", &key).await;
    let id = found["contacts"][0]["id"].as_str().unwrap().to_owned();

    let erased = client
        .delete(format!("{}/v1/contacts/{id}?reason=asked+by+email", server.base))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap();
    assert_eq!(erased.status(), 200);
    // Written to the log: what was done, not to whom.
    let log = server.log();
    server.stop();

    let mut bytes = Vec::new();
    for entry in std::fs::read_dir(dir.path()).unwrap() {
        let path = entry.unwrap().path();
        bytes.extend(std::fs::read(&path).unwrap());
    }
    assert!(bytes.len() > 100_000, "the database is there ({} bytes)", bytes.len());
    for text in PERSONAL {
        let found = bytes.windows(text.len()).any(|w| w == text.as_bytes());
        assert!(!found, "{text} is still in the bytes of the database files");
        assert!(!log.contains(text), "{text} is in the log:\n{log}");
    }
    assert!(log.contains("personal data erased"), "{log}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_stream_nobody_reads_is_cut_off_not_buffered() {
    let dir = tempfile::tempdir().unwrap();
    let env = env_in(&dir, &[("LEADGATE_BODY_TIMEOUT_SECS", "2")]);
    let key = leadgate(&env, &["apikey", "create", "--name", "ops", "--role", "admin"]);
    // Tens of megabytes of entries: more than the connection's buffers hold.
    leadgate(&env, &["demo", "--contacts", "30000"]);
    let server = Server::start(&env);
    let mut total = 0;
    let mut after = String::new();
    loop {
        let page = server.get_json(&format!("/v1/changes?limit=1000{after}"), &key).await;
        let n = page["changes"].as_array().unwrap().len();
        if n == 0 {
            break;
        }
        total += n;
        after = format!("&after={}", page["next"].as_str().unwrap());
    }
    // Asks for every entry from the start, and reads none of them.
    let mut stalled = TcpStream::connect(server.addr()).unwrap();
    let ask = format!("GET /v1/changes/stream HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {key}\r\n\r\n");
    stalled.write_all(ask.as_bytes()).unwrap();
    tokio::time::sleep(Duration::from_secs(8)).await;
    // The server goes on answering others meanwhile.
    let health = reqwest::get(format!("{}/healthz", server.base)).await.unwrap();
    assert_eq!(health.status(), 200);
    // What it wrote before giving up is all there is: the stream was closed, and held
    // no more than the connection's buffers, not the whole feed.
    stalled.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let mut got = Vec::new();
    let ended = stalled.read_to_end(&mut got);
    assert!(ended.is_ok(), "the server closed the stalled stream: {ended:?}");
    let sent = String::from_utf8_lossy(&got).matches("event: change").count();
    assert!(sent > 0 && sent < total, "{sent} of {total} entries were sent before the stream was cut");
}
