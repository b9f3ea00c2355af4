//! Requests the agent must refuse with the right status, sent from a plain UDP socket.

mod common;

use std::net::SocketAddr;

use callpop_sip::Event;
use common::*;
use tokio::net::UdpSocket;

async fn exchange(ua: SocketAddr, request: String, method: &str) -> String {
    let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    socket.send_to(request.as_bytes(), ua).await.unwrap();
    let mut buf = vec![0u8; 65_536];
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let (len, _) = tokio::time::timeout_at(deadline, socket.recv_from(&mut buf))
            .await
            .unwrap_or_else(|_| panic!("no final answer to {method}"))
            .unwrap();
        let text = String::from_utf8_lossy(&buf[..len]).into_owned();
        if !text.starts_with("SIP/2.0 1") {
            return text;
        }
    }
}

fn request(method: &str, ua: SocketAddr, content_type: &str, body: &str) -> String {
    let n = rand::random::<u32>();
    format!(
        "{method} sip:alice@{ua} SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:9;rport;branch=z9hG4bK{n}\r\nFrom: <sip:probe@127.0.0.1>;tag=t{n}\r\nTo: <sip:alice@{ua}>\r\nCall-ID: {n}@probe\r\nCSeq: 1 {method}\r\nContact: <sip:probe@127.0.0.1:9>\r\nMax-Forwards: 70\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invite_without_a_common_codec_gets_488_and_no_ring() {
    let (ua, mut events) = agent("127.0.0.1", |_| {}).await;
    let sdp = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 96\r\na=rtpmap:96 opus/48000/2\r\n";
    let answer = exchange(
        ua.local_addr(),
        request("INVITE", ua.local_addr(), "application/sdp", sdp),
        "INVITE",
    )
    .await;
    assert!(
        answer.starts_with("SIP/2.0 488"),
        "an opus-only offer is refused with 488: {answer}"
    );
    let nonsense = exchange(
        ua.local_addr(),
        request("INVITE", ua.local_addr(), "application/sdp", "v=banana\r\n"),
        "INVITE",
    )
    .await;
    assert!(
        nonsense.starts_with("SIP/2.0 488"),
        "SDP nonsense is refused with 488: {nonsense}"
    );
    assert!(
        events.try_recv().is_err(),
        "no IncomingCall is reported for refused INVITEs"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unsupported_method_gets_405_and_non_text_message_415() {
    let (ua, mut events) = agent("127.0.0.1", |_| {}).await;
    let answer = exchange(
        ua.local_addr(),
        request("SUBSCRIBE", ua.local_addr(), "text/plain", ""),
        "SUBSCRIBE",
    )
    .await;
    assert!(
        answer.starts_with("SIP/2.0 405"),
        "SUBSCRIBE is not allowed: {answer}"
    );
    assert!(
        answer.contains("Allow:"),
        "405 lists what is allowed: {answer}"
    );
    let html = exchange(
        ua.local_addr(),
        request("MESSAGE", ua.local_addr(), "text/html", "<b>x</b>"),
        "MESSAGE",
    )
    .await;
    assert!(
        html.starts_with("SIP/2.0 415"),
        "only text/plain messages are taken: {html}"
    );
    assert!(
        !matches!(events.try_recv(), Ok(Event::MessageReceived { .. })),
        "a refused MESSAGE is not reported"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn declined_call_gets_486_or_603_and_closes() {
    for (how, status) in [
        (callpop_sip::Decline::Busy, "486"),
        (callpop_sip::Decline::Decline, "603"),
    ] {
        let (ua, mut events) = agent("127.0.0.1", |_| {}).await;
        let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let sdp = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n";
        let invite = request("INVITE", ua.local_addr(), "application/sdp", sdp);
        socket
            .send_to(invite.as_bytes(), ua.local_addr())
            .await
            .unwrap();
        let call_id = wait_incoming(&mut events, "IncomingCall").await;
        ua.decline(&call_id, how).expect("decline a ringing call");
        let mut buf = vec![0u8; 65_536];
        let deadline = tokio::time::Instant::now() + WAIT;
        let mut provisional = Vec::new();
        let final_answer = loop {
            let (len, _) = tokio::time::timeout_at(deadline, socket.recv_from(&mut buf))
                .await
                .expect("a final answer to the declined INVITE")
                .unwrap();
            let text = String::from_utf8_lossy(&buf[..len]).into_owned();
            if text.starts_with("SIP/2.0 1") {
                provisional.push(text[8..11].to_owned());
            } else {
                break text;
            }
        };
        assert!(
            provisional.contains(&"100".to_owned()),
            "100 Trying was sent: {provisional:?}"
        );
        assert!(
            provisional.contains(&"180".to_owned()),
            "180 Ringing was sent: {provisional:?}"
        );
        assert!(
            final_answer.starts_with(&format!("SIP/2.0 {status}")),
            "{how:?} answers {status}: {final_answer}"
        );
        let reason = wait_closed(&mut events, &call_id).await;
        assert_eq!(
            reason,
            callpop_sip::CloseReason::Declined,
            "a declined call closes as declined"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_method_gets_501_also_inside_a_call_that_goes_on() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (ua, mut events) = agent("127.0.0.1", |_| {}).await;
    let sipp = sipp_against(&ua, dir.path(), "uac_unknown_method.xml");
    // sipp sends the INVITE only after its FOOBAR got the 501: the first event is the call.
    let call_id = wait_for(&mut events, "IncomingCall after the 501", |e| match e {
        Event::IncomingCall { call_id, .. } => Some(call_id.clone()),
        other => panic!("the unknown-method request must not be reported: {other:?}"),
    })
    .await;
    ua.answer(&call_id).await.expect("answer");
    wait_established(&mut events, &call_id).await;
    let reason = wait_closed(&mut events, &call_id).await;
    assert_eq!(
        reason,
        callpop_sip::CloseReason::RemoteHangup,
        "the call lasted until sipp's BYE, through the FOOBAR inside it"
    );
    expect_sipp_success(sipp, "uac_unknown_method (501 twice, BYE answered 200)").await;
}

/// A carriage return without its line feed in a request's head is where a header could be
/// smuggled into our answer (its Call-ID is copied into the response, and a peer that ends lines
/// at CR would read a header of the caller's making): the datagram is dropped unanswered, as over
/// TCP, and the next well-formed request on the same socket is answered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lone_carriage_return_in_a_udp_request_gets_no_answer_and_the_next_one_does() {
    let (ua, _events) = agent("127.0.0.1", |_| {}).await;
    let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let smuggling = request("OPTIONS", ua.local_addr(), "text/plain", "").replacen(
        "@probe\r\n",
        "@probe\rX-Smuggled: yes\r\n",
        1,
    );
    socket
        .send_to(smuggling.as_bytes(), ua.local_addr())
        .await
        .unwrap();
    let mut buf = vec![0u8; 65_536];
    if let Ok(got) = tokio::time::timeout(
        std::time::Duration::from_secs(2),
        socket.recv_from(&mut buf),
    )
    .await
    {
        let (len, _) = got.unwrap();
        panic!(
            "a request with a lone CR is not answered: {:?}",
            String::from_utf8_lossy(&buf[..len])
        );
    }
    let fine = request("OPTIONS", ua.local_addr(), "text/plain", "");
    socket
        .send_to(fine.as_bytes(), ua.local_addr())
        .await
        .unwrap();
    let (len, _) = tokio::time::timeout(WAIT, socket.recv_from(&mut buf))
        .await
        .expect("the next well-formed OPTIONS is answered")
        .unwrap();
    let text = String::from_utf8_lossy(&buf[..len]);
    assert!(text.starts_with("SIP/2.0 200"), "answered 200: {text}");
}
