//! Faults on our side, as a client and an operator meet them: the client gets a JSON
//! error with an id, and the operator finds that id in the log with the details.

mod common;

use common::{Server, leadgate};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_internal_error_is_answered_as_json_with_the_id_it_was_logged_under() {
    let dir = tempfile::tempdir().unwrap();
    let env = vec![("LEADGATE_DATA_DIR".to_owned(), dir.path().to_string_lossy().into_owned())];
    let key = leadgate(&env, &["apikey", "create", "--name", "ops", "--role", "admin"]);
    leadgate(&env, &["demo", "--contacts", "20"]);
    let server = Server::start_logged(&env);
    let listed = server.get_json("/v1/contacts?limit=1", &key).await;
    let id = listed["contacts"][0]["id"].as_str().unwrap().to_owned();

    // A row no version of leadgate writes: the stored stage is not a stage.
    let db = format!("sqlite://{}", dir.path().join("leadgate.db").display());
    let pool = sqlx::SqlitePool::connect(&db).await.unwrap();
    let bytes = uuid::Uuid::parse_str(&id).unwrap().as_bytes().to_vec();
    let done = sqlx::query("UPDATE contacts SET stage = 'bogus' WHERE id = $1").bind(bytes).execute(&pool).await;
    assert_eq!(done.unwrap().rows_affected(), 1);
    pool.close().await;

    let resp =
        reqwest::Client::new().get(format!("{}/v1/contacts/{id}", server.base)).bearer_auth(&key).send().await.unwrap();
    assert_eq!(resp.status(), 500);
    assert!(resp.headers().get("retry-after").is_none(), "retrying is not expected to help");
    let body: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(body["error"]["code"], "internal", "{body}");
    let error_id = body["error"]["id"].as_str().expect("an id").to_owned();
    uuid::Uuid::parse_str(&error_id).expect("the id is a UUID");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(message.contains(&error_id), "{message}");
    assert!(!message.contains("bogus"), "the details stay in the log: {message}");

    // The operator finds the details under that id.
    let logged = (0..50)
        .find_map(|_| {
            let log = server.log();
            let line = log.lines().find(|l| l.contains(&error_id)).map(str::to_owned);
            if line.is_none() {
                std::thread::sleep(std::time::Duration::from_millis(100));
            }
            line
        })
        .unwrap_or_else(|| panic!("no log line with {error_id}:\n{}", server.log()));
    assert!(logged.contains("bogus"), "{logged}");
}
