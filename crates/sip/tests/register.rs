//! Registration against sipp as a registrar issuing a 401 digest challenge.

mod common;

use callpop_sip::{Event, Password};
use common::*;

fn runtime_password() -> String {
    format!("pw-{}-{}", std::process::id(), rand::random::<u32>())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn register_answers_the_401_and_reports_the_granted_expiry() {
    let dir = tempfile::tempdir().expect("temp dir");
    let password = runtime_password();
    let port = free_port();
    let scenario = scenario(
        dir.path(),
        "uas_registrar.xml",
        &[("@PASSWORD@", &password)],
    );
    let sipp = start_sipp(&scenario, port, free_media_port(), None, &[]);
    let (ua, mut events) = agent(&format!("127.0.0.1:{port}"), |c| {
        c.password = Some(Password::new(password.clone()))
    })
    .await;
    ua.register().expect("start registering");
    wait_for(&mut events, "Registering", |e| {
        matches!(e, Event::Registering).then_some(())
    })
    .await;
    let expires = wait_for(&mut events, "Registered", |e| match e {
        Event::Registered { expires } => Some(*expires),
        Event::RegistrationFailed { reason } => {
            panic!("registration must succeed, failed: {reason}")
        }
        _ => None,
    })
    .await;
    assert_eq!(expires, 60, "the registrar granted 60 s");
    expect_sipp_success(sipp, "uas_registrar").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_password_is_reported_with_the_reason() {
    let dir = tempfile::tempdir().expect("temp dir");
    let port = free_port();
    let scenario = scenario(
        dir.path(),
        "uas_registrar.xml",
        &[("@PASSWORD@", &runtime_password())],
    );
    let sipp = start_sipp(&scenario, port, free_media_port(), None, &[]);
    let (ua, mut events) = agent(&format!("127.0.0.1:{port}"), |c| {
        c.password = Some(Password::new(runtime_password()))
    })
    .await;
    ua.register().expect("start registering");
    let reason = wait_for(&mut events, "RegistrationFailed", |e| match e {
        Event::RegistrationFailed { reason } => Some(reason.clone()),
        Event::Registered { .. } => panic!("a wrong password must not register"),
        _ => None,
    })
    .await;
    assert!(
        reason.contains("403"),
        "the failure carries the registrar's status: {reason}"
    );
    expect_sipp_success(sipp, "uas_registrar (403 path)").await;
}

#[test]
fn password_debug_is_redacted() {
    let secret = runtime_password();
    let shown = format!("{:?}", Password::new(secret.clone()));
    assert_eq!(shown, "[redacted]", "Debug never shows the password");
    assert!(
        !shown.contains(&secret),
        "the secret is absent from Debug output"
    );
}
