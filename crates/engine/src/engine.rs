//! The engine's event loop: telephony events and agent actions in, UI events out.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use cti::task::{CallLog, Candidate, SmsMessage};
use cti::{
    Behaviour, CallContext, CallType, CallWrapUp, Layout, Match, Normalized, OpenWithin, PopAction,
    RecordRef,
};
use salesforce::Client;
use serde::{Deserialize, Serialize};
use store::{
    CachedMatch, CallDirection, CallRecord, LogState, NewOutboxItem, PinSource, Store, WriteKind,
};
use tokio::sync::{mpsc, Notify};
use tokio::task::JoinHandle;
use url::Url;

use crate::clock::Clock;
use crate::connection::{check_session, Connection};
use crate::events::{CallPhase, LogStatus, Popup, UiEvent};
use crate::flusher::{FlushConfig, Flusher};
use crate::history::{self, History, HistoryWrite};
use crate::lookup::{lookup, CacheWrites, Lookup, LookupStatus};
use crate::queue::{self, Queue, QueueWrite};
use crate::sms::SmsJob;
use crate::telephony::{
    Direction, EndReason, FailedAction, Telephony, TelephonyCommand, TelephonyEvent,
};
use crate::{Error, Result};

/// Closed calls kept in memory for the agent's later edits; older ones are forgotten (their
/// history stays in the store), so memory does not grow with the number of calls.
const CLOSED_CALLS_KEPT: usize = 64;

/// How the engine behaves, with documented defaults.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// The org's instance URL (pop URLs are built on its Lightning host).
    pub instance_url: Url,
    /// The signed-in user's Id (the Tasks' `OwnerId`), when known.
    pub owner_id: Option<String>,
    /// Softphone layouts (default: Salesforce's defaults).
    pub layout: Layout,
    /// Behaviour settings (default: `cti`'s defaults).
    pub behaviour: Behaviour,
    /// How long search results stay fresh in the match cache (default 12 h).
    pub match_ttl: Duration,
    /// How long a ringing call's Salesforce search may take before the popup shows the caller
    /// without matches (default 3 s).
    pub lookup_timeout: Duration,
    /// The flusher's pacing.
    pub flush: FlushConfig,
    /// Room for UI events not yet read (default 4,096); the engine waits when it is full.
    pub ui_buffer: usize,
}

impl EngineConfig {
    /// The defaults above for an org at `instance_url`.
    pub fn new(instance_url: Url) -> Self {
        Self {
            instance_url,
            owner_id: None,
            layout: Layout::default(),
            behaviour: Behaviour::default(),
            match_ttl: store::DEFAULT_MATCH_TTL,
            lookup_timeout: Duration::from_secs(3),
            flush: FlushConfig::default(),
            ui_buffer: 4096,
        }
    }
}

/// What the engine runs on.
#[derive(Clone)]
pub struct EngineDeps {
    /// The local database.
    pub store: Arc<Store>,
    /// The Salesforce client (signed in or not).
    pub client: Client,
    /// The time.
    pub clock: Arc<dyn Clock>,
    /// The telephony source.
    pub telephony: Arc<dyn Telephony>,
}

/// What the agent does.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub enum AgentAction {
    /// Answer a ringing call.
    Answer {
        /// The call.
        call_id: String,
    },
    /// Decline a ringing call.
    Decline {
        /// The call.
        call_id: String,
    },
    /// Hang up.
    HangUp {
        /// The call.
        call_id: String,
    },
    /// Pick the record the call is about (from the chooser or a name search); it is pinned to
    /// the number, so the next call from it pops this record.
    PickRecord {
        /// The call.
        call_id: String,
        /// The record.
        record: Match,
    },
    /// The agent created a record for this caller (no match → new Contact/Lead): pinned to the
    /// number at once, because Salesforce search finds it only minutes later.
    RecordCreated {
        /// The call.
        call_id: String,
        /// The new record.
        record: Match,
    },
    /// The agent's notes (the whole text).
    Notes {
        /// The call.
        call_id: String,
        /// The notes.
        text: String,
    },
    /// The call result.
    Disposition {
        /// The call.
        call_id: String,
        /// The value (or none).
        value: Option<String>,
    },
    /// What the call is related to (`WhatId`).
    RelatedTo {
        /// The call.
        call_id: String,
        /// The record (or none).
        record: Option<RecordRef>,
    },
    /// Save the call log now (or save the agent's later edits).
    Save {
        /// The call.
        call_id: String,
    },
    /// Discard the call log (before it is written).
    Discard {
        /// The call.
        call_id: String,
    },
    /// Send a failed log again (after fixing what Salesforce refused).
    RetryLog {
        /// The log's CallObject (the call id, or the SMS day key).
        call_object: String,
    },
    /// Place a call.
    Dial {
        /// The number.
        number: String,
    },
    /// Send an SMS.
    SendSms {
        /// The recipient.
        to: String,
        /// The text.
        text: String,
    },
    /// Put a call on hold.
    Hold {
        /// The call.
        call_id: String,
    },
    /// Take a call off hold.
    Resume {
        /// The call.
        call_id: String,
    },
    /// Mute or unmute the microphone in a call.
    Mute {
        /// The call.
        call_id: String,
        /// Muted when true.
        muted: bool,
    },
    /// Send DTMF digits in a call.
    SendDtmf {
        /// The call.
        call_id: String,
        /// The digits.
        digits: String,
    },
    /// Transfer a call (blind) to a number or SIP URI.
    Transfer {
        /// The call.
        call_id: String,
        /// Where to.
        target: String,
    },
}

/// The engine's typed input.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Input {
    /// Something the telephony source reported.
    Telephony(TelephonyEvent),
    /// Something the agent did.
    Agent(AgentAction),
    /// The agent signed in to Salesforce again (after `ReconnectNeeded`): sending resumes.
    SignedIn,
    /// The session may have changed (the agent disconnected, or asked for a connection check):
    /// check it again and bring the status line up to date. Logs wait while nobody is signed in.
    CheckSession,
}

/// Results coming back from the engine's own tasks.
enum Internal {
    Looked {
        call_id: String,
        lookup: Lookup,
    },
    SmsReady {
        event: TelephonyEvent,
        who: Option<Match>,
    },
}

/// The handle to a running engine.
#[derive(Debug)]
pub struct EngineHandle {
    input: mpsc::Sender<Input>,
    tasks: Vec<JoinHandle<()>>,
    /// The outbox writer: not aborted at shutdown but let finish what the loop handed it.
    queue_task: JoinHandle<()>,
}

impl EngineHandle {
    /// Gives the engine an input.
    pub async fn send(&self, input: Input) -> Result<()> {
        self.input
            .send(input)
            .await
            .map_err(|_| Error::EngineStopped)
    }

    /// A sender of inputs (for the shell's command handlers).
    pub fn sender(&self) -> mpsc::Sender<Input> {
        self.input.clone()
    }

    /// Stops the engine's tasks. Safe at any instant: writes the loop decided are committed to
    /// the outbox first (for up to five seconds), and writes left in flight are resolved at the
    /// next start.
    pub async fn shutdown(self) {
        for task in &self.tasks {
            task.abort();
        }
        for task in self.tasks {
            let _ = task.await;
        }
        // Every sender of the writer was in the aborted tasks: it drains and ends.
        let mut queue_task = self.queue_task;
        if tokio::time::timeout(Duration::from_secs(5), &mut queue_task)
            .await
            .is_err()
        {
            tracing::warn!("outbox writer still busy at shutdown; stopped");
            queue_task.abort();
        }
    }
}

/// The engine.
#[derive(Debug)]
pub struct Engine;

impl Engine {
    /// Starts the engine on the current tokio runtime: its event loop, the outbox flusher (which
    /// first resolves writes left in flight by an earlier run), and the API usage forwarder.
    /// Returns the handle and the receiver of UI events (read it: the engine waits when its
    /// buffer is full).
    pub fn start(
        config: EngineConfig,
        deps: EngineDeps,
    ) -> Result<(EngineHandle, mpsc::Receiver<UiEvent>)> {
        let mut telephony_events = deps.telephony.events()?;
        let (ui_tx, ui_rx) = mpsc::channel(config.ui_buffer.max(16));
        let (input_tx, input_rx) = mpsc::channel(1024);
        let (internal_tx, internal_rx) = mpsc::channel(1024);
        let wake = Arc::new(Notify::new());
        let signed_in = Arc::new(Notify::new());
        let (history, history_task) = history::spawn(deps.store.clone(), deps.clock.clone());

        let connection = Arc::new(Connection::new(ui_tx.clone()));
        let flusher = Flusher::new(
            deps.store.clone(),
            deps.client.clone(),
            deps.clock.clone(),
            wake.clone(),
            signed_in.clone(),
            ui_tx.clone(),
            history.clone(),
            config.flush.clone(),
            connection.clone(),
        );
        let (queue, queue_task) = queue::spawn(
            deps.store.clone(),
            ui_tx.clone(),
            history.clone(),
            wake.clone(),
        );
        let (cache, cache_task) = crate::lookup::spawn_cache_writer(deps.store.clone());
        let mut tasks = vec![
            history_task,
            cache_task,
            tokio::spawn(flusher.run()),
            tokio::spawn(check_session(
                deps.client.clone(),
                connection.clone(),
                deps.clock.clone(),
            )),
        ];

        let forward = input_tx.clone();
        tasks.push(tokio::spawn(async move {
            while let Some(event) = telephony_events.recv().await {
                if forward.send(Input::Telephony(event)).await.is_err() {
                    break;
                }
            }
        }));

        let mut usage = deps.client.watch_api_usage();
        let usage_ui = ui_tx.clone();
        tasks.push(tokio::spawn(async move {
            while usage.changed().await.is_ok() {
                let current = *usage.borrow_and_update();
                if let Some(u) = current {
                    let event = UiEvent::ApiUsage {
                        used: u.used,
                        max: u.max,
                    };
                    if usage_ui.send(event).await.is_err() {
                        break;
                    }
                }
            }
        }));

        let lightning = cti::lightning_base(&config.instance_url);
        let state = Loop {
            config,
            lightning,
            store: deps.store,
            client: deps.client,
            clock: deps.clock,
            telephony: deps.telephony,
            ui: ui_tx,
            internal: internal_tx,
            wake,
            signed_in,
            connection,
            history,
            queue,
            cache,
            calls: HashMap::new(),
            closed: VecDeque::new(),
        };
        tasks.push(tokio::spawn(state.run(input_rx, internal_rx)));
        Ok((
            EngineHandle {
                input: input_tx,
                tasks,
                queue_task,
            },
            ui_rx,
        ))
    }
}

/// One call the engine tracks.
struct Call {
    call_type: CallType,
    caller: Normalized,
    context: CallContext,
    started_at: DateTime<Utc>,
    /// `None` for an ignored call (neither popped nor logged).
    wrap: Option<CallWrapUp>,
    /// Inputs given to `wrap`, to rebuild it when the candidates become known late.
    replay: Vec<(DateTime<Utc>, cti::wrapup::Input)>,
    matches: Vec<Match>,
    end_reason: Option<EndReason>,
    /// The call's history row as last sent to the history writer.
    record: CallRecord,
}

struct Loop {
    config: EngineConfig,
    lightning: Url,
    store: Arc<Store>,
    client: Client,
    clock: Arc<dyn Clock>,
    telephony: Arc<dyn Telephony>,
    ui: mpsc::Sender<UiEvent>,
    internal: mpsc::Sender<Internal>,
    wake: Arc<Notify>,
    signed_in: Arc<Notify>,
    connection: Arc<Connection>,
    history: History,
    queue: Queue,
    cache: CacheWrites,
    calls: HashMap<String, Call>,
    closed: VecDeque<String>,
}

impl Loop {
    async fn run(
        mut self,
        mut input: mpsc::Receiver<Input>,
        mut internal: mpsc::Receiver<Internal>,
    ) {
        loop {
            let timer = self
                .calls
                .values()
                .filter_map(|c| c.wrap.as_ref()?.poll_timeout())
                .min();
            let clock = self.clock.clone();
            let sleep = async move {
                match timer {
                    Some(t) => clock.sleep_until(t).await,
                    None => std::future::pending::<()>().await,
                }
            };
            tokio::select! {
                biased;
                msg = internal.recv() => {
                    if let Some(msg) = msg { self.internal(msg).await; }
                }
                msg = input.recv() => {
                    match msg {
                        Some(msg) => self.input(msg).await,
                        None => break,
                    }
                }
                _ = sleep => self.timers().await,
            }
        }
        tracing::debug!("engine loop ends: every input sender is gone");
    }

    async fn emit(&self, event: UiEvent) {
        if self.ui.send(event).await.is_err() {
            tracing::debug!("UI receiver gone; event dropped");
        }
    }

    async fn fail(&self, call_id: Option<&str>, error: &Error) {
        tracing::info!(error = %error, "agent action failed");
        let (action, message) = match error {
            Error::Store { source } => (FailedAction::Store, source.to_string()),
            Error::Salesforce { source } => (FailedAction::Salesforce, source.to_string()),
            Error::Phone { source } => (FailedAction::Number, source.to_string()),
            Error::InvalidAction { reason, .. } => (FailedAction::Call, reason.clone()),
            other => (FailedAction::Call, other.to_string()),
        };
        self.emit(UiEvent::ActionFailed {
            call_id: call_id.map(str::to_owned),
            action,
            message,
        })
        .await;
    }

    async fn input(&mut self, input: Input) {
        match input {
            Input::Telephony(event) => self.telephony_event(event).await,
            Input::Agent(action) => {
                let call_id = action_call_id(&action).map(str::to_owned);
                if let Err(e) = self.agent(action).await {
                    self.fail(call_id.as_deref(), &e).await;
                }
            }
            Input::SignedIn => {
                self.signed_in_to_org().await;
                self.signed_in.notify_one();
                self.check_session();
            }
            Input::CheckSession => self.check_session(),
        }
    }

    /// Checks the Salesforce session beside the loop (see [`check_session`]).
    fn check_session(&self) {
        tokio::spawn(check_session(
            self.client.clone(),
            self.connection.clone(),
            self.clock.clone(),
        ));
    }

    /// After a sign-in: pops go to the session's instance. Signed in to another org (another
    /// instance), the match cache is emptied: its records and pins are the other org's.
    async fn signed_in_to_org(&mut self) {
        let Some(instance) = self.client.instance_url().await else {
            return;
        };
        let lightning = cti::lightning_base(&instance);
        if lightning == self.lightning {
            return;
        }
        tracing::info!(instance = %instance, "signed in to another instance; pops go there");
        self.lightning = lightning;
        let store = self.store.clone();
        match tokio::task::spawn_blocking(move || store.match_cache().clear()).await {
            Ok(Ok(n)) => tracing::info!(numbers = n, "match cache emptied for the new org"),
            Ok(Err(e)) => tracing::warn!(error = %e, "match cache not emptied"),
            Err(e) => tracing::warn!(error = %e, "match cache not emptied"),
        }
    }

    fn normalize(&self, raw: &str) -> Normalized {
        cti::normalize(raw, self.config.behaviour.default_region).unwrap_or_else(|e| {
            tracing::info!(error = %e, "number not usable; shown as received");
            Normalized {
                raw: cti::text::clean_line(raw, cti::phone::MAX_RAW_CHARS),
                digits: String::new(),
                e164: None,
                country_code: None,
                national_number: None,
                region: None,
                extension: None,
            }
        })
    }

    async fn telephony_event(&mut self, event: TelephonyEvent) {
        let now = self.clock.now();
        match event {
            TelephonyEvent::Ringing {
                call_id,
                direction,
                remote_raw,
                remote_display_name,
                local,
                queue,
            } => {
                self.ringing(
                    now,
                    call_id,
                    direction,
                    remote_raw,
                    remote_display_name,
                    local,
                    queue,
                )
                .await
            }
            TelephonyEvent::Answered { call_id } => {
                self.feed(&call_id, now, cti::wrapup::Input::Answered).await;
                self.record_call(&call_id, |r| r.answered_at = Some(now));
                self.phase(&call_id, CallPhase::Established).await;
            }
            TelephonyEvent::Held { call_id } => self.phase(&call_id, CallPhase::Held).await,
            TelephonyEvent::Resumed { call_id } => {
                self.phase(&call_id, CallPhase::Established).await
            }
            TelephonyEvent::Ended { call_id, reason } => {
                if let Some(call) = self.calls.get_mut(&call_id) {
                    call.end_reason = Some(reason.clone());
                }
                self.record_call(&call_id, |r| r.ended_at = Some(now));
                let ignored = self.calls.get(&call_id).is_some_and(|c| c.wrap.is_none());
                if ignored {
                    self.close(&call_id, reason).await;
                    return;
                }
                self.feed(&call_id, now, cti::wrapup::Input::Ended).await;
                let deadline = self
                    .calls
                    .get(&call_id)
                    .and_then(|c| c.wrap.as_ref()?.poll_timeout());
                let saved = self.is_finished(&call_id);
                if saved {
                    self.close(&call_id, reason).await;
                } else {
                    self.phase(&call_id, CallPhase::WrapUp { deadline }).await;
                }
            }
            event @ (TelephonyEvent::SmsReceived { .. } | TelephonyEvent::SmsSent { .. }) => {
                self.sms(event, now).await
            }
            TelephonyEvent::CommandFailed {
                call_id,
                action,
                message,
            } => {
                tracing::info!(?call_id, ?action, %message, "telephony command failed");
                self.emit(UiEvent::ActionFailed {
                    call_id,
                    action,
                    message,
                })
                .await
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    async fn ringing(
        &mut self,
        now: DateTime<Utc>,
        call_id: String,
        direction: Direction,
        remote_raw: String,
        display_name: Option<String>,
        local: Option<String>,
        queue: Option<String>,
    ) {
        if self.calls.contains_key(&call_id) {
            tracing::warn!(call_id = %call_id, "ringing reported twice; ignored");
            return;
        }
        let behaviour = &self.config.behaviour;
        let caller = self.normalize(&remote_raw);
        let internal = cti::is_internal(&remote_raw, &behaviour.internal_rule);
        let call_type = match (internal, direction) {
            (true, _) => CallType::Internal,
            (false, Direction::Inbound) => CallType::Inbound,
            (false, Direction::Outbound) => CallType::Outbound,
        };
        let ignored = call_type == CallType::Internal && behaviour.ignore_internal_calls;
        let display_name_shown = display_name
            .as_deref()
            .map(|n| cti::text::clean_line(n, cti::text::MAX_DISPLAY_CHARS))
            .filter(|n| !n.is_empty());
        let context = CallContext {
            display_name: display_name.clone(),
            dnis: local,
            queue: queue.clone(),
            segment: None,
        };
        let key = crate::lookup::cache_key(&caller);
        // Read once: the pin is remembered for the log, and the search beside the loop starts
        // from the same row (a warm call then reads the cache only here).
        let cached = if key.is_empty() {
            None
        } else {
            self.store
                .match_cache()
                .with_ttl(self.config.match_ttl)
                .lookup(&key, now)
                .ok()
        };
        let remembered = cached
            .as_ref()
            .and_then(|c| c.as_ref()?.pinned.clone())
            .and_then(|p| serde_json::from_value::<Match>(p.record).ok())
            .map(|m| (m.record, m.name));
        let wrap = (!ignored).then(|| {
            let log = CallLog {
                call_id: call_id.clone(),
                call_type,
                direction: match direction {
                    Direction::Inbound => cti::task::Direction::Incoming,
                    Direction::Outbound => cti::task::Direction::Outgoing,
                },
                started_at: now,
                answered_at: None,
                ended_at: None,
                caller: caller.clone(),
                who: None,
                who_name: None,
                what: None,
                candidates: Vec::new(),
                notes: String::new(),
                disposition: None,
                subject_override: None,
                owner_id: self.config.owner_id.clone(),
                queue_answered: queue.is_some(),
            };
            CallWrapUp::new(log, behaviour.clone(), remembered)
        });
        let record = CallRecord {
            call_id: call_id.clone(),
            direction: match call_type {
                CallType::Inbound => CallDirection::Inbound,
                CallType::Outbound => CallDirection::Outbound,
                CallType::Internal => CallDirection::Internal,
            },
            remote_raw: remote_raw.clone(),
            remote_e164: caller.e164.clone(),
            display_name,
            started_at: now,
            answered_at: None,
            ended_at: None,
            matches: serde_json::Value::Array(Vec::new()),
            who_id: None,
            what_id: None,
            notes: String::new(),
            disposition: None,
            log_state: if ignored {
                LogState::NotLogged
            } else {
                LogState::Pending
            },
        };
        self.calls.insert(
            call_id.clone(),
            Call {
                call_type,
                caller: caller.clone(),
                context,
                started_at: now,
                wrap,
                replay: Vec::new(),
                matches: Vec::new(),
                end_reason: None,
                record: record.clone(),
            },
        );
        let shown = cti::CallerDisplay {
            number: cti::format_for_display(&caller, self.config.behaviour.default_region),
            e164: caller.e164.clone(),
            name: display_name_shown,
        };
        self.phase(
            &call_id,
            CallPhase::Ringing {
                direction,
                caller: shown,
            },
        )
        .await;
        // A number the cache answers (a pin, or fresh results) pops right here: no task, no
        // request. Any other number is searched beside the loop: ringing is never blocked by
        // Salesforce.
        let mut answered = None;
        if !ignored && !caller.digits.is_empty() {
            match cached {
                Some(Some(row)) if row.pinned.is_some() || row.fresh => {
                    answered = crate::lookup::from_cache(row.clone());
                    if answered.is_none() {
                        self.search_beside(
                            call_id.clone(),
                            call_type,
                            caller,
                            now,
                            Some(Some(row)),
                        );
                    }
                }
                cached => self.search_beside(call_id.clone(), call_type, caller, now, cached),
            }
        }
        // History goes to its writer: its disk sync does not delay the popup.
        self.write_history(HistoryWrite::Upsert(Box::new(record)));
        if let Some(lookup) = answered {
            self.looked(call_id, lookup).await;
            return;
        }
        if ignored {
            tracing::debug!(call_id = %call_id, "internal call ignored");
            return;
        }
        if self
            .calls
            .get(&call_id)
            .is_some_and(|c| c.caller.digits.is_empty())
        {
            let lookup = Lookup {
                matches: Vec::new(),
                status: LookupStatus::NoNumber,
            };
            self.looked(call_id, lookup).await;
        }
    }

    /// Searches Salesforce for `caller` on a task of its own; the result comes back to the
    /// loop as [`Internal::Looked`].
    fn search_beside(
        &self,
        call_id: String,
        call_type: CallType,
        caller: Normalized,
        now: DateTime<Utc>,
        cached: Option<Option<CachedMatch>>,
    ) {
        let (store, cache, client, layout) = (
            self.store.clone(),
            self.cache.clone(),
            self.client.clone(),
            self.config.layout.clone(),
        );
        let (ttl, timeout, tx, connection) = (
            self.config.match_ttl,
            self.config.lookup_timeout,
            self.internal.clone(),
            self.connection.clone(),
        );
        tokio::spawn(async move {
            let lookup = lookup(
                &store,
                &cache,
                &client,
                &layout,
                call_type,
                &caller,
                now,
                ttl,
                timeout,
                cached,
                &connection,
            )
            .await;
            let _ = tx.send(Internal::Looked { call_id, lookup }).await;
        });
    }

    async fn internal(&mut self, msg: Internal) {
        match msg {
            Internal::Looked { call_id, lookup } => self.looked(call_id, lookup).await,
            Internal::SmsReady { event, who } => self.sms_ready(event, who).await,
        }
    }

    /// The lookup of a call is over: popup, pop, and the matches for the log.
    async fn looked(&mut self, call_id: String, lookup: Lookup) {
        let now = self.clock.now();
        let Some(call) = self.calls.get_mut(&call_id) else {
            return;
        };
        let mut decision = cti::decide_pop(
            call.call_type,
            &lookup.matches,
            &self.config.layout,
            &self.config.behaviour,
            &call.caller,
            &call.context,
        );
        if !lookup.status.is_ok() {
            // Without a trustworthy answer nothing is popped (no "new record" for a known caller).
            decision.action = PopAction::None;
        }
        call.matches = lookup.matches.clone();
        let url = cti::pop_url(&decision.action, &self.lightning);
        let new_window = decision.open_within == OpenWithin::NewWindow;
        let matches_json = serde_json::to_value(&lookup.matches).ok();
        // The log: one match is the WhoId; several are candidates (the agent's pick or the
        // remembered pick wins; without either the Task names them in its Description).
        match lookup.matches.as_slice() {
            [] => {}
            [one] => {
                let input = cti::wrapup::Input::MatchFound {
                    record: one.record.clone(),
                    name: one.name.clone(),
                };
                self.feed(&call_id, now, input).await;
            }
            several => {
                let candidates = several
                    .iter()
                    .map(|m| Candidate {
                        record: m.record.clone(),
                        name: m.name.clone(),
                    })
                    .collect();
                self.set_candidates(&call_id, candidates);
            }
        }
        self.emit(UiEvent::Popup {
            call_id: call_id.clone(),
            popup: Popup {
                decision,
                lookup: lookup.status,
            },
        })
        .await;
        if let Some(url) = url {
            self.emit(UiEvent::Pop {
                call_id: call_id.clone(),
                url,
                new_window,
            })
            .await;
        }
        if let Some(matches) = matches_json {
            self.record_call(&call_id, |r| r.matches = matches);
        }
    }

    /// Rebuilds the call's wrap-up machine with the candidates known (replaying its inputs), as
    /// long as nothing has been written yet.
    fn set_candidates(&mut self, call_id: &str, candidates: Vec<Candidate>) {
        let Some(call) = self.calls.get_mut(call_id) else {
            return;
        };
        let Some(wrap) = &call.wrap else { return };
        if wrap.written().is_some() {
            return;
        }
        let mut log = wrap.log().clone();
        log.candidates = candidates;
        log.answered_at = None;
        log.ended_at = None;
        let remembered = self
            .store
            .match_cache()
            .lookup(&crate::lookup::cache_key(&call.caller), call.started_at)
            .ok()
            .flatten()
            .and_then(|c| c.pinned)
            .and_then(|p| serde_json::from_value::<Match>(p.record).ok())
            .map(|m| (m.record, m.name));
        let mut rebuilt = CallWrapUp::new(log, self.config.behaviour.clone(), remembered);
        for (at, input) in &call.replay {
            let _ = rebuilt.handle_input(*at, input.clone());
        }
        // Outputs were already taken from the old machine; the replay produced none, since
        // nothing had been written.
        while rebuilt.poll_output().is_some() {}
        call.wrap = Some(rebuilt);
    }

    /// Feeds the call's wrap-up machine and queues what it writes.
    async fn feed(&mut self, call_id: &str, now: DateTime<Utc>, input: cti::wrapup::Input) -> bool {
        let Some(call) = self.calls.get_mut(call_id) else {
            tracing::debug!(call_id, "event for an unknown call ignored");
            return false;
        };
        let Some(wrap) = call.wrap.as_mut() else {
            return false;
        };
        if let Err(e) = wrap.handle_input(now, input.clone()) {
            tracing::info!(call_id, error = %e, "input does not fit the call's state");
            return false;
        }
        call.replay.push((now, input));
        let mut outputs = Vec::new();
        while let Some(out) = wrap.poll_output() {
            outputs.push(out);
        }
        for out in outputs {
            self.queue_call_write(call_id, out, now).await;
        }
        true
    }

    async fn queue_call_write(
        &mut self,
        call_id: &str,
        out: cti::wrapup::Output,
        now: DateTime<Utc>,
    ) {
        let item = match out {
            cti::wrapup::Output::WriteTask(fields) => match serde_json::to_value(&fields) {
                Ok(payload) => NewOutboxItem {
                    kind: WriteKind::Create,
                    sobject: "Task".into(),
                    call_object: fields
                        .call_object
                        .clone()
                        .unwrap_or_else(|| call_id.to_owned()),
                    target_id: None,
                    payload,
                },
                Err(e) => {
                    tracing::error!(call_id, error = %e, "Task fields could not be encoded");
                    return;
                }
            },
            cti::wrapup::Output::UpdateTask {
                call_object,
                changes,
            } => NewOutboxItem {
                kind: WriteKind::Update,
                sobject: "Task".into(),
                call_object,
                target_id: None,
                payload: serde_json::Value::Object(changes),
            },
        };
        // The history says queued first: the writer's own report (queued, or failed with the
        // reason) then always lands after it.
        if let Some(wrap) = self.calls.get(call_id).and_then(|c| c.wrap.as_ref()) {
            let log = wrap.log();
            let (who, what) = (
                log.who.as_ref().map(|r| r.id.clone()),
                log.what.as_ref().map(|r| r.id.clone()),
            );
            let (notes, disposition) = (log.notes.clone(), log.disposition.clone());
            self.record_call(call_id, |r| {
                r.who_id = who;
                r.what_id = what;
                r.notes = notes;
                r.disposition = disposition;
                r.log_state = LogState::Queued;
            });
        }
        self.enqueue(&item, now).await;
    }

    /// Hands a write to the outbox writer, which commits it (in order, off the loop), then tells
    /// the UI it is queued and wakes the flusher.
    async fn enqueue(&self, item: &NewOutboxItem, now: DateTime<Utc>) {
        self.hand_over(QueueWrite::task(item.clone(), now)).await;
    }

    /// Hands a write to the outbox writer; the agent is told when it cannot take it any more.
    async fn hand_over(&self, write: QueueWrite) {
        let call_object = write.call_object().to_owned();
        if self.queue.send(write).is_err() {
            tracing::error!(call_object = %call_object, "outbox writer gone; write not queued");
            self.emit(UiEvent::LogState {
                call_object,
                state: LogStatus::Failed {
                    reason: "not queued: the engine is stopping".into(),
                },
            })
            .await;
        }
    }

    fn is_finished(&self, call_id: &str) -> bool {
        self.calls
            .get(call_id)
            .and_then(|c| c.wrap.as_ref())
            .is_some_and(|w| {
                matches!(
                    w.state(),
                    cti::wrapup::CallState::Saved | cti::wrapup::CallState::Discarded
                )
            })
    }

    async fn phase(&self, call_id: &str, phase: CallPhase) {
        if self.calls.contains_key(call_id) {
            self.emit(UiEvent::CallState {
                call_id: call_id.to_owned(),
                phase,
            })
            .await;
        }
    }

    /// The call is finished with: tell the UI, keep it a while for later edits.
    async fn close(&mut self, call_id: &str, reason: EndReason) {
        self.phase(call_id, CallPhase::Closed { reason }).await;
        if !self.closed.iter().any(|c| c == call_id) {
            self.closed.push_back(call_id.to_owned());
        }
        while self.closed.len() > CLOSED_CALLS_KEPT {
            if let Some(old) = self.closed.pop_front() {
                self.calls.remove(&old);
            }
        }
    }

    /// Applies `change` to the call's history row and hands it to the history writer.
    fn record_call(&mut self, call_id: &str, change: impl FnOnce(&mut CallRecord)) {
        let Some(call) = self.calls.get_mut(call_id) else {
            return;
        };
        change(&mut call.record);
        let snapshot = Box::new(call.record.clone());
        self.write_history(HistoryWrite::Upsert(snapshot));
    }

    fn write_history(&self, write: HistoryWrite) {
        if self.history.send(write).is_err() {
            tracing::warn!("history writer gone; call history not written");
        }
    }

    async fn timers(&mut self) {
        let now = self.clock.now();
        let due: Vec<String> = self
            .calls
            .iter()
            .filter(|(_, c)| {
                c.wrap
                    .as_ref()
                    .and_then(CallWrapUp::poll_timeout)
                    .is_some_and(|t| t <= now)
            })
            .map(|(id, _)| id.clone())
            .collect();
        for call_id in due {
            self.feed(&call_id, now, cti::wrapup::Input::TimerFired)
                .await;
            self.after_agent_input(&call_id).await;
        }
    }

    /// Closes the call when its log is saved or discarded after wrap-up.
    async fn after_agent_input(&mut self, call_id: &str) {
        let Some(call) = self.calls.get(call_id) else {
            return;
        };
        let Some(reason) = call.end_reason.clone() else {
            return;
        };
        if self.is_finished(call_id) && !self.closed.iter().any(|c| c == call_id) {
            self.close(call_id, reason).await;
        }
    }

    fn known(&self, call_id: &str) -> Result<()> {
        if self.calls.contains_key(call_id) {
            Ok(())
        } else {
            Err(Error::UnknownCall {
                call_id: call_id.to_owned(),
            })
        }
    }

    async fn agent_input(&mut self, call_id: &str, input: cti::wrapup::Input) -> Result<()> {
        self.known(call_id)?;
        let now = self.clock.now();
        let name = format!("{input:?}");
        if !self.feed(call_id, now, input).await {
            return Err(Error::InvalidAction {
                call_id: call_id.to_owned(),
                reason: format!("{} does not fit the call's state", short(&name)),
            });
        }
        self.after_agent_input(call_id).await;
        Ok(())
    }

    fn pin(&self, call_id: &str, record: &Match, source: PinSource) -> Result<()> {
        let call = self.calls.get(call_id).ok_or_else(|| Error::UnknownCall {
            call_id: call_id.to_owned(),
        })?;
        let key = crate::lookup::cache_key(&call.caller);
        if key.is_empty() {
            return Ok(());
        }
        let value = serde_json::to_value(record).map_err(|e| Error::InvalidAction {
            call_id: call_id.to_owned(),
            reason: format!("record not encodable: {e}"),
        })?;
        self.store
            .match_cache()
            .pin(&key, &value, source, self.clock.now())?;
        Ok(())
    }

    async fn agent(&mut self, action: AgentAction) -> Result<()> {
        match action {
            AgentAction::Answer { call_id } => {
                self.known(&call_id)?;
                self.telephony.command(TelephonyCommand::Answer { call_id })
            }
            AgentAction::Decline { call_id } => {
                self.known(&call_id)?;
                self.telephony
                    .command(TelephonyCommand::Decline { call_id })
            }
            AgentAction::HangUp { call_id } => {
                self.known(&call_id)?;
                self.telephony.command(TelephonyCommand::HangUp { call_id })
            }
            AgentAction::Hold { call_id } => {
                self.known(&call_id)?;
                self.telephony.command(TelephonyCommand::Hold { call_id })
            }
            AgentAction::Resume { call_id } => {
                self.known(&call_id)?;
                self.telephony.command(TelephonyCommand::Resume { call_id })
            }
            AgentAction::Mute { call_id, muted } => {
                self.known(&call_id)?;
                self.telephony
                    .command(TelephonyCommand::Mute { call_id, muted })
            }
            AgentAction::SendDtmf { call_id, digits } => {
                self.known(&call_id)?;
                self.telephony
                    .command(TelephonyCommand::SendDtmf { call_id, digits })
            }
            AgentAction::Transfer { call_id, target } => {
                self.known(&call_id)?;
                self.telephony
                    .command(TelephonyCommand::Transfer { call_id, target })
            }
            AgentAction::PickRecord { call_id, record } => {
                self.pin(&call_id, &record, PinSource::Picked)?;
                let input = cti::wrapup::Input::PickWho {
                    record: record.record,
                    name: record.name,
                };
                self.agent_input(&call_id, input).await
            }
            AgentAction::RecordCreated { call_id, record } => {
                self.pin(&call_id, &record, PinSource::Created)?;
                let input = cti::wrapup::Input::PickWho {
                    record: record.record,
                    name: record.name,
                };
                self.agent_input(&call_id, input).await
            }
            AgentAction::Notes { call_id, text } => {
                self.agent_input(&call_id, cti::wrapup::Input::EditNotes(text))
                    .await
            }
            AgentAction::Disposition { call_id, value } => {
                self.agent_input(&call_id, cti::wrapup::Input::SetDisposition(value))
                    .await
            }
            AgentAction::RelatedTo { call_id, record } => {
                self.agent_input(&call_id, cti::wrapup::Input::SetWhat(record))
                    .await
            }
            AgentAction::Save { call_id } => {
                self.agent_input(&call_id, cti::wrapup::Input::Save).await
            }
            AgentAction::Discard { call_id } => {
                self.agent_input(&call_id, cti::wrapup::Input::Discard)
                    .await?;
                self.record_call(&call_id, |r| r.log_state = LogState::Discarded);
                Ok(())
            }
            AgentAction::RetryLog { call_object } => {
                let now = self.clock.now();
                let rows = self.store.outbox().by_call_object(&call_object)?;
                for row in rows {
                    if matches!(row.state, store::OutboxState::Failed { .. }) {
                        self.store.outbox().retry_failed(row.id, now)?;
                    }
                }
                self.wake.notify_one();
                self.emit(UiEvent::LogState {
                    call_object,
                    state: LogStatus::Queued,
                })
                .await;
                Ok(())
            }
            AgentAction::Dial { number } => {
                self.telephony.command(TelephonyCommand::Dial { number })
            }
            AgentAction::SendSms { to, text } => self
                .telephony
                .command(TelephonyCommand::SendSms { to, text }),
        }
    }

    // ---- SMS ---------------------------------------------------------------------------------

    /// An SMS in or out: find who it is (cache or search, beside the loop), then log it.
    async fn sms(&mut self, event: TelephonyEvent, now: DateTime<Utc>) {
        if !self.config.behaviour.auto_save_sms {
            return;
        }
        let remote = match &event {
            TelephonyEvent::SmsReceived { from, .. } => from.clone(),
            TelephonyEvent::SmsSent { to, .. } => to.clone(),
            _ => return,
        };
        let caller = self.normalize(&remote);
        if caller.digits.is_empty() {
            tracing::info!("SMS without a usable number not logged");
            return;
        }
        let (store, cache, client, layout) = (
            self.store.clone(),
            self.cache.clone(),
            self.client.clone(),
            self.config.layout.clone(),
        );
        let (ttl, timeout, tx, connection) = (
            self.config.match_ttl,
            self.config.lookup_timeout,
            self.internal.clone(),
            self.connection.clone(),
        );
        tokio::spawn(async move {
            let found = lookup(
                &store,
                &cache,
                &client,
                &layout,
                CallType::Inbound,
                &caller,
                now,
                ttl,
                timeout,
                None,
                &connection,
            )
            .await;
            let who = found
                .matches
                .into_iter()
                .find(|m| m.record.is_lead() || m.record.sobject == "Contact");
            let _ = tx.send(Internal::SmsReady { event, who }).await;
        });
    }

    async fn sms_ready(&mut self, event: TelephonyEvent, who: Option<Match>) {
        let now = self.clock.now();
        let (remote, message) = match event {
            TelephonyEvent::SmsReceived { from, text, at, .. } => (
                from,
                SmsMessage {
                    at,
                    direction: cti::task::Direction::Incoming,
                    text,
                },
            ),
            TelephonyEvent::SmsSent { to, text, at, .. } => (
                to,
                SmsMessage {
                    at,
                    direction: cti::task::Direction::Outgoing,
                    text,
                },
            ),
            _ => return,
        };
        let number = self.normalize(&remote);
        let key = crate::lookup::cache_key(&number);
        let (call_object, day) =
            cti::task::sms_day_key(&key, message.at, self.config.behaviour.time_zone);
        // The day's row is read and written by the outbox writer, in order, with the Task write
        // in the same transaction: a locked or full disk delays the log, never loses it.
        let job = SmsJob {
            key,
            day,
            call_object,
            number,
            who: who.map(|m| m.record),
            message,
            owner_id: self.config.owner_id.clone(),
            behaviour: self.config.behaviour.clone(),
        };
        self.hand_over(QueueWrite {
            write: queue::Write::Sms(Box::new(job)),
            now,
        })
        .await;
    }
}

fn action_call_id(action: &AgentAction) -> Option<&str> {
    match action {
        AgentAction::Answer { call_id }
        | AgentAction::Decline { call_id }
        | AgentAction::HangUp { call_id }
        | AgentAction::PickRecord { call_id, .. }
        | AgentAction::RecordCreated { call_id, .. }
        | AgentAction::Notes { call_id, .. }
        | AgentAction::Disposition { call_id, .. }
        | AgentAction::RelatedTo { call_id, .. }
        | AgentAction::Save { call_id }
        | AgentAction::Discard { call_id }
        | AgentAction::Hold { call_id }
        | AgentAction::Resume { call_id }
        | AgentAction::Mute { call_id, .. }
        | AgentAction::SendDtmf { call_id, .. }
        | AgentAction::Transfer { call_id, .. } => Some(call_id),
        AgentAction::RetryLog { .. } | AgentAction::Dial { .. } | AgentAction::SendSms { .. } => {
            None
        }
    }
}

/// The variant name of a Debug rendering (`Save`, `EditNotes`), never its data.
fn short(debug: &str) -> &str {
    debug
        .split(|c: char| !c.is_alphanumeric())
        .next()
        .unwrap_or(debug)
}
