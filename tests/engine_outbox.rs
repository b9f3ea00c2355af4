//! The outbox under trouble: an outage, token expiry, the API limit, a hung request.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use callpop_e2e::{emulator, tasks_for, Harness, WAIT};
use engine::{ConnectionState, TelephonyEvent, UiEvent};
use sf_emulator::{Emulator, Fault};

/// Rings, answers and hangs up `call_id` (auto-save at hang-up in these tests).
async fn quick_call(h: &Harness, call_id: &str, number: &str) {
    h.ring(call_id, number).await.expect("ring");
    for event in [
        TelephonyEvent::Answered {
            call_id: call_id.into(),
        },
        TelephonyEvent::Ended {
            call_id: call_id.into(),
            reason: engine::EndReason::HungUp,
        },
    ] {
        h.phone.emit(event).await.expect("event");
    }
}

/// Waits (real time, bounded) until the UI was told every one of `ids` is queued.
async fn wait_queued(h: &Harness, ids: &[String]) {
    let mut left: std::collections::BTreeSet<&String> = ids.iter().collect();
    for e in h.ui.seen() {
        if let UiEvent::LogState { call_object, .. } = e {
            left.remove(&call_object);
        }
    }
    while !left.is_empty() {
        let found = h
            .ui
            .find(WAIT, |e| matches!(e, UiEvent::LogState { call_object, .. } if left.contains(call_object)))
            .await;
        match found {
            Some(UiEvent::LogState { call_object, .. }) => {
                left.remove(&call_object);
            }
            _ => panic!("every call must be queued; still waiting for {left:?}"),
        }
    }
}

/// How many Tasks each CallObject has in the emulator.
fn counts(emu: &Emulator, ids: &[String]) -> Vec<usize> {
    ids.iter().map(|id| tasks_for(emu, id).len()).collect()
}

fn status(calls: &[sf_emulator::ApiCall], code: u16) -> usize {
    calls.iter().filter(|c| c.status == code).count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_minute_outage_with_100_calls_logs_each_exactly_once() {
    let emu = Arc::new(emulator(|_| {}).await.expect("emulator"));
    let h = Harness::start(emu.clone(), |c| c.behaviour.wrap_up_seconds = 0)
        .await
        .expect("engine");
    h.client.api_version().await.expect("session warm");
    emu.clear_calls();
    // The outage: every REST request fails with 503 for 10 minutes of clock time. Faults are
    // counted, so keep a few queued at every step and stop topping up when the outage ends.
    // The outage: every REST request fails with 503 for 10 minutes of clock time. Faults are
    // counted, so a helper keeps a margin of them queued while the outage lasts; the leftovers
    // are used up by the test's own requests when it ends.
    const MARGIN: usize = 40;
    let outage = Arc::new(AtomicBool::new(true));
    emu.inject_fault(Fault::Http503, MARGIN as u32);
    let topper = {
        let (emu, outage) = (emu.clone(), outage.clone());
        tokio::spawn(async move {
            let mut injected = MARGIN;
            while outage.load(Ordering::SeqCst) {
                let used = status(&emu.calls(), 503);
                if injected < used + MARGIN {
                    let more = used + MARGIN - injected;
                    emu.inject_fault(Fault::Http503, more as u32);
                    injected += more;
                }
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
        })
    };
    let ids: Vec<String> = (0..100).map(|i| format!("outage-{i:03}")).collect();
    for (i, id) in ids.iter().enumerate() {
        quick_call(&h, id, &format!("+1415555{:04}", 2000 + i)).await;
    }
    wait_queued(&h, &ids).await;
    for _ in 0..20 {
        h.ui.drain(Duration::from_millis(30)).await;
        h.clock.advance(chrono::Duration::seconds(30));
    }
    h.ui.drain(Duration::from_millis(100)).await;
    outage.store(false, Ordering::SeqCst);
    topper.await.expect("fault helper");
    // Use up the faults still queued (the flusher sleeps until the clock moves).
    let mut left = 0;
    while h.client.limits().await.is_err() {
        left += 1;
        assert!(left <= 2 * MARGIN, "the leftover faults run out");
    }
    assert!(
        emu.records("Task").iter().all(|t| !t["CallObject"]
            .as_str()
            .unwrap_or("")
            .starts_with("outage-")),
        "nothing gets through during the outage"
    );
    assert!(
        h.ui.seen().iter().any(|e| matches!(
            e,
            UiEvent::Connection {
                state: ConnectionState::Offline { .. }
            }
        )),
        "the UI is told Salesforce is unreachable"
    );
    let stats = h.store.outbox().stats().expect("stats");
    assert_eq!(
        stats.pending + stats.in_flight,
        100,
        "all 100 logs wait in the outbox"
    );
    // Recovery: no more faults; let the back-offs pass.
    for _ in 0..60 {
        if counts(&emu, &ids).iter().all(|n| *n == 1) {
            break;
        }
        h.clock.advance(chrono::Duration::seconds(60));
        h.ui.drain(Duration::from_millis(50)).await;
    }
    h.ui.drain(Duration::from_millis(200)).await;
    let c = counts(&emu, &ids);
    assert!(
        c.iter().all(|n| *n == 1),
        "after recovery every call has exactly one Task (CallObject counts: {c:?})"
    );
    assert_eq!(
        h.store.outbox().stats().expect("stats").done,
        100,
        "every outbox row is done"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logs_decided_close_together_go_in_one_request() {
    let emu = Arc::new(emulator(|_| {}).await.expect("emulator"));
    let h = Harness::start(emu.clone(), |c| {
        c.behaviour.wrap_up_seconds = 0;
        c.flush.linger = Duration::from_secs(2);
    })
    .await
    .expect("engine");
    h.client.api_version().await.expect("session warm");
    emu.clear_calls();
    let ids: Vec<String> = (0..5).map(|i| format!("burst-{i}")).collect();
    // Five short calls, one every 60 ms: all within the linger after the first log is queued
    // (without a linger the first one or two go on their own).
    for (i, id) in ids.iter().enumerate() {
        quick_call(&h, id, &format!("+1415555{:04}", 3000 + i)).await;
        tokio::time::sleep(Duration::from_millis(60)).await;
    }
    for id in &ids {
        assert!(
            h.ui.saved(id, WAIT).await.is_some(),
            "{id} is saved in Salesforce"
        );
    }
    assert_eq!(counts(&emu, &ids), [1; 5], "each log once");
    let writes = emu
        .calls()
        .iter()
        .filter(|c| c.method == "POST" && c.path.contains("/sobjects"))
        .count();
    assert_eq!(
        writes, 1,
        "five logs decided within the linger go in one collection request"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_expiry_during_a_flush_refreshes_transparently() {
    let emu = Arc::new(emulator(|_| {}).await.expect("emulator"));
    let h = Harness::start(emu.clone(), |c| c.behaviour.wrap_up_seconds = 60)
        .await
        .expect("engine");
    let ids: Vec<String> = (0..5).map(|i| format!("expiry-{i}")).collect();
    for (i, id) in ids.iter().enumerate() {
        quick_call(&h, id, &format!("+1415555{:04}", 3000 + i)).await;
        h.ui.popup(id).await.expect("popup");
        // The hang-up is taken (its wrap-up timer runs on the manual clock) before the clock
        // moves: a hang-up handled after the step would wait for a step that never comes.
        h.ui.find(WAIT, |e| {
            matches!(e, UiEvent::CallState { call_id, phase: engine::CallPhase::WrapUp { .. } } if call_id == id)
        })
        .await
        .expect("the call is in wrap-up");
    }
    emu.expire_access_tokens();
    emu.clear_calls();
    // The wrap-ups end: the flush meets the expired token.
    h.clock.advance(chrono::Duration::seconds(61));
    for id in &ids {
        assert!(
            h.ui.saved(id, WAIT).await.is_some(),
            "{id} is saved after a silent refresh"
        );
    }
    let calls = emu.calls();
    assert!(
        calls.iter().any(|c| c.path.ends_with("/oauth2/token")),
        "the client refreshed the access token: {calls:?}"
    );
    assert!(
        calls.iter().any(|c| c.status == 401),
        "the flush did meet the expired token: {calls:?}"
    );
    assert_eq!(counts(&emu, &ids), vec![1; 5], "no loss, no duplicate");
    assert!(
        !h.ui.seen().iter().any(|e| matches!(
            e,
            UiEvent::Connection {
                state: ConnectionState::ReconnectNeeded
            }
        )),
        "an expired access token never asks the agent to sign in"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_limit_exceeded_holds_sending_then_resumes() {
    let emu = Arc::new(emulator(|_| {}).await.expect("emulator"));
    let h = Harness::start(emu.clone(), |c| c.behaviour.wrap_up_seconds = 0)
        .await
        .expect("engine");
    h.client.api_version().await.expect("session warm");
    quick_call(&h, "limit-0", "+14155554000").await;
    h.ui.popup("limit-0").await.expect("popup");
    h.ui.saved("limit-0", WAIT)
        .await
        .expect("a first log goes through");
    emu.clear_calls();
    // The fault must meet the flush, not the ringing lookup: look up first.
    h.ring("limit-1", "+14155554001").await.expect("ring");
    h.ui.popup("limit-1").await.expect("popup");
    emu.inject_fault(Fault::RequestLimitExceeded, 1);
    h.talk_and_hang_up("limit-1", chrono::Duration::seconds(5))
        .await
        .expect("talk");
    let until = match h
        .ui
        .find(WAIT, |e| {
            matches!(
                e,
                UiEvent::Connection {
                    state: ConnectionState::LimitExceeded { .. }
                }
            )
        })
        .await
    {
        Some(UiEvent::Connection {
            state: ConnectionState::LimitExceeded { until },
        }) => until,
        other => panic!("the UI must be told the limit is exceeded, got {other:?}"),
    };
    quick_call(&h, "limit-2", "+14155554002").await;
    h.ui.popup("limit-2").await.expect("popup");
    h.ui.drain(Duration::from_millis(200)).await;
    let before = emu.calls().len();
    h.clock.set(until - chrono::Duration::seconds(1));
    h.ui.drain(Duration::from_millis(300)).await;
    let writes: Vec<_> = emu.calls()[before..]
        .iter()
        .filter(|c| c.method != "GET")
        .cloned()
        .collect();
    assert!(writes.is_empty(), "nothing is sent while held: {writes:?}");
    assert!(
        tasks_for(&emu, "limit-1").is_empty() && tasks_for(&emu, "limit-2").is_empty(),
        "held logs wait"
    );
    h.clock.set(until + chrono::Duration::seconds(1));
    for id in ["limit-1", "limit-2"] {
        assert!(
            h.ui.saved(id, WAIT).await.is_some(),
            "{id} is sent once the hold ends"
        );
    }
    assert_eq!(
        counts(&emu, &["limit-1".into(), "limit-2".into()]),
        vec![1, 1],
        "each held log is written exactly once"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hung_create_is_resolved_by_call_object_before_any_resend() {
    let emu = Arc::new(emulator(|_| {}).await.expect("emulator"));
    let h = Harness::start(emu.clone(), |c| c.behaviour.wrap_up_seconds = 60)
        .await
        .expect("engine");
    quick_call(&h, "hang-1", "+14155555000").await;
    h.ui.popup("hang-1").await.expect("popup");
    emu.inject_fault(Fault::Hang, 1);
    h.clock.advance(chrono::Duration::seconds(61));
    // The request hangs until the client's 2 s timeout; then the flusher waits its transport
    // back-off and asks Salesforce by CallObject before resending.
    let mut saved = None;
    for _ in 0..40 {
        if let Some(id) = h.ui.saved("hang-1", Duration::from_millis(250)).await {
            saved = Some(id);
            break;
        }
        h.clock.advance(chrono::Duration::seconds(5));
    }
    assert!(saved.is_some(), "the hung log is saved in the end");
    let calls = emu.calls();
    assert!(
        calls
            .iter()
            .any(|c| c.path.ends_with("/query") || c.path.ends_with("/query/")),
        "the outcome was asked for by CallObject: {calls:?}"
    );
    assert_eq!(tasks_for(&emu, "hang-1").len(), 1, "exactly one Task");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reconnect_needed_holds_the_outbox_until_a_new_login() {
    let emu = Arc::new(emulator(|c| c.auto_approve = true).await.expect("emulator"));
    let h = Harness::start(emu.clone(), |c| c.behaviour.wrap_up_seconds = 0)
        .await
        .expect("engine");
    h.client.api_version().await.expect("session warm");
    // The refresh token is revoked (e.g. too many refresh tokens for the app and user).
    emu.expire_access_tokens();
    emu.revoke_refresh_tokens();
    let ids = ["relog-1".to_owned(), "relog-2".to_owned()];
    for (i, id) in ids.iter().enumerate() {
        quick_call(&h, id, &format!("+1415555{:04}", 7000 + i)).await;
        let popup = h.ui.popup(id).await.expect("popup");
        assert_eq!(
            popup.lookup,
            engine::LookupStatus::NotConnected,
            "the popup says Salesforce is not connected"
        );
    }
    wait_queued(&h, &ids).await;
    h.clock.advance(chrono::Duration::minutes(5));
    h.ui.drain(Duration::from_millis(300)).await;
    let told =
        h.ui.seen()
            .iter()
            .filter(|e| {
                matches!(
                    e,
                    UiEvent::Connection {
                        state: ConnectionState::ReconnectNeeded
                    }
                )
            })
            .count();
    assert_eq!(told, 1, "the agent is asked to sign in again exactly once");
    assert_eq!(
        counts(&emu, &ids),
        vec![0, 0],
        "nothing is written while signed out"
    );
    // The agent signs in again (PKCE through the "browser").
    h.client
        .pkce_login(|url| {
            let url = url.clone();
            tokio::spawn(async move {
                let _ = reqwest::get(url).await;
            });
            Ok(())
        })
        .await
        .expect("a new login");
    h.send(engine::Input::SignedIn).await.expect("signed in");
    for id in &ids {
        assert!(
            h.ui.saved(id, WAIT).await.is_some(),
            "{id} is written after the login"
        );
    }
    assert_eq!(counts(&emu, &ids), vec![1, 1], "each held log exactly once");
}
