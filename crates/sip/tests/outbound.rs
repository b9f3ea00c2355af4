//! We call sipp (uas): 180, 200 with SDP → ACK → Established; our BYE closes it.

mod common;

use callpop_sip::{CloseReason, Event};
use common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outbound_call_to_sipp_rings_connects_and_hangs_up() {
    let dir = tempfile::tempdir().expect("temp dir");
    let sipp_port = free_port();
    let scenario = scenario(dir.path(), "uas_answer.xml", &[]);
    let sipp = start_sipp(
        &scenario,
        sipp_port,
        free_media_port(),
        None,
        &["-rtp_echo"],
    );
    let (ua, mut events) = agent(&format!("127.0.0.1:{sipp_port}"), |c| {
        c.source = callpop_sip::audio::SourceConfig::Tone(440.0);
        c.sink = callpop_sip::audio::SinkConfig::WavDir(dir.path().to_owned());
    })
    .await;
    // sipp needs a moment to bind; the INVITE is retransmitted anyway.
    let call_id = ua
        .dial(&format!("sip:bob@127.0.0.1:{sipp_port}"))
        .await
        .expect("dial");
    wait_for(&mut events, "Ringing", |e| {
        matches!(e, Event::Ringing { call_id: id } if *id == call_id).then_some(())
    })
    .await;
    wait_established(&mut events, &call_id).await;
    // Let about 1.5 s of our tone go out and come back through sipp's RTP echo.
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    ua.hangup(&call_id).await.expect("BYE");
    let reason = wait_closed(&mut events, &call_id).await;
    assert_eq!(reason, CloseReason::LocalHangup, "we hung up");
    expect_sipp_success(sipp, "uas_answer (expects ACK and BYE)").await;

    let samples = read_wav(&callpop_sip::audio::recording_path(dir.path(), &call_id));
    let loud: Vec<i16> = samples
        .iter()
        .copied()
        .skip_while(|s| s.unsigned_abs() < 2000)
        .collect();
    assert!(
        loud.len() >= 4000,
        "at least 0.5 s of our tone came back from sipp's echo, got {} samples",
        loud.len()
    );
    let ratio = tone_ratio(&loud[..4000], 440.0);
    assert!(
        ratio > 0.3,
        "the echoed audio is our 440 Hz tone (ratio {ratio:.3})"
    );
}
