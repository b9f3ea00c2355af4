//! Conformance with an independent client: jsforce 3 (Node) drives the emulator over HTTP.
//! Needs `conformance/node_modules` (run `make deps`); fails, never skips, when it is missing.

mod common;

use std::path::PathBuf;

use callpop_sf_emulator::Config;
use common::start;
use serde_json::Value;

#[tokio::test]
async fn jsforce_limits_search_query_create_collection_read() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("conformance");
    assert!(
        dir.join("node_modules/jsforce").is_dir(),
        "jsforce is not installed in {}: run `make deps` (it runs `npm ci` there)",
        dir.display()
    );
    let emu = start(Config::default()).await;
    let tokens = emu.mint_tokens();
    let before = emu.records("Task").len();
    let output = tokio::process::Command::new("node")
        .arg("jsforce-check.mjs")
        .arg(emu.instance_url().as_str().trim_end_matches('/'))
        .arg(&tokens.access_token)
        .arg(&tokens.refresh_token)
        .arg(emu.login_url().as_str().trim_end_matches('/'))
        .arg(emu.client_id())
        .current_dir(&dir)
        .output()
        .await
        .expect("node runs (run `make deps` to install Node.js)");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "jsforce-check.mjs exits 0; stderr: {stderr}"
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    let summary: Value = serde_json::from_str(stdout.trim())
        .unwrap_or_else(|e| panic!("summary is JSON ({e}): {stdout}"));

    assert_eq!(
        summary["dailyApiMax"], 15_000,
        "jsforce read the default limit"
    );
    assert!(
        summary["searchCount"].as_u64().unwrap() >= 1,
        "the seeded US number is found: {summary}"
    );
    assert_eq!(summary["queryTotalSize"], 3, "LIMIT 3 honoured");
    assert_eq!(
        summary["batchIds"].as_array().map(Vec::len),
        Some(3),
        "three Tasks from one collection call"
    );
    assert_eq!(
        summary["readBack"]["Status"], "Not Started",
        "defaults visible to jsforce"
    );
    assert_eq!(
        summary["refreshed"], true,
        "jsforce refreshed an expired session against our token endpoint"
    );
    assert_eq!(
        summary["readBack"]["CallDurationInSeconds"], 42,
        "integer field round-trips"
    );
    let tasks = emu.records("Task");
    assert_eq!(
        tasks.len(),
        before + 4,
        "one single + three collection Tasks stored"
    );
    assert!(
        tasks.iter().any(|t| t["CallObject"] == "jsforce-batch-3"),
        "collection Tasks stored with their fields"
    );
    let calls = emu.calls();
    assert!(
        calls
            .iter()
            .any(|c| c.method == "POST" && c.path.ends_with("/composite/sobjects")),
        "jsforce sent the array create as sObject Collections: {calls:?}"
    );
    assert_eq!(
        summary["apiUsage"]["used"].as_u64(),
        Some(emu.api_usage().0 - 1),
        "jsforce parsed our Sforce-Limit-Info (before the one replayed query after refresh)"
    );
    assert!(
        calls
            .iter()
            .any(|c| c.path == "/services/oauth2/token" && c.status == 200),
        "the refresh went through the OAuth token endpoint: {calls:?}"
    );
    emu.shutdown().await;
}
