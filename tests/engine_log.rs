//! Call logs: the Task written at the end of wrap-up, with exactly the right fields.

use std::sync::Arc;

use callpop_e2e::{emulator, Harness, WAIT};
use cti::Region;
use engine::{AgentAction, Input, UiEvent};
use sf_emulator::seed::known_callers;

fn agent(action: AgentAction) -> Input {
    Input::Agent(action)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn call_log_task_has_exactly_the_right_fields() {
    let emu = Arc::new(emulator(|_| {}).await.expect("emulator"));
    let k = known_callers()
        .into_iter()
        .find(|k| k.region == "US" && !k.shared && k.sobject == "Contact")
        .expect("a US contact");
    let contact = emu
        .records("Contact")
        .into_iter()
        .find(|r| r[k.field] == k.stored_as)
        .expect("the contact");
    let contact_id = contact["Id"].as_str().expect("Id").to_owned();
    let account_id = contact["AccountId"].as_str().expect("AccountId").to_owned();
    let shown = cti::format_for_display(
        &cti::normalize(k.e164, Region::US).expect("number"),
        Region::US,
    );
    let h = Harness::start(emu.clone(), |c| {
        c.behaviour.default_region = Region::US;
        c.behaviour.auto_save_call_logs = false;
    })
    .await
    .expect("engine");
    h.ring("log-1", k.e164).await.expect("ring");
    h.ui.popup("log-1").await.expect("popup");
    h.talk_and_hang_up("log-1", chrono::Duration::seconds(95))
        .await
        .expect("talk");
    for action in [
        AgentAction::Notes {
            call_id: "log-1".into(),
            text: "Asked about the renewal.\nCall back Monday.".into(),
        },
        AgentAction::Disposition {
            call_id: "log-1".into(),
            value: Some("Interested".into()),
        },
        AgentAction::RelatedTo {
            call_id: "log-1".into(),
            record: Some(cti::RecordRef::new("Account", account_id.clone())),
        },
        AgentAction::Save {
            call_id: "log-1".into(),
        },
    ] {
        h.send(agent(action)).await.expect("agent action");
    }
    let task_id = h.ui.saved("log-1", WAIT).await.expect("the log is saved");
    let tasks = h.tasks_for("log-1");
    assert_eq!(tasks.len(), 1, "exactly one Task for the call");
    let t = &tasks[0];
    let expected = [
        ("Id", serde_json::json!(task_id)),
        (
            "Subject",
            serde_json::json!(format!("Inbound call from {shown}")),
        ),
        ("TaskSubtype", serde_json::json!("Call")),
        ("CallType", serde_json::json!("Inbound")),
        ("CallDurationInSeconds", serde_json::json!(95)),
        ("CallObject", serde_json::json!("log-1")),
        ("CallDisposition", serde_json::json!("Interested")),
        (
            "Description",
            serde_json::json!("Asked about the renewal.\nCall back Monday."),
        ),
        ("WhoId", serde_json::json!(contact_id)),
        ("WhatId", serde_json::json!(account_id)),
        ("ActivityDate", serde_json::json!("2027-01-31")),
        ("Status", serde_json::json!("Completed")),
        (
            "OwnerId",
            serde_json::json!(h.user_id.clone().expect("user id")),
        ),
    ];
    for (field, value) in expected {
        assert_eq!(
            t[field], value,
            "Task.{field} must be exactly {value}; Task: {t}"
        );
    }
    assert!(
        h.ui.seen().iter().any(|e| matches!(e, UiEvent::LogState { call_object, state: engine::LogStatus::Queued } if call_object == "log-1")),
        "the UI is told Queued before Saved"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auto_save_fires_when_wrap_up_ends_and_later_edits_update_the_same_task() {
    let emu = Arc::new(emulator(|_| {}).await.expect("emulator"));
    let h = Harness::start(emu.clone(), |c| c.behaviour.wrap_up_seconds = 60)
        .await
        .expect("engine");
    h.ring("auto-1", "+14155550100").await.expect("ring");
    h.ui.popup("auto-1").await.expect("popup");
    h.talk_and_hang_up("auto-1", chrono::Duration::seconds(30))
        .await
        .expect("talk");
    let wrap = h
        .ui
        .find(WAIT, |e| {
            matches!(e, UiEvent::CallState { call_id, phase: engine::CallPhase::WrapUp { .. } } if call_id == "auto-1")
        })
        .await;
    assert!(wrap.is_some(), "hang-up starts wrap-up");
    assert!(
        h.ui.saved("auto-1", std::time::Duration::from_millis(300))
            .await
            .is_none()
            && h.tasks_for("auto-1").is_empty(),
        "nothing is written during wrap-up"
    );
    h.clock.advance(chrono::Duration::seconds(61));
    let task_id =
        h.ui.saved("auto-1", WAIT)
            .await
            .expect("auto-saved after the wrap-up");
    assert_eq!(h.tasks_for("auto-1").len(), 1, "one Task after auto-save");

    h.send(agent(AgentAction::Notes {
        call_id: "auto-1".into(),
        text: "Added after the call".into(),
    }))
    .await
    .expect("notes");
    h.send(agent(AgentAction::Save {
        call_id: "auto-1".into(),
    }))
    .await
    .expect("save");
    let mut updated = false;
    for _ in 0..200 {
        let tasks = h.tasks_for("auto-1");
        if tasks.len() == 1 && tasks[0]["Description"] == "Added after the call" {
            updated = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    assert!(
        updated,
        "the agent's later edit updates the Task: {:?}",
        h.tasks_for("auto-1")
    );
    let tasks = h.tasks_for("auto-1");
    assert_eq!(tasks.len(), 1, "an edit never creates a second Task");
    assert_eq!(tasks[0]["Id"], task_id.as_str(), "the same Task is updated");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn several_matches_never_block_logging() {
    let emu = Arc::new(emulator(|_| {}).await.expect("emulator"));
    let shared: Vec<_> = known_callers().into_iter().filter(|k| k.shared).collect();
    let number = shared[0].e164;
    let region = Region::parse(shared[0].region).expect("region");
    let h = Harness::start(emu.clone(), |c| {
        c.behaviour.default_region = region;
        c.behaviour.wrap_up_seconds = 0;
    })
    .await
    .expect("engine");

    // 1. Nobody picked: the Task has no WhoId and names the number and the candidates.
    h.ring("multi-1", number).await.expect("ring");
    let popup = h.ui.popup("multi-1").await.expect("popup");
    assert!(popup.decision.matches.len() >= 2, "several matches");
    h.talk_and_hang_up("multi-1", chrono::Duration::seconds(10))
        .await
        .expect("talk");
    h.ui.saved("multi-1", WAIT)
        .await
        .expect("logged without a pick");
    let t = &h.tasks_for("multi-1")[0];
    assert!(t["WhoId"].is_null(), "no WhoId without a pick: {t}");
    let description = t["Description"].as_str().unwrap_or_default();
    assert!(
        description.contains(number) && description.contains("Possible matches"),
        "the Description names the number and the candidates: {description:?}"
    );

    // 2. The agent picks one during the call: the Task goes against the pick.
    let pick = popup.decision.matches[1].clone();
    h.ring("multi-2", number).await.expect("ring");
    h.ui.popup("multi-2").await.expect("popup");
    h.send(agent(AgentAction::PickRecord {
        call_id: "multi-2".into(),
        record: cti::Match {
            record: pick.record.clone(),
            name: pick.name.clone(),
            phones: Default::default(),
            fields: Default::default(),
        },
    }))
    .await
    .expect("pick");
    h.talk_and_hang_up("multi-2", chrono::Duration::seconds(10))
        .await
        .expect("talk");
    h.ui.saved("multi-2", WAIT).await.expect("logged");
    assert_eq!(
        h.tasks_for("multi-2")[0]["WhoId"],
        pick.record.id.as_str(),
        "the agent's pick is the WhoId"
    );

    // 3. The next call from the number: the last pick is used without asking.
    h.ring("multi-3", number).await.expect("ring");
    h.ui.popup("multi-3").await.expect("popup");
    h.talk_and_hang_up("multi-3", chrono::Duration::seconds(10))
        .await
        .expect("talk");
    h.ui.saved("multi-3", WAIT).await.expect("logged");
    assert_eq!(
        h.tasks_for("multi-3")[0]["WhoId"],
        pick.record.id.as_str(),
        "the last pick for the number is the WhoId of the next call"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_log_fails_with_the_reason_and_is_resent_only_on_the_agents_retry() {
    let emu = Arc::new(emulator(|_| {}).await.expect("emulator"));
    let h = Harness::start(emu.clone(), |c| c.behaviour.wrap_up_seconds = 0)
        .await
        .expect("engine");
    h.ring("refused-1", "+12125550177").await.expect("ring");
    h.ui.popup("refused-1").await.expect("popup");
    // The agent picks a Contact that does not exist (deleted meanwhile): Salesforce refuses it.
    let missing = sf_emulator::ids::generate("003", 99_999);
    h.send(agent(AgentAction::PickRecord {
        call_id: "refused-1".into(),
        record: cti::Match {
            record: cti::RecordRef::new("Contact", missing),
            name: "Gone".into(),
            phones: Default::default(),
            fields: Default::default(),
        },
    }))
    .await
    .expect("pick");
    emu.clear_calls();
    h.talk_and_hang_up("refused-1", chrono::Duration::seconds(20))
        .await
        .expect("talk");
    let failed = h
        .ui
        .find(WAIT, |e| {
            matches!(e, UiEvent::LogState { call_object, state: engine::LogStatus::Failed { .. } } if call_object == "refused-1")
        })
        .await;
    let Some(UiEvent::LogState {
        state: engine::LogStatus::Failed { reason },
        ..
    }) = failed
    else {
        panic!("the UI must be told the log failed, got {failed:?}");
    };
    assert!(
        !reason.is_empty(),
        "the failure carries Salesforce's reason"
    );
    let creates = |emu: &sf_emulator::Emulator| {
        emu.calls()
            .iter()
            .filter(|c| c.path.ends_with("/composite/sobjects"))
            .count()
    };
    h.clock.advance(chrono::Duration::hours(1));
    h.ui.drain(std::time::Duration::from_millis(300)).await;
    assert_eq!(
        creates(&emu),
        1,
        "a permanent refusal is not resent by itself, even an hour later"
    );
    assert!(h.tasks_for("refused-1").is_empty(), "nothing was written");
    h.ui.forget_seen();
    h.send(agent(AgentAction::RetryLog {
        call_object: "refused-1".into(),
    }))
    .await
    .expect("retry");
    let again = h
        .ui
        .find(WAIT, |e| {
            matches!(e, UiEvent::LogState { call_object, state: engine::LogStatus::Failed { .. } } if call_object == "refused-1")
        })
        .await;
    assert!(
        again.is_some(),
        "the agent's retry sends it again (and it is refused again)"
    );
    assert_eq!(creates(&emu), 2, "exactly one more attempt for one retry");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agent_commands_reach_the_telephony_source_and_bad_ones_are_refused() {
    let emu = Arc::new(emulator(|_| {}).await.expect("emulator"));
    let h = Harness::start(emu.clone(), |_| {}).await.expect("engine");
    h.ring("cmd-1", "+14155550100").await.expect("ring");
    h.ui.popup("cmd-1").await.expect("popup");
    for action in [
        AgentAction::Answer {
            call_id: "cmd-1".into(),
        },
        AgentAction::HangUp {
            call_id: "cmd-1".into(),
        },
        AgentAction::Dial {
            number: "+33140205050".into(),
        },
        AgentAction::SendSms {
            to: "+33140205050".into(),
            text: "On my way".into(),
        },
        AgentAction::Save {
            call_id: "no-such-call".into(),
        },
    ] {
        h.send(agent(action)).await.expect("action");
    }
    let refused =
        h.ui.find(
            WAIT,
            |e| matches!(e, UiEvent::ActionFailed { call_id: Some(c), .. } if c == "no-such-call"),
        )
        .await;
    assert!(
        refused.is_some(),
        "an action on an unknown call is refused with a typed event"
    );
    assert_eq!(
        h.phone.commands(),
        vec![
            engine::TelephonyCommand::Answer {
                call_id: "cmd-1".into()
            },
            engine::TelephonyCommand::HangUp {
                call_id: "cmd-1".into()
            },
            engine::TelephonyCommand::Dial {
                number: "+33140205050".into()
            },
            engine::TelephonyCommand::SendSms {
                to: "+33140205050".into(),
                text: "On my way".into()
            },
        ],
        "the agent's commands reach the telephony source in order"
    );
    h.phone
        .emit(engine::TelephonyEvent::Answered {
            call_id: "cmd-1".into(),
        })
        .await
        .expect("answered");
    h.phone
        .emit(engine::TelephonyEvent::Held {
            call_id: "cmd-1".into(),
        })
        .await
        .expect("held");
    let held = h
        .ui
        .find(WAIT, |e| {
            matches!(e, UiEvent::CallState { call_id, phase: engine::CallPhase::Held } if call_id == "cmd-1")
        })
        .await;
    assert!(held.is_some(), "hold is shown to the agent");
}
