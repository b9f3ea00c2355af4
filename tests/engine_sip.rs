//! The engine end to end over real SIP: the emulator (seeded), SQLite, the engine and
//! `SipTelephony`, with sipp as the caller. Ring → popup names the record → the agent answers
//! (and holds) → sipp hangs up → wrap-up saved → the Task is in the emulator. And an SMS (SIP
//! MESSAGE) from sipp becomes an SMS Task.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use callpop_e2e::{
    client_for, db_path, emulator, engine_config, start_time, tasks_for, user_id, WAIT,
};
use engine::{
    AgentAction, CallPhase, Engine, EngineDeps, EngineHandle, Input, LogStatus, ManualClock,
    UiEvent,
};
use sf_emulator::seed::known_callers;
use sf_emulator::Emulator;
use telephony::SipTelephony;
use test_support::{free_media_port, free_udp_port, sipp};
use tokio::process::{Child, Command};
use tokio::sync::mpsc;

/// Writes the telephony crate's scenario `name` into `dir` with the placeholders replaced.
fn scenario(dir: &Path, name: &str, replacements: &[(&str, &str)]) -> PathBuf {
    let templates =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../crates/telephony/tests/scenarios");
    test_support::scenario_from(&templates, dir, name, replacements)
}

/// sipp running `scenario` once against `remote`, calling service `2001`; killed on drop.
fn start_sipp(scenario: &Path, remote: SocketAddr) -> Child {
    Command::new(sipp())
        .arg("-sf")
        .arg(scenario)
        .args(["-i", "127.0.0.1", "-p", &free_udp_port().to_string()])
        .args(["-mi", "127.0.0.1", "-mp", &free_media_port().to_string()])
        .args(["-m", "1", "-nostdin", "-timeout", "60s", "-timeout_error"])
        .args(["-s", "2001"])
        .arg(remote.to_string())
        .current_dir(scenario.parent().expect("scenario dir"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn sipp")
}

async fn expect_sipp_success(child: Child, what: &str) {
    test_support::expect_sipp_success_within(child, what, WAIT).await;
}

/// The engine on the emulator with `SipTelephony` as its phone (user 2001 on loopback).
struct SipHarness {
    emu: Arc<Emulator>,
    _dir: tempfile::TempDir,
    clock: ManualClock,
    phone: Arc<SipTelephony>,
    engine: EngineHandle,
    ui: mpsc::Receiver<UiEvent>,
    user_id: Option<String>,
}

impl SipHarness {
    async fn start(emu: Arc<Emulator>) -> SipHarness {
        // Captured per test; nextest prints it only when the test fails. RUST_LOG overrides.
        test_support::test_logs(Some(
            "callpop_sip=debug,callpop_telephony=debug,callpop_engine=info,rsipstack=info",
        ));
        let dir = tempfile::tempdir().expect("temp dir");
        let tokens = emu.mint_tokens();
        let client = client_for(
            emu.login_url(),
            emu.client_id(),
            &tokens,
            Duration::from_secs(10),
        )
        .expect("client");
        let store = Arc::new(store::Store::open(db_path(dir.path())).expect("store"));
        let clock = ManualClock::new(start_time());
        let sip_config =
            sip::Config::new("127.0.0.1:0".parse().expect("addr"), "2001", "127.0.0.1");
        let phone = Arc::new(
            SipTelephony::start_with_clock(sip_config, false, Arc::new(clock.clone()))
                .await
                .expect("the SIP phone starts"),
        );
        let uid = user_id(&tokens);
        let mut config = engine_config(emu.instance_url(), uid.clone());
        config.behaviour.default_region = cti::Region::US;
        config.behaviour.time_zone = chrono_tz::UTC;
        config.behaviour.auto_save_call_logs = false;
        let (engine, ui) = Engine::start(
            config,
            EngineDeps {
                store,
                client,
                clock: Arc::new(clock.clone()),
                telephony: phone.clone(),
            },
        )
        .expect("engine starts");
        SipHarness {
            emu,
            _dir: dir,
            clock,
            phone,
            engine,
            ui,
            user_id: uid,
        }
    }

    /// Reads UI events until one satisfies `pred`; fails after [`WAIT`].
    async fn until(&mut self, what: &str, mut pred: impl FnMut(&UiEvent) -> bool) -> UiEvent {
        let deadline = tokio::time::Instant::now() + WAIT;
        let mut seen = Vec::new();
        loop {
            match tokio::time::timeout_at(deadline, self.ui.recv()).await {
                Ok(Some(event)) if pred(&event) => return event,
                Ok(Some(event)) => seen.push(event),
                Ok(None) => panic!("the engine stopped before {what}; seen {seen:?}"),
                Err(_) => panic!("no {what} within {WAIT:?}; seen {seen:?}"),
            }
        }
    }

    async fn act(&self, action: AgentAction) {
        self.engine
            .send(Input::Agent(action))
            .await
            .expect("the engine takes the action");
    }
}

/// Polls the emulator until a Task with `call_object` exists (real time, bounded).
async fn wait_task(emu: &Emulator, call_object: &str) -> Vec<serde_json::Value> {
    for _ in 0..400 {
        let tasks = tasks_for(emu, call_object);
        if !tasks.is_empty() {
            return tasks;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    tasks_for(emu, call_object)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sipp_call_pops_the_caller_is_answered_held_hung_up_and_logged() {
    let emu = Arc::new(emulator(|_| {}).await.expect("emulator"));
    let k = known_callers()
        .into_iter()
        .find(|k| k.region == "US" && !k.shared && k.sobject == "Contact")
        .expect("a US contact in the seed");
    let contact_id = emu
        .records("Contact")
        .into_iter()
        .find(|r| r[k.field] == k.stored_as)
        .and_then(|r| r["Id"].as_str().map(str::to_owned))
        .expect("the contact's Id");
    let mut h = SipHarness::start(emu.clone()).await;
    let dir = tempfile::tempdir().expect("temp dir");
    let scenario = scenario(
        dir.path(),
        "uac_call_hold.xml",
        &[("@CALLER@", k.e164), ("@NAME@", "Caller <b>")],
    );
    let sipp = start_sipp(&scenario, h.phone.local_addr());

    let popup = h
        .until("the popup", |e| matches!(e, UiEvent::Popup { .. }))
        .await;
    let UiEvent::Popup { call_id, popup } = popup else {
        unreachable!("matched a popup")
    };
    assert_eq!(
        popup.decision.caller.e164.as_deref(),
        Some(k.e164),
        "the caller's number comes from sipp's From"
    );
    let names: Vec<String> = popup
        .decision
        .matches
        .iter()
        .map(|m| m.name.clone())
        .collect();
    assert!(
        popup
            .decision
            .matches
            .iter()
            .any(|m| m.record.id == contact_id && m.name == k.name),
        "the popup names the seeded contact {} ({contact_id}); matches: {names:?}",
        k.name
    );

    h.act(AgentAction::Answer {
        call_id: call_id.clone(),
    })
    .await;
    h.until("the call established", |e| {
        matches!(e, UiEvent::CallState { call_id: c, phase: CallPhase::Established } if *c == call_id)
    })
    .await;
    // Talk for 42 s of engine time; sipp hangs up only after our hold, so the time is set first.
    h.clock.advance(chrono::Duration::seconds(42));
    h.act(AgentAction::Hold {
        call_id: call_id.clone(),
    })
    .await;
    h.until(
        "the call held",
        |e| matches!(e, UiEvent::CallState { call_id: c, phase: CallPhase::Held } if *c == call_id),
    )
    .await;
    h.until("wrap-up after sipp's BYE", |e| {
        matches!(e, UiEvent::CallState { call_id: c, phase: CallPhase::WrapUp { .. } } if *c == call_id)
    })
    .await;
    h.act(AgentAction::Notes {
        call_id: call_id.clone(),
        text: "Called over SIP.".into(),
    })
    .await;
    h.act(AgentAction::Save {
        call_id: call_id.clone(),
    })
    .await;
    let saved = h
        .until("the log saved", |e| {
            matches!(e, UiEvent::LogState { call_object, state: LogStatus::Saved { .. } } if *call_object == call_id)
        })
        .await;
    let UiEvent::LogState {
        state: LogStatus::Saved { task_id },
        ..
    } = saved
    else {
        unreachable!("matched a saved log")
    };
    expect_sipp_success(sipp, "uac_call_hold").await;

    let tasks = tasks_for(&h.emu, &call_id);
    assert_eq!(
        tasks.len(),
        1,
        "exactly one Task for the SIP call: {tasks:?}"
    );
    let t = &tasks[0];
    for (field, value) in [
        ("Id", serde_json::json!(task_id)),
        ("CallType", serde_json::json!("Inbound")),
        ("CallDurationInSeconds", serde_json::json!(42)),
        ("CallObject", serde_json::json!(call_id)),
        ("WhoId", serde_json::json!(contact_id)),
        ("Description", serde_json::json!("Called over SIP.")),
        ("TaskSubtype", serde_json::json!("Call")),
        (
            "OwnerId",
            serde_json::json!(h.user_id.clone().expect("user id")),
        ),
    ] {
        assert_eq!(t[field], value, "Task.{field} must be {value}; Task: {t}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sipp_message_becomes_an_sms_task() {
    const TEXT: &str = "予約の確認をお願いします";
    let emu = Arc::new(emulator(|_| {}).await.expect("emulator"));
    let k = known_callers()
        .into_iter()
        .find(|k| k.region == "US" && !k.shared && k.sobject == "Contact")
        .expect("a US contact in the seed");
    let contact_id = emu
        .records("Contact")
        .into_iter()
        .find(|r| r[k.field] == k.stored_as)
        .and_then(|r| r["Id"].as_str().map(str::to_owned))
        .expect("the contact's Id");
    let h = SipHarness::start(emu.clone()).await;
    let dir = tempfile::tempdir().expect("temp dir");
    let scenario = scenario(
        dir.path(),
        "uac_message.xml",
        &[("@CALLER@", k.e164), ("@TEXT@", TEXT)],
    );
    let sipp = start_sipp(&scenario, h.phone.local_addr());
    expect_sipp_success(sipp, "uac_message").await;
    let key = format!("{}|{}", k.e164, h.clock.now_date());
    let tasks = wait_task(&h.emu, &key).await;
    assert_eq!(
        tasks.len(),
        1,
        "one SMS Task for the day ({key}): {tasks:?}"
    );
    let t = &tasks[0];
    assert_eq!(t["TaskSubtype"], "Task", "an SMS log is a plain Task: {t}");
    assert_eq!(
        t["WhoId"],
        contact_id.as_str(),
        "linked to the sender's Contact: {t}"
    );
    let description = t["Description"].as_str().unwrap_or_default();
    assert!(
        description.contains(TEXT),
        "the Japanese text is in the log intact: {description:?}"
    );
}

/// The manual clock's date (UTC, the agent's zone in these tests) as `YYYY-MM-DD`.
trait Today {
    fn now_date(&self) -> String;
}

impl Today for ManualClock {
    fn now_date(&self) -> String {
        use engine::Clock;
        self.now().format("%Y-%m-%d").to_string()
    }
}
