//! Registration against sipp as a registrar issuing a 401 digest challenge.

mod common;

use callpop_sip::{Event, FailureKind, Password};
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
        Event::RegistrationFailed { reason, .. } => {
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
    let (reason, kind) = wait_for(&mut events, "RegistrationFailed", |e| match e {
        Event::RegistrationFailed { reason, kind } => Some((reason.clone(), *kind)),
        Event::Registered { .. } => panic!("a wrong password must not register"),
        _ => None,
    })
    .await;
    assert_eq!(
        kind,
        FailureKind::Credentials,
        "a refused password: {reason}"
    );
    assert!(
        reason.contains("403"),
        "the failure carries the registrar's status: {reason}"
    );
    expect_sipp_success(sipp, "uas_registrar (403 path)").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failure_is_retried_with_back_off_and_the_registration_refreshed_before_expiry() {
    let dir = tempfile::tempdir().expect("temp dir");
    let password = runtime_password();
    let port = free_port();
    let scenario = scenario(
        dir.path(),
        "uas_registrar_refresh.xml",
        &[("@PASSWORD@", &password)],
    );
    let sipp = start_sipp(&scenario, port, free_media_port(), None, &[]);
    let (ua, mut events) = agent(&format!("127.0.0.1:{port}"), |c| {
        c.password = Some(Password::new(password.clone()));
        c.register_expires = 10;
    })
    .await;
    ua.register().expect("start registering");
    let reason = wait_for(&mut events, "RegistrationFailed", |e| match e {
        Event::RegistrationFailed { reason, .. } => Some(reason.clone()),
        Event::Registered { .. } => panic!("the first REGISTER gets 503"),
        _ => None,
    })
    .await;
    assert!(reason.contains("503"), "the failure says 503: {reason}");
    let failed_at = std::time::Instant::now();
    let expires = wait_for(&mut events, "Registered after the retry", |e| match e {
        Event::Registered { expires } => Some(*expires),
        Event::RegistrationFailed { reason, .. } => panic!("the retry must succeed: {reason}"),
        _ => None,
    })
    .await;
    let retry_after = failed_at.elapsed();
    assert_eq!(expires, 10, "the registrar granted 10 s");
    assert!(
        retry_after >= std::time::Duration::from_millis(900),
        "the retry waits for its back-off (at least 1 s), came after {retry_after:?}"
    );
    let registered_at = std::time::Instant::now();
    wait_for(&mut events, "Registered again (refresh)", |e| match e {
        Event::Registered { expires } => Some(*expires),
        Event::RegistrationFailed { reason, .. } => panic!("the refresh must succeed: {reason}"),
        _ => None,
    })
    .await;
    let refreshed_after = registered_at.elapsed();
    assert!(
        refreshed_after < std::time::Duration::from_secs(10),
        "the refresh comes before the 10 s expire, came after {refreshed_after:?}"
    );
    assert!(
        refreshed_after >= std::time::Duration::from_secs(5),
        "and not needlessly early, came after {refreshed_after:?}"
    );
    expect_sipp_success(sipp, "uas_registrar_refresh (503, then 401/200 twice)").await;
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
