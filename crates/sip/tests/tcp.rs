//! SIP over TCP with sipp `-t t1`: our call out, and a call in on our TCP listener.

mod common;

use callpop_sip::{CloseReason, Event, Transport};
use common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outbound_call_over_tcp() {
    let dir = tempfile::tempdir().expect("temp dir");
    let sipp_port = free_udp_and_tcp_port();
    let scenario = scenario(dir.path(), "uas_answer.xml", &[]);
    let sipp = start_sipp(&scenario, sipp_port, free_media_port(), None, &["-t", "t1"]);
    let (ua, mut events) = agent(&format!("127.0.0.1:{sipp_port}"), |c| {
        c.transport = Transport::Tcp
    })
    .await;
    // Over TCP a refused connection fails the INVITE at once (no retransmission covers a slow
    // sipp start): wait until sipp listens.
    wait_tcp_listening(sipp_port, || {
        format!("sipp never listened on TCP port {sipp_port}")
    })
    .await;
    let call_id = ua
        .dial(&format!("sip:bob@127.0.0.1:{sipp_port}"))
        .await
        .expect("dial over TCP");
    wait_for(&mut events, "Established over TCP", |e| match e {
        Event::Established { call_id: id } if *id == call_id => Some(()),
        Event::Closed {
            call_id: id,
            reason,
        } if *id == call_id => {
            panic!("the TCP call failed: {reason:?}")
        }
        _ => None,
    })
    .await;
    ua.hangup(&call_id).await.expect("BYE over TCP");
    let reason = wait_closed(&mut events, &call_id).await;
    assert_eq!(reason, CloseReason::LocalHangup, "we hung up");
    expect_sipp_success(sipp, "uas_answer over TCP (expects ACK and BYE)").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inbound_call_over_tcp() {
    let dir = tempfile::tempdir().expect("temp dir");
    // The default transport is UDP: the TCP listener is there anyway.
    let (ua, mut events) = agent("127.0.0.1", |_| {}).await;
    let scenario = scenario(dir.path(), "uac_late_offer.xml", &[]);
    let sipp = start_sipp(
        &scenario,
        free_udp_and_tcp_port(),
        free_media_port(),
        Some(ua.local_addr()),
        &["-t", "t1"],
    );
    let call_id = wait_for(&mut events, "IncomingCall over TCP", |e| match e {
        Event::IncomingCall { call_id, .. } => Some(call_id.clone()),
        _ => None,
    })
    .await;
    ua.answer(&call_id).await.expect("answer over TCP");
    wait_established(&mut events, &call_id).await;
    let reason = wait_closed(&mut events, &call_id).await;
    assert_eq!(
        reason,
        CloseReason::RemoteHangup,
        "sipp's BYE came over TCP"
    );
    expect_sipp_success(sipp, "uac_late_offer over TCP").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn message_goes_over_tcp() {
    let dir = tempfile::tempdir().expect("temp dir");
    let port = free_udp_and_tcp_port();
    let scenario = scenario(dir.path(), "uas_message.xml", &[]);
    // sipp listens on TCP only: a MESSAGE sent over UDP would find nobody and time out.
    let sipp = start_sipp(&scenario, port, free_media_port(), None, &["-t", "t1"]);
    let (ua, _events) = agent(&format!("127.0.0.1:{port}"), |c| {
        c.transport = Transport::Tcp
    })
    .await;
    wait_tcp_listening(port, || format!("sipp never listened on TCP port {port}")).await;
    ua.send_message(&format!("sip:bob@127.0.0.1:{port}"), "over TCP")
        .await
        .expect("sipp answers 200 over TCP");
    expect_sipp_success(sipp, "uas_message over TCP").await;
}
