//! SMS logs: one Task per (number, agent's local day); later messages update it.

use std::sync::Arc;
use std::time::Duration;

use callpop_e2e::{emulator, Harness};
use chrono::{TimeZone, Utc};
use engine::TelephonyEvent;
use sf_emulator::seed::known_callers;

/// Polls the emulator until `done` holds for the Tasks of `call_object` (real time, bounded).
async fn wait_tasks(
    h: &Harness,
    call_object: &str,
    done: impl Fn(&[serde_json::Value]) -> bool,
) -> Vec<serde_json::Value> {
    for _ in 0..400 {
        let tasks = h.tasks_for(call_object);
        if done(&tasks) {
            return tasks;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    h.tasks_for(call_object)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sms_day_aggregation_across_midnight_in_the_agents_time_zone() {
    let emu = Arc::new(emulator(|_| {}).await.expect("emulator"));
    let k = known_callers()
        .into_iter()
        .find(|k| k.region == "JP" && !k.shared && k.sobject == "Contact")
        .expect("a Japanese contact");
    let who = emu
        .records("Contact")
        .into_iter()
        .find(|r| r[k.field] == k.stored_as)
        .and_then(|r| r["Id"].as_str().map(str::to_owned))
        .expect("the contact's Id");
    let h = Harness::start(emu.clone(), |c| {
        c.behaviour.default_region = cti::Region::parse("JP").expect("JP");
        c.behaviour.time_zone = chrono_tz::Asia::Tokyo;
    })
    .await
    .expect("engine");
    // 23:00 and 23:30 on Jan 31 in Tokyo, then 00:10 on Feb 1 (UTC: 14:00, 14:30, 15:10).
    let messages = [
        (Utc.with_ymd_and_hms(2027, 1, 31, 14, 0, 0), true, "Hello"),
        (Utc.with_ymd_and_hms(2027, 1, 31, 14, 30, 0), false, "Reply"),
        (
            Utc.with_ymd_and_hms(2027, 1, 31, 15, 10, 0),
            true,
            "Good night",
        ),
    ];
    for (at, incoming, text) in messages {
        let at = at.single().expect("time");
        h.clock.set(at);
        let event = if incoming {
            TelephonyEvent::SmsReceived {
                from: k.e164.into(),
                to: "+81355550000".into(),
                text: text.into(),
                at,
            }
        } else {
            TelephonyEvent::SmsSent {
                from: "+81355550000".into(),
                to: k.e164.into(),
                text: text.into(),
                at,
            }
        };
        h.phone.emit(event).await.expect("sms");
        // Let each message be queued before the next (they are independent of the clock).
        let key = if at.timestamp()
            < Utc
                .with_ymd_and_hms(2027, 1, 31, 15, 0, 0)
                .single()
                .expect("t")
                .timestamp()
        {
            format!("{}|2027-01-31", k.e164)
        } else {
            format!("{}|2027-02-01", k.e164)
        };
        let queued = h
            .ui
            .find(Duration::from_secs(10), |e| {
                matches!(e, engine::UiEvent::LogState { call_object, .. } if *call_object == key)
            })
            .await;
        assert!(queued.is_some(), "every message is queued ({text})");
        h.ui.drain(Duration::from_millis(20)).await;
    }
    let first_key = format!("{}|2027-01-31", k.e164);
    let first = wait_tasks(&h, &first_key, |t| {
        t.len() == 1 && t[0]["Description"] == "23:00 ← Hello\n23:30 → Reply"
    })
    .await;
    assert_eq!(first.len(), 1, "one Task for Jan 31 (local): {first:?}");
    assert_eq!(
        first[0]["Description"], "23:00 ← Hello\n23:30 → Reply",
        "the second message of the day updates the same Task with the whole day"
    );
    assert_eq!(
        first[0]["ActivityDate"], "2027-01-31",
        "the agent's local day"
    );
    assert_eq!(
        first[0]["WhoId"],
        who.as_str(),
        "linked to the matched Contact"
    );
    assert_eq!(
        first[0]["TaskSubtype"], "Task",
        "an SMS log is a plain Task"
    );
    let second_key = format!("{}|2027-02-01", k.e164);
    let second = wait_tasks(&h, &second_key, |t| t.len() == 1).await;
    assert_eq!(
        second.len(),
        1,
        "a message after local midnight starts a new day's Task: {second:?}"
    );
    assert_eq!(
        second[0]["Description"], "00:10 ← Good night",
        "only that day's message"
    );
    assert_eq!(second[0]["ActivityDate"], "2027-02-01", "the new local day");
}
