//! The `sf-emulator` binary: prints one JSON line once listening, serves, and exits on SIGTERM.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

#[tokio::test]
async fn binary_prints_urls_serves_and_stops_on_sigterm() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_sf-emulator"))
        .args([
            "--no-seed",
            "--phone-match",
            "suffix",
            "--token-ttl-secs",
            "60",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("the binary starts");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .expect("one line on stdout");
    let ready: Value =
        serde_json::from_str(&line).unwrap_or_else(|e| panic!("the line is JSON ({e}): {line}"));
    assert_eq!(ready["client_id"], "callpop-desktop", "default client id");
    assert!(
        ready["login_url"]
            .as_str()
            .unwrap()
            .starts_with("http://127.0.0.1:"),
        "login host on loopback"
    );
    let instance = ready["instance_url"].as_str().unwrap().to_owned();
    let versions = reqwest::get(format!("{instance}/services/data/"))
        .await
        .unwrap();
    assert_eq!(versions.status(), 200, "the instance serves REST");
    let tokens: Value = reqwest::Client::new()
        .post(format!("{instance}/__emulator/tokens"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        tokens["access_token"]
            .as_str()
            .is_some_and(|t| t.starts_with("00D")),
        "control API mints tokens"
    );

    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(status.success(), "SIGTERM delivered");
    let started = Instant::now();
    loop {
        if let Some(exit) = child.try_wait().unwrap() {
            assert!(exit.success(), "a clean exit on SIGTERM, got {exit}");
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "the binary stops within 10 s of SIGTERM"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
