//! An inbound call through the whole sans-IO core, from caller ID to Task fields, with the
//! layout and settings read from fixture files.

use callpop_cti::layout::{import, import_salesforce};
use callpop_cti::settings;
use callpop_cti::wrapup::{CallWrapUp, Input, Output};
use callpop_cti::{
    decide_pop, is_internal, lightning_base, normalize, pop_url, rank_matches, search_terms,
    CallContext, CallLog, CallType, Direction, LayoutError, Match, NoMatchAction, OpenWithin,
    PopAction,
};
use chrono::{DateTime, TimeZone, Utc};
use url::Url;

fn fixture(name: &str) -> String {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|err| panic!("fixture {path}: {err}"))
}

fn at(h: u32, m: u32, s: u32) -> DateTime<Utc> {
    // 2026-04-01 in UTC; 15:00Z and later is 2 April in Tokyo.
    Utc.with_ymd_and_hms(2026, 4, 1, h, m, s)
        .single()
        .expect("a valid instant")
}

#[test]
fn inbound_call_from_a_sip_uri_pops_the_contact_and_logs_it_in_japanese() {
    let behaviour =
        settings::import(&fixture("settings_tokyo.json")).expect("the settings fixture is valid");
    let layout = import(&fixture("layout_tokyo.json")).expect("the layout fixture is valid");

    let raw = "sip:+81312345678@pbx.example;user=phone";
    assert!(
        !is_internal(raw, &behaviour.internal_rule),
        "an E.164 caller is not internal"
    );
    let caller = normalize(raw, behaviour.default_region).expect("a SIP caller id normalises");
    let terms = search_terms(&caller);
    assert_eq!(
        terms[..3],
        ["312345678", "0312345678", "81312345678"],
        "the engine searches these forms"
    );

    let found: Vec<Match> =
        serde_json::from_str(&fixture("search_records.json")).expect("search fixture");
    let ranked = rank_matches(&caller, found, &layout.inbound.object_names());
    let ids: Vec<&str> = ranked.iter().map(|m| m.record.id.as_str()).collect();
    assert_eq!(
        ids,
        ["003000000000001AAA", "001000000000001AAA"],
        "the 06 lookalike is filtered out; the layout's Contact ranks before the unlisted Account"
    );

    let decision = decide_pop(
        CallType::Inbound,
        &ranked,
        &layout,
        &behaviour,
        &caller,
        &CallContext::default(),
    );
    assert_eq!(
        decision.matches.len(),
        1,
        "Account is not in this layout, so one match is shown"
    );
    assert_eq!(
        decision.open_within,
        OpenWithin::NewWindow,
        "the layout opens pops in a new window"
    );
    let instance = Url::parse("https://acme.my.salesforce.com").expect("url");
    let url =
        pop_url(&decision.action, &lightning_base(&instance)).expect("a record pop has a URL");
    assert_eq!(
        url.as_str(),
        "https://acme.lightning.force.com/lightning/r/Contact/003000000000001AAA/view",
        "the contact pops"
    );

    let PopAction::Record { sobject, id } = &decision.action else {
        panic!("a record pop")
    };
    let log = CallLog {
        call_id: "pbx-2026-0001".into(),
        call_type: CallType::Inbound,
        direction: Direction::Incoming,
        started_at: at(15, 0, 0),
        answered_at: None,
        ended_at: None,
        caller,
        who: Some(callpop_cti::RecordRef::new(sobject.clone(), id.clone())),
        who_name: Some(decision.matches[0].name.clone()),
        what: None,
        candidates: Vec::new(),
        notes: String::new(),
        disposition: None,
        subject_override: None,
        owner_id: Some("005000000000001AAA".into()),
        queue_answered: false,
    };
    let mut call = CallWrapUp::new(log, behaviour, None);
    call.handle_input(at(15, 0, 5), Input::Answered)
        .expect("answer");
    call.handle_input(
        at(15, 2, 0),
        Input::EditNotes("請求書について問い合わせ".into()),
    )
    .expect("notes");
    call.handle_input(at(15, 3, 10), Input::Ended)
        .expect("hang up");
    call.handle_input(
        at(15, 3, 20),
        Input::SetDisposition(Some("折り返し".into())),
    )
    .expect("disposition");
    let deadline = call.poll_timeout().expect("auto-save arms a deadline");
    assert_eq!(
        deadline,
        at(15, 3, 40),
        "30 s wrap-up from the settings file"
    );
    call.handle_input(deadline, Input::TimerFired)
        .expect("timer");
    let outputs: Vec<Output> = std::iter::from_fn(|| call.poll_output()).collect();
    let [Output::WriteTask(task)] = outputs.as_slice() else {
        panic!("one Task write, got {outputs:?}")
    };
    let expected: serde_json::Value =
        serde_json::from_str(&fixture("expected_task_tokyo.json")).expect("expected fixture");
    assert_eq!(
        serde_json::to_value(task).expect("serialises"),
        expected,
        "the Task has exactly these fields"
    );
}

#[test]
fn no_match_pops_a_new_lead_with_the_number_in_both_phone_fields() {
    let behaviour = settings::import(&fixture("settings_tokyo.json")).expect("settings");
    let layout = import(&fixture("layout_tokyo.json")).expect("layout");
    let caller = normalize("０９０－１２３４－５６７８", behaviour.default_region)
        .expect("full-width digits");
    let decision = decide_pop(
        CallType::Inbound,
        &[],
        &layout,
        &behaviour,
        &caller,
        &CallContext::default(),
    );
    let url = pop_url(
        &decision.action,
        &Url::parse("http://127.0.0.1:8080").expect("url"),
    )
    .expect("new record URL");
    assert_eq!(
        url.as_str(),
        "http://127.0.0.1:8080/lightning/o/Lead/new?defaultFieldValues=Phone=%2B819012345678,MobilePhone=%2B819012345678",
        "the emulator's loopback base is kept and both prefill fields get the E.164 number"
    );
}

#[test]
fn internal_extension_patterns_from_the_settings_file() {
    let behaviour = settings::import(&fixture("settings_tokyo.json")).expect("settings");
    assert!(
        is_internal("71234", &behaviour.internal_rule),
        "7xxxx is an internal pattern in the file"
    );
    assert!(
        is_internal("201", &behaviour.internal_rule),
        "3 digits are under the 4-digit threshold"
    );
    assert!(
        !is_internal("0312345678", &behaviour.internal_rule),
        "a national number is outside"
    );
}

#[test]
fn broken_layout_file_names_its_line_and_keeps_the_old_layout() {
    let current = import(&fixture("layout_tokyo.json")).expect("layout");
    let result = import(&fixture("layout_broken.json"));
    match &result {
        Err(LayoutError::Syntax { line, path, .. }) => {
            assert_eq!(*line, 5, "the unknown action is on line 5");
            assert_eq!(
                path, "call_types.Inbound.pop.no_match.action",
                "the path leads to the bad action"
            );
        }
        other => panic!("expected a syntax error, got {other:?}"),
    }
    let in_force = result.unwrap_or(current.clone());
    assert_eq!(in_force, current, "the previous layout stays in force");
}

#[test]
fn salesforce_softphone_layout_fixture_imports() {
    let imported = import_salesforce(&fixture("sf_softphone_layout.json"))
        .expect("the documented shape imports");
    assert!(
        imported.notes.is_empty(),
        "nothing needed adapting: {:?}",
        imported.notes
    );
    match &imported.layout.inbound.pop.no_match {
        NoMatchAction::Flow(flow) => {
            assert_eq!(
                flow.name, "New_Caller_Intake",
                "the flow name comes from screenPopData"
            );
            assert_eq!(
                flow.input_var, "Phone",
                "the number goes to the Phone input by default"
            );
        }
        other => panic!("expected a flow, got {other:?}"),
    }
    assert_eq!(
        imported.layout.inbound.object_names(),
        ["Contact", "Lead"],
        "objects in file order"
    );
}
