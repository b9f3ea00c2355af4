//! REST against the emulator over real HTTP: faults, API usage, search, writes, lookups.

mod common;

use std::time::{Duration, Instant};

use callpop_salesforce::{ApiUsage, Error, ErrorClass};
use common::{client, emulator, sign_in, token_calls};
use serde_json::json;
use sf_emulator::{Fault, PhoneMatch};

async fn signed_in(timeout: Duration) -> (sf_emulator::Emulator, callpop_salesforce::Client) {
    let emu = emulator(true).await;
    let (client, _store) = client(&emu, timeout);
    sign_in(&client).await;
    client.api_version().await.expect("version discovery");
    (emu, client)
}

#[tokio::test]
async fn server_faults_are_retryable() {
    let (emu, client) = signed_in(Duration::from_secs(10)).await;
    for (fault, status) in [(Fault::Http500, 500), (Fault::Http503, 503)] {
        emu.inject_fault(fault, 1);
        let err = client
            .find_tasks_by_call_object("probe")
            .await
            .expect_err("fault answers an error");
        assert!(
            matches!(err, Error::Api { status: s, .. } if s == status),
            "{fault:?} gives status {status}: {err:?}"
        );
        assert!(
            matches!(err.classify(), ErrorClass::Retryable { after: Some(_) }),
            "{fault:?} is retryable: {err:?}"
        );
        client
            .find_tasks_by_call_object("probe")
            .await
            .expect("the next call succeeds");
    }
    emu.inject_fault(Fault::RequestLimitExceeded, 1);
    let err = client
        .find_tasks_by_call_object("probe")
        .await
        .expect_err("limit fault");
    assert_eq!(
        err.api_code(),
        Some("REQUEST_LIMIT_EXCEEDED"),
        "the code is carried: {err:?}"
    );
    assert!(
        matches!(err.classify(), ErrorClass::Retryable { after: Some(d) } if d >= Duration::from_secs(60)),
        "limit waits long: {err:?}"
    );
    emu.shutdown().await;
}

#[tokio::test]
async fn hang_times_out_within_the_configured_timeout() {
    let timeout = Duration::from_millis(800);
    let (emu, client) = signed_in(timeout).await;
    emu.inject_fault(Fault::Hang, 1);
    let started = Instant::now();
    let err = client
        .find_tasks_by_call_object("probe")
        .await
        .expect_err("a hung request fails");
    let took = started.elapsed();
    assert!(
        matches!(err, Error::Timeout { .. }),
        "typed timeout: {err:?}"
    );
    assert!(
        matches!(err.classify(), ErrorClass::Retryable { .. }),
        "timeouts are retryable"
    );
    assert!(
        took < timeout + Duration::from_secs(2),
        "gave up near the configured timeout, took {took:?}"
    );
    emu.shutdown().await;
}

#[tokio::test]
async fn connection_reset_is_retryable() {
    let (emu, client) = signed_in(Duration::from_secs(10)).await;
    emu.inject_fault(Fault::ConnectionReset, 1);
    let err = client
        .find_tasks_by_call_object("probe")
        .await
        .expect_err("reset fails the call");
    assert!(
        matches!(err, Error::Connection { .. }),
        "a reset is a connection error: {err:?}"
    );
    assert!(
        matches!(err.classify(), ErrorClass::Retryable { after: Some(_) }),
        "a reset is retryable with a hint: {err:?}"
    );
    client
        .find_tasks_by_call_object("probe")
        .await
        .expect("the next call gets a fresh connection and succeeds");
    emu.shutdown().await;
}

#[tokio::test]
async fn invalid_session_fault_is_refreshed_transparently() {
    let (emu, client) = signed_in(Duration::from_secs(10)).await;
    emu.inject_fault(Fault::InvalidSession, 1);
    let before = token_calls(&emu);
    client
        .find_tasks_by_call_object("probe")
        .await
        .expect("one refresh and one retry hide the 401");
    assert_eq!(token_calls(&emu) - before, 1, "exactly one refresh");
    emu.shutdown().await;
}

#[tokio::test]
async fn api_usage_tracks_the_emulator() {
    let (emu, client) = signed_in(Duration::from_secs(10)).await;
    emu.set_daily_api_limit(777);
    let mut rx = client.watch_api_usage();
    for _ in 0..3 {
        client
            .find_tasks_by_call_object("probe")
            .await
            .expect("query");
    }
    let (used, max) = emu.api_usage();
    assert_eq!(
        client.api_usage(),
        Some(ApiUsage { used, max }),
        "the latest header matches the emulator's count"
    );
    assert_eq!(max, 777, "the limit change is visible");
    assert!(rx.has_changed().expect("sender alive"), "watchers are told");
    assert_eq!(
        *rx.borrow_and_update(),
        Some(ApiUsage { used, max }),
        "watchers see the same figure"
    );
    let limits = client.limits().await.expect("limits");
    let daily = limits
        .get("DailyApiRequests")
        .expect("DailyApiRequests is listed");
    assert_eq!(
        daily.max, 777,
        "limits agree with the configured allocation: {daily:?}"
    );
    emu.shutdown().await;
}

#[tokio::test]
async fn phone_search_finds_every_known_caller_in_both_modes() {
    let (emu, client) = signed_in(Duration::from_secs(10)).await;
    let callers = sf_emulator::seed::known_callers();
    assert!(!callers.is_empty(), "the seed has known callers");
    for mode in [PhoneMatch::Exact, PhoneMatch::Suffix] {
        emu.set_phone_match(mode);
        for kc in &callers {
            let terms = [
                sf_emulator::phone::digits(kc.stored_as),
                kc.e164.trim_start_matches('+').to_string(),
            ];
            let found = client.search_phone(&terms).await.expect("search answers");
            assert!(
                found.iter().any(|r| r.sobject == kc.sobject
                    && r.fields.get("Name").and_then(|v| v.as_str()) == Some(kc.name)),
                "{mode:?}: {} ({}, stored as {:?}) is found with terms {terms:?}; got {found:?}",
                kc.name,
                kc.region,
                kc.stored_as
            );
        }
    }
    emu.shutdown().await;
}

#[tokio::test]
async fn name_search_finds_a_known_caller() {
    let (emu, client) = signed_in(Duration::from_secs(10)).await;
    let kc = &sf_emulator::seed::known_callers()[0];
    let found = client.search_name(&[kc.name]).await.expect("name search");
    assert!(
        found
            .iter()
            .any(|r| r.fields.get("Name").and_then(|v| v.as_str()) == Some(kc.name)),
        "{} is found by name: {found:?}",
        kc.name
    );
    emu.shutdown().await;
}

fn task(call_object: &str) -> serde_json::Value {
    json!({
        "Subject": "Inbound call",
        "Status": "Completed",
        "Priority": "Normal",
        "TaskSubtype": "Call",
        "CallType": "Inbound",
        "CallDurationInSeconds": 42,
        "CallObject": call_object,
    })
}

#[tokio::test]
async fn task_create_update_and_lookup_by_call_object() {
    let (emu, client) = signed_in(Duration::from_secs(10)).await;
    let call_object = r"pbx-'quoted'\back\slash";
    let saved = client
        .create("Task", &task(call_object))
        .await
        .expect("create");
    let id = saved.id.clone().expect("a created record has an Id");
    assert!(
        saved.success && id.starts_with("00T"),
        "Task created: {saved:?}"
    );
    assert!(
        emu.records("Task")
            .iter()
            .any(|r| r["CallObject"] == call_object),
        "the emulator holds the Task with the exact CallObject"
    );
    let found = client
        .find_tasks_by_call_object(call_object)
        .await
        .expect("lookup");
    assert_eq!(found.len(), 1, "exactly the one Task matches: {found:?}");
    assert_eq!(found[0].id, id, "the lookup returns the created Task");
    assert!(
        client
            .find_tasks_by_call_object("pbx-none")
            .await
            .expect("lookup")
            .is_empty(),
        "no match, no rows"
    );
    client
        .update("Task", &id, &json!({"CallDurationInSeconds": 99}))
        .await
        .expect("update answers 204");
    let again = client
        .find_tasks_by_call_object(call_object)
        .await
        .expect("lookup");
    assert_eq!(
        again[0].fields["CallDurationInSeconds"], 99,
        "the update is visible"
    );
    let err = client
        .create("Task", &json!({"CallType": "Sideways"}))
        .await
        .expect_err("bad picklist");
    assert!(
        matches!(err.classify(), ErrorClass::Permanent { .. }),
        "validation errors are permanent: {err:?}"
    );
    emu.shutdown().await;
}

#[tokio::test]
async fn collection_of_200_is_one_call_and_201_sends_nothing() {
    let (emu, client) = signed_in(Duration::from_secs(10)).await;
    let records: Vec<(&str, serde_json::Value)> = (0..200)
        .map(|i| ("Task", task(&format!("bulk-{i}"))))
        .collect();
    emu.clear_calls();
    let results = client.create_many(&records).await.expect("collection");
    assert_eq!(results.len(), 200, "one result per record");
    assert!(results.iter().all(|r| r.success), "all saved");
    let calls = emu.calls();
    assert_eq!(calls.len(), 1, "200 records in one request: {calls:?}");
    assert!(
        calls[0].path.ends_with("/composite/sobjects"),
        "the collections endpoint: {calls:?}"
    );
    let mut too_many = records.clone();
    too_many.push(("Task", task("bulk-200")));
    emu.clear_calls();
    let err = client
        .create_many(&too_many)
        .await
        .expect_err("201 is refused");
    assert!(
        matches!(
            err,
            Error::TooManyRecords {
                count: 201,
                max: 200
            }
        ),
        "typed error: {err:?}"
    );
    assert!(emu.calls().is_empty(), "nothing was sent");
    let mixed = vec![
        ("Task", task("ok-1")),
        ("Task", json!({"CallObject": "bad", "WhoId": "not-an-id"})),
    ];
    let res = client
        .create_many(&mixed)
        .await
        .expect("collection answers 200 with per-record results");
    assert!(res[0].success, "the good record is saved");
    assert!(
        !res[1].success && !res[1].errors.is_empty(),
        "the bad record carries its errors: {res:?}"
    );
    emu.shutdown().await;
}
