//! Call waiting: a second incoming call while one is up rings as waiting, or gets 486 by policy.

mod common;

use callpop_sip::{BusyPolicy, CloseReason, Event, UserAgent};
use common::*;
use tokio::process::Child;
use tokio::sync::mpsc::UnboundedReceiver;

/// Starts an agent and an established outbound call to a sipp that waits for our BYE.
async fn agent_in_a_call(
    dir: &std::path::Path,
    policy: BusyPolicy,
) -> (UserAgent, UnboundedReceiver<Event>, String, Child) {
    let port = free_port();
    let scenario = scenario(dir, "uas_answer.xml", &[]);
    let first = start_sipp(&scenario, port, free_media_port(), None, &[]);
    let (ua, mut events) = agent(&format!("127.0.0.1:{port}"), |c| c.busy_policy = policy).await;
    let call_id = ua
        .dial(&format!("sip:bob@127.0.0.1:{port}"))
        .await
        .expect("dial");
    wait_for(&mut events, "Established (first call)", |e| {
        matches!(e, Event::Established { call_id: id } if *id == call_id).then_some(())
    })
    .await;
    (ua, events, call_id, first)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn second_call_rings_as_waiting() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (ua, mut events, first_call, first) =
        agent_in_a_call(dir.path(), BusyPolicy::RingWaiting).await;
    let second = sipp_against(&ua, dir.path(), "uac_cancel.xml");
    let (second_call, waiting) = wait_for(&mut events, "IncomingCall", |e| match e {
        Event::IncomingCall {
            call_id, waiting, ..
        } => Some((call_id.clone(), *waiting)),
        _ => None,
    })
    .await;
    assert!(waiting, "a call arriving during another is a waiting call");
    let reason = wait_for(&mut events, "Closed (second call)", |e| match e {
        Event::Closed { call_id, reason } if *call_id == second_call => Some(reason.clone()),
        _ => None,
    })
    .await;
    assert_eq!(reason, CloseReason::Cancelled, "the waiting caller gave up");
    expect_sipp_success(second, "uac_cancel as the waiting caller (180, then 487)").await;
    ua.hangup(&first_call)
        .await
        .expect("the first call is still up");
    expect_sipp_success(first, "uas_answer (first call, our BYE)").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn second_call_gets_486_when_the_policy_says_so() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (ua, mut events, first_call, first) =
        agent_in_a_call(dir.path(), BusyPolicy::Reject486).await;
    let second = sipp_against(&ua, dir.path(), "uac_busy.xml");
    expect_sipp_success(second, "uac_busy (expects 486 Busy Here)").await;
    while let Ok(event) = events.try_recv() {
        assert!(
            !matches!(event, Event::IncomingCall { .. }),
            "a refused second call is not reported: {event:?}"
        );
        assert!(
            !matches!(&event, Event::Closed { call_id, .. } if *call_id == first_call),
            "the first call is untouched: {event:?}"
        );
    }
    ua.hangup(&first_call)
        .await
        .expect("the first call is still up");
    expect_sipp_success(first, "uas_answer (first call, our BYE)").await;
}
