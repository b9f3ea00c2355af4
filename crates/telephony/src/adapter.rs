//! [`SipTelephony`]: the user agent's events pumped through the [`Translator`] to the engine,
//! the engine's commands carried out on the runtime.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex as StdMutex};

use engine::{Clock, SystemClock, Telephony, TelephonyCommand, TelephonyEvent};
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

    async fn failed(&self, call_id: Option<String>, message: String) {
        warn!(?call_id, %message, "telephony command failed");
        let _translator = self.translator.lock().await;
        if self
            .events
            .send(TelephonyEvent::CommandFailed { call_id, message })
            .await
            .is_err()
        {
            debug!("engine gone; failure not reported");
        }
    }
}

/// The engine's telephony source over a SIP user agent. Dropping it stops the agent.
pub struct SipTelephony {
    ua: Arc<UserAgent>,
    shared: Arc<Shared>,
    receiver: StdMutex<Option<mpsc::Receiver<TelephonyEvent>>>,
    status: watch::Receiver<SipStatus>,
    runtime: Handle,
    domain: String,
    user: String,
    pump: JoinHandle<()>,
}

impl std::fmt::Debug for SipTelephony {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SipTelephony")
            .field("ua", &self.ua)
            .field("status", &*self.status.borrow())
            .finish_non_exhaustive()
    }
}

impl Drop for SipTelephony {
    fn drop(&mut self) {
        self.pump.abort();
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
        let (domain, user) = (config.domain.clone(), config.user.clone());
        let (ua, mut sip_events) = UserAgent::start(config).await?;
        let ua = Arc::new(ua);
        let (events, receiver) = mpsc::channel(EVENT_BUFFER);
        let (status_tx, status) = watch::channel(SipStatus {
            state: RegistrationState::Unregistered,
            local_addr: ua.local_addr(),
        });
        let shared = Arc::new(Shared {
            translator: Mutex::new(Translator::new(user.clone())),
            events,
            status: status_tx,
            clock,
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
            shared,
            receiver: StdMutex::new(Some(receiver)),
            status,
            runtime,
            domain,
            user,
            pump,
        })
    }

    /// The registration status and bound address, updated as they change.
    pub fn status(&self) -> watch::Receiver<SipStatus> {
        self.status.clone()
    }

    /// The bound SIP address.
    pub fn local_addr(&self) -> SocketAddr {
        self.ua.local_addr()
    }

    /// The user agent, for what the engine does not command (audio devices, tests).
    pub fn user_agent(&self) -> &Arc<UserAgent> {
        &self.ua
    }

    fn spawn_call_command<F>(&self, call_id: String, what: &'static str, run: F)
    where
        F: std::future::Future<Output = sip::Result<()>> + Send + 'static,
    {
        let shared = self.shared.clone();
        self.runtime.spawn(async move {
            if let Err(e) = run.await {
                shared
                    .failed(Some(call_id), format!("{what} failed: {e}"))
                    .await;
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
        let ua = self.ua.clone();
        match command {
            TelephonyCommand::Answer { call_id } => {
                let id = call_id.clone();
                self.spawn_call_command(call_id, "answer", async move { ua.answer(&id).await });
            }
            TelephonyCommand::Decline { call_id } => {
                let id = call_id.clone();
                self.spawn_call_command(call_id, "decline", async move {
                    ua.decline(&id, Decline::Decline)
                });
            }
            TelephonyCommand::HangUp { call_id } => {
                let id = call_id.clone();
                self.spawn_call_command(call_id, "hang up", async move { ua.hangup(&id).await });
            }
            TelephonyCommand::Hold { call_id } => {
                let id = call_id.clone();
                self.spawn_call_command(call_id, "hold", async move { ua.hold(&id).await });
            }
            TelephonyCommand::Resume { call_id } => {
                let id = call_id.clone();
                self.spawn_call_command(call_id, "resume", async move { ua.resume(&id).await });
            }
            TelephonyCommand::Mute { call_id, muted } => {
                let id = call_id.clone();
                self.spawn_call_command(call_id, "mute", async move { ua.set_mute(&id, muted) });
            }
            TelephonyCommand::SendDtmf { call_id, digits } => {
                let id = call_id.clone();
                self.spawn_call_command(call_id, "DTMF", async move { ua.send_dtmf(&id, &digits) });
            }
            TelephonyCommand::Transfer { call_id, target } => {
                let shared = self.shared.clone();
                let domain = self.domain.clone();
                self.runtime.spawn(async move {
                    let uri = match dial_target(&target) {
                        Ok(target) => target.uri_at(&domain),
                        Err(e) => return shared.failed(Some(call_id), e.to_string()).await,
                    };
                    if let Err(e) = ua.transfer(&call_id, &uri).await {
                        shared
                            .failed(Some(call_id), format!("transfer failed: {e}"))
                            .await;
                    }
                });
            }
            TelephonyCommand::Dial { number } => {
                let shared = self.shared.clone();
                self.runtime.spawn(async move {
                    let target = match dial_target(&number) {
                        Ok(target) => target,
                        Err(e) => return shared.failed(None, e.to_string()).await,
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
                            shared.failed(None, format!("dial failed: {e}")).await;
                        }
                    }
                });
            }
            TelephonyCommand::SendSms { to, text } => {
                let shared = self.shared.clone();
                let (domain, user) = (self.domain.clone(), self.user.clone());
                self.runtime.spawn(async move {
                    let uri = match dial_target(&to) {
                        Ok(target) => target.uri_at(&domain),
                        Err(e) => return shared.failed(None, e.to_string()).await,
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
                        Err(e) => shared.failed(None, format!("SMS not sent: {e}")).await,
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
