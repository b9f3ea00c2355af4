//! sipp calls us: ring, answer, audio recorded to WAV, bad datagrams mid-call, BYE; CANCEL → 487.

mod common;

use std::net::SocketAddr;

use callpop_sip::audio::{recording_path, SinkConfig, SourceConfig};
use callpop_sip::{CloseReason, Event};
use common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sipp_call_is_answered_recorded_and_survives_garbage() {
    let dir = tempfile::tempdir().expect("temp dir");
    let pcap = dir.path().join("tone440.pcap");
    write_tone_pcap(&pcap, 440.0, 2);
    let (ua, mut events) = agent("127.0.0.1", |c| {
        c.sink = SinkConfig::WavDir(dir.path().to_owned())
    })
    .await;
    let ua_addr = ua.local_addr();
    let scenario = scenario(
        dir.path(),
        "uac_tone.xml",
        &[("@PCAP@", pcap.to_str().unwrap())],
    );
    let sipp = start_sipp(
        &scenario,
        free_port(),
        free_media_port(),
        Some(ua_addr),
        &[],
    );

    let (call_id, from) = wait_for(&mut events, "IncomingCall", |e| match e {
        Event::IncomingCall { call_id, from, .. } => Some((call_id.clone(), from.clone())),
        _ => None,
    })
    .await;
    assert_eq!(
        from.display_name.as_deref(),
        Some("山田 太郎"),
        "caller name comes from P-Asserted-Identity, UTF-8 intact"
    );
    assert!(
        from.uri.starts_with("sip:+81312345678@"),
        "caller URI from PAI, got {}",
        from.uri
    );
    ua.answer(&call_id).await.expect("answer the ringing call");
    wait_established(&mut events, &call_id).await;

    // Mid-call: malformed, oversized and injected datagrams at the SIP port must not hurt.
    let garbage = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let bad: Vec<Vec<u8>> = vec![
        b"\x00\xff\xfe garbage".to_vec(),
        b"INVITE sip:x SIP/2.0\r\n\r\n".to_vec(),
        b"INVITE sip:alice@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:9;branch=z9hG4bKx\r\nFrom: \"a\r\nInjected: 1\" <sip:a@b>;tag=1\r\nTo: <sip:alice@127.0.0.1>\r\nCall-ID: inj\r\nCSeq: 1 INVITE\r\nContent-Length: 99999\r\n\r\n".to_vec(),
        vec![b'A'; 65_000],
        b"SIP/2.0 200 OK\r\n\r\n".to_vec(),
    ];
    for datagram in &bad {
        garbage
            .send_to(datagram, ua_addr)
            .await
            .expect("send garbage");
    }
    // The agent still answers OPTIONS after the garbage.
    assert_options_answered(&garbage, ua_addr).await;

    let reason = wait_closed(&mut events, &call_id).await;
    assert_eq!(reason, CloseReason::RemoteHangup, "sipp sent BYE");
    expect_sipp_success(sipp, "uac_tone").await;

    let samples = read_wav(&recording_path(dir.path(), &call_id));
    let loud: Vec<i16> = samples
        .iter()
        .copied()
        .skip_while(|s| s.unsigned_abs() < 2000)
        .collect();
    assert!(
        loud.len() >= 8000,
        "at least one second of the 2 s tone was recorded, got {} samples",
        loud.len()
    );
    let window = &loud[..8000];
    let at_tone = tone_ratio(window, 440.0);
    let elsewhere = tone_ratio(window, 1000.0);
    assert!(
        at_tone > 0.3,
        "the recording is dominated by 440 Hz (ratio {at_tone:.3})"
    );
    assert!(
        elsewhere < 0.05,
        "and has little at 1 kHz (ratio {elsewhere:.3})"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audio_devices_set_while_running_serve_the_next_call() {
    let dir = tempfile::tempdir().expect("temp dir");
    let pcap = dir.path().join("tone440.pcap");
    write_tone_pcap(&pcap, 440.0, 2);
    // Started with received audio discarded, as before the agent picks a device.
    let (ua, mut events) = agent("127.0.0.1", |_| {}).await;
    ua.set_audio(
        SourceConfig::Silence,
        SinkConfig::WavDir(dir.path().to_owned()),
    );
    let scenario = scenario(
        dir.path(),
        "uac_tone.xml",
        &[("@PCAP@", pcap.to_str().unwrap())],
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
    wait_closed(&mut events, &call_id).await;
    expect_sipp_success(sipp, "uac_tone").await;
    let samples = read_wav(&recording_path(dir.path(), &call_id));
    let loud = samples.iter().filter(|s| s.unsigned_abs() >= 2000).count();
    assert!(
        loud >= 4000,
        "the call's audio went to the device set after start ({loud} loud samples)"
    );
}

async fn assert_options_answered(socket: &tokio::net::UdpSocket, ua: SocketAddr) {
    let local = socket.local_addr().unwrap();
    let options = format!(
        "OPTIONS sip:alice@{ua} SIP/2.0\r\nVia: SIP/2.0/UDP {local};branch=z9hG4bKopt{n}\r\nFrom: <sip:probe@{local}>;tag=p1\r\nTo: <sip:alice@{ua}>\r\nCall-ID: options-{n}@probe\r\nCSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n",
        n = std::process::id()
    );
    socket.send_to(options.as_bytes(), ua).await.unwrap();
    let mut buf = vec![0u8; 65_536];
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let (len, _) = tokio::time::timeout_at(deadline, socket.recv_from(&mut buf))
            .await
            .expect("OPTIONS must be answered while a call is up, after garbage")
            .unwrap();
        let text = String::from_utf8_lossy(&buf[..len]);
        if text.contains("OPTIONS") && text.starts_with("SIP/2.0 ") {
            assert!(
                text.starts_with("SIP/2.0 200"),
                "OPTIONS is answered 200: {text}"
            );
            assert!(
                text.contains("MESSAGE") && text.contains("REFER"),
                "the answer lists our methods in Allow: {text}"
            );
            assert!(
                text.contains("Accept: application/sdp, text/plain, message/sipfrag"),
                "the answer lists the bodies we take in Accept: {text}"
            );
            return;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sipp_cancel_before_answer_gets_487_and_closes() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (ua, mut events) = agent("127.0.0.1", |_| {}).await;
    let sipp = sipp_against(&ua, dir.path(), "uac_cancel.xml");
    let (call_id, from) = wait_for(&mut events, "IncomingCall", |e| match e {
        Event::IncomingCall { call_id, from, .. } => Some((call_id.clone(), from.clone())),
        _ => None,
    })
    .await;
    assert_eq!(
        from.display_name.as_deref(),
        Some("<img src=x onerror=alert(1)>"),
        "a hostile display name is carried verbatim as data"
    );
    let reason = wait_closed(&mut events, &call_id).await;
    assert_eq!(
        reason,
        CloseReason::Cancelled,
        "CANCEL before answer closes the call as cancelled"
    );
    expect_sipp_success(sipp, "uac_cancel (expects 200 to CANCEL and 487)").await;
    assert!(
        ua.answer(&call_id).await.is_err(),
        "a cancelled call can no longer be answered"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn late_offer_invite_gets_our_offer_and_the_ack_answer_starts_media() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (ua, mut events) = agent("127.0.0.1", |c| {
        c.source = callpop_sip::audio::SourceConfig::Tone(440.0);
        c.sink = SinkConfig::WavDir(dir.path().to_owned());
    })
    .await;
    let scenario = scenario(dir.path(), "uac_late_offer.xml", &[]);
    let sipp = start_sipp(
        &scenario,
        free_port(),
        free_media_port(),
        Some(ua.local_addr()),
        &["-rtp_echo"],
    );
    let call_id = wait_incoming(&mut events, "IncomingCall").await;
    ua.answer(&call_id)
        .await
        .expect("a late-offer call can be answered");
    wait_established(&mut events, &call_id).await;
    let reason = wait_closed(&mut events, &call_id).await;
    assert_eq!(reason, CloseReason::RemoteHangup, "sipp sent BYE");
    expect_sipp_success(sipp, "uac_late_offer (checks the offer in our 200)").await;
    let samples = read_wav(&recording_path(dir.path(), &call_id));
    let loud: Vec<i16> = samples
        .iter()
        .copied()
        .skip_while(|s| s.unsigned_abs() < 2000)
        .collect();
    assert!(
        loud.len() >= 2000,
        "our tone came back through sipp's echo, so media used the ACK's answer: {} samples",
        loud.len()
    );
    let ratio = tone_ratio(&loud[..2000], 440.0);
    assert!(
        ratio > 0.3,
        "the echo is our 440 Hz tone (ratio {ratio:.3})"
    );
}
