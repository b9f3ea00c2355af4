//! Blind transfer by REFER both ways, against sipp.

mod common;

use callpop_sip::{CloseReason, Error, Event};
use common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn our_refer_is_accepted_notified_then_we_hang_up() {
    let dir = tempfile::tempdir().expect("temp dir");
    let sipp_port = free_port();
    let scenario = scenario(dir.path(), "uas_refer.xml", &[]);
    let sipp = start_sipp(&scenario, sipp_port, free_media_port(), None, &[]);
    let (ua, mut events) = agent(&format!("127.0.0.1:{sipp_port}"), |_| {}).await;
    let call_id = ua
        .dial(&format!("sip:bob@127.0.0.1:{sipp_port}"))
        .await
        .expect("dial");
    wait_established(&mut events, &call_id).await;
    assert!(
        matches!(
            ua.transfer(&call_id, "sip:carol@127.0.0.1 bad").await,
            Err(Error::InvalidUri { .. })
        ),
        "a target with a space is refused before anything is sent"
    );
    assert!(
        matches!(
            ua.transfer("no-such-call", "sip:carol@127.0.0.1").await,
            Err(Error::UnknownCall { .. })
        ),
        "an unknown call cannot be transferred"
    );
    let target = "sip:carol@127.0.0.1:5999";
    ua.transfer(&call_id, target)
        .await
        .expect("sipp answers the REFER 202");
    let transferred = wait_for(&mut events, "Transferred", |e| match e {
        Event::Transferred {
            call_id: id,
            target,
        } if *id == call_id => Some(target.clone()),
        _ => None,
    })
    .await;
    assert_eq!(transferred, target, "the event names the Refer-To target");
    let reason = wait_closed(&mut events, &call_id).await;
    assert_eq!(
        reason,
        CloseReason::LocalHangup,
        "we hang up after the NOTIFY 200"
    );
    expect_sipp_success(
        sipp,
        "uas_refer (checks Refer-To, expects 200 to both NOTIFYs and our BYE)",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn peer_refer_places_the_new_call_notifies_and_ends_the_old_one() {
    let dir = tempfile::tempdir().expect("temp dir");
    let carol_port = free_port();
    let carol_scenario = scenario(dir.path(), "uas_answer.xml", &[]);
    let carol = start_sipp(&carol_scenario, carol_port, free_media_port(), None, &[]);
    let (ua, mut events) = agent("127.0.0.1", |_| {}).await;
    let port = carol_port.to_string();
    let scenario = scenario(
        dir.path(),
        "uac_refer.xml",
        &[("@CAROL_PORT@", port.as_str())],
    );
    let sipp = start_sipp(
        &scenario,
        free_port(),
        free_media_port(),
        Some(ua.local_addr()),
        &[],
    );
    let call_id = wait_incoming(&mut events, "IncomingCall").await;
    ua.answer(&call_id).await.expect("answer");
    wait_for(&mut events, "Established (first call)", |e| {
        matches!(e, Event::Established { call_id: id } if *id == call_id).then_some(())
    })
    .await;
    let new_call = wait_for(&mut events, "Established (call to carol)", |e| match e {
        Event::Established { call_id: id } if *id != call_id => Some(id.clone()),
        _ => None,
    })
    .await;
    let reason = wait_for(&mut events, "Closed (first call)", |e| match e {
        Event::Closed {
            call_id: id,
            reason,
        } if *id == call_id => Some(reason.clone()),
        _ => None,
    })
    .await;
    assert_eq!(
        reason,
        CloseReason::LocalHangup,
        "we end the transferred call with BYE"
    );
    expect_sipp_success(
        sipp,
        "uac_refer (expects 202, NOTIFY 100 then 200, and our BYE)",
    )
    .await;
    ua.hangup(&new_call)
        .await
        .expect("hang up the call to carol");
    expect_sipp_success(carol, "uas_answer as carol (expects ACK and BYE)").await;
}
