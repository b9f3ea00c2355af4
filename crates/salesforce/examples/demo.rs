//! `make demo`: a scripted session against the loopback Salesforce emulator.
//!
//! Starts the emulator with its seed data, signs in through the real PKCE flow (the browser
//! step played by an HTTP client), shows who signed in, looks up three known callers (Japan,
//! France, United States), logs a call Task against the first match, reads it back by its
//! CallObject, and prints the org's API usage.

#[path = "../tests/common/mod.rs"]
mod common;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::json;

/// `YYYY-MM-DD` (UTC) for a point in time (days-to-civil, proleptic Gregorian).
fn date_of(t: SystemTime) -> String {
    let days = (t
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
        / 86_400) as i64;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}")
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("== Callpop demo: Salesforce client against the loopback emulator ==\n");
    let emu = common::emulator(true).await;
    println!("emulator login host: {}", emu.login_url());
    println!("emulator instance:   {}\n", emu.instance_url());

    let (client, _store) = common::client(&emu, Duration::from_secs(10));

    println!("-- Sign in (OAuth 2.0 authorization code + PKCE, loopback redirect) --");
    let pending = client.begin_login().await?;
    println!("redirect URI: {}", pending.redirect_uri);
    println!("opening the authorize page (played by an HTTP client instead of a browser)");
    let browser = tokio::spawn(common::play_browser(pending.authorize_url.clone(), |u| u));
    let tokens = pending.finish().await?;
    let (_, page) = browser.await?;
    println!(
        "browser shows: {}",
        if page.contains("close this tab") {
            "\"you can close this tab\""
        } else {
            "an error page"
        }
    );
    println!("signed in; REST goes to {}\n", tokens.instance_url);

    let me = client.userinfo().await?;
    println!("-- Who is signed in --");
    println!("name:      {}", me.display_name);
    println!("username:  {}", me.username);
    println!("e-mail:    {}", me.email);
    println!("user / org: {} / {}", me.user_id, me.organization_id);
    println!("time zone: {}   locale: {}", me.time_zone, me.locale);
    println!("API version: v{}\n", client.api_version().await?);

    println!("-- Who is calling? --");
    let callers = sf_emulator::seed::known_callers();
    let mut first_match = None;
    for region in ["JP", "FR", "US"] {
        let Some(kc) = callers.iter().find(|k| k.region == region) else {
            println!("{region}: no known caller in the seed");
            continue;
        };
        let terms = [
            sf_emulator::phone::digits(kc.stored_as),
            kc.e164.trim_start_matches('+').to_string(),
        ];
        let found = client.search_phone(&terms).await?;
        println!(
            "{region} caller {} (stored as {:?}), search terms {:?}:",
            kc.e164, kc.stored_as, terms
        );
        if found.is_empty() {
            println!("    no match");
        }
        for r in &found {
            let name = r.fields.get("Name").and_then(|v| v.as_str()).unwrap_or("?");
            println!("    {} {} {}", r.sobject, r.id, name);
        }
        if first_match.is_none() {
            first_match = found.into_iter().next().map(|r| (r, kc.e164));
        }
    }
    println!();

    let Some((who, number)) = first_match else {
        println!("no caller matched; nothing to log");
        emu.shutdown().await;
        return Ok(());
    };
    println!("-- Log the call against {} {} --", who.sobject, who.id);
    let call_object = format!(
        "demo-{}",
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis())
            .unwrap_or(0)
    );
    let mut task = json!({
        "Subject": format!("Inbound call from {number}"),
        "Status": "Completed",
        "ActivityDate": date_of(SystemTime::now()),
        "TaskSubtype": "Call",
        "CallType": "Inbound",
        "CallDurationInSeconds": 95,
        "CallObject": call_object,
    });
    match who.sobject.as_str() {
        "Contact" | "Lead" => task["WhoId"] = who.id.clone().into(),
        _ => task["WhatId"] = who.id.clone().into(),
    }
    let saved = client.create("Task", &task).await?;
    println!(
        "created Task {} (success: {})",
        saved.id.as_deref().unwrap_or("-"),
        saved.success
    );

    let back = client.find_tasks_by_call_object(&call_object).await?;
    println!(
        "read back by CallObject {call_object:?}: {} row(s)",
        back.len()
    );
    for r in &back {
        println!(
            "    Task {}  {}  {}s  {}",
            r.id,
            r.fields
                .get("Subject")
                .and_then(|v| v.as_str())
                .unwrap_or(""),
            r.fields
                .get("CallDurationInSeconds")
                .map(|v| v.to_string())
                .unwrap_or_default(),
            r.fields
                .get("Status")
                .and_then(|v| v.as_str())
                .unwrap_or("")
        );
    }
    println!();
    match client.api_usage() {
        Some(u) => println!("API usage: {} of {} daily requests", u.used, u.max),
        None => println!("API usage: not reported"),
    }
    client.disconnect().await?;
    println!("signed out (refresh token revoked)");
    emu.shutdown().await;
    Ok(())
}
