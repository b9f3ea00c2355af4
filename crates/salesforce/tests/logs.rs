//! No token ever appears in the logs, even at TRACE, across a login and REST calls.

mod common;

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use callpop_salesforce::TokenStore;
use common::{client, emulator, sign_in};
use secrecy::ExposeSecret;

#[derive(Clone, Default)]
struct Buffer(Arc<Mutex<Vec<u8>>>);

impl Write for Buffer {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn tokens_never_reach_the_log() {
    let buffer = Buffer::default();
    let writer = buffer.clone();
    tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .try_init()
        .expect("this test binary installs the only subscriber");

    let emu = emulator(false).await;
    let (client, store) = client(&emu, Duration::from_secs(10));
    let first = sign_in(&client).await;
    client.userinfo().await.expect("userinfo");
    client.search_phone(&["4155550100"]).await.expect("search");
    emu.expire_access_tokens();
    client
        .find_tasks_by_call_object("log-probe")
        .await
        .expect("query after refresh");
    let refreshed = client.userinfo().await.map(|_| ());
    refreshed.expect("still working");
    let err = client
        .create("Task", &serde_json::json!({"CallType": "Sideways"}))
        .await
        .expect_err("bad");
    tracing::error!(error = ?err, "logged error");
    let second = store
        .load()
        .expect("store")
        .expect("signed in")
        .access_token
        .expose_secret()
        .to_string();
    client.disconnect().await.expect("revoke");
    emu.shutdown().await;

    let log = String::from_utf8(buffer.0.lock().expect("buffer").clone()).expect("utf8 log");
    assert!(
        log.contains("sf_request"),
        "the request spans were captured (the test sees the log)"
    );
    let mut secrets = vec![first.access_token.expose_secret().to_string()];
    secrets.extend(
        first
            .refresh_token
            .as_ref()
            .map(|r| r.expose_secret().to_string()),
    );
    assert_ne!(
        second, secrets[0],
        "the refresh produced a second access token to look for"
    );
    secrets.push(second);
    for s in &secrets {
        assert!(!log.contains(s.as_str()), "a token appeared in the log");
    }
    assert!(
        !log.to_ascii_lowercase().contains("bearer "),
        "no Authorization header in the log"
    );
}
