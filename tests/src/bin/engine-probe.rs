//! The engine in a process of its own, for the kill -9 test.
//!
//! `engine-probe <login-url> <client-id> <db-path>`; the session comes from the environment
//! (`PROBE_ACCESS_TOKEN`, `PROBE_REFRESH_TOKEN`, `PROBE_INSTANCE_URL`, `PROBE_ID_URL`), never
//! from the command line. Each stdin line `call <call-id> <number>` rings, answers and hangs
//! up a call (logs are auto-saved at hang-up). Stdout gets `queued <call-object>` and
//! `saved <call-object> <task-id>` lines; a line `rss` is answered `rss <KiB>` (resident memory,
//! for the benchmark). At the end of stdin it waits for the outbox to drain.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use engine::{
    Direction, EndReason, Engine, EngineDeps, LogStatus, ScriptedTelephony, SystemClock,
    TelephonyEvent, UiEvent,
};
use tokio::io::{AsyncBufReadExt, BufReader};

/// This process's resident memory in KiB (Linux `VmRSS`), for the memory benchmark.
fn resident_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn env(name: &str) -> anyhow::Result<String> {
    std::env::var(name).with_context(|| format!("{name} is not set"))
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let [_, login_url, client_id, db] = args.as_slice() else {
        anyhow::bail!("usage: engine-probe <login-url> <client-id> <db-path>");
    };
    let tokens = sf_emulator::Tokens {
        access_token: env("PROBE_ACCESS_TOKEN")?,
        refresh_token: env("PROBE_REFRESH_TOKEN")?,
        instance_url: env("PROBE_INSTANCE_URL")?.parse()?,
        id_url: env("PROBE_ID_URL")?.parse()?,
    };
    let client = callpop_e2e::client_for(
        login_url.parse().context("login URL")?,
        client_id,
        &tokens,
        Duration::from_secs(5),
    )?;
    let store = Arc::new(store::Store::open(db).context("opening the database")?);
    let phone = Arc::new(ScriptedTelephony::new());
    let mut config =
        callpop_e2e::engine_config(tokens.instance_url.clone(), callpop_e2e::user_id(&tokens));
    config.behaviour.wrap_up_seconds = 0;
    config.flush.poll = Duration::from_millis(200);
    let (handle, mut ui) = Engine::start(
        config,
        EngineDeps {
            store: store.clone(),
            client,
            clock: Arc::new(SystemClock),
            telephony: phone.clone(),
        },
    )?;
    tokio::spawn(async move {
        while let Some(event) = ui.recv().await {
            if let UiEvent::LogState { call_object, state } = event {
                match state {
                    LogStatus::Queued => println!("queued {call_object}"),
                    LogStatus::Saved { task_id } => println!("saved {call_object} {task_id}"),
                    LogStatus::Failed { reason } => println!("failed {call_object} {reason}"),
                }
            }
        }
    });
    let mut lines = BufReader::new(tokio::io::stdin()).lines();
    while let Some(line) = lines.next_line().await? {
        let parts: Vec<&str> = line.split_whitespace().collect();
        if parts.as_slice() == ["rss"] {
            println!("rss {}", resident_kib().unwrap_or(0));
            continue;
        }
        let ["call", call_id, number] = parts.as_slice() else {
            eprintln!("ignored line {line:?}");
            continue;
        };
        for event in [
            TelephonyEvent::Ringing {
                call_id: (*call_id).into(),
                direction: Direction::Inbound,
                remote_raw: (*number).into(),
                remote_display_name: None,
                local: None,
                queue: None,
            },
            TelephonyEvent::Answered {
                call_id: (*call_id).into(),
            },
            TelephonyEvent::Ended {
                call_id: (*call_id).into(),
                reason: EndReason::HungUp,
            },
        ] {
            phone.emit(event).await?;
        }
    }
    // Let the last events be queued before judging the outbox empty.
    tokio::time::sleep(Duration::from_millis(500)).await;
    loop {
        let stats = store.outbox().stats()?;
        if stats.pending + stats.in_flight == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    handle.shutdown().await;
    Ok(())
}
