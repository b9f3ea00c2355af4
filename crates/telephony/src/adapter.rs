//! [`SipTelephony`]: the user agent's events pumped through the [`Translator`] to the engine,
//! the engine's commands carried out on the runtime.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex as StdMutex};
use std::time::Duration;

use engine::{Clock, FailedAction, SystemClock, Telephony, TelephonyCommand, TelephonyEvent};
use sip::{Decline, UserAgent};
use tokio::runtime::Handle;
use tokio::sync::{mpsc, watch, Mutex};
use tokio::task::JoinHandle;
use tracing::{debug, info, warn};

use crate::translate::{dial_target, Output, RegistrationState, SipStatus, Translator};
use crate::{Error, Result};

/// Room for this many events not yet taken by the engine.
const EVENT_BUFFER: usize = 1024;

/// State shared by the event pump and the command tasks: publishing happens under the lock, so
/// the engine receives events in the order they were translated.
struct Shared {
    translator: Mutex<Translator>,
    events: mpsc::Sender<TelephonyEvent>,
    status: watch::Sender<SipStatus>,
    clock: Arc<dyn Clock>,
}

impl Shared {
    /// Publishes `outputs`, in order. Call with the translator locked.
    async fn publish(&self, outputs: Vec<Output>) {
        for output in outputs {
            match output {
                Output::Telephony(event) => {
                    if self.events.send(event).await.is_err() {
                        debug!("engine gone; telephony event dropped");
                    }
                }
                Output::Status(state) => {
                    info!(?state, "SIP registration");
                    self.status.send_modify(|s| s.state = state);
                }
            }
        }
    }

    async fn failed(&self, call_id: Option<String>, action: FailedAction, message: String) {
        warn!(?call_id, ?action, %message, "telephony command failed");
        let _translator = self.translator.lock().await;
        if self
            .events
            .send(TelephonyEvent::CommandFailed {
                call_id,
                action,
                message,
            })
            .await
            .is_err()
        {
            debug!("engine gone; failure not reported");
        }
    }
}

/// The running user agent, with what its commands need to know of its account.
struct Agent {
    ua: Arc<UserAgent>,
    config: sip::Config,
    register: bool,
    pump: JoinHandle<()>,
}

impl Agent {
    /// Starts a user agent on `config`, its events pumped through `shared`'s translator.
    async fn start(
        runtime: &Handle,
        shared: &Arc<Shared>,
        config: sip::Config,
        register: bool,
    ) -> Result<Self> {
        let (ua, mut sip_events) = start_ua(config.clone()).await?;
        let ua = Arc::new(ua);
        shared.status.send_modify(|s| {
            s.local_addr = ua.local_addr();
            s.state = RegistrationState::Unregistered;
        });
        let pump_shared = shared.clone();
        let pump = runtime.spawn(async move {
            while let Some(event) = sip_events.recv().await {
                let mut translator = pump_shared.translator.lock().await;
                let outputs = translator.handle(pump_shared.clock.now(), event);
                pump_shared.publish(outputs).await;
            }
            debug!("SIP event stream ended");
        });
        if register {
            shared
                .status
                .send_modify(|s| s.state = RegistrationState::Registering);
            ua.register()?;
        }
        Ok(Self {
            ua,
            config,
            register,
            pump,
        })
    }

    /// Hangs up, unregisters and closes the sockets; its events are no longer published.
    async fn stop(self) {
        self.ua.stop().await;
        self.pump.abort();
    }
}

/// Binds and starts a user agent. The port a stopped agent had is free once its stack's tasks
/// have ended, a moment after it stopped: a bind refused as in use is tried again for a while.
async fn start_ua(config: sip::Config) -> Result<(UserAgent, mpsc::UnboundedReceiver<sip::Event>)> {
    let deadline = tokio::time::Instant::now() + REBIND_WAIT;
    loop {
        match UserAgent::start(config.clone()).await {
            Err(sip::Error::Socket { source, .. })
                if source.kind() == std::io::ErrorKind::AddrInUse
                    && config.local_addr.port() != 0
                    && tokio::time::Instant::now() < deadline =>
            {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            other => return other.map_err(Error::from),
        }
    }
}

/// How long a restart waits for the previous agent's port to be free.
const REBIND_WAIT: Duration = Duration::from_secs(3);

/// The engine's telephony source over a SIP user agent. Dropping it stops the agent.
///
/// [`SipTelephony::reconfigure`] replaces the agent (a new account, registrar or transport)
/// while the engine keeps running: the engine's event stream and the status channel stay the
/// same.
pub struct SipTelephony {
    agent: StdMutex<Option<Agent>>,
    /// One reconfiguration at a time.
    reconfiguring: Mutex<()>,
    shared: Arc<Shared>,
    receiver: StdMutex<Option<mpsc::Receiver<TelephonyEvent>>>,
    status: watch::Receiver<SipStatus>,
    runtime: Handle,
}

impl std::fmt::Debug for SipTelephony {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SipTelephony")
            .field("ua", &self.current().map(|(ua, _, _)| ua))
            .field("status", &*self.status.borrow())
            .finish_non_exhaustive()
    }
}

impl Drop for SipTelephony {
    fn drop(&mut self) {
        if let Some(agent) = self.agent_slot().take() {
            agent.pump.abort();
        }
    }
}

impl SipTelephony {
    /// Starts the user agent on the current tokio runtime; when `register` is set, registers
    /// with the configured domain and keeps the registration fresh. Time stamps (SMS) come from
    /// the system clock.
    pub async fn start(config: sip::Config, register: bool) -> Result<Self> {
        Self::start_with_clock(config, register, Arc::new(SystemClock)).await
    }

    /// [`SipTelephony::start`] with the time taken from `clock`.
    pub async fn start_with_clock(
        config: sip::Config,
        register: bool,
        clock: Arc<dyn Clock>,
    ) -> Result<Self> {
        let runtime = Handle::try_current().map_err(|_| Error::NoRuntime)?;
        let (events, receiver) = mpsc::channel(EVENT_BUFFER);
        let (status_tx, status) = watch::channel(SipStatus {
            state: RegistrationState::Unregistered,
            local_addr: config.local_addr,
        });
        let shared = Arc::new(Shared {
            translator: Mutex::new(Translator::new(config.user.clone())),
            events,
            status: status_tx,
            clock,
        });
        let agent = Agent::start(&runtime, &shared, config, register).await?;
        Ok(Self {
            agent: StdMutex::new(Some(agent)),
            reconfiguring: Mutex::new(()),
            shared,
            receiver: StdMutex::new(Some(receiver)),
            status,
            runtime,
        })
    }

    /// Replaces the user agent with one on `config` (registering when `register` is set), for
    /// a changed account: the old one unregisters and closes first, so the new one can take the
    /// same port. Refused while a call is up or ringing ([`Error::CallInProgress`]): the agent
    /// keeps its call, and the caller applies the change once the calls are over. When the new
    /// agent cannot start (its port taken, say), the old configuration is started again and
    /// the error is returned.
    pub async fn reconfigure(&self, config: sip::Config, register: bool) -> Result<()> {
        let _one = self.reconfiguring.lock().await;
        let Some(old) = self.agent_slot().take() else {
            return Err(Error::Stopped);
        };
        let calls = old.ua.call_count();
        if calls > 0 {
            *self.agent_slot() = Some(old);
            return Err(Error::CallInProgress { calls });
        }
        let (old_config, old_register) = (old.config.clone(), old.register);
        info!(user = %config.user, domain = %config.domain, register, "SIP account changed; restarting the agent");
        old.stop().await;
        *self.shared.translator.lock().await = Translator::new(config.user.clone());
        match Agent::start(&self.runtime, &self.shared, config, register).await {
            Ok(agent) => {
                *self.agent_slot() = Some(agent);
                Ok(())
            }
            Err(e) => {
                warn!(error = %e, "the new SIP account could not start; back to the previous one");
                *self.shared.translator.lock().await = Translator::new(old_config.user.clone());
                let restored =
                    Agent::start(&self.runtime, &self.shared, old_config, old_register).await;
                match restored {
                    Ok(agent) => *self.agent_slot() = Some(agent),
                    Err(again) => {
                        warn!(error = %again, "the previous SIP account could not start again");
                        self.shared.status.send_modify(|s| {
                            s.state = RegistrationState::Failed {
                                reason: again.to_string(),
                                kind: sip::FailureKind::Other,
                            }
                        });
                    }
                }
                Err(e)
            }
        }
    }

    fn agent_slot(&self) -> std::sync::MutexGuard<'_, Option<Agent>> {
        self.agent
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The running agent, its domain and user (`None` after a restart that failed twice).
    fn current(&self) -> Option<(Arc<UserAgent>, String, String)> {
        self.agent_slot()
            .as_ref()
            .map(|a| (a.ua.clone(), a.config.domain.clone(), a.config.user.clone()))
    }

    /// The registration status and bound address, updated as they change.
    pub fn status(&self) -> watch::Receiver<SipStatus> {
        self.status.clone()
    }

    /// The bound SIP address.
    pub fn local_addr(&self) -> SocketAddr {
        self.status.borrow().local_addr
    }

    /// The user agent, for what the engine does not command (audio devices, tests); `None`
    /// when a restart left none running.
    pub fn user_agent(&self) -> Option<Arc<UserAgent>> {
        self.current().map(|(ua, _, _)| ua)
    }

    fn spawn_call_command<F>(&self, call_id: String, what: FailedAction, run: F)
    where
        F: std::future::Future<Output = sip::Result<()>> + Send + 'static,
    {
        let shared = self.shared.clone();
        self.runtime.spawn(async move {
            if let Err(e) = run.await {
                shared.failed(Some(call_id), what, e.to_string()).await;
            }
        });
    }
}

impl Telephony for SipTelephony {
    fn events(&self) -> engine::Result<mpsc::Receiver<TelephonyEvent>> {
        self.receiver
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take()
            .ok_or(engine::Error::TelephonyEventsTaken)
    }

    fn command(&self, command: TelephonyCommand) -> engine::Result<()> {
        debug!(command = short(&command), "telephony command");
        let Some((ua, domain, user)) = self.current() else {
            let shared = self.shared.clone();
            self.runtime.spawn(async move {
                shared
                    .failed(
                        None,
                        FailedAction::Phone,
                        "no SIP account is running".into(),
                    )
                    .await;
            });
            return Ok(());
        };
        match command {
            TelephonyCommand::Answer { call_id } => {
                let id = call_id.clone();
                self.spawn_call_command(call_id, FailedAction::Answer, async move {
                    ua.answer(&id).await
                });
            }
            TelephonyCommand::Decline { call_id } => {
                let id = call_id.clone();
                self.spawn_call_command(call_id, FailedAction::Decline, async move {
                    ua.decline(&id, Decline::Decline)
                });
            }
            TelephonyCommand::HangUp { call_id } => {
                let id = call_id.clone();
                self.spawn_call_command(call_id, FailedAction::HangUp, async move {
                    ua.hangup(&id).await
                });
            }
            TelephonyCommand::Hold { call_id } => {
                let id = call_id.clone();
                self.spawn_call_command(
                    call_id,
                    FailedAction::Hold,
                    async move { ua.hold(&id).await },
                );
            }
            TelephonyCommand::Resume { call_id } => {
                let id = call_id.clone();
                self.spawn_call_command(call_id, FailedAction::Resume, async move {
                    ua.resume(&id).await
                });
            }
            TelephonyCommand::Mute { call_id, muted } => {
                let id = call_id.clone();
                self.spawn_call_command(call_id, FailedAction::Mute, async move {
                    ua.set_mute(&id, muted)
                });
            }
            TelephonyCommand::SendDtmf { call_id, digits } => {
                let id = call_id.clone();
                self.spawn_call_command(call_id, FailedAction::Dtmf, async move {
                    ua.send_dtmf(&id, &digits)
                });
            }
            TelephonyCommand::Transfer { call_id, target } => {
                let shared = self.shared.clone();
                self.runtime.spawn(async move {
                    let uri = match dial_target(&target) {
                        Ok(target) => target.uri_at(&domain),
                        Err(e) => {
                            return shared
                                .failed(Some(call_id), FailedAction::Transfer, e.to_string())
                                .await
                        }
                    };
                    if let Err(e) = ua.transfer(&call_id, &uri).await {
                        shared
                            .failed(Some(call_id), FailedAction::Transfer, e.to_string())
                            .await;
                    }
                });
            }
            TelephonyCommand::Dial { number } => {
                let shared = self.shared.clone();
                self.runtime.spawn(async move {
                    let target = match dial_target(&number) {
                        Ok(target) => target,
                        Err(e) => {
                            return shared.failed(None, FailedAction::Dial, e.to_string()).await
                        }
                    };
                    // The translator stays locked from the INVITE until the Ringing is out, so
                    // nothing about the call can overtake it.
                    let mut translator = shared.translator.lock().await;
                    match ua.dial(target.dial_string()).await {
                        Ok(call_id) => {
                            let outputs =
                                translator.announce_outbound(shared.clock.now(), &call_id, &number);
                            shared.publish(outputs).await;
                        }
                        Err(e) => {
                            drop(translator);
                            shared.failed(None, FailedAction::Dial, e.to_string()).await;
                        }
                    }
                });
            }
            TelephonyCommand::SendSms { to, text } => {
                let shared = self.shared.clone();
                self.runtime.spawn(async move {
                    let uri = match dial_target(&to) {
                        Ok(target) => target.uri_at(&domain),
                        Err(e) => {
                            return shared.failed(None, FailedAction::Sms, e.to_string()).await
                        }
                    };
                    match ua.send_message(&uri, &text).await {
                        Ok(()) => {
                            let _translator = shared.translator.lock().await;
                            let at = shared.clock.now();
                            let event = TelephonyEvent::SmsSent {
                                from: user,
                                to,
                                text,
                                at,
                            };
                            shared.publish(vec![Output::Telephony(event)]).await;
                        }
                        Err(e) => shared.failed(None, FailedAction::Sms, e.to_string()).await,
                    }
                });
            }
        }
        Ok(())
    }
}

/// The command's variant name, never its data (SMS text, numbers stay out of the log).
fn short(command: &TelephonyCommand) -> &'static str {
    match command {
        TelephonyCommand::Answer { .. } => "Answer",
        TelephonyCommand::Decline { .. } => "Decline",
        TelephonyCommand::HangUp { .. } => "HangUp",
        TelephonyCommand::Hold { .. } => "Hold",
        TelephonyCommand::Resume { .. } => "Resume",
        TelephonyCommand::Dial { .. } => "Dial",
        TelephonyCommand::SendSms { .. } => "SendSms",
        TelephonyCommand::Mute { .. } => "Mute",
        TelephonyCommand::SendDtmf { .. } => "SendDtmf",
        TelephonyCommand::Transfer { .. } => "Transfer",
    }
}
