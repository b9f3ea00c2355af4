//! The adapter against sipp: engine events in order for calls in and out, SMS both ways, and
//! failures reported as events.

mod common;

use common::*;
use engine::{Direction, EndReason, Telephony, TelephonyCommand, TelephonyEvent};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inbound_ring_answer_bye_arrive_in_order() {
    let dir = tempfile::tempdir().expect("temp dir");
    let phone = phone("127.0.0.1").await;
    let mut events = phone.events().expect("first take of the events");
    let scenario = scenario(
        dir.path(),
        "uac_call.xml",
        &[
            ("@CALLER@", "+14155550100"),
            ("@NAME@", "山田 <b>花子</b>"),
            ("@TALK_MS@", "500"),
        ],
    );
    let sipp = start_sipp(&scenario, free_port(), Some(phone.local_addr()));

    let ringing = next(&mut events, "Ringing").await;
    let TelephonyEvent::Ringing {
        call_id,
        direction,
        remote_raw,
        remote_display_name,
        local,
        queue,
    } = ringing
    else {
        panic!("the first event of a call is Ringing, got {ringing:?}");
    };
    assert_eq!(direction, Direction::Inbound, "sipp calls us");
    assert_eq!(
        remote_raw, "+14155550100",
        "the caller's number is From's user part"
    );
    assert_eq!(
        remote_display_name.as_deref(),
        Some("山田 <b>花子</b>"),
        "the display name is carried as data (as sent, unquoted)"
    );
    assert_eq!(
        local.as_deref(),
        Some("2001"),
        "the dialed number is To's user part"
    );
    assert_eq!(queue, None, "plain SIP has no queue");

    phone
        .command(TelephonyCommand::Answer {
            call_id: call_id.clone(),
        })
        .expect("the command is accepted");
    assert_eq!(
        next(&mut events, "Answered").await,
        TelephonyEvent::Answered {
            call_id: call_id.clone()
        },
        "after our 200 and sipp's ACK the call is answered"
    );
    assert_eq!(
        next(&mut events, "Ended").await,
        TelephonyEvent::Ended {
            call_id,
            reason: EndReason::HungUp
        },
        "sipp's BYE ends the call as hung up"
    );
    expect_sipp_success(sipp, "uac_call").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_becomes_sms_received_with_japanese_text_intact() {
    const TEXT: &str = "お電話ありがとうございます。折り返します";
    let dir = tempfile::tempdir().expect("temp dir");
    let phone = phone("127.0.0.1").await;
    let mut events = phone.events().expect("events");
    let scenario = scenario(
        dir.path(),
        "uac_message.xml",
        &[("@CALLER@", "+819012345678"), ("@TEXT@", TEXT)],
    );
    let sipp = start_sipp(&scenario, free_port(), Some(phone.local_addr()));
    match next(&mut events, "SmsReceived").await {
        TelephonyEvent::SmsReceived { from, to, text, .. } => {
            assert_eq!(from, "+819012345678", "sender's number from the From URI");
            assert_eq!(to, "2001", "addressed to our number");
            assert_eq!(text, TEXT, "UTF-8 text intact");
        }
        other => panic!("a MESSAGE gives SmsReceived, got {other:?}"),
    }
    expect_sipp_success(sipp, "uac_message").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outbound_dial_rings_first_then_answers_and_hangs_up() {
    let dir = tempfile::tempdir().expect("temp dir");
    let port = free_port();
    let scenario = scenario(dir.path(), "uas_answer.xml", &[]);
    let sipp = start_sipp(&scenario, port, None);
    let phone = phone(&format!("127.0.0.1:{port}")).await;
    let mut events = phone.events().expect("events");
    phone
        .command(TelephonyCommand::Dial {
            number: "+1 (415) 555-0199".into(),
        })
        .expect("accepted");
    let call_id = match next(&mut events, "Ringing").await {
        TelephonyEvent::Ringing {
            call_id,
            direction: Direction::Outbound,
            remote_raw,
            ..
        } => {
            assert_eq!(
                remote_raw, "+1 (415) 555-0199",
                "the number as the agent dialed it"
            );
            call_id
        }
        other => panic!("dialing announces an outbound Ringing first, got {other:?}"),
    };
    assert_eq!(
        next(&mut events, "Answered").await,
        TelephonyEvent::Answered {
            call_id: call_id.clone()
        },
        "sipp's 200 answers the call"
    );
    phone
        .command(TelephonyCommand::HangUp {
            call_id: call_id.clone(),
        })
        .expect("accepted");
    assert_eq!(
        next(&mut events, "Ended").await,
        TelephonyEvent::Ended {
            call_id,
            reason: EndReason::HungUp
        },
        "our BYE ends the call"
    );
    expect_sipp_success(sipp, "uas_answer").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn send_sms_reaches_sipp_and_reports_sms_sent() {
    let dir = tempfile::tempdir().expect("temp dir");
    let port = free_port();
    let scenario = scenario(dir.path(), "uas_message.xml", &[]);
    let sipp = start_sipp(&scenario, port, None);
    let phone = phone(&format!("127.0.0.1:{port}")).await;
    let mut events = phone.events().expect("events");
    phone
        .command(TelephonyCommand::SendSms {
            to: "+14155550123".into(),
            text: "안녕하세요".into(),
        })
        .expect("accepted");
    match next(&mut events, "SmsSent").await {
        TelephonyEvent::SmsSent { from, to, text, .. } => {
            assert_eq!(from, "2001", "sent from our number");
            assert_eq!(to, "+14155550123", "to the number as given");
            assert_eq!(text, "안녕하세요", "text as given");
        }
        other => panic!("a delivered MESSAGE gives SmsSent, got {other:?}"),
    }
    expect_sipp_success(sipp, "uas_message").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failures_come_back_as_command_failed() {
    let phone = phone("127.0.0.1").await;
    let mut events = phone.events().expect("events");
    phone
        .command(TelephonyCommand::Answer {
            call_id: "no-such-call".into(),
        })
        .expect("accepted: the outcome comes as an event");
    match next(&mut events, "CommandFailed").await {
        TelephonyEvent::CommandFailed {
            call_id,
            action,
            message,
        } => {
            assert_eq!(call_id.as_deref(), Some("no-such-call"), "names the call");
            assert_eq!(action, engine::FailedAction::Answer, "says what failed");
            assert!(!message.is_empty(), "and why");
        }
        other => panic!("an unknown call's answer fails as an event, got {other:?}"),
    }
    phone
        .command(TelephonyCommand::Dial {
            number: "1\r\nVia: evil".into(),
        })
        .expect("accepted");
    match next(&mut events, "CommandFailed").await {
        TelephonyEvent::CommandFailed {
            call_id,
            action,
            message,
        } => {
            assert_eq!(call_id, None, "no call was created");
            assert_eq!(action, engine::FailedAction::Dial, "the dial failed");
            assert!(message.contains("cannot call"), "says why: {message}");
        }
        other => panic!("an undialable number fails as an event, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_is_serializable_and_starts_unregistered() {
    let phone = phone("127.0.0.1").await;
    let status = phone.status().borrow().clone();
    assert_eq!(
        status.state,
        callpop_telephony::RegistrationState::Unregistered,
        "no registration was asked for"
    );
    assert_eq!(
        status.local_addr,
        phone.local_addr(),
        "the bound address is shown"
    );
    let json = serde_json::to_value(&status).expect("serializes");
    assert_eq!(
        json["state"]["state"], "unregistered",
        "tagged for the UI: {json}"
    );
}

/// Waits until the status watch shows a state that `done` accepts; fails after [`WAIT`].
async fn wait_status(
    status: &mut tokio::sync::watch::Receiver<callpop_telephony::SipStatus>,
    what: &str,
    done: impl Fn(&callpop_telephony::RegistrationState) -> bool,
) -> callpop_telephony::RegistrationState {
    let found = tokio::time::timeout(WAIT, status.wait_for(|s| done(&s.state)))
        .await
        .unwrap_or_else(|_| panic!("status never became {what} within {WAIT:?}"))
        .expect("the adapter is alive");
    found.state.clone()
}

/// A password made at run time (never a literal).
fn runtime_password() -> String {
    format!("pw-{}-{:?}", std::process::id(), std::time::Instant::now())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registration_shows_in_the_status_and_a_refusal_carries_its_reason() {
    use callpop_telephony::{RegistrationState, SipTelephony};
    for (good, want) in [(true, "registered"), (false, "failed with 403")] {
        let dir = tempfile::tempdir().expect("temp dir");
        let port = free_port();
        let password = runtime_password();
        let scenario = scenario(
            dir.path(),
            "uas_registrar.xml",
            &[("@PASSWORD@", &password)],
        );
        let sipp = start_sipp(&scenario, port, None);
        let mut config = sip::Config::new(
            "127.0.0.1:0".parse().expect("addr"),
            "2001",
            format!("127.0.0.1:{port}"),
        );
        let given = if good {
            password
        } else {
            runtime_password() + "x"
        };
        config.password = Some(sip::Password::new(given));
        let phone = SipTelephony::start(config, true)
            .await
            .expect("the adapter starts");
        let mut status = phone.status();
        let state = wait_status(&mut status, want, |s| {
            matches!(
                s,
                RegistrationState::Registered { .. } | RegistrationState::Failed { .. }
            )
        })
        .await;
        if good {
            assert_eq!(
                state,
                RegistrationState::Registered { expires: 60 },
                "the 401 is answered and the granted lifetime shown"
            );
        } else {
            let RegistrationState::Failed { reason, .. } = &state else {
                panic!("a wrong password is a failure, got {state:?}");
            };
            assert!(reason.contains("403"), "the failure says 403: {reason}");
        }
        expect_sipp_success(sipp, "uas_registrar").await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mute_and_hold_work_on_a_live_call_and_transfer_of_an_unknown_call_fails() {
    let dir = tempfile::tempdir().expect("temp dir");
    let phone = phone("127.0.0.1").await;
    let mut events = phone.events().expect("events");
    let scenario = scenario(
        dir.path(),
        "uac_call_hold.xml",
        &[("@CALLER@", "+14155550100"), ("@NAME@", "Caller")],
    );
    let sipp = start_sipp(&scenario, free_port(), Some(phone.local_addr()));
    let call_id = match next(&mut events, "Ringing").await {
        TelephonyEvent::Ringing { call_id, .. } => call_id,
        other => panic!("a call starts with Ringing, got {other:?}"),
    };
    phone
        .command(TelephonyCommand::Answer {
            call_id: call_id.clone(),
        })
        .expect("accepted");
    assert!(
        matches!(
            next(&mut events, "Answered").await,
            TelephonyEvent::Answered { .. }
        ),
        "answered"
    );
    for command in [
        TelephonyCommand::Mute {
            call_id: call_id.clone(),
            muted: true,
        },
        TelephonyCommand::Hold {
            call_id: call_id.clone(),
        },
    ] {
        phone.command(command).expect("accepted");
    }
    assert_eq!(
        next(&mut events, "Held").await,
        TelephonyEvent::Held {
            call_id: call_id.clone()
        },
        "mute raises no failure and our hold re-INVITE is accepted by sipp (which checks sendonly)"
    );
    assert_eq!(
        next(&mut events, "Ended").await,
        TelephonyEvent::Ended {
            call_id: call_id.clone(),
            reason: EndReason::HungUp
        },
        "sipp hangs up after the hold"
    );
    expect_sipp_success(sipp, "uac_call_hold").await;
    phone
        .command(TelephonyCommand::Transfer {
            call_id: call_id.clone(),
            target: "+14155550199".into(),
        })
        .expect("accepted");
    match next(&mut events, "CommandFailed").await {
        TelephonyEvent::CommandFailed {
            call_id: failed,
            action,
            message,
        } => {
            assert_eq!(failed, Some(call_id), "names the call");
            assert_eq!(action, engine::FailedAction::Transfer, "says what failed");
            assert!(!message.is_empty(), "and why");
        }
        other => panic!("a transfer of an ended call fails as an event, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_account_change_restarts_the_agent_live_unregistering_the_old_binding() {
    use callpop_telephony::{Error, RegistrationState, SipTelephony};
    let dir = tempfile::tempdir().expect("temp dir");
    // The desktop keeps its SIP port across account changes: so does this test.
    let local: std::net::SocketAddr =
        format!("127.0.0.1:{}", test_support::free_udp_and_tcp_port())
            .parse()
            .expect("addr");
    let phone = SipTelephony::start(sip::Config::new(local, "2001", "127.0.0.1"), false)
        .await
        .expect("the adapter starts without a registrar");
    let mut events = phone.events().expect("events");
    let mut status = phone.status();

    // The agent saves an account with a registrar: the agent registers, on the same port.
    let registrar_port = free_port();
    let password = runtime_password();
    let registrar = start_sipp(
        &scenario(
            dir.path(),
            "uas_registrar_unregister.xml",
            &[("@PASSWORD@", &password)],
        ),
        registrar_port,
        None,
    );
    let mut account = sip::Config::new(local, "2001", format!("127.0.0.1:{registrar_port}"));
    account.password = Some(sip::Password::new(password));
    phone
        .reconfigure(account, true)
        .await
        .expect("the new account starts");
    assert_eq!(
        wait_status(&mut status, "registered", |s| matches!(
            s,
            RegistrationState::Registered { .. } | RegistrationState::Failed { .. }
        ))
        .await,
        RegistrationState::Registered { expires: 60 },
        "registered with the new account, its challenge answered"
    );
    assert_eq!(phone.local_addr(), local, "the port is kept");

    // Back to no registrar: the binding is removed (the scenario fails without Expires: 0).
    phone
        .reconfigure(sip::Config::new(local, "2001", "127.0.0.1"), false)
        .await
        .expect("the account without a registrar starts");
    expect_sipp_success(registrar, "uas_registrar_unregister").await;
    assert_eq!(
        status.borrow().state,
        RegistrationState::Unregistered,
        "no registration any more"
    );

    // The engine's event stream is the same one: a call to the restarted agent rings there.
    let caller = start_sipp(
        &scenario(
            dir.path(),
            "uac_call.xml",
            &[
                ("@CALLER@", "+14155550100"),
                ("@NAME@", "Caller"),
                ("@TALK_MS@", "500"),
            ],
        ),
        free_port(),
        Some(local),
    );
    let call_id = match next(&mut events, "Ringing").await {
        TelephonyEvent::Ringing { call_id, .. } => call_id,
        other => panic!("a call starts with Ringing, got {other:?}"),
    };
    // With a call ringing the account cannot change under it.
    match phone
        .reconfigure(sip::Config::new(local, "2002", "127.0.0.1"), false)
        .await
    {
        Err(Error::CallInProgress { calls: 1 }) => {}
        other => panic!("a change during a call waits, got {other:?}"),
    }
    phone
        .command(TelephonyCommand::Answer {
            call_id: call_id.clone(),
        })
        .expect("accepted");
    assert_eq!(
        next(&mut events, "Answered").await,
        TelephonyEvent::Answered {
            call_id: call_id.clone()
        },
        "the refused change left the call alone"
    );
    assert_eq!(
        next(&mut events, "Ended").await,
        TelephonyEvent::Ended {
            call_id,
            reason: EndReason::HungUp
        },
        "sipp hangs up"
    );
    expect_sipp_success(caller, "uac_call").await;
}
