//! SIP MESSAGE both ways with Japanese and Korean text.

mod common;

use callpop_sip::Event;
use common::*;

const TEXT: &str = "こんにちは、안녕하세요";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn message_from_sipp_arrives_intact() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (ua, mut events) = agent("127.0.0.1", |_| {}).await;
    let sipp = sipp_against(&ua, dir.path(), "uac_message.xml");
    let (from, text) = wait_for(&mut events, "MessageReceived", |e| match e {
        Event::MessageReceived { from, text } => Some((from.clone(), text.clone())),
        _ => None,
    })
    .await;
    assert_eq!(text.trim_end(), TEXT, "UTF-8 text intact");
    assert_eq!(
        from.display_name.as_deref(),
        Some("送信者"),
        "sender's display name intact"
    );
    expect_sipp_success(sipp, "uac_message (expects 200)").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn message_to_sipp_is_sent_intact() {
    let dir = tempfile::tempdir().expect("temp dir");
    let port = free_port();
    let scenario = scenario(dir.path(), "uas_message.xml", &[]);
    let log = dir.path().join("messages.log");
    let sipp = start_sipp(
        &scenario,
        port,
        free_media_port(),
        None,
        &["-trace_msg", "-message_file", log.to_str().unwrap()],
    );
    let (ua, _events) = agent(&format!("127.0.0.1:{port}"), |_| {}).await;
    ua.send_message(&format!("sip:bob@127.0.0.1:{port}"), TEXT)
        .await
        .expect("sipp answers 200");
    expect_sipp_success(sipp, "uas_message").await;
    let logged = std::fs::read(&log).expect("sipp's message log");
    let logged = String::from_utf8_lossy(&logged);
    assert!(
        logged.contains(TEXT),
        "sipp received the text byte for byte: {logged}"
    );
    assert!(
        logged.contains("text/plain;charset=UTF-8"),
        "declared as UTF-8 plain text"
    );
}

#[tokio::test]
async fn bad_uris_are_typed_errors() {
    let (ua, _events) = agent("127.0.0.1", |_| {}).await;
    for bad in ["sip:bob\r\nX: 1@host", "not a uri", ""] {
        assert!(
            ua.send_message(bad, "hi").await.is_err(),
            "{bad:?} is refused before anything is sent"
        );
    }
}
