//! REST over real HTTP: versions, auth, the API counter and its header, every fault kind,
//! phone search for every known caller in both modes, SOQL, records, collections, validation
//! bodies against the golden fixtures, the search index lag, and the control API.

mod common;

use std::time::{Duration, Instant};

use callpop_sf_emulator::seed::known_callers;
use callpop_sf_emulator::{Config, Emulator, Fault, PhoneMatch};
use common::*;
use serde_json::{json, Value};

async fn get_json(emu: &Emulator, token: &str, path: &str) -> (u16, Value) {
    let resp = client()
        .get(rest_url(emu, path))
        .headers(bearer(token))
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

async fn post_json(emu: &Emulator, token: &str, path: &str, body: &Value) -> (u16, Value) {
    let resp = client()
        .post(rest_url(emu, path))
        .headers(bearer(token))
        .json(body)
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

fn sosl_path(sosl: &str) -> String {
    let mut u = url::Url::parse("http://x/search/").unwrap();
    u.query_pairs_mut().append_pair("q", sosl);
    format!("search/?{}", u.query().unwrap())
}

#[tokio::test]
async fn versions_auth_and_unknown_version() {
    let emu = start_empty().await;
    let http = client();
    let resp = http
        .get(format!("{}services/data/", emu.instance_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200, "the version list needs no token");
    assert!(
        usage(&resp).is_none(),
        "and is not counted, so it carries no limit header"
    );
    let list: Value = resp.json().await.unwrap();
    assert_shape(&fixture("versions.json"), &list, "versions");
    let versions: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["version"].as_str().unwrap())
        .collect();
    assert_eq!(versions.first(), Some(&"58.0"), "oldest served is 58.0");
    assert_eq!(versions.last(), Some(&"66.0"), "newest served is 66.0");

    let resp = http.get(rest_url(&emu, "limits")).send().await.unwrap();
    assert_eq!(resp.status(), 401, "no token, no data");
    assert!(
        usage(&resp).is_some(),
        "even a 401 carries Sforce-Limit-Info"
    );
    assert_eq!(
        resp.json::<Value>().await.unwrap(),
        fixture("error_session.json"),
        "documented 401 body, exactly"
    );

    let tokens = emu.mint_tokens();
    let resp = http
        .get(format!("{}services/data/v57.0/limits", emu.instance_url()))
        .headers(bearer(&tokens.access_token))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 404, "unserved versions are 404");
    assert_eq!(
        resp.json::<Value>().await.unwrap()[0]["errorCode"],
        "NOT_FOUND",
        "NOT_FOUND body"
    );
    emu.shutdown().await;
}

#[tokio::test]
async fn rate_limit_counts_and_refuses_at_the_cap() {
    let emu = start_empty().await;
    emu.set_daily_api_limit(5);
    let token = emu.mint_tokens().access_token;
    let http = client();
    for i in 1..=5u64 {
        let resp = http
            .get(rest_url(&emu, "limits"))
            .headers(bearer(&token))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200, "call {i} is within the limit");
        assert_eq!(usage(&resp), Some((i, 5)), "the header counts every call");
    }
    let resp = http
        .get(rest_url(&emu, "limits"))
        .headers(bearer(&token))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 403, "the sixth call is over the limit");
    assert_eq!(
        usage(&resp),
        Some((5, 5)),
        "the refusal carries the header too"
    );
    assert_eq!(
        resp.json::<Value>().await.unwrap(),
        json!([{"message": "TotalRequests Limit exceeded.", "errorCode": "REQUEST_LIMIT_EXCEEDED"}]),
        "documented 403 body"
    );
    assert_eq!(emu.api_usage(), (5, 5), "refused calls are not counted");
    emu.set_daily_api_limit(100);
    let (_, limits) = get_json(&emu, &token, "limits").await;
    assert_shape(
        &fixture("limits_daily_api.json"),
        &limits["DailyApiRequests"],
        "limits",
    );
    assert_eq!(
        limits["DailyApiRequests"]["Remaining"], 94,
        "Remaining = Max - used (this call included)"
    );
    emu.shutdown().await;
}

#[tokio::test]
async fn every_fault_kind() {
    let emu = start_empty().await;
    let token = emu.mint_tokens().access_token;
    let http = client();
    let cases = [
        (Fault::Http500, 500, "UNKNOWN_EXCEPTION"),
        (Fault::Http503, 503, "SERVER_UNAVAILABLE"),
        (Fault::InvalidSession, 401, "INVALID_SESSION_ID"),
        (Fault::RequestLimitExceeded, 403, "REQUEST_LIMIT_EXCEEDED"),
    ];
    for (fault, status, code) in cases {
        emu.inject_fault(fault, 2);
        for _ in 0..2 {
            let resp = http
                .get(rest_url(&emu, "limits"))
                .headers(bearer(&token))
                .send()
                .await
                .unwrap();
            assert_eq!(resp.status().as_u16(), status, "{fault:?} answers {status}");
            assert!(
                usage(&resp).is_some(),
                "faulted answers carry the limit header"
            );
            assert_eq!(
                resp.json::<Value>().await.unwrap()[0]["errorCode"],
                code,
                "{fault:?} body"
            );
        }
        let ok = http
            .get(rest_url(&emu, "limits"))
            .headers(bearer(&token))
            .send()
            .await
            .unwrap();
        assert_eq!(ok.status(), 200, "{fault:?} lasts exactly `count` requests");
    }

    emu.inject_fault(Fault::ConnectionReset, 1);
    let err = http
        .get(rest_url(&emu, "limits"))
        .headers(bearer(&token))
        .send()
        .await;
    assert!(
        err.is_err(),
        "a reset connection gives the client a transport error, not a response"
    );
    let ok = http
        .get(rest_url(&emu, "limits"))
        .headers(bearer(&token))
        .send()
        .await
        .unwrap();
    assert_eq!(
        ok.status(),
        200,
        "the next request is served on a new connection"
    );

    emu.inject_fault(Fault::Hang, 1);
    let quick = reqwest::Client::builder()
        .timeout(Duration::from_millis(300))
        .build()
        .unwrap();
    let started = Instant::now();
    let err = quick
        .get(rest_url(&emu, "limits"))
        .headers(bearer(&token))
        .send()
        .await;
    assert!(
        err.as_ref().is_err_and(|e| e.is_timeout()),
        "a hung request times out on the client"
    );
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "the client gave up, the server did not answer"
    );
    let calls = emu.calls();
    let unanswered: Vec<_> = calls.iter().filter(|c| c.status == 0).collect();
    assert_eq!(
        unanswered.len(),
        2,
        "the reset and the hung request are logged without a status"
    );
    assert!(
        unanswered.iter().all(|c| c.counted),
        "and both were counted"
    );
    let shutdown = Instant::now();
    emu.shutdown().await;
    assert!(
        shutdown.elapsed() < Duration::from_secs(5),
        "shutdown ends hung requests at once"
    );
}

fn known_sosl(term: &str, sobject: &str, field: &str) -> String {
    let fields = match sobject {
        "Account" => "Id, Name, Phone, Fax".to_owned(),
        "Lead" => "Id, Name, Phone, MobilePhone, Company".to_owned(),
        _ => format!(
            "Id, Name, Phone, MobilePhone, Account.Name, {}",
            if field == "Phone" || field == "MobilePhone" {
                "HomePhone"
            } else {
                field
            }
        ),
    };
    format!("FIND {{{term}}} IN PHONE FIELDS RETURNING {sobject}({fields})")
}

#[tokio::test]
async fn known_callers_are_found_in_both_modes() {
    let emu = start(Config::default()).await;
    let token = emu.mint_tokens().access_token;
    let callers = known_callers();
    assert!(callers.len() >= 16, "at least 16 known callers");
    for mode in [PhoneMatch::Exact, PhoneMatch::Suffix] {
        emu.set_phone_match(mode);
        for k in &callers {
            // Exact mode: the caller's digits as stored. Suffix mode: the full E.164 digits OR the stored digits.
            let stored_digits: String = k.stored_as.chars().filter(char::is_ascii_digit).collect();
            let term = match mode {
                PhoneMatch::Exact => stored_digits.clone(),
                PhoneMatch::Suffix => {
                    format!("{} OR {}", k.e164.trim_start_matches('+'), stored_digits)
                }
            };
            let (status, body) = get_json(
                &emu,
                &token,
                &sosl_path(&known_sosl(&term, k.sobject, k.field)),
            )
            .await;
            assert_eq!(
                status, 200,
                "search for {} ({mode:?}) succeeds",
                k.stored_as
            );
            let rows = body["searchRecords"].as_array().unwrap();
            let hit = rows.iter().find(|r| r["Name"] == k.name);
            assert!(
                hit.is_some(),
                "{} stored as {:?} is found in {mode:?} mode; got {rows:?}",
                k.name,
                k.stored_as
            );
            assert_eq!(
                hit.unwrap()[k.field],
                k.stored_as,
                "values are returned exactly as typed"
            );
            if !k.shared {
                assert_eq!(
                    rows.len(),
                    1,
                    "an unshared number finds exactly one {} ({mode:?})",
                    k.sobject
                );
            }
        }
    }
    // The strict mode does not find international forms of nationally stored numbers.
    emu.set_phone_match(PhoneMatch::Exact);
    let national = callers
        .iter()
        .find(|k| k.stored_as.starts_with('0') && k.region == "JP")
        .expect("a JP number typed nationally");
    let (_, body) = get_json(
        &emu,
        &token,
        &sosl_path(&known_sosl(
            k_e164_digits(national.e164).as_str(),
            national.sobject,
            national.field,
        )),
    )
    .await;
    assert!(
        body["searchRecords"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["Name"] != national.name),
        "exact mode: {} does not find {:?}",
        national.e164,
        national.stored_as
    );
    emu.shutdown().await;
}

fn k_e164_digits(e164: &str) -> String {
    e164.trim_start_matches('+').to_owned()
}

#[tokio::test]
async fn search_shapes_parameterized_and_malformed() {
    let emu = start_empty().await;
    let token = emu.mint_tokens().access_token;
    let (status, created) = post_json(
        &emu,
        &token,
        "sobjects/Contact",
        &json!({"FirstName": "Ada", "LastName": "Lovelace", "Phone": "(415) 555-0100"}),
    )
    .await;
    assert_eq!(status, 201, "contact created");
    assert_shape(&fixture("create_success.json"), &created, "create");
    let sosl = "FIND {4155550100} IN PHONE FIELDS RETURNING Contact(Id, Name, Phone, MobilePhone, AccountId, Account.Name)";
    let (status, body) = get_json(&emu, &token, &sosl_path(sosl)).await;
    assert_eq!(status, 200, "SOSL succeeds");
    assert_shape(&fixture("search_contact.json"), &body, "search");
    assert_eq!(
        body["searchRecords"][0]["Id"], created["id"],
        "the new contact is found"
    );

    let (status, body) = post_json(
        &emu,
        &token,
        "parameterizedSearch/",
        &json!({"q": "4155550100", "in": "PHONE", "sobjects": [{"name": "Contact", "fields": ["Id", "Name", "Phone"], "limit": 10}, {"name": "Lead", "fields": ["Id", "Name"]}]}),
    )
    .await;
    assert_eq!(status, 200, "parameterizedSearch POST succeeds");
    assert_eq!(
        body["searchRecords"].as_array().unwrap().len(),
        1,
        "one match"
    );
    let (status, body) = get_json(
        &emu,
        &token,
        "parameterizedSearch/?q=Lovelace&in=NAME&sobject=Contact&Contact.fields=Id,Name",
    )
    .await;
    assert_eq!(status, 200, "parameterizedSearch GET succeeds");
    assert_eq!(
        body["searchRecords"][0]["Name"], "Ada Lovelace",
        "name search by last name"
    );

    let (status, body) = get_json(
        &emu,
        &token,
        &sosl_path("FIND {415-555} RETURNING Contact(Id)"),
    )
    .await;
    assert_eq!(
        (status, body[0]["errorCode"].as_str()),
        (400, Some("MALFORMED_QUERY")),
        "an unescaped reserved character is malformed"
    );
    let (status, body) = get_json(
        &emu,
        &token,
        &sosl_path("FIND {4155550100} RETURNING Contact(Bogus)"),
    )
    .await;
    assert_eq!(
        (status, body[0]["errorCode"].as_str()),
        (400, Some("INVALID_FIELD")),
        "unknown RETURNING field"
    );
    emu.shutdown().await;
}

#[tokio::test]
async fn search_index_lag_hides_new_records_from_search_only() {
    let emu = start(Config {
        seed: false,
        search_index_lag: Duration::from_millis(600),
        ..Config::default()
    })
    .await;
    let token = emu.mint_tokens().access_token;
    let (_, created) = post_json(
        &emu,
        &token,
        "sobjects/Lead",
        &json!({"LastName": "Martin", "Company": "Martin SARL", "Phone": "06 12 34 56 78"}),
    )
    .await;
    let id = created["id"].as_str().unwrap().to_owned();
    let path = sosl_path("FIND {0612345678} IN PHONE FIELDS RETURNING Lead(Id)");
    let (_, body) = get_json(&emu, &token, &path).await;
    assert_eq!(
        body["searchRecords"].as_array().unwrap().len(),
        0,
        "not searchable during the lag"
    );
    let (status, _) = get_json(&emu, &token, &format!("sobjects/Lead/{id}")).await;
    assert_eq!(status, 200, "but readable by Id at once");
    let q = format!("query/?q=SELECT+Id+FROM+Lead+WHERE+Id+%3D+%27{id}%27");
    let (_, body) = get_json(&emu, &token, &q).await;
    assert_eq!(body["totalSize"], 1, "and by SOQL");
    tokio::time::sleep(Duration::from_millis(700)).await;
    let (_, body) = get_json(&emu, &token, &path).await;
    assert_eq!(
        body["searchRecords"][0]["Id"],
        json!(id),
        "searchable after the lag"
    );
    emu.shutdown().await;
}

#[tokio::test]
async fn task_crud_query_and_validation_bodies() {
    let emu = start_empty().await;
    let token = emu.mint_tokens().access_token;
    let (_, lead) = post_json(
        &emu,
        &token,
        "sobjects/Lead",
        &json!({"LastName": "Kim", "Company": "Kim Co"}),
    )
    .await;
    let (_, account) = post_json(&emu, &token, "sobjects/Account", &json!({"Name": "Acme"})).await;
    let task = json!({"Subject": "Call", "TaskSubtype": "Call", "CallType": "Inbound", "CallDurationInSeconds": 184, "CallObject": "pbx-1", "WhoId": lead["id"]});
    let (status, created) = post_json(&emu, &token, "sobjects/Task", &task).await;
    assert_eq!(status, 201, "a valid call Task is created");
    let id = created["id"].as_str().unwrap().to_owned();
    let (_, read) = get_json(&emu, &token, &format!("sobjects/Task/{}", &id[..15])).await;
    assert_eq!(
        read["Status"], "Not Started",
        "Status default applied; 15-char Ids are accepted in URLs"
    );
    assert_eq!(read["Priority"], "Normal", "Priority default");
    assert!(
        read["OwnerId"].as_str().unwrap().starts_with("005"),
        "owner is the token's user"
    );

    let (_, q) = get_json(&emu, &token, "query/?q=SELECT+Id,+Subject,+CallDurationInSeconds+FROM+Task+WHERE+CallObject+%3D+%27pbx-1%27").await;
    assert_shape(&fixture("query_response.json"), &q, "query");

    let http = client();
    let patch = |body: Value| {
        http.patch(rest_url(&emu, &format!("sobjects/Task/{id}")))
            .headers(bearer(&token))
            .json(&body)
            .send()
    };
    assert_eq!(
        patch(json!({"CallDisposition": "Resolved"}))
            .await
            .unwrap()
            .status(),
        204,
        "PATCH answers 204"
    );
    let resp = patch(json!({"TaskSubtype": "Task"})).await.unwrap();
    assert_eq!(resp.status(), 400, "TaskSubtype cannot be updated");
    assert_eq!(
        resp.json::<Value>().await.unwrap()[0]["errorCode"],
        "INVALID_FIELD_FOR_INSERT_UPDATE",
        "create-only field"
    );
    let resp = patch(json!({"WhatId": account["id"]})).await.unwrap();
    assert_eq!(
        resp.json::<Value>().await.unwrap()[0]["errorCode"],
        "FIELD_INTEGRITY_EXCEPTION",
        "no WhatId beside a Lead WhoId"
    );

    let (status, body) = post_json(
        &emu,
        &token,
        "sobjects/Task",
        &json!({"CallType": "Sideways"}),
    )
    .await;
    assert_eq!(status, 400, "bad picklist value");
    assert_eq!(
        body,
        fixture("error_with_fields.json"),
        "documented body with fields, exactly"
    );
    for (body, code) in [
        (json!({"Subject": "x".repeat(256)}), "STRING_TOO_LONG"),
        (json!({"Description": "x".repeat(32001)}), "STRING_TOO_LONG"),
        (
            json!({"CallDurationInSeconds": "long"}),
            "JSON_PARSER_ERROR",
        ),
        (json!({"ActivityDate": "tomorrow"}), "JSON_PARSER_ERROR"),
        (json!({"Nope": 1}), "INVALID_FIELD"),
        (json!({"WhoId": account["id"]}), "FIELD_INTEGRITY_EXCEPTION"),
    ] {
        let (status, resp) = post_json(&emu, &token, "sobjects/Task", &body).await;
        assert_eq!(
            (status, resp[0]["errorCode"].as_str()),
            (400, Some(code)),
            "{code} for a bad Task"
        );
        assert!(resp[0]["message"].is_string(), "every error has a message");
    }
    let (status, body) = post_json(
        &emu,
        &token,
        "sobjects/Contact",
        &json!({"FirstName": "No"}),
    )
    .await;
    assert_eq!(status, 400, "Contact without LastName");
    assert_eq!(
        body[0]["fields"],
        json!(["LastName"]),
        "REQUIRED_FIELD_MISSING names the field"
    );

    let del = http
        .delete(rest_url(&emu, &format!("sobjects/Task/{id}")))
        .headers(bearer(&token))
        .send()
        .await
        .unwrap();
    assert_eq!(del.status(), 204, "DELETE answers 204");
    let (status, _) = get_json(&emu, &token, &format!("sobjects/Task/{id}")).await;
    assert_eq!(status, 404, "deleted records are gone");
    let (status, body) = get_json(&emu, &token, "query/?q=SELEC+Id+FROM+Task").await;
    assert_eq!(
        (status, body[0]["errorCode"].as_str()),
        (400, Some("MALFORMED_QUERY")),
        "bad SOQL"
    );
    emu.shutdown().await;
}

#[tokio::test]
async fn collections_results_limits_and_rollback() {
    let emu = start_empty().await;
    let token = emu.mint_tokens().access_token;
    let (_, contact) = post_json(
        &emu,
        &token,
        "sobjects/Contact",
        &json!({"LastName": "Dupont"}),
    )
    .await;
    let task = |who: &Value| json!({"attributes": {"type": "Task"}, "Subject": "Call", "CallType": "Outbound", "WhoId": who});
    let before = emu.api_usage().0;
    let (status, results) = post_json(
        &emu,
        &token,
        "composite/sobjects",
        &json!({"allOrNone": false, "records": [task(&contact["id"]), task(&json!("not-an-id"))]}),
    )
    .await;
    assert_eq!(status, 200, "a well-formed collection answers 200");
    assert_eq!(
        emu.api_usage().0,
        before + 1,
        "a collection counts as one call"
    );
    assert_shape(
        &fixture("create_success.json"),
        &results[0],
        "collection success",
    );
    assert_shape(
        &fixture("collection_failure.json"),
        &results[1],
        "collection failure",
    );
    assert_eq!(
        results[1]["errors"][0]["statusCode"], "MALFORMED_ID",
        "statusCode, not errorCode"
    );
    assert_eq!(emu.records("Task").len(), 1, "the good record was saved");

    let (_, results) = post_json(
        &emu,
        &token,
        "composite/sobjects",
        &json!({"allOrNone": true, "records": [task(&contact["id"]), task(&json!("not-an-id"))]}),
    )
    .await;
    assert_eq!(
        results[0]["errors"][0]["statusCode"], "ALL_OR_NONE_OPERATION_ROLLED_BACK",
        "siblings report the rollback"
    );
    assert_eq!(emu.records("Task").len(), 1, "allOrNone saved nothing");

    let max: Vec<Value> = (0..200).map(|_| task(&contact["id"])).collect();
    let (status, results) =
        post_json(&emu, &token, "composite/sobjects", &json!({"records": max})).await;
    assert_eq!(
        (status, results.as_array().map(Vec::len)),
        (200, Some(200)),
        "200 records are accepted"
    );
    let over: Vec<Value> = (0..201).map(|_| task(&contact["id"])).collect();
    let (status, body) = post_json(
        &emu,
        &token,
        "composite/sobjects",
        &json!({"records": over}),
    )
    .await;
    assert_eq!(status, 400, "201 records are refused");
    assert_eq!(
        body[0]["errorCode"], "EXCEEDED_ID_LIMIT",
        "with an error array"
    );

    let id = emu.records("Task")[0]["Id"].as_str().unwrap().to_owned();
    let resp = client()
        .patch(rest_url(&emu, "composite/sobjects"))
        .headers(bearer(&token))
        .json(&json!({"records": [{"attributes": {"type": "Task"}, "id": id, "CallDisposition": "Left voicemail"}]}))
        .send()
        .await
        .unwrap();
    let results: Value = resp.json().await.unwrap();
    assert_eq!(results[0]["success"], true, "collection update by Id");
    let stored = emu
        .records("Task")
        .into_iter()
        .find(|t| t["Id"] == json!(id))
        .unwrap();
    assert_eq!(
        stored["CallDisposition"], "Left voicemail",
        "the update was applied"
    );
    emu.shutdown().await;
}

#[tokio::test]
async fn control_api_over_http_and_latency() {
    let emu = start_empty().await;
    let http = client();
    let ctl = |p: &str| format!("{}__emulator/{p}", emu.instance_url());
    let tokens: Value = http
        .post(ctl("tokens"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = tokens["access_token"].as_str().unwrap().to_owned();
    assert!(
        tokens["id_url"].as_str().unwrap().contains("/id/00D"),
        "Tokens JSON has the identity URL"
    );
    let resp = http
        .post(ctl("records/Account"))
        .json(&json!({"Name": "Seeded by control"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 201, "records can be inserted");
    let list: Value = http
        .get(ctl("records/Account"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(list[0]["Name"], "Seeded by control", "and listed");
    http.put(ctl("latency"))
        .json(&json!({"ms": 300}))
        .send()
        .await
        .unwrap();
    let started = Instant::now();
    get_json(&emu, &token, "limits").await;
    assert!(
        started.elapsed() >= Duration::from_millis(300),
        "latency delays REST answers"
    );
    let started = Instant::now();
    http.get(ctl("calls")).send().await.unwrap();
    assert!(
        started.elapsed() < Duration::from_millis(300),
        "control requests are not delayed"
    );
    http.put(ctl("latency"))
        .json(&json!({"ms": 0}))
        .send()
        .await
        .unwrap();
    http.post(ctl("faults"))
        .json(&json!({"fault": "http503", "count": 1}))
        .send()
        .await
        .unwrap();
    let (status, _) = get_json(&emu, &token, "limits").await;
    assert_eq!(status, 503, "faults set over HTTP apply");
    http.put(ctl("api-limit"))
        .json(&json!({"max": 2}))
        .send()
        .await
        .unwrap();
    let (status, _) = get_json(&emu, &token, "limits").await;
    assert_eq!(status, 403, "two calls used, the limit is two");
    let calls: Value = http
        .get(ctl("calls"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        calls.as_array().unwrap().len(),
        3,
        "three REST calls logged, control calls not"
    );
    assert_eq!(calls[1]["status"], 503, "with their status");
    http.post(ctl("expire-tokens")).send().await.unwrap();
    http.post(ctl("reset"))
        .json(&json!({"seed": false}))
        .send()
        .await
        .unwrap();
    assert_eq!(emu.api_usage().0, 0, "reset clears the counter");
    assert!(emu.records("Account").is_empty(), "and the data");
    let (status, _) = get_json(&emu, &token, "limits").await;
    assert_eq!(status, 401, "expired tokens stay expired after reset");
    emu.shutdown().await;
}

#[tokio::test]
async fn query_pages_with_next_records_url_and_405() {
    let emu = start(Config::default()).await;
    let token = emu.mint_tokens().access_token;
    let http = client();
    let total = emu.records("Contact").len();
    assert!(
        total > 200,
        "the seed has more than one page of Contacts ({total})"
    );
    let first: Value = http
        .get(rest_url(
            &emu,
            "query/?q=SELECT+Id,+Name+FROM+Contact+ORDER+BY+Name",
        ))
        .headers(bearer(&token))
        .header("Sforce-Query-Options", "batchSize=200")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        first["totalSize"].as_u64(),
        Some(total as u64),
        "totalSize counts every row, not the page"
    );
    assert_eq!(first["done"], false, "more pages follow");
    let mut seen = first["records"].as_array().unwrap().len();
    let mut next = first["nextRecordsUrl"].as_str().map(str::to_owned);
    while let Some(path) = next {
        let page: Value = http
            .get(format!(
                "{}{}",
                emu.instance_url(),
                path.trim_start_matches('/')
            ))
            .headers(bearer(&token))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        seen += page["records"].as_array().unwrap().len();
        next = page["nextRecordsUrl"].as_str().map(str::to_owned);
        assert_eq!(
            page["done"],
            next.is_none(),
            "done is true exactly on the last page"
        );
    }
    assert_eq!(seen, total, "the pages together hold every row once");
    let (status, body) = get_json(&emu, &token, "query/01gBOGUS-200").await;
    assert_eq!(
        (status, body[0]["errorCode"].as_str()),
        (400, Some("INVALID_QUERY_LOCATOR")),
        "unknown locator"
    );

    let resp = http
        .put(rest_url(&emu, "sobjects/Task"))
        .headers(bearer(&token))
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 405, "PUT is not served on sobjects/Task");
    assert_eq!(
        resp.json::<Value>().await.unwrap()[0]["errorCode"],
        "METHOD_NOT_ALLOWED",
        "with an error array"
    );
    let resp = http
        .post(emu.login_url().join("/services/oauth2/token").unwrap())
        .header("Content-Type", "text/plain")
        .body("grant_type=refresh_token&client_id=callpop-desktop&refresh_token=nope")
        .send()
        .await
        .unwrap();
    assert_eq!(
        resp.status(),
        400,
        "a form body with the wrong Content-Type is still read"
    );
    assert_eq!(
        resp.json::<Value>().await.unwrap()["error"],
        "invalid_grant",
        "and answered as OAuth"
    );
    emu.shutdown().await;
}

#[tokio::test]
async fn composite_with_references_and_all_or_none() {
    let emu = start_empty().await;
    let token = emu.mint_tokens().access_token;
    let before = emu.api_usage().0;
    let request = json!({"allOrNone": true, "compositeRequest": [
        {"method": "POST", "url": format!("/services/data/{V}/sobjects/Lead"), "referenceId": "newLead",
         "body": {"LastName": "Unknown caller", "Company": "Unknown", "Phone": "+14155550199"}},
        {"method": "POST", "url": format!("/services/data/{V}/sobjects/Task"), "referenceId": "callLog",
         "body": {"Subject": "Call", "TaskSubtype": "Call", "CallType": "Inbound", "WhoId": "@{newLead.id}"}}
    ]});
    let (status, body) = post_json(&emu, &token, "composite", &request).await;
    assert_eq!(status, 200, "composite answers 200");
    assert_eq!(
        emu.api_usage().0,
        before + 1,
        "the whole composite request is one API call"
    );
    let subs = body["compositeResponse"].as_array().unwrap();
    assert_eq!(subs[0]["httpStatusCode"], 201, "lead created");
    assert!(
        subs[0]["httpHeaders"]["Location"]
            .as_str()
            .unwrap()
            .contains("/sobjects/Lead/"),
        "with its Location"
    );
    assert_eq!(
        emu.records("Task")[0]["WhoId"],
        subs[0]["body"]["id"],
        "the newLead reference was substituted"
    );

    let failing = json!({"allOrNone": true, "compositeRequest": [
        {"method": "POST", "url": format!("/services/data/{V}/sobjects/Lead"), "referenceId": "a", "body": {"LastName": "X", "Company": "Y"}},
        {"method": "POST", "url": format!("/services/data/{V}/sobjects/Task"), "referenceId": "b", "body": {"CallType": "Sideways"}}
    ]});
    let (_, body) = post_json(&emu, &token, "composite", &failing).await;
    let subs = body["compositeResponse"].as_array().unwrap();
    assert_eq!(
        subs[1]["httpStatusCode"], 400,
        "the bad Task fails with its own status"
    );
    assert_eq!(
        subs[1]["body"][0]["errorCode"], "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
        "and its own error array"
    );
    assert_eq!(
        subs[0]["httpStatusCode"], 400,
        "the sibling reports 400 after the rollback"
    );
    assert_eq!(
        emu.records("Lead").len(),
        1,
        "allOrNone rolled the second Lead back"
    );
    emu.shutdown().await;
}

#[tokio::test]
async fn seed_is_deterministic_linked_and_reset_reloads_it() {
    let a = start(Config::default()).await;
    let b = start(Config::default()).await;
    let ids = |e: &Emulator, t: &str| {
        e.records(t)
            .into_iter()
            .map(|r| r["Id"].as_str().unwrap().to_owned())
            .collect::<Vec<_>>()
    };
    let total: usize = ["Account", "Contact", "Lead"]
        .iter()
        .map(|t| a.records(t).len())
        .sum();
    assert!(total >= 500, "at least 500 seeded records, got {total}");
    for t in ["Account", "Contact", "Lead"] {
        assert_eq!(ids(&a, t), ids(&b, t), "{t} Ids are the same in every run");
    }
    let accounts = ids(&a, "Account");
    let contacts = a.records("Contact");
    assert!(
        contacts.iter().any(|c| c["AccountId"].is_string()),
        "some Contacts belong to Accounts"
    );
    for c in contacts.iter().filter(|c| c["AccountId"].is_string()) {
        assert!(
            accounts.contains(&c["AccountId"].as_str().unwrap().to_owned()),
            "AccountId {} points at a seeded Account",
            c["AccountId"]
        );
    }
    let id = a.insert_record(
        "Contact",
        json!({"LastName": "Extra", "Phone": "+1 415-555-0142"}),
    );
    assert!(
        id.starts_with("003") && id.len() == 18,
        "insert_record returns an 18-char Contact Id"
    );
    assert_eq!(
        a.insert_record("Widget", json!({})),
        "",
        "unknown types store nothing"
    );
    a.reset(true);
    assert_eq!(
        ids(&a, "Contact"),
        ids(&b, "Contact"),
        "reset(true) reloads the same seed without the extra record"
    );
    a.reset(false);
    assert!(
        a.records("Contact").is_empty(),
        "reset(false) leaves the org empty"
    );
    a.shutdown().await;
    b.shutdown().await;
}

#[tokio::test]
async fn describe_and_field_selection() {
    let emu = start_empty().await;
    let token = emu.mint_tokens().access_token;
    let (status, describe) = get_json(&emu, &token, "sobjects/Task/describe").await;
    assert_eq!(status, 200, "Task describe is served");
    let call_type = describe["fields"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["name"] == "CallType")
        .expect("CallType described");
    assert_eq!(
        (
            call_type["type"].as_str(),
            call_type["restrictedPicklist"].as_bool()
        ),
        (Some("picklist"), Some(true)),
        "CallType is a restricted picklist"
    );
    let (_, created) = post_json(
        &emu,
        &token,
        "sobjects/Account",
        &json!({"Name": "Acme", "Phone": "+33 1 23 45 67 89"}),
    )
    .await;
    let (_, row) = get_json(
        &emu,
        &token,
        &format!(
            "sobjects/Account/{}?fields=Name,Phone",
            created["id"].as_str().unwrap()
        ),
    )
    .await;
    let mut keys: Vec<&str> = row
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort();
    assert_eq!(
        keys,
        ["Id", "Name", "Phone", "attributes"],
        "?fields= limits the columns"
    );
    let (_, global) = get_json(&emu, &token, "sobjects/").await;
    let names: Vec<&str> = global["sobjects"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert!(
        names.contains(&"Task") && names.contains(&"Lead"),
        "describeGlobal lists the modelled types: {names:?}"
    );
    let (status, _) = get_json(&emu, &token, "sobjects/Widget/describe").await;
    assert_eq!(status, 404, "unknown types are NOT_FOUND");
    emu.shutdown().await;
}

#[tokio::test]
async fn garbage_input_gets_salesforce_errors_not_crashes() {
    let emu = start_empty().await;
    let token = emu.mint_tokens().access_token;
    let http = client();
    let cases: Vec<(reqwest::Method, &str, &str)> = vec![
        (reqwest::Method::POST, "sobjects/Task", "{not json"),
        (reqwest::Method::POST, "sobjects/Task", "[1,2]"),
        (
            reqwest::Method::POST,
            "composite/sobjects",
            "{\"records\": 5}",
        ),
        (reqwest::Method::POST, "composite", "{}"),
        (
            reqwest::Method::POST,
            "parameterizedSearch",
            "{\"in\": \"PHONE\"}",
        ),
        (
            reqwest::Method::POST,
            "parameterizedSearch",
            "{\"q\": \"x\", \"in\": \"NOWHERE\"}",
        ),
        (reqwest::Method::GET, "query?q=%ZZ%E0", ""),
        (reqwest::Method::GET, "query", ""),
        (reqwest::Method::GET, "search?q=FIND", ""),
        (reqwest::Method::GET, "search?q=FIND%20%7B%7D", ""),
        (reqwest::Method::GET, "sobjects/Task/%E2%82%AC%E2%82%AC", ""),
        (
            reqwest::Method::PATCH,
            "sobjects/Task/00T000000000000",
            "{\"Subject\": 1}",
        ),
    ];
    for (method, path, body) in cases {
        let resp = http
            .request(method.clone(), rest_url(&emu, path))
            .headers(bearer(&token))
            .header("Content-Type", "application/json")
            .body(body.to_owned())
            .send()
            .await
            .unwrap_or_else(|e| panic!("{method} {path} gets an answer: {e}"));
        let status = resp.status().as_u16();
        assert!(
            (400..500).contains(&status),
            "{method} {path} is a client error, got {status}"
        );
        let json: Value = resp
            .json()
            .await
            .unwrap_or_else(|e| panic!("{method} {path} answers JSON: {e}"));
        assert!(
            json[0]["errorCode"].is_string() && json[0]["message"].is_string(),
            "{method} {path} answers an error array: {json}"
        );
    }
    let versions = http
        .get(format!("{}services/data/", emu.instance_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(
        versions.status(),
        200,
        "the server is still up after all of that"
    );
    emu.shutdown().await;
}
