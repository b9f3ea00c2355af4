//! SIP over TCP with sipp `-t t1`: our call out, and a call in on our TCP listener; what the stack
//! cannot parse is answered or dropped and the connection, with its call, goes on.

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
    let call_id = wait_incoming(&mut events, "IncomingCall over TCP").await;
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_method_over_tcp_gets_501_and_the_connection_and_its_call_go_on() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (ua, mut events) = agent("127.0.0.1", |_| {}).await;
    let scenario = scenario(dir.path(), "uac_unknown_method.xml", &[]);
    // One TCP connection for the whole scenario (`-t t1`): FOOBAR out of dialog, then a call
    // with a FOOBAR inside it, then BYE, all on it.
    let sipp = start_sipp(
        &scenario,
        free_udp_and_tcp_port(),
        free_media_port(),
        Some(ua.local_addr()),
        &["-t", "t1"],
    );
    let call_id = wait_for(
        &mut events,
        "IncomingCall after the 501 over TCP",
        |e| match e {
            Event::IncomingCall { call_id, .. } => Some(call_id.clone()),
            other => panic!("the unknown-method request must not be reported: {other:?}"),
        },
    )
    .await;
    ua.answer(&call_id).await.expect("answer over TCP");
    wait_established(&mut events, &call_id).await;
    let reason = wait_closed(&mut events, &call_id).await;
    assert_eq!(
        reason,
        CloseReason::RemoteHangup,
        "the call lasted until sipp's BYE, on the connection that carried the FOOBARs"
    );
    expect_sipp_success(
        sipp,
        "uac_unknown_method over TCP (501 twice, BYE answered 200)",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broken_message_over_tcp_is_dropped_and_the_connection_answers_the_next() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let (ua, _events) = agent("127.0.0.1", |_| {}).await;
    let mut peer = tokio::net::TcpStream::connect(ua.local_addr())
        .await
        .expect("our TCP listener takes connections");
    let local = peer.local_addr().expect("local addr");
    // Not SIP at all, then a keep-alive ping, then an OPTIONS split across two writes.
    peer.write_all(b"HELLO \x01 WORLD\r\nX: y\r\n\r\n")
        .await
        .expect("write");
    peer.write_all(b"\r\n\r\n").await.expect("write");
    let options = format!(
        "OPTIONS sip:agent@{ua} SIP/2.0\r\nVia: SIP/2.0/TCP {local};branch=z9hG4bKbroken1\r\nFrom: <sip:probe@{local}>;tag=p1\r\nTo: <sip:agent@{ua}>\r\nCall-ID: broken-then-options\r\nCSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n",
        ua = ua.local_addr()
    );
    let (head, tail) = options.as_bytes().split_at(40);
    peer.write_all(head).await.expect("write");
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    peer.write_all(tail).await.expect("write");
    let mut got = Vec::new();
    let answered = tokio::time::timeout(std::time::Duration::from_secs(5), async {
        let mut chunk = [0u8; 4096];
        loop {
            let n = peer.read(&mut chunk).await.expect("read");
            assert!(
                n > 0,
                "the connection must stay open: {}",
                String::from_utf8_lossy(&got)
            );
            got.extend_from_slice(&chunk[..n]);
            if got.windows(4).any(|w| w == b"\r\n\r\n") && got.starts_with(b"\r\nSIP/2.0 ") {
                break;
            }
        }
    })
    .await;
    let text = String::from_utf8_lossy(&got);
    assert!(
        answered.is_ok(),
        "no answer on the same connection: {text:?}"
    );
    assert!(
        text.starts_with("\r\nSIP/2.0 200 "),
        "the ping got its pong, then the OPTIONS its 200, nothing for the garbage: {text:?}"
    );
    assert!(
        text.contains("Call-ID: broken-then-options"),
        "the 200 answers our OPTIONS: {text:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_register_over_tcp_names_us_in_its_via_and_the_registrar_answers_on_that_connection() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let registrar = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a TCP registrar");
    let registrar_addr = registrar.local_addr().expect("addr");
    let (ua, mut events) = agent(&registrar_addr.to_string(), |c| {
        c.transport = Transport::Tcp
    })
    .await;
    ua.register().expect("start registering");
    let (mut connection, _) =
        tokio::time::timeout(std::time::Duration::from_secs(5), registrar.accept())
            .await
            .expect("the agent connects")
            .expect("accept");
    let mut got = Vec::new();
    let mut chunk = [0u8; 4096];
    while !got.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = connection.read(&mut chunk).await.expect("read");
        assert!(n > 0, "the REGISTER arrives");
        got.extend_from_slice(&chunk[..n]);
    }
    let register = String::from_utf8_lossy(&got).into_owned();
    let header = |name: &str| {
        register
            .split("\r\n")
            .find(|l| {
                l.to_ascii_lowercase()
                    .starts_with(&format!("{}:", name.to_ascii_lowercase()))
            })
            .and_then(|l| l.split_once(':'))
            .unwrap_or_else(|| panic!("no {name} in {register}"))
            .1
            .trim()
            .to_owned()
    };
    let via = header("Via");
    assert!(register.starts_with("REGISTER "), "{register}");
    assert!(
        via.starts_with(&format!("SIP/2.0/TCP {}", ua.local_addr())),
        "the Via's sent-by is our address, not the registrar's: {via}"
    );
    let contact = header("Contact");
    assert!(
        contact.to_ascii_lowercase().contains(";transport=tcp"),
        "calls come back over TCP: {contact}"
    );
    let answer = format!(
        "SIP/2.0 200 OK\r\nVia: {via}\r\nFrom: {}\r\nTo: {};tag=reg1\r\nCall-ID: {}\r\nCSeq: {}\r\nContact: {contact};expires=120\r\nContent-Length: 0\r\n\r\n",
        header("From"),
        header("To"),
        header("Call-ID"),
        header("CSeq"),
    );
    connection
        .write_all(answer.as_bytes())
        .await
        .expect("answer");
    let expires = wait_for(
        &mut events,
        "Registered over our TCP connection",
        |e| match e {
            Event::Registered { expires } => Some(*expires),
            Event::RegistrationFailed { reason, .. } => panic!("registration failed: {reason}"),
            _ => None,
        },
    )
    .await;
    assert_eq!(
        expires, 120,
        "the registrar's answer on that connection was read"
    );
}
