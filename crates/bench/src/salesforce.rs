//! Issue 2's figure: "find the caller by phone, then log the call as a Task", through the real
//! client over HTTP to the emulator, at 0 ms and at 100 ms injected latency.
//!
//! The session is established first (a real PKCE login with the emulator's auto-approve, plus
//! API version discovery); what is measured is the steady state an agent's desk sees: one phone
//! search with the alternative digit forms from `cti`, then one Task create.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use salesforce::{Client, ClientConfig, LoginHost, MemoryStore, TokenStore};
use serde_json::json;
use sf_emulator::{Config, Emulator};

use crate::report::{Line, Samples};

/// Sign in through the real PKCE flow; the emulator auto-approves, so the "browser" is one GET
/// that follows the redirect to the client's loopback listener.
pub async fn signed_in_client(emu: &Emulator) -> Result<Client> {
    let store = Arc::new(MemoryStore::new());
    let config = ClientConfig::new(LoginHost::Custom(emu.login_url()), emu.client_id());
    let client = Client::new(config, store as Arc<dyn TokenStore>)?;
    client
        .pkce_login(|url| {
            let url = url.clone();
            tokio::spawn(async move {
                // The redirect lands on the client's listener, which completes the login.
                let _ = reqwest::get(url).await;
            });
            Ok(())
        })
        .await
        .context("PKCE login against the emulator")?;
    client
        .api_version()
        .await
        .context("API version discovery")?;
    Ok(client)
}

/// Look up one caller and log the call; returns the Task Id.
async fn lookup_and_log(
    client: &Client,
    caller: &sf_emulator::seed::KnownCaller,
    n: usize,
) -> Result<String> {
    let region = cti::Region::parse(caller.region)?;
    let normalized = cti::normalize(caller.e164, region)?;
    let terms = cti::search_terms(&normalized);
    let found = client.search_phone(&terms).await?;
    let who = found
        .iter()
        .find(|r| r.sobject == "Contact" || r.sobject == "Lead")
        .map(|r| r.id.clone());
    let today = chrono::Utc::now().date_naive().to_string();
    let task = json!({
        "Subject": format!("Inbound call from {}", caller.e164),
        "TaskSubtype": "Call",
        "CallType": "Inbound",
        "CallDurationInSeconds": 42,
        "CallObject": format!("bench-{n}-{}", caller.e164),
        "Status": "Completed",
        "ActivityDate": today,
        "WhoId": who,
    });
    let saved = client.create("Task", &task).await?;
    if !saved.success {
        bail!("Task create failed: {:?}", saved.errors);
    }
    Ok(saved.id.unwrap_or_default())
}

/// Run `calls` lookups-and-logs at `latency`; returns (requests per call, samples).
async fn measure(
    emu: &Emulator,
    client: &Client,
    latency: Duration,
    calls: usize,
) -> Result<(f64, Samples)> {
    let callers = sf_emulator::seed::known_callers();
    emu.set_latency(latency);
    emu.clear_calls();
    let mut samples = Samples::default();
    for n in 0..calls {
        let caller = &callers[n % callers.len()];
        let started = Instant::now();
        lookup_and_log(client, caller, n).await?;
        samples.push(started.elapsed());
    }
    let requests = emu.calls().iter().filter(|c| c.counted).count();
    Ok((requests as f64 / calls as f64, samples))
}

pub async fn run() -> Result<Vec<Line>> {
    let emu = Emulator::start(Config {
        auto_approve: true,
        ..Config::default()
    })
    .await
    .context("starting the emulator")?;
    let client = signed_in_client(&emu).await?;
    let mut lines = Vec::new();

    let (per_call, samples) = measure(&emu, &client, Duration::ZERO, 500).await?;
    lines.push(Line::at_most(
        "sf.lookup_log.requests_per_call",
        per_call,
        "requests",
        2.0,
    ));
    lines.push(Line::at_most(
        "sf.lookup_log.lat0.p50",
        samples.percentile_ms(50.0),
        "ms",
        10.0,
    ));
    lines.push(Line::at_most(
        "sf.lookup_log.lat0.p99",
        samples.percentile_ms(99.0),
        "ms",
        20.0,
    ));

    let (per_call, samples) = measure(&emu, &client, Duration::from_millis(100), 30).await?;
    lines.push(Line::at_most(
        "sf.lookup_log.lat100.requests_per_call",
        per_call,
        "requests",
        2.0,
    ));
    lines.push(Line::at_most(
        "sf.lookup_log.lat100.p50",
        samples.percentile_ms(50.0),
        "ms",
        220.0,
    ));
    lines.push(Line::at_most(
        "sf.lookup_log.lat100.p99",
        samples.percentile_ms(99.0),
        "ms",
        250.0,
    ));

    emu.shutdown().await;
    Ok(lines)
}
