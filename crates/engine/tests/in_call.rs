//! In-call commands (hold, resume, mute, DTMF, transfer) are forwarded to the telephony source in
//! order; an action on an unknown call is refused; a command the source fails later is shown.
//! No Salesforce session and no network are needed.

use std::sync::Arc;
use std::time::Duration;

use callpop_engine::{
    AgentAction, Direction, Engine, EngineConfig, EngineDeps, Input, ManualClock,
    ScriptedTelephony, TelephonyCommand, TelephonyEvent, UiEvent,
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
async fn in_call_actions_are_forwarded_in_order_and_unknown_calls_refused() {
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
    let phone = Arc::new(ScriptedTelephony::new());
    let (engine, mut ui) = Engine::start(
        EngineConfig::new(login),
        EngineDeps {
            store,
            client,
            clock: Arc::new(ManualClock::new(start)),
            telephony: phone.clone(),
        },
    )
    .expect("engine starts");
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
    phone
        .emit(TelephonyEvent::Answered {
            call_id: "c-1".into(),
        })
        .await
        .expect("answer");
    next(&mut ui, "the popup", |e| matches!(e, UiEvent::Popup { .. })).await;

    let id = || "c-1".to_owned();
    let actions = [
        AgentAction::Hold { call_id: id() },
        AgentAction::Resume { call_id: id() },
        AgentAction::Mute {
            call_id: id(),
            muted: true,
        },
        AgentAction::SendDtmf {
            call_id: id(),
            digits: "12#".into(),
        },
        AgentAction::Transfer {
            call_id: id(),
            target: "+14155550199".into(),
        },
    ];
    for action in actions {
        engine.send(Input::Agent(action)).await.expect("send");
    }
    engine
        .send(Input::Agent(AgentAction::Mute {
            call_id: "nobody".into(),
            muted: true,
        }))
        .await
        .expect("send");
    let refused = next(&mut ui, "the refusal", |e| {
        matches!(e, UiEvent::ActionFailed { .. })
    })
    .await;
    assert_eq!(
        refused,
        UiEvent::ActionFailed {
            call_id: Some("nobody".into()),
            action: callpop_engine::FailedAction::Call,
            message: "unknown call \"nobody\"".into()
        },
        "an in-call action on an unknown call is refused like the others"
    );
    assert_eq!(
        phone.commands(),
        vec![
            TelephonyCommand::Hold { call_id: id() },
            TelephonyCommand::Resume { call_id: id() },
            TelephonyCommand::Mute {
                call_id: id(),
                muted: true
            },
            TelephonyCommand::SendDtmf {
                call_id: id(),
                digits: "12#".into()
            },
            TelephonyCommand::Transfer {
                call_id: id(),
                target: "+14155550199".into()
            },
        ],
        "every in-call action reaches the source, in order; the refused one does not"
    );

    phone
        .emit(TelephonyEvent::CommandFailed {
            call_id: Some(id()),
            action: callpop_engine::FailedAction::Transfer,
            message: "403 Forbidden".into(),
        })
        .await
        .expect("emit");
    let shown = next(&mut ui, "the failure", |e| {
        matches!(e, UiEvent::ActionFailed { .. })
    })
    .await;
    assert_eq!(
        shown,
        UiEvent::ActionFailed {
            call_id: Some(id()),
            action: callpop_engine::FailedAction::Transfer,
            message: "403 Forbidden".into()
        },
        "a failure the source reports later is shown to the agent"
    );
    engine.shutdown().await;
}
