//! Ringing → lookup → popup and pop URL, against the emulator over HTTP.

use std::sync::Arc;
use std::time::Duration;

use callpop_e2e::{emulator, requests_besides_session_check, Harness, WAIT};
use cti::{PopAction, Region};
use engine::{ConnectionState, LookupStatus, SfTrouble, UiEvent};
use sf_emulator::seed::{known_callers, KnownCaller};
use sf_emulator::Emulator;

/// The Id of the seeded record of a known caller.
fn record_id(emu: &Emulator, k: &KnownCaller) -> String {
    let found: Vec<String> = emu
        .records(k.sobject)
        .into_iter()
        .filter(|r| r[k.field] == k.stored_as && r["Name"] == k.name)
        .filter_map(|r| r["Id"].as_str().map(str::to_owned))
        .collect();
    assert_eq!(
        found.len(),
        1,
        "exactly one seeded {} named {} stored as {}",
        k.sobject,
        k.name,
        k.stored_as
    );
    found[0].clone()
}

fn record_url(emu: &Emulator, sobject: &str, id: &str) -> url::Url {
    cti::pop_url(
        &PopAction::Record {
            sobject: sobject.into(),
            id: id.into(),
        },
        &cti::lightning_base(&emu.instance_url()),
    )
    .expect("a record pop has a URL")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_seeded_format_pops_its_record() {
    let emu = Arc::new(emulator(|_| {}).await.expect("emulator"));
    let callers = known_callers();
    let mut checked = 0;
    for region in ["JP", "FR", "KR", "US"] {
        let r = Region::parse(region).expect("region");
        // One engine for E.164 caller IDs, one (fresh cache) for national forms.
        let e164 = Harness::start(emu.clone(), |c| c.behaviour.default_region = r)
            .await
            .expect("engine");
        let national = Harness::start(emu.clone(), |c| c.behaviour.default_region = r)
            .await
            .expect("engine");
        for (i, k) in callers
            .iter()
            .filter(|k| k.region == region && !k.shared)
            .enumerate()
        {
            let id = record_id(&emu, k);
            let mut forms = vec![(&e164, k.e164.to_owned())];
            if !k.stored_as.starts_with('+') {
                forms.push((&national, k.stored_as.to_owned()));
            }
            for (h, caller_id) in forms {
                let call_id = format!("pop-{region}-{i}-{caller_id}");
                h.ring(&call_id, &caller_id).await.expect("ring");
                let popup = h.ui.popup(&call_id).await.expect("a popup for every call");
                assert_eq!(
                    popup.lookup,
                    LookupStatus::Salesforce,
                    "{caller_id}: a first call is looked up in Salesforce"
                );
                let ids: Vec<&str> = popup
                    .decision
                    .matches
                    .iter()
                    .map(|m| m.record.id.as_str())
                    .collect();
                assert_eq!(
                    ids,
                    vec![id.as_str()],
                    "{caller_id} must match only {} ({}), stored as {:?}",
                    k.name,
                    k.sobject,
                    k.stored_as
                );
                assert_eq!(
                    popup.decision.action,
                    PopAction::Record {
                        sobject: k.sobject.into(),
                        id: id.clone()
                    },
                    "{caller_id}: one match pops the record"
                );
                let (url, new_window) = h.ui.pop(&call_id, WAIT).await.expect("a pop URL");
                assert_eq!(
                    url,
                    record_url(&emu, k.sobject, &id),
                    "{caller_id}: the pop opens the record's Lightning page"
                );
                assert!(
                    !new_window,
                    "the default layout opens pops in the existing window"
                );
                checked += 1;
            }
        }
    }
    assert!(
        checked >= 16,
        "every non-shared known caller is checked at least once (checked {checked})"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shared_number_shows_the_chooser_and_the_multiple_match_action() {
    let emu = Arc::new(emulator(|_| {}).await.expect("emulator"));
    let shared: Vec<KnownCaller> = known_callers().into_iter().filter(|k| k.shared).collect();
    assert!(shared.len() >= 2, "the seed has a shared-number case");
    let number = shared[0].e164;
    let expected: Vec<String> = shared
        .iter()
        .filter(|k| k.e164 == number)
        .map(|k| record_id(&emu, k))
        .collect();
    assert!(expected.len() >= 2, "at least two records share {number}");
    let region = Region::parse(shared[0].region).expect("region");
    let h = Harness::start(emu.clone(), |c| c.behaviour.default_region = region)
        .await
        .expect("engine");
    h.ring("shared-1", number).await.expect("ring");
    let popup = h.ui.popup("shared-1").await.expect("popup");
    for id in &expected {
        assert!(
            popup.decision.matches.iter().any(|m| &m.record.id == id),
            "the chooser lists every record sharing the number (missing {id})"
        );
    }
    assert!(
        matches!(popup.decision.action, PopAction::Search { .. }),
        "several matches take the default layout's multiple-match action (search), got {:?}",
        popup.decision.action
    );
    assert!(
        h.ui.pop("shared-1", Duration::from_millis(300))
            .await
            .is_none(),
        "a search pop has no Lightning URL: the chooser is the search page"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_match_pops_a_new_contact_prefilled_with_the_number() {
    let emu = Arc::new(emulator(|_| {}).await.expect("emulator"));
    let number = "+12125550199";
    for sobject in ["Contact", "Lead", "Account"] {
        assert!(
            !emu.records(sobject).iter().any(|r| {
                ["Phone", "MobilePhone"].iter().any(|f| {
                    r[*f].as_str().is_some_and(|p| {
                        p.chars()
                            .filter(char::is_ascii_digit)
                            .collect::<String>()
                            .ends_with("2125550199")
                    })
                })
            }),
            "precondition: no seeded {sobject} has {number}"
        );
    }
    let h = Harness::start(emu.clone(), |_| {}).await.expect("engine");
    h.ring_with(
        "new-1",
        number,
        engine::Direction::Inbound,
        Some("Jane Roe"),
    )
    .await
    .expect("ring");
    let popup = h.ui.popup("new-1").await.expect("popup");
    assert!(popup.decision.matches.is_empty(), "nobody has this number");
    assert_eq!(
        popup.decision.action,
        PopAction::NewRecord {
            sobject: "Contact".into(),
            defaults: vec![
                ("Phone".into(), number.into()),
                ("LastName".into(), "Jane Roe".into())
            ],
        },
        "no match pops a new Contact with the number (and the PBX's name)"
    );
    let (url, _) = h.ui.pop("new-1", WAIT).await.expect("pop URL");
    assert_eq!(
        url.path(),
        "/lightning/o/Contact/new",
        "the new-record page"
    );
    assert_eq!(
        url.query(),
        Some("defaultFieldValues=Phone=%2B12125550199,LastName=Jane%20Roe"),
        "the number is prefilled, URL-encoded"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn internal_call_is_ignored_when_set_and_popped_otherwise() {
    let emu = Arc::new(emulator(|_| {}).await.expect("emulator"));
    let h = Harness::start(emu.clone(), |c| c.behaviour.ignore_internal_calls = true)
        .await
        .expect("engine");
    emu.clear_calls();
    h.ring("int-1", "1234").await.expect("ring");
    let ringing =
        h.ui.find(
            WAIT,
            |e| matches!(e, UiEvent::CallState { call_id, .. } if call_id == "int-1"),
        )
        .await;
    assert!(ringing.is_some(), "the ignored call still rings in the UI");
    h.phone
        .emit(engine::TelephonyEvent::Ended {
            call_id: "int-1".into(),
            reason: engine::EndReason::Missed,
        })
        .await
        .expect("end");
    let closed = h
        .ui
        .find(WAIT, |e| {
            matches!(e, UiEvent::CallState { call_id, phase: engine::CallPhase::Closed { .. } } if call_id == "int-1")
        })
        .await;
    assert!(closed.is_some(), "an ignored call closes at hang-up");
    assert!(
        !h.ui.seen().iter().any(|e| matches!(
            e,
            UiEvent::Popup { .. } | UiEvent::Pop { .. } | UiEvent::LogState { .. }
        )),
        "an ignored internal call is neither popped nor logged: {:?}",
        h.ui.seen()
    );
    assert!(
        requests_besides_session_check(&emu).is_empty(),
        "an ignored internal call costs no Salesforce request: {:?}",
        requests_besides_session_check(&emu)
    );
    // History is written beside the loop: give it a moment.
    let mut record = None;
    for _ in 0..200 {
        record = h.store.calls().by_id("int-1").expect("read");
        if record.as_ref().is_some_and(|r| r.ended_at.is_some()) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let record = record.expect("the ignored call is in the history");
    assert_eq!(
        record.log_state,
        store::LogState::NotLogged,
        "the history says the call is not logged"
    );

    let shown = Harness::start(emu.clone(), |c| c.behaviour.ignore_internal_calls = false)
        .await
        .expect("engine");
    shown.ring("int-2", "1234").await.expect("ring");
    let popup = shown
        .ui
        .popup("int-2")
        .await
        .expect("popup when not ignored");
    assert!(
        popup.decision.handled && popup.decision.call_type == cti::CallType::Internal,
        "without the setting an internal call is handled as Internal"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn repeat_caller_pops_from_the_cache_with_no_request() {
    let emu = Arc::new(emulator(|_| {}).await.expect("emulator"));
    let k = known_callers()
        .into_iter()
        .find(|k| k.region == "US" && !k.shared)
        .expect("a US caller");
    let id = record_id(&emu, &k);
    let h = Harness::start(emu.clone(), |_| {}).await.expect("engine");
    h.ring("rep-1", k.e164).await.expect("ring");
    let first = h.ui.popup("rep-1").await.expect("popup");
    assert_eq!(
        first.lookup,
        LookupStatus::Salesforce,
        "the first call searches"
    );
    // The cache is written just after the popup (off its path); a real repeat call comes later.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while h
        .store
        .match_cache()
        .lookup(k.e164, chrono::Utc::now())
        .expect("cache read")
        .is_none()
    {
        assert!(
            std::time::Instant::now() < deadline,
            "the first call's match reaches the cache"
        );
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    emu.clear_calls();
    h.ring("rep-2", k.e164).await.expect("ring");
    let second = h.ui.popup("rep-2").await.expect("popup");
    assert_eq!(
        second.lookup,
        LookupStatus::Cache,
        "the repeat call is answered by the cache"
    );
    assert_eq!(
        second
            .decision
            .matches
            .first()
            .map(|m| m.record.id.as_str()),
        Some(id.as_str()),
        "the cache pops the same record"
    );
    assert!(
        requests_besides_session_check(&emu).is_empty(),
        "a repeat caller costs zero Salesforce requests: {:?}",
        requests_besides_session_check(&emu)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn record_created_by_the_agent_pops_on_the_next_call_despite_search_lag() {
    let emu = Arc::new(
        emulator(|c| c.search_index_lag = Duration::from_secs(600))
            .await
            .expect("emulator"),
    );
    let number = "+12125550142";
    let h = Harness::start(emu.clone(), |_| {}).await.expect("engine");
    h.ring("lag-1", number).await.expect("ring");
    let popup = h.ui.popup("lag-1").await.expect("popup");
    assert!(
        matches!(popup.decision.action, PopAction::NewRecord { .. }),
        "an unknown number pops a new record"
    );
    // The agent saves the new Contact in Salesforce.
    let created = h
        .client
        .create(
            "Contact",
            &serde_json::json!({"LastName": "Newcomer", "Phone": number}),
        )
        .await
        .expect("create the Contact");
    let id = created.id.expect("the new Contact's Id");
    let normalized = cti::normalize(number, Region::US).expect("number");
    let found = h
        .client
        .search_phone(&cti::search_terms(&normalized))
        .await
        .expect("search");
    assert!(
        found.is_empty(),
        "precondition: the search index does not know the new Contact yet"
    );
    h.send(engine::Input::Agent(engine::AgentAction::RecordCreated {
        call_id: "lag-1".into(),
        record: cti::Match {
            record: cti::RecordRef::new("Contact", id.clone()),
            name: "Newcomer".into(),
            phones: [("Phone".to_owned(), number.to_owned())].into(),
            fields: Default::default(),
        },
    }))
    .await
    .expect("record created");
    h.ring("lag-2", number).await.expect("ring");
    let next = h.ui.popup("lag-2").await.expect("popup");
    assert_eq!(
        next.lookup,
        LookupStatus::Pinned,
        "the created record is pinned to the number"
    );
    assert_eq!(
        next.decision.action,
        PopAction::Record {
            sobject: "Contact".into(),
            id: id.clone()
        },
        "the next call pops the record the agent created, not a duplicate new-record page"
    );
    let (url, _) = h.ui.pop("lag-2", WAIT).await.expect("pop");
    assert_eq!(
        url,
        record_url(&emu, "Contact", &id),
        "the pop opens the created record"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn salesforce_down_still_shows_the_caller_without_a_pop() {
    let emu = Arc::new(emulator(|_| {}).await.expect("emulator"));
    let h = Harness::start(emu.clone(), |_| {}).await.expect("engine");
    // Warm the session (version discovery) so the fault hits the search itself.
    h.client.api_version().await.expect("version");
    emu.inject_fault(sf_emulator::Fault::Http503, 1);
    h.ring("down-1", "+14155550100").await.expect("ring");
    let popup =
        h.ui.popup("down-1")
            .await
            .expect("a popup even when Salesforce fails");
    assert!(
        matches!(
            popup.lookup,
            LookupStatus::Failed {
                kind: SfTrouble::ServerError,
                ..
            }
        ),
        "the popup says the lookup failed on a server error, got {:?}",
        popup.lookup
    );
    assert_eq!(
        popup.decision.caller.e164.as_deref(),
        Some("+14155550100"),
        "the popup still shows the caller"
    );
    assert_eq!(
        popup.decision.action,
        PopAction::None,
        "nothing is popped on a failed lookup (no new record for a caller who may exist)"
    );
}

/// A withheld number is searched for nothing: the popup says there is no number (not that
/// Salesforce failed), no request is spent and nothing is popped.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_withheld_number_shows_no_number_and_costs_no_request() {
    let emu = Arc::new(emulator(|_| {}).await.expect("emulator"));
    let h = Harness::start(emu.clone(), |_| {}).await.expect("engine");
    h.ring("anon-1", "anonymous").await.expect("ring");
    let popup =
        h.ui.popup("anon-1")
            .await
            .expect("a popup for a withheld caller");
    assert_eq!(popup.lookup, LookupStatus::NoNumber);
    assert_eq!(popup.decision.action, PopAction::None, "nothing to pop");
    let requests = requests_besides_session_check(&emu);
    assert!(
        requests
            .iter()
            .all(|c| !c.counted && !c.path.contains("search")),
        "no search is made for a withheld number: {requests:?}"
    );
}

/// The status line tells the truth from the start, before any Task is written: connected after
/// the start-up check, offline when a caller's search meets an outage, connected again when the
/// next search goes through.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_status_line_follows_salesforce_from_start_through_an_outage() {
    let emu = Arc::new(emulator(|_| {}).await.expect("emulator"));
    let h = Harness::start(emu.clone(), |_| {}).await.expect("engine");
    let connections = |h: &Harness| -> Vec<ConnectionState> {
        h.ui.seen()
            .into_iter()
            .filter_map(|e| match e {
                UiEvent::Connection { state } => Some(state),
                _ => None,
            })
            .collect()
    };
    assert_eq!(
        connections(&h),
        [ConnectionState::Connected],
        "the start-up check says connected before any call"
    );
    assert_eq!(
        emu.api_usage().0,
        0,
        "the check costs no API request of the org's daily allocation"
    );
    emu.inject_fault(sf_emulator::Fault::Http503, 1);
    h.ring("out-1", "+14155550100").await.expect("ring");
    h.ui.popup("out-1").await.expect("popup");
    let offline =
        h.ui.find(WAIT, |e| {
            matches!(
                e,
                UiEvent::Connection {
                    state: ConnectionState::Offline { .. }
                }
            )
        })
        .await;
    let Some(UiEvent::Connection {
        state: ConnectionState::Offline { kind, reason },
    }) = offline
    else {
        panic!(
            "the failed search marks Salesforce offline: {:?}",
            connections(&h)
        );
    };
    assert_eq!(
        kind,
        SfTrouble::ServerError,
        "the kind says it is Salesforce's side"
    );
    assert!(
        reason.contains("503"),
        "the detail names the outage: {reason}"
    );
    h.ring("out-2", "+14155550100").await.expect("ring");
    h.ui.popup("out-2").await.expect("popup");
    h.ui.drain(Duration::from_millis(200)).await;
    assert_eq!(
        connections(&h).last(),
        Some(&ConnectionState::Connected),
        "the next search that works says connected again: {:?}",
        connections(&h)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ringing_shows_the_caller_at_once_when_salesforce_is_slow() {
    let emu = Arc::new(emulator(|_| {}).await.expect("emulator"));
    // The search takes 3 s (well within the 10 s request and lookup timeouts); ringing must come
    // long before it. The margins are wide so that a loaded CI machine cannot blur "at once" and
    // "after the search".
    let h = Harness::start_with_timeout(
        emu.clone(),
        tempfile::tempdir().expect("temp dir"),
        Duration::from_secs(10),
        |c| c.lookup_timeout = Duration::from_secs(10),
    )
    .await
    .expect("engine");
    h.client.api_version().await.expect("session warm");
    emu.set_latency(Duration::from_millis(3000));
    let start = std::time::Instant::now();
    h.ring_with(
        "slow-1",
        "+14155550100",
        engine::Direction::Inbound,
        Some("Front desk"),
    )
    .await
    .expect("ring");
    let ringing = h
        .ui
        .find(Duration::from_millis(2500), |e| {
            matches!(e, UiEvent::CallState { call_id, phase: engine::CallPhase::Ringing { .. } } if call_id == "slow-1")
        })
        .await;
    let Some(UiEvent::CallState {
        phase: engine::CallPhase::Ringing { caller, .. },
        ..
    }) = ringing
    else {
        panic!("ringing must be reported at once, got {ringing:?}");
    };
    assert!(
        start.elapsed() < Duration::from_millis(2500),
        "the ringing event does not wait for the 3 s search"
    );
    assert_eq!(
        (caller.e164.as_deref(), caller.name.as_deref()),
        (Some("+14155550100"), Some("Front desk")),
        "the ringing event already shows who is calling"
    );
    assert!(
        !h.ui
            .seen()
            .iter()
            .any(|e| matches!(e, UiEvent::Popup { .. })),
        "the popup with matches comes only after the search"
    );
    let popup = h.ui.popup("slow-1").await.expect("popup after the search");
    assert_eq!(
        popup.lookup,
        LookupStatus::Salesforce,
        "the slow search still completes"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signing_in_to_another_org_pops_there_and_forgets_the_old_orgs_matches() {
    let org_a = Arc::new(emulator(|_| {}).await.expect("emulator"));
    let org_b = emulator(|c| c.auto_approve = true)
        .await
        .expect("second emulator");
    let k = known_callers()
        .into_iter()
        .find(|k| k.region == "US" && !k.shared)
        .expect("a US caller");
    let h = Harness::start(org_a.clone(), |_| {}).await.expect("engine");
    h.ring("org-1", k.e164).await.expect("ring");
    assert_eq!(
        h.ui.popup("org-1").await.expect("popup").lookup,
        LookupStatus::Salesforce
    );
    let (url, _) = h.ui.pop("org-1", WAIT).await.expect("pop");
    assert_eq!(
        url.host_str(),
        org_a.instance_url().host_str(),
        "pops go to org A"
    );
    let deadline = std::time::Instant::now() + WAIT;
    while h
        .store
        .match_cache()
        .lookup(k.e164, chrono::Utc::now())
        .expect("cache read")
        .is_none()
    {
        assert!(
            std::time::Instant::now() < deadline,
            "org A's match is cached"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }

    // The agent signs in to another org (another login server) through the "browser".
    h.client
        .switch_login_host(&salesforce::LoginHost::Custom(org_b.login_url()))
        .await
        .expect("switch");
    h.client
        .pkce_login(|url| {
            let url = url.clone();
            tokio::spawn(async move {
                let _ = reqwest::get(url).await;
            });
            Ok(())
        })
        .await
        .expect("signed in to org B");
    h.send(engine::Input::SignedIn).await.expect("signed in");
    let deadline = std::time::Instant::now() + WAIT;
    while h
        .store
        .match_cache()
        .lookup(k.e164, chrono::Utc::now())
        .expect("cache read")
        .is_some()
    {
        assert!(
            std::time::Instant::now() < deadline,
            "org A's matches are forgotten once signed in to org B"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }

    org_b.clear_calls();
    h.ring("org-2", k.e164).await.expect("ring");
    assert_eq!(
        h.ui.popup("org-2").await.expect("popup").lookup,
        LookupStatus::Salesforce,
        "the caller is searched in org B, not taken from org A's cache"
    );
    let (url, _) = h.ui.pop("org-2", WAIT).await.expect("pop");
    assert_eq!(
        url.origin(),
        cti::lightning_base(&org_b.instance_url()).origin(),
        "pops go to org B"
    );
    assert!(
        org_b
            .calls()
            .iter()
            .any(|c| c.path.ends_with("/parameterizedSearch/")),
        "org B was searched: {:?}",
        org_b.calls()
    );
}

/// The session ends in Salesforce (refresh token revoked, access token expired): a connection
/// check brings the status line to "sign in again"; disconnecting brings it to "not signed in".
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_check_and_a_disconnection_reach_the_status_line() {
    let emu = Arc::new(emulator(|_| {}).await.expect("emulator"));
    let h = Harness::start(emu.clone(), |_| {}).await.expect("engine");
    let state_is = |want: ConnectionState| move |e: &UiEvent| matches!(e, UiEvent::Connection { state } if *state == want);
    h.ui.find(WAIT, state_is(ConnectionState::Connected))
        .await
        .expect("connected at start");
    emu.revoke_refresh_tokens();
    emu.expire_access_tokens();
    h.send(engine::Input::CheckSession).await.expect("check");
    h.ui.find(WAIT, state_is(ConnectionState::ReconnectNeeded))
        .await
        .expect("an ended session asks the agent to sign in again");
    h.client.disconnect().await.expect("disconnect");
    h.send(engine::Input::CheckSession).await.expect("check");
    h.ui.find(WAIT, state_is(ConnectionState::NotSignedIn))
        .await
        .expect("after a disconnection nobody is signed in");
}
