//! The engine with no Salesforce session at all: calls still ring, pop up (not connected) and
//! are logged into the outbox, which holds until a login. No network is touched.

use std::sync::Arc;
use std::time::Duration;

use callpop_engine::{
    CallPhase, ConnectionState, Direction, EndReason, Engine, EngineConfig, EngineDeps, LogStatus,
    LookupStatus, ManualClock, ScriptedTelephony, TelephonyEvent, UiEvent,
};
use chrono::TimeZone;
use salesforce::{Client, ClientConfig, LoginHost, MemoryStore, TokenStore};
use tokio::sync::mpsc;

async fn next(
    rx: &mut mpsc::Receiver<UiEvent>,
    what: &str,
    pred: impl Fn(&UiEvent) -> bool,
) -> UiEvent {
    loop {
        let event = tokio::time::timeout(Duration::from_secs(10), rx.recv())
            .await
            .unwrap_or_else(|_| panic!("timed out waiting for {what}"))
            .unwrap_or_else(|| panic!("the engine stopped before {what}"));
        if pred(&event) {
            return event;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_signed_out_engine_still_rings_pops_and_queues_the_log() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = Arc::new(store::Store::open(dir.path().join("callpop.db")).expect("store"));
    let login = url::Url::parse("http://127.0.0.1:9/").expect("url");
    let client = Client::new(
        ClientConfig::new(LoginHost::Custom(login.clone()), "callpop-test"),
        Arc::new(MemoryStore::new()) as Arc<dyn TokenStore>,
    )
    .expect("client");
    let start = chrono::Utc
        .with_ymd_and_hms(2027, 1, 31, 10, 0, 0)
        .single()
        .expect("time");
    let clock = ManualClock::new(start);
    let phone = Arc::new(ScriptedTelephony::new());
    let mut config = EngineConfig::new(login);
    config.behaviour.wrap_up_seconds = 0;
    let (engine, mut ui) = Engine::start(
        config,
        EngineDeps {
            store: store.clone(),
            client,
            clock: Arc::new(clock.clone()),
            telephony: phone.clone(),
        },
    )
    .expect("engine starts");
    // Before any call, the status line says nobody is signed in (not "checking" for ever).
    let first = next(&mut ui, "the connection state", |e| {
        matches!(e, UiEvent::Connection { .. })
    })
    .await;
    assert_eq!(
        first,
        UiEvent::Connection {
            state: ConnectionState::NotSignedIn
        },
        "with no session the engine says so at start"
    );
    phone
        .emit(TelephonyEvent::Ringing {
            call_id: "c-1".into(),
            direction: Direction::Inbound,
            remote_raw: "+1 415 555 0100".into(),
            remote_display_name: None,
            local: None,
            queue: None,
        })
        .await
        .expect("ring");
    let popup = next(&mut ui, "the popup", |e| matches!(e, UiEvent::Popup { .. })).await;
    let UiEvent::Popup { popup, .. } = popup else {
        unreachable!("matched a popup")
    };
    assert_eq!(
        popup.lookup,
        LookupStatus::NotConnected,
        "without a session the popup says not connected"
    );
    assert_eq!(
        popup.decision.caller.e164.as_deref(),
        Some("+14155550100"),
        "the caller is shown anyway"
    );
    for event in [
        TelephonyEvent::Answered {
            call_id: "c-1".into(),
        },
        TelephonyEvent::Ended {
            call_id: "c-1".into(),
            reason: EndReason::HungUp,
        },
    ] {
        phone.emit(event).await.expect("event");
    }
    // The log's queueing and the call's close come in any order; the flusher's hold does not
    // change the status line (still not signed in, not "sign in again").
    let (mut queued, mut closed) = (false, false);
    while !(queued && closed) {
        match next(&mut ui, "the log queued and the call closed", |_| true).await {
            UiEvent::LogState {
                call_object,
                state: LogStatus::Queued,
            } if call_object == "c-1" => {
                queued = true;
                let stats = store.outbox().stats().expect("stats");
                assert_eq!(
                    stats.pending + stats.in_flight,
                    1,
                    "the log is in the outbox, committed before the UI was told"
                );
            }
            UiEvent::Connection { state } => {
                panic!("the status line changed to {state:?} without a sign-in")
            }
            UiEvent::CallState {
                phase: CallPhase::Closed { .. },
                ..
            } => closed = true,
            _ => {}
        }
    }
    engine.shutdown().await;
    let stats = store.outbox().stats().expect("stats");
    assert_eq!(stats.pending, 1, "the log waits for a login, not lost");
}
