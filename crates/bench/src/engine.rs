//! Issue 3's figures, through the whole engine (telephony event in, UI event out) against the
//! emulator over HTTP with SQLite on disk:
//! - ringing → popup latency over 1,000 calls, cold (Salesforce search) and warm (match cache);
//! - Salesforce requests per logged call, cold and warm;
//! - requests to drain a backlog of 1,000 queued logs (sObject Collections of 200);
//! - the engine's resident memory at idle and after 10,000 calls (measured in a child process of
//!   its own, with the emulator in another process, so neither the emulator's data nor the other
//!   benchmarks' allocations are counted).

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use chrono::Utc;
use engine::{
    Direction, EndReason, Engine, EngineHandle, ScriptedTelephony, SystemClock, TelephonyEvent,
    UiEvent,
};
use sf_emulator::{Config, Emulator};
use store::{NewOutboxItem, Store, WriteKind};
use tokio::sync::mpsc;
use url::Url;

use crate::report::{Line, Samples};

/// Distinct callers in the latency runs.
const CALLERS: usize = 1_000;

/// The caller number `i` as the PBX presents it, and as it is stored on its Contact.
fn caller(i: usize) -> (String, String) {
    let (hi, lo) = (6000 + i / 10_000, i % 10_000);
    (format!("+813{hi:04}{lo:04}"), format!("03-{hi:04}-{lo:04}"))
}

/// Where a benchmark's engine talks to.
struct Org {
    login_url: Url,
    instance_url: Url,
    client_id: String,
    tokens: sf_emulator::Tokens,
}

impl Org {
    fn of(emu: &Emulator) -> Self {
        Self {
            login_url: emu.login_url(),
            instance_url: emu.instance_url(),
            client_id: emu.client_id().to_owned(),
            tokens: emu.mint_tokens(),
        }
    }
}

/// A running engine with its database, telephony source and popup timestamps.
struct Rig {
    engine: EngineHandle,
    phone: Arc<ScriptedTelephony>,
    store: Arc<Store>,
    popups: mpsc::UnboundedReceiver<(String, Instant)>,
    _dir: tempfile::TempDir,
}

impl Rig {
    /// Starts an engine on the database in `dir` (the real clock; logs saved at hang-up).
    async fn start(org: &Org, dir: tempfile::TempDir) -> Result<Self> {
        let client = e2e::client_for(
            org.login_url.clone(),
            &org.client_id,
            &org.tokens,
            Duration::from_secs(10),
        )?;
        let store = Arc::new(Store::open(e2e::db_path(dir.path()))?);
        let mut config = e2e::engine_config(org.instance_url.clone(), e2e::user_id(&org.tokens));
        config.behaviour.wrap_up_seconds = 0;
        let phone = Arc::new(ScriptedTelephony::new());
        let (engine, mut ui) = Engine::start(
            config,
            engine::EngineDeps {
                store: store.clone(),
                client,
                clock: Arc::new(SystemClock),
                telephony: phone.clone(),
            },
        )?;
        // Read every UI event at once (the engine waits when its buffer is full); keep only
        // when each popup arrived.
        let (tx, popups) = mpsc::unbounded_channel();
        tokio::spawn(async move {
            while let Some(event) = ui.recv().await {
                if let UiEvent::Popup { call_id, .. } = event {
                    let _ = tx.send((call_id, Instant::now()));
                }
            }
        });
        Ok(Self {
            engine,
            phone,
            store,
            popups,
            _dir: dir,
        })
    }

    /// One inbound call: ring, wait for the popup, answer, hang up. Returns ring → popup.
    async fn call(&mut self, call_id: &str, number: &str) -> Result<Duration> {
        let rang = Instant::now();
        self.phone
            .emit(TelephonyEvent::Ringing {
                call_id: call_id.to_owned(),
                direction: Direction::Inbound,
                remote_raw: number.to_owned(),
                remote_display_name: None,
                local: None,
                queue: None,
            })
            .await?;
        let shown = loop {
            let (id, at) = tokio::time::timeout(Duration::from_secs(30), self.popups.recv())
                .await
                .context("no popup within 30 s")?
                .ok_or_else(|| anyhow!("the engine stopped"))?;
            if id == call_id {
                break at;
            }
        };
        for event in [
            TelephonyEvent::Answered {
                call_id: call_id.to_owned(),
            },
            TelephonyEvent::Ended {
                call_id: call_id.to_owned(),
                reason: EndReason::HungUp,
            },
        ] {
            self.phone.emit(event).await?;
        }
        Ok(shown.duration_since(rang))
    }

    /// Waits until `expected` logs are written and nothing is left to send.
    async fn drained(&self, expected: u64) -> Result<()> {
        let deadline = Instant::now() + Duration::from_secs(300);
        loop {
            let stats = self.store.outbox().stats()?;
            if stats.failed > 0 {
                bail!("{} logs failed", stats.failed);
            }
            if stats.done >= expected && stats.pending == 0 && stats.in_flight == 0 {
                return Ok(());
            }
            if Instant::now() > deadline {
                bail!("outbox not drained: {stats:?}");
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
}

/// Ring each caller once; returns popup latencies and counted requests per logged call.
async fn round(
    emu: &EmulatorProcess,
    rig: &mut Rig,
    label: &str,
    done_before: u64,
) -> Result<(Samples, f64)> {
    emu.clear_calls().await?;
    let mut samples = Samples::default();
    for i in 0..CALLERS {
        let (number, _) = caller(i);
        samples.push(rig.call(&format!("{label}-{i}"), &number).await?);
    }
    rig.drained(done_before + CALLERS as u64).await?;
    let requests = emu.counted_calls().await?;
    Ok((samples, requests as f64 / CALLERS as f64))
}

/// Pop latency (cold, warm) and requests per logged call. The emulator runs in a process of its
/// own, as Salesforce is not inside the app: its work on the Task writes does not run on the
/// engine's threads (it still shares the machine's cores).
pub async fn pops() -> Result<Vec<Line>> {
    let emu = EmulatorProcess::start(&[]).await?;
    emu.seed_callers().await?;
    let org = emu.org().await?;
    let mut rig = Rig::start(&org, tempfile::tempdir()?).await?;
    // One call first so that API version discovery is not counted against the first caller.
    rig.call("warm-up", "+81355550000").await?;
    rig.drained(1).await?;

    let (cold, cold_requests) = round(&emu, &mut rig, "cold", 1).await?;
    let (warm, warm_requests) = round(&emu, &mut rig, "warm", 1 + CALLERS as u64).await?;
    rig.engine.shutdown().await;
    Ok(vec![
        Line::at_most("pop.cold.p50", cold.percentile_ms(50.0), "ms", 10.0),
        Line::at_most("pop.cold.p99", cold.percentile_ms(99.0), "ms", 10.0),
        Line::at_most("pop.warm.p50", warm.percentile_ms(50.0), "ms", 1.0),
        Line::at_most("pop.warm.p99", warm.percentile_ms(99.0), "ms", 1.0),
        Line::at_most("log.cold.requests_per_call", cold_requests, "requests", 2.0),
        Line::at_most("log.warm.requests_per_call", warm_requests, "requests", 1.0),
    ])
}

/// A backlog of 1,000 call logs in the outbox (as a Salesforce outage leaves it), then an engine
/// that drains it: requests per 200 Tasks, and the time it takes.
pub async fn backlog() -> Result<Vec<Line>> {
    const BACKLOG: usize = 1_000;
    let emu = Emulator::start(Config::default()).await?;
    let org = Org::of(&emu);
    let dir = tempfile::tempdir()?;
    {
        let store = Store::open(e2e::db_path(dir.path()))?;
        let behaviour = cti::Behaviour::default();
        let now = Utc::now();
        for i in 0..BACKLOG {
            let (number, _) = caller(i);
            let log = cti::CallLog {
                call_id: format!("backlog-{i}"),
                call_type: cti::CallType::Inbound,
                direction: cti::Direction::Incoming,
                started_at: now,
                answered_at: Some(now),
                ended_at: Some(now + chrono::Duration::seconds(30)),
                caller: cti::normalize(&number, cti::Region::parse("JP")?)?,
                who: None,
                who_name: None,
                what: None,
                candidates: Vec::new(),
                notes: String::new(),
                disposition: None,
                subject_override: None,
                owner_id: e2e::user_id(&org.tokens),
                queue_answered: false,
            };
            let fields = cti::compose_call_task(&log, &behaviour);
            store.outbox().enqueue(
                &NewOutboxItem {
                    kind: WriteKind::Create,
                    sobject: "Task".into(),
                    call_object: log.call_id.clone(),
                    target_id: None,
                    payload: serde_json::to_value(&fields)?,
                },
                now,
            )?;
        }
    }
    emu.clear_calls();
    let started = Instant::now();
    let rig = Rig::start(&org, dir).await?;
    rig.drained(BACKLOG as u64).await?;
    let took = started.elapsed();
    let writes = emu
        .calls()
        .iter()
        .filter(|c| c.counted && c.path.contains("/composite/sobjects"))
        .count();
    let all = emu.calls().iter().filter(|c| c.counted).count();
    let tasks = emu.records("Task").len();
    if tasks != BACKLOG {
        bail!("{tasks} Tasks in the emulator after draining {BACKLOG} logs");
    }
    rig.engine.shutdown().await;
    emu.shutdown().await;
    Ok(vec![
        Line::at_most(
            "outbox.drain1000.write_requests_per_200",
            writes as f64 * 200.0 / BACKLOG as f64,
            "requests",
            1.0,
        ),
        Line::at_most("outbox.drain1000.requests", all as f64, "requests", 7.0),
        Line::at_most(
            "outbox.drain1000.wall",
            took.as_secs_f64() * 1000.0,
            "ms",
            2000.0,
        ),
    ])
}

/// Resident set size of this process, in MiB (Linux `/proc/self/status`).
fn rss_mib() -> Result<f64> {
    let status = std::fs::read_to_string("/proc/self/status")?;
    let kb: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .ok_or_else(|| anyhow!("no VmRSS in /proc/self/status"))?;
    Ok(kb / 1024.0)
}

/// The emulator in a process of its own (the `sf-emulator` binary built beside this one).
pub(crate) struct EmulatorProcess {
    child: tokio::process::Child,
    instance_url: Url,
    pub(crate) login_url: Url,
    client_id: String,
}

impl EmulatorProcess {
    pub(crate) async fn start(args: &[&str]) -> Result<Self> {
        use tokio::io::AsyncBufReadExt;
        let exe = std::env::current_exe()?
            .parent()
            .ok_or_else(|| anyhow!("the benchmark binary has no folder"))?
            .join("sf-emulator");
        let mut child = tokio::process::Command::new(&exe)
            .args(args)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("starting {} (make bench builds it)", exe.display()))?;
        let stdout = child.stdout.take().ok_or_else(|| anyhow!("no stdout"))?;
        let line = tokio::time::timeout(
            Duration::from_secs(30),
            tokio::io::BufReader::new(stdout).lines().next_line(),
        )
        .await
        .context("the emulator did not print its URLs")??
        .ok_or_else(|| anyhow!("the emulator exited"))?;
        let info: serde_json::Value = serde_json::from_str(&line)?;
        let url = |k: &str| -> Result<Url> {
            Ok(Url::parse(
                info[k].as_str().ok_or_else(|| anyhow!("no {k}"))?,
            )?)
        };
        Ok(Self {
            instance_url: url("instance_url")?,
            login_url: url("login_url")?,
            client_id: info["client_id"].as_str().unwrap_or_default().to_owned(),
            child,
        })
    }

    async fn control(&self, path: &str, body: serde_json::Value) -> Result<serde_json::Value> {
        let url = self.instance_url.join(path)?;
        let resp = reqwest::Client::new().post(url).json(&body).send().await?;
        if !resp.status().is_success() {
            bail!("{path}: {}", resp.status());
        }
        Ok(resp.json().await.unwrap_or(serde_json::Value::Null))
    }

    /// One Contact per bench caller, its number typed as people type it.
    async fn seed_callers(&self) -> Result<()> {
        for i in 0..CALLERS {
            let (_, stored) = caller(i);
            self.control(
                "/__emulator/records/Contact",
                serde_json::json!({ "LastName": format!("Bench {i}"), "Phone": stored }),
            )
            .await?;
        }
        Ok(())
    }

    /// Where an engine signs in, with fresh tokens.
    async fn org(&self) -> Result<Org> {
        let tokens: sf_emulator::Tokens = serde_json::from_value(
            self.control("/__emulator/tokens", serde_json::json!({}))
                .await?,
        )?;
        Ok(Org {
            login_url: self.login_url.clone(),
            instance_url: self.instance_url.clone(),
            client_id: self.client_id.clone(),
            tokens,
        })
    }

    /// Forgets the requests seen so far.
    async fn clear_calls(&self) -> Result<()> {
        let url = self.instance_url.join("/__emulator/calls")?;
        let resp = reqwest::Client::new().delete(url).send().await?;
        if !resp.status().is_success() {
            bail!("clearing the emulator's calls: {}", resp.status());
        }
        Ok(())
    }

    /// The requests seen since the last clear that counted against the API limit.
    async fn counted_calls(&self) -> Result<usize> {
        let url = self.instance_url.join("/__emulator/calls")?;
        let calls: Vec<sf_emulator::ApiCall> =
            reqwest::Client::new().get(url).send().await?.json().await?;
        Ok(calls.iter().filter(|c| c.counted).count())
    }
}

/// The child-process part: the engine alone, idle, then after 10,000 calls.
pub async fn memory_probe() -> Result<Vec<Line>> {
    const CALLS: usize = 10_000;
    let mut emu = EmulatorProcess::start(&[]).await?;
    emu.seed_callers().await?;
    let org = emu.org().await?;
    let mut rig = Rig::start(&org, tempfile::tempdir()?).await?;
    rig.call("warm-up", "+81355550000").await?;
    rig.drained(1).await?;
    let idle = rss_mib()?;
    let mut after_first = 0.0;
    for n in 0..CALLS {
        let (number, _) = caller(n % CALLERS);
        rig.call(&format!("mem-{n}"), &number).await?;
        if n + 1 == CALLERS {
            rig.drained(1 + CALLERS as u64).await?;
            after_first = rss_mib()?;
        }
    }
    rig.drained(1 + CALLS as u64).await?;
    let after = rss_mib()?;
    rig.engine.shutdown().await;
    let _ = emu.child.kill().await;
    Ok(vec![
        Line::at_most("engine.rss.idle", idle, "MiB", 50.0),
        Line::at_most("engine.rss.after_10k_calls", after, "MiB", 80.0),
        Line::at_most(
            "engine.rss.growth_1k_to_10k_calls",
            after - after_first,
            "MiB",
            8.0,
        ),
    ])
}
