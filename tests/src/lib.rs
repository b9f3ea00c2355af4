//! The end-to-end harness: an emulator over real HTTP, a signed-in client, SQLite in a temp dir,
//! a manual clock, the scripted telephony source and a started engine, plus a reader of the
//! engine's UI events.
#![deny(missing_docs)]

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use chrono::{DateTime, TimeZone, Utc};
use engine::{
    Direction, Engine, EngineConfig, EngineDeps, EngineHandle, FlushConfig, Input, ManualClock,
    ScriptedTelephony, TelephonyEvent, UiEvent,
};
use salesforce::{Client, ClientConfig, LoginHost, MemoryStore, TokenStore};
use secrecy::SecretString;
use sf_emulator::Emulator;
use store::Store;
use tokio::sync::mpsc;

/// How long a test waits (real time) for an expected UI event before failing.
pub const WAIT: Duration = Duration::from_secs(30);

/// The manual clock's start: a Sunday morning in UTC.
pub fn start_time() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2027, 1, 31, 10, 0, 0)
        .single()
        .expect("a valid start time")
}

/// Starts an emulator with seed data and the given tweaks.
pub async fn emulator(tweak: impl FnOnce(&mut sf_emulator::Config)) -> anyhow::Result<Emulator> {
    let mut config = sf_emulator::Config::default();
    tweak(&mut config);
    Ok(Emulator::start(config).await?)
}

/// A client for the emulator at `login_url`, signed in with `tokens` (kept in a memory store),
/// with a short request timeout so hung requests fail fast.
pub fn client_for(
    login_url: url::Url,
    client_id: &str,
    tokens: &sf_emulator::Tokens,
    timeout: Duration,
) -> anyhow::Result<Client> {
    let store = Arc::new(MemoryStore::new());
    store.save(&salesforce::Tokens {
        access_token: SecretString::from(tokens.access_token.clone()),
        refresh_token: Some(SecretString::from(tokens.refresh_token.clone())),
        instance_url: tokens.instance_url.clone(),
        id_url: tokens.id_url.clone(),
        issued_at: SystemTime::now(),
    })?;
    let mut config = ClientConfig::new(LoginHost::Custom(login_url), client_id);
    config.request_timeout = timeout;
    Ok(Client::new(config, store as Arc<dyn TokenStore>)?)
}

/// The signed-in user's Id: the last segment of the identity URL.
pub fn user_id(tokens: &sf_emulator::Tokens) -> Option<String> {
    tokens
        .id_url
        .path_segments()?
        .rfind(|s| !s.is_empty())
        .map(str::to_owned)
}

/// The engine configuration the tests use: the org's instance, the user as owner, and a flusher
/// that polls every 5 s of (manual) clock time.
pub fn engine_config(instance_url: url::Url, owner_id: Option<String>) -> EngineConfig {
    let mut config = EngineConfig::new(instance_url);
    config.owner_id = owner_id;
    config.lookup_timeout = Duration::from_secs(5);
    config.flush = FlushConfig {
        poll: Duration::from_secs(5),
        ..FlushConfig::default()
    };
    config
}

/// Everything one test drives.
pub struct Harness {
    /// The emulator.
    pub emu: Arc<Emulator>,
    /// The temp dir holding the database (removed on drop).
    pub dir: tempfile::TempDir,
    /// The database.
    pub store: Arc<Store>,
    /// The client the engine uses.
    pub client: Client,
    /// The engine's clock.
    pub clock: ManualClock,
    /// The telephony source.
    pub phone: Arc<ScriptedTelephony>,
    /// The engine.
    pub engine: EngineHandle,
    /// The UI events.
    pub ui: Ui,
    /// The signed-in user's Id.
    pub user_id: Option<String>,
}

impl Harness {
    /// Starts an engine against `emu` on a fresh database, with `tweak` applied to the config.
    pub async fn start(
        emu: Arc<Emulator>,
        tweak: impl FnOnce(&mut EngineConfig),
    ) -> anyhow::Result<Harness> {
        let dir = tempfile::tempdir()?;
        Self::start_in(emu, dir, tweak).await
    }

    /// Starts an engine against `emu` on the database in `dir`.
    pub async fn start_in(
        emu: Arc<Emulator>,
        dir: tempfile::TempDir,
        tweak: impl FnOnce(&mut EngineConfig),
    ) -> anyhow::Result<Harness> {
        Self::start_with_timeout(emu, dir, Duration::from_secs(2), tweak).await
    }

    /// Starts an engine against `emu` on the database in `dir`, its client timing requests out
    /// after `request_timeout`.
    pub async fn start_with_timeout(
        emu: Arc<Emulator>,
        dir: tempfile::TempDir,
        request_timeout: Duration,
        tweak: impl FnOnce(&mut EngineConfig),
    ) -> anyhow::Result<Harness> {
        let tokens = emu.mint_tokens();
        let client = client_for(emu.login_url(), emu.client_id(), &tokens, request_timeout)?;
        let store = Arc::new(Store::open(db_path(dir.path()))?);
        let clock = ManualClock::new(start_time());
        let phone = Arc::new(ScriptedTelephony::new());
        let uid = user_id(&tokens);
        let mut config = engine_config(emu.instance_url(), uid.clone());
        tweak(&mut config);
        let (engine, rx) = Engine::start(
            config,
            EngineDeps {
                store: store.clone(),
                client: client.clone(),
                clock: Arc::new(clock.clone()),
                telephony: phone.clone(),
            },
        )?;
        let ui = Ui::new(rx);
        // The engine checks its session at start, as the app does before the agent sees the
        // panel: let that answer first, so the test's own requests come after it.
        let _ = ui
            .find(WAIT, |e| matches!(e, UiEvent::Connection { .. }))
            .await;
        Ok(Harness {
            emu,
            dir,
            store,
            client,
            clock,
            phone,
            engine,
            ui,
            user_id: uid,
        })
    }

    /// Reports an inbound call ringing from `number`.
    pub async fn ring(&self, call_id: &str, number: &str) -> anyhow::Result<()> {
        self.ring_with(call_id, number, Direction::Inbound, None)
            .await
    }

    /// Reports a call ringing with a direction and a display name.
    pub async fn ring_with(
        &self,
        call_id: &str,
        number: &str,
        direction: Direction,
        name: Option<&str>,
    ) -> anyhow::Result<()> {
        self.phone
            .emit(TelephonyEvent::Ringing {
                call_id: call_id.into(),
                direction,
                remote_raw: number.into(),
                remote_display_name: name.map(str::to_owned),
                local: Some("+81355550000".into()),
                queue: None,
            })
            .await?;
        Ok(())
    }

    /// Answered, `talk` of clock time, hung up.
    pub async fn talk_and_hang_up(
        &self,
        call_id: &str,
        talk: chrono::Duration,
    ) -> anyhow::Result<()> {
        self.phone
            .emit(TelephonyEvent::Answered {
                call_id: call_id.into(),
            })
            .await?;
        self.ui.wait_phase_sync(call_id).await;
        self.clock.advance(talk);
        self.phone
            .emit(TelephonyEvent::Ended {
                call_id: call_id.into(),
                reason: engine::EndReason::HungUp,
            })
            .await?;
        // Agent actions go straight to the engine while telephony events pass through the
        // source's channel: wait for the hang-up to be applied, as an agent would see it.
        let _ = self
            .ui
            .find(WAIT, |e| {
                matches!(e, UiEvent::CallState { call_id: c, phase: engine::CallPhase::WrapUp { .. } | engine::CallPhase::Closed { .. } } if c == call_id)
            })
            .await;
        Ok(())
    }

    /// Gives the engine an input.
    pub async fn send(&self, input: Input) -> anyhow::Result<()> {
        self.engine.send(input).await?;
        Ok(())
    }

    /// Tasks in the emulator whose CallObject is `call_object`.
    pub fn tasks_for(&self, call_object: &str) -> Vec<serde_json::Value> {
        tasks_for(&self.emu, call_object)
    }
}

/// Tasks in `emu` whose CallObject is `call_object`.
pub fn tasks_for(emu: &Emulator, call_object: &str) -> Vec<serde_json::Value> {
    emu.records("Task")
        .into_iter()
        .filter(|t| t["CallObject"] == call_object)
        .collect()
}

/// The database file in `dir`.
pub fn db_path(dir: &Path) -> std::path::PathBuf {
    dir.join("callpop.db")
}

/// The emulator's request log without the engine's start-up session check (the OAuth userinfo
/// request and the version discovery before it, neither counted against the API limit).
pub fn requests_besides_session_check(emu: &Emulator) -> Vec<sf_emulator::ApiCall> {
    emu.calls()
        .into_iter()
        .filter(|c| !c.path.ends_with("/oauth2/userinfo") && c.path != "/services/data")
        .collect()
}

/// Reads the engine's UI events, keeping every one seen.
pub struct Ui {
    rx: tokio::sync::Mutex<mpsc::Receiver<UiEvent>>,
    seen: std::sync::Mutex<Vec<UiEvent>>,
}

impl Ui {
    fn new(rx: mpsc::Receiver<UiEvent>) -> Self {
        Self {
            rx: tokio::sync::Mutex::new(rx),
            seen: std::sync::Mutex::new(Vec::new()),
        }
    }

    /// Every event seen so far.
    pub fn seen(&self) -> Vec<UiEvent> {
        self.seen.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Reads events until one (seen before or new) satisfies `pred`; `None` after `within`.
    pub async fn find(
        &self,
        within: Duration,
        mut pred: impl FnMut(&UiEvent) -> bool,
    ) -> Option<UiEvent> {
        let earlier = self
            .seen
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .find(|e| pred(e))
            .cloned();
        if earlier.is_some() {
            return earlier;
        }
        let mut rx = self.rx.lock().await;
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let event = tokio::time::timeout_at(deadline, rx.recv()).await.ok()??;
            self.seen
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push(event.clone());
            if pred(&event) {
                return Some(event);
            }
        }
    }

    /// Forgets the events seen so far (long runs such as the benchmark).
    pub fn forget_seen(&self) {
        self.seen.lock().unwrap_or_else(|p| p.into_inner()).clear();
    }

    /// Reads whatever events arrive within `within` (for draining between clock steps).
    pub async fn drain(&self, within: Duration) {
        let _ = self.find(within, |_| false).await;
    }

    /// Waits for the call to be reported established (so events are applied in order).
    pub async fn wait_phase_sync(&self, call_id: &str) {
        let _ = self
            .find(WAIT, |e| {
                matches!(e, UiEvent::CallState { call_id: c, phase: engine::CallPhase::Established } if c == call_id)
            })
            .await;
    }

    /// The popup of `call_id`, waiting for it.
    pub async fn popup(&self, call_id: &str) -> Option<engine::Popup> {
        match self
            .find(
                WAIT,
                |e| matches!(e, UiEvent::Popup { call_id: c, .. } if c == call_id),
            )
            .await
        {
            Some(UiEvent::Popup { popup, .. }) => Some(popup),
            _ => None,
        }
    }

    /// The pop URL of `call_id`, if one arrives within `within`.
    pub async fn pop(&self, call_id: &str, within: Duration) -> Option<(url::Url, bool)> {
        match self
            .find(
                within,
                |e| matches!(e, UiEvent::Pop { call_id: c, .. } if c == call_id),
            )
            .await
        {
            Some(UiEvent::Pop {
                url, new_window, ..
            }) => Some((url, new_window)),
            _ => None,
        }
    }

    /// The Task Id once the log of `call_object` is saved.
    pub async fn saved(&self, call_object: &str, within: Duration) -> Option<String> {
        match self
            .find(within, |e| {
                matches!(e, UiEvent::LogState { call_object: c, state: engine::LogStatus::Saved { .. } } if c == call_object)
            })
            .await
        {
            Some(UiEvent::LogState {
                state: engine::LogStatus::Saved { task_id },
                ..
            }) => Some(task_id),
            _ => None,
        }
    }
}
