//! In-call features against sipp: the peer's DTMF (RFC 2833 pcaps shipped with sipp) and its hold
//! by re-INVITE; our hold and resume (sipp checks the direction attribute), mute (silence keeps
//! flowing) and DTMF (parsed by a raw RTP receiver in the test); DTMF in SIP INFO both ways with
//! a peer that offers no telephone-event.

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use callpop_sip::audio::SourceConfig;
use callpop_sip::rtp::{RtpPacket, TelephoneEvent};
use callpop_sip::sdp::Codec;
use callpop_sip::{CloseReason, Error, Event};
use common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn peer_dtmf_is_reported_once_per_digit_and_peer_hold_is_answered_recvonly() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (ua, mut events) = agent("127.0.0.1", |_| {}).await;
    let sipp = sipp_against(&ua, dir.path(), "uac_incall.xml");
    let (call_id, waiting) = wait_for(&mut events, "IncomingCall", |e| match e {
        Event::IncomingCall {
            call_id, waiting, ..
        } => Some((call_id.clone(), *waiting)),
        _ => None,
    })
    .await;
    assert!(!waiting, "the only call is not a waiting call");
    ua.answer(&call_id).await.expect("answer");

    let (reason, seen) = events_until_closed(&mut events, &call_id).await;
    assert_eq!(reason, CloseReason::RemoteHangup, "sipp hung up: {seen:?}");
    let digits: Vec<char> = seen
        .iter()
        .filter_map(|e| match e {
            Event::Dtmf { call_id: id, digit } if *id == call_id => Some(*digit),
            _ => None,
        })
        .collect();
    assert_eq!(
        digits,
        vec!['1', '#'],
        "each pcap's event (10 packets, end packet three times) is one digit: {seen:?}"
    );
    let holds: Vec<&Event> = seen
        .iter()
        .filter(|e| matches!(e, Event::Held { .. } | Event::Resumed { .. }))
        .collect();
    assert_eq!(
        holds,
        vec![
            &Event::Held {
                call_id: call_id.clone(),
                by_peer: true
            },
            &Event::Resumed {
                call_id: call_id.clone(),
                by_peer: true
            }
        ],
        "sipp's sendonly re-INVITE holds us, its sendrecv one resumes"
    );
    expect_sipp_success(
        sipp,
        "uac_incall (checks telephone-event in our answer, recvonly then sendrecv)",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_telephone_event_dtmf_goes_in_sip_info_both_ways() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (ua, mut events) = agent("127.0.0.1", |_| {}).await;
    let sipp = sipp_against(&ua, dir.path(), "uac_info_dtmf.xml");
    let call_id = wait_incoming(&mut events, "IncomingCall").await;
    ua.answer(&call_id).await.expect("answer");

    let mut digits = Vec::new();
    while digits.len() < 2 {
        digits.push(
            wait_for(&mut events, "Dtmf", |e| match e {
                Event::Dtmf { call_id: id, digit } if *id == call_id => Some(*digit),
                _ => None,
            })
            .await,
        );
    }
    assert_eq!(
        digits,
        vec!['5', '#'],
        "sipp's dtmf-relay and dtmf INFOs, in order"
    );
    // sipp checks each INFO's type, signal and duration.
    ua.send_dtmf(&call_id, "7").expect("send DTMF in INFO");
    ua.send_dtmf(&call_id, "*").expect("queued after the first");

    let (reason, seen) = events_until_closed(&mut events, &call_id).await;
    assert_eq!(reason, CloseReason::RemoteHangup, "sipp hung up: {seen:?}");
    assert!(
        !seen.iter().any(|e| matches!(e, Event::Dtmf { .. })),
        "the keep-alive, the non-DTMF body and the bad signal are no digits: {seen:?}"
    );
    expect_sipp_success(
        sipp,
        "uac_info_dtmf (200 to its DTMF and empty INFOs, 415 with Accept, 400 for a bad signal; \
         our 7 and * as dtmf-relay INFOs)",
    )
    .await;
}

/// What the test's RTP socket received: (payload type, marker, timestamp, payload).
type Received = Arc<Mutex<Vec<(u8, bool, u32, Vec<u8>)>>>;

/// Receives RTP on `socket` into the returned list until the task is aborted.
fn receive_rtp(socket: tokio::net::UdpSocket) -> (Received, tokio::task::JoinHandle<()>) {
    let received: Received = Arc::default();
    let sink = received.clone();
    let task = tokio::spawn(async move {
        let mut buf = vec![0u8; 2048];
        while let Ok((len, _)) = socket.recv_from(&mut buf).await {
            let packet = RtpPacket::parse(&buf[..len]).expect("the agent sends valid RTP");
            sink.lock().unwrap().push((
                packet.payload_type,
                packet.marker,
                packet.timestamp,
                packet.payload.to_vec(),
            ));
        }
    });
    (received, task)
}

/// Mean absolute sample of a PCMU payload.
fn level(payload: &[u8]) -> f64 {
    let mut samples = Vec::new();
    Codec::Pcmu.decode(payload, &mut samples);
    samples
        .iter()
        .map(|s| f64::from(s.unsigned_abs()))
        .sum::<f64>()
        / samples.len().max(1) as f64
}

/// Waits until `check` holds for the packets received after index `from`; fails after [`WAIT`].
async fn wait_packets(
    received: &Received,
    from: usize,
    what: &str,
    check: impl Fn(&[(u8, bool, u32, Vec<u8>)]) -> bool,
) {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        {
            let packets = received.lock().unwrap();
            if check(&packets[from.min(packets.len())..]) {
                return;
            }
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no {what} within {WAIT:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn loud_count(packets: &[(u8, bool, u32, Vec<u8>)]) -> usize {
    packets
        .iter()
        .filter(|p| p.0 == 0 && level(&p.3) > 2000.0)
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn our_mute_dtmf_and_hold_reach_the_peer() {
    let dir = tempfile::tempdir().expect("temp dir");
    let rtp = tokio::net::UdpSocket::bind("127.0.0.1:0")
        .await
        .expect("bind the test's RTP socket");
    let rtp_port = rtp.local_addr().unwrap().port().to_string();
    let (received, receiver) = receive_rtp(rtp);
    let sipp_port = free_port();
    let scenario = scenario(
        dir.path(),
        "uas_incall.xml",
        &[("@RTP_PORT@", rtp_port.as_str())],
    );
    let sipp = start_sipp(&scenario, sipp_port, free_media_port(), None, &[]);
    let (ua, mut events) = agent(&format!("127.0.0.1:{sipp_port}"), |c| {
        c.source = SourceConfig::Tone(440.0)
    })
    .await;
    let call_id = ua
        .dial(&format!("sip:bob@127.0.0.1:{sipp_port}"))
        .await
        .expect("dial");
    wait_established(&mut events, &call_id).await;
    wait_packets(&received, 0, "10 packets of our tone", |p| {
        loud_count(p) >= 10
    })
    .await;

    // Mute: RTP keeps flowing, with silence.
    ua.set_mute(&call_id, true).expect("mute");
    let mark = received.lock().unwrap().len();
    wait_packets(&received, mark, "15 silent packets in a row", |p| {
        p.iter()
            .rev()
            .take_while(|p| p.0 == 0 && level(&p.3) < 10.0)
            .count()
            >= 15
    })
    .await;
    ua.set_mute(&call_id, false).expect("unmute");
    let mark = received.lock().unwrap().len();
    wait_packets(&received, mark, "the tone again after unmute", |p| {
        loud_count(p) >= 5
    })
    .await;

    // DTMF: two events, each 5 growing packets and 3 end packets at one timestamp.
    match ua.send_dtmf(&call_id, "1x") {
        Err(Error::InvalidDtmf { .. }) => {}
        other => panic!("'x' is not a DTMF digit, expected InvalidDtmf, got {other:?}"),
    }
    let mark = received.lock().unwrap().len();
    ua.send_dtmf(&call_id, "1#").expect("send DTMF");
    wait_packets(&received, mark, "16 telephone-event packets", |p| {
        p.iter().filter(|p| p.0 == 101).count() >= 16
    })
    .await;
    let sent: Vec<(bool, u32, TelephoneEvent)> = received.lock().unwrap()[mark..]
        .iter()
        .filter(|p| p.0 == 101)
        .map(|p| {
            (
                p.1,
                p.2,
                TelephoneEvent::parse(&p.3).expect("4-byte event payload"),
            )
        })
        .collect();
    assert_eq!(sent.len(), 16, "exactly two events of 8 packets: {sent:?}");
    for (digit, event) in [(1u8, &sent[..8]), (11, &sent[8..])] {
        assert!(
            event
                .iter()
                .all(|(_, ts, e)| e.event == digit && *ts == event[0].1),
            "one event code and one timestamp per event: {event:?}"
        );
        assert_eq!(
            event.iter().map(|(_, _, e)| e.duration).collect::<Vec<_>>(),
            vec![160, 320, 480, 640, 800, 800, 800, 800],
            "durations grow to 100 ms and repeat in the end packets"
        );
        assert_eq!(
            event.iter().filter(|(_, _, e)| e.end).count(),
            3,
            "the end packet is sent three times"
        );
        assert!(
            event[0].0 && event[1..].iter().all(|(m, _, _)| !m),
            "marker on the first packet only"
        );
    }
    assert!(
        sent[8].1.wrapping_sub(sent[0].1) >= 8 * 160,
        "the second event starts after the first ended"
    );

    // Hold: sipp checks a=sendonly, and nothing is sent while held.
    ua.hold(&call_id).await.expect("hold accepted");
    wait_for(&mut events, "Held", |e| {
        matches!(e, Event::Held { call_id: id, by_peer: false } if *id == call_id).then_some(())
    })
    .await;
    tokio::time::sleep(Duration::from_millis(100)).await; // packets already in flight
    let mark = received.lock().unwrap().len();
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(
        received.lock().unwrap().len(),
        mark,
        "no RTP is sent while we hold the call"
    );
    ua.resume(&call_id).await.expect("resume accepted");
    wait_for(&mut events, "Resumed", |e| {
        matches!(e, Event::Resumed { call_id: id, by_peer: false } if *id == call_id).then_some(())
    })
    .await;
    wait_packets(&received, mark, "the tone after resume", |p| {
        loud_count(p) >= 5
    })
    .await;

    ua.hangup(&call_id).await.expect("BYE");
    wait_for(&mut events, "Closed", |e| {
        matches!(e, Event::Closed { call_id: id, .. } if *id == call_id).then_some(())
    })
    .await;
    receiver.abort();
    expect_sipp_success(
        sipp,
        "uas_incall (checks telephone-event offered, sendonly then sendrecv re-INVITEs)",
    )
    .await;
}

/// The peer hangs up while our hold re-INVITE is out (its BYE crossing it): the hold is no
/// failure to show the agent, and no `Held` follows the call's `Closed`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hold_the_peer_hangs_up_on_is_no_error_and_reports_no_hold() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (ua, mut events) = agent("127.0.0.1", |_| {}).await;
    let sipp = sipp_against(&ua, dir.path(), "uac_hung_up_during_hold.xml");
    let call_id = wait_incoming(&mut events, "IncomingCall").await;
    ua.answer(&call_id).await.expect("answer");
    wait_established(&mut events, &call_id).await;
    let held = ua.hold(&call_id).await;
    assert!(
        held.is_ok(),
        "a hold whose call ended meanwhile is not an error: {held:?}"
    );
    let (reason, seen) = events_until_closed(&mut events, &call_id).await;
    assert_eq!(reason, CloseReason::RemoteHangup, "sipp hung up: {seen:?}");
    assert!(
        !seen.iter().any(|e| matches!(e, Event::Held { .. })),
        "no hold is reported for the ended call: {seen:?}"
    );
    expect_sipp_success(
        sipp,
        "uac_hung_up_during_hold (BYE before answering our re-INVITE)",
    )
    .await;
    assert!(
        events.try_recv().is_err(),
        "nothing follows the call's Closed"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_call_commands_on_an_unknown_call_are_typed_errors() {
    let (ua, _events) = agent("127.0.0.1", |_| {}).await;
    assert!(
        matches!(ua.hold("nope").await, Err(Error::UnknownCall { .. })),
        "hold names a call that does not exist"
    );
    assert!(
        matches!(ua.resume("nope").await, Err(Error::UnknownCall { .. })),
        "resume names a call that does not exist"
    );
    assert!(
        matches!(ua.set_mute("nope", true), Err(Error::UnknownCall { .. })),
        "mute names a call that does not exist"
    );
    assert!(
        matches!(ua.send_dtmf("nope", "1"), Err(Error::UnknownCall { .. })),
        "valid digits for a call that does not exist"
    );
    for bad in ["", "12E", "1 2", "#️⃣"] {
        assert!(
            matches!(ua.send_dtmf("nope", bad), Err(Error::InvalidDtmf { .. })),
            "{bad:?} is refused as DTMF before the call is looked up"
        );
    }
    let long = "1".repeat(65);
    assert!(
        matches!(ua.send_dtmf("nope", &long), Err(Error::InvalidDtmf { .. })),
        "more than 64 digits are refused"
    );
}
