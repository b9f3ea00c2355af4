//! The user agent: rsipstack underneath, typed commands in, typed [`Event`]s out.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rsipstack::dialog::authenticate::{handle_client_authenticate, Credential};
use rsipstack::dialog::dialog::{
    DialogState, DialogStateReceiver, DialogStateSender, TerminatedReason,
};
use rsipstack::dialog::dialog_layer::DialogLayer;
use rsipstack::dialog::invitation::InviteOption;
use rsipstack::dialog::invite_dialog::InviteDialog;
use rsipstack::dialog::registration::Registration;
use rsipstack::sip::prelude::HeadersExt;
use rsipstack::sip::uri::ParamsExt;
use rsipstack::sip::{Header, Method, SipMessage, StatusCode, StatusCodeKind};
use rsipstack::transaction::key::{TransactionKey, TransactionRole};
use rsipstack::transaction::transaction::Transaction;
use rsipstack::transaction::{make_tag, TransactionReceiver};
use rsipstack::transport::connection::KEEPALIVE_REQUEST;
use rsipstack::transport::stream::StreamConnection;
use rsipstack::transport::udp::UdpConnection;
use rsipstack::transport::{SipAddr, SipConnection, TransportLayer};
use rsipstack::EndpointBuilder;
use tokio::net::UdpSocket;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, instrument, warn};

use crate::audio::{SinkConfig, SourceConfig};
use crate::error::{Error, Result};
use crate::identity::{self, Party};
use crate::media::{MediaEvent, MediaOptions, MediaStream};
use crate::rtp::dtmf_event;
use crate::sdp::{self, Codec, Direction, RemoteAudio, TELEPHONE_EVENT_PT};
use crate::socket::SipSocket;

/// Methods we answer; sent in `Allow`.
pub(crate) const ALLOW: &str =
    "INVITE, ACK, CANCEL, BYE, OPTIONS, MESSAGE, INFO, UPDATE, REFER, NOTIFY";
/// rsipstack sends our answer to an in-dialog request from that request's transaction task and
/// does not tell us when it is out: a request of ours sent right after can overtake it (the first
/// NOTIFY our 202 to a REFER, the BYE our 200 to the final NOTIFY), which strict peers (sipp)
/// refuse. We wait this long first.
const ANSWER_SETTLE: Duration = Duration::from_millis(100);
/// Bodies we take; sent in `Accept` (RFC 3261 §11.2).
const ACCEPT: &str =
    "application/sdp, text/plain, message/sipfrag, application/dtmf-relay, application/dtmf";
/// Tries of a hold/resume re-INVITE that meets 491 Request Pending (glare).
const REINVITE_ATTEMPTS: usize = 3;
/// How long a digit sent in INFO lasts, and the pause after it before the next one.
const INFO_DTMF_MS: u32 = 100;
const INFO_DTMF_GAP_MS: u32 = 60;
/// Longest DTMF string one `send_dtmf` call takes.
const MAX_DTMF_DIGITS: usize = 64;
/// Largest MESSAGE body we accept, in bytes.
const MAX_MESSAGE_BODY: usize = 8 * 1024;
/// How often a registration over TCP or TLS sends a CRLF keep-alive on its connection (RFC 5626
/// §4.4.1): the registrar (and a NAT) keep an idle connection open, and it answers with a CRLF,
/// which keeps rsipstack from closing the connection as idle (it does after 300 s).
const KEEPALIVE_INTERVAL: Duration = Duration::from_secs(30);

/// How long [`UserAgent::unregister`] waits for the registrar's answer.
pub const UNREGISTER_WAIT: Duration = Duration::from_secs(3);

/// A SIP password. Its `Debug` prints `[redacted]`.
#[derive(Clone)]
pub struct Password(String);

impl Password {
    /// Wraps a password.
    pub fn new(secret: impl Into<String>) -> Self {
        Self(secret.into())
    }
}

impl std::fmt::Debug for Password {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("[redacted]")
    }
}

/// Everything the agent needs to start.
#[derive(Debug, Clone)]
pub struct Config {
    /// Local address for SIP over UDP (port 0 picks a free one). RTP binds to the same IP.
    pub local_addr: SocketAddr,
    /// Our user name (the user part of our address of record).
    pub user: String,
    /// The registrar / domain as `host[:port]`; requests without a host go there.
    pub domain: String,
    /// Digest password; `None` when the PBX needs no authentication.
    pub password: Option<Password>,
    /// Registration lifetime asked for, in seconds.
    pub register_expires: u32,
    /// Codecs in our order of preference.
    pub codecs: Vec<Codec>,
    /// Audio sent in calls.
    pub source: SourceConfig,
    /// Where received audio goes.
    pub sink: SinkConfig,
    /// The `User-Agent` header.
    pub user_agent: String,
    /// What a second incoming call gets while one is up.
    pub busy_policy: BusyPolicy,
    /// The transport of the requests we send (we always listen on UDP and TCP, on the same port;
    /// never on TLS).
    pub transport: Transport,
    /// A PEM file of CA certificates trusted for TLS besides the operating system's (a PBX whose
    /// certificate comes from a private CA). The server's certificate is always verified. A file
    /// that cannot be used makes every TLS connection fail with that reason (see
    /// [`crate::check_ca_file`] to check one beforehand).
    pub tls_ca_file: Option<PathBuf>,
    /// The DNS server a domain-named PBX is looked up at (SRV, then A/AAAA: see [`crate::dns`]);
    /// `None` for the system's (`/etc/resolv.conf`, after `/etc/hosts`).
    pub dns_server: Option<SocketAddr>,
}

/// The transport of the SIP requests we send.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Transport {
    /// UDP (the default).
    #[default]
    Udp,
    /// TCP: targets get `;transport=tcp`, so does our Contact.
    Tcp,
    /// TLS: targets get `;transport=tls`; our Contact too, and it names the TLS connection we
    /// opened (the registrar routes calls back over it: we accept no TLS connections, a softphone
    /// has no server certificate). The server's certificate is verified against the system's CA
    /// certificates and [`Config::tls_ca_file`].
    Tls,
}

impl Transport {
    fn uri_param(self) -> &'static str {
        match self {
            Transport::Udp => "",
            Transport::Tcp => ";transport=tcp",
            Transport::Tls => ";transport=tls",
        }
    }
}

/// What a second incoming call gets while another call is up.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum BusyPolicy {
    /// It rings as a waiting call (`IncomingCall { waiting: true, .. }`).
    #[default]
    RingWaiting,
    /// It is refused with 486 Busy Here and not reported.
    Reject486,
}

impl Config {
    /// A config with the defaults: 300 s registrations, PCMU then PCMA, silence out, audio discarded.
    pub fn new(local_addr: SocketAddr, user: impl Into<String>, domain: impl Into<String>) -> Self {
        Self {
            local_addr,
            user: user.into(),
            domain: domain.into(),
            password: None,
            register_expires: 300,
            codecs: Codec::ALL.to_vec(),
            source: SourceConfig::Silence,
            sink: SinkConfig::Discard,
            user_agent: concat!("Callpop/", env!("CARGO_PKG_VERSION")).to_owned(),
            busy_policy: BusyPolicy::default(),
            transport: Transport::default(),
            tls_ca_file: None,
            dns_server: None,
        }
    }
}

/// Why a call ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CloseReason {
    /// We hung up.
    LocalHangup,
    /// The peer hung up (BYE).
    RemoteHangup,
    /// The caller gave up before we answered (CANCEL, answered 487).
    Cancelled,
    /// We declined the incoming call.
    Declined,
    /// The peer or a proxy refused our call with this final status.
    Rejected {
        /// The status code.
        code: u16,
        /// The reason phrase.
        reason: String,
    },
    /// No answer or no ACK in time.
    Timeout,
    /// A transport or stack error.
    Failed {
        /// What happened.
        reason: String,
    },
}

/// How to decline an incoming call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decline {
    /// 486 Busy Here.
    Busy,
    /// 603 Decline.
    Decline,
}

/// What kind of trouble a registration met: the app puts it in the agent's language, beside the
/// technical reason.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FailureKind {
    /// The PBX's domain is not in DNS.
    UnknownHost,
    /// No connection could be made, or the registrar never answered (408).
    Unreachable,
    /// The TLS handshake failed, or the PBX's certificate was refused for a reason the kinds
    /// below do not name.
    Certificate,
    /// The PBX's certificate is not signed by a CA we trust (a private CA needs the CA file).
    CertificateUntrusted,
    /// The PBX's certificate is not issued for the name or address we connected to.
    CertificateName,
    /// The PBX's certificate has expired.
    CertificateExpired,
    /// The PBX's certificate is not valid yet (often this computer's clock).
    CertificateNotYetValid,
    /// The account's CA certificate file cannot be read or holds no certificate.
    CaFile,
    /// The registrar refused the user name or password (401, 407 after our answer, 403).
    Credentials,
    /// The registrar does not know this user (404).
    UnknownUser,
    /// The registrar is failing, overloaded or in maintenance (5xx).
    ServerError,
    /// Any other refusal or error.
    Other,
}

impl FailureKind {
    /// The kind of a final response to our REGISTER that is not a success.
    pub fn of_status(code: u16) -> Self {
        match code {
            401 | 403 | 407 => Self::Credentials,
            404 => Self::UnknownUser,
            408 => Self::Unreachable,
            500..=599 => Self::ServerError,
            _ => Self::Other,
        }
    }
}

/// A failure with its kind and its technical words.
#[derive(Debug, Clone)]
struct Failure {
    kind: FailureKind,
    reason: String,
}

impl Failure {
    fn new(kind: FailureKind, reason: impl Into<String>) -> Self {
        Failure {
            kind,
            reason: reason.into(),
        }
    }
}

/// What the agent reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A REGISTER is on its way.
    Registering,
    /// The registrar accepted us for this many seconds; a refresh is scheduled before that.
    Registered {
        /// Granted lifetime in seconds.
        expires: u32,
    },
    /// Registration failed; it is retried with back-off.
    RegistrationFailed {
        /// Status line or error, in the stack's words.
        reason: String,
        /// What went wrong, for words in the agent's language.
        kind: FailureKind,
    },
    /// We removed our binding ([`UserAgent::unregister`]); no calls are routed to us.
    Unregistered,
    /// An INVITE arrived and we answered 180 Ringing.
    IncomingCall {
        /// The call's Call-ID, used in every command about it.
        call_id: String,
        /// The caller (P-Asserted-Identity, Remote-Party-ID or From).
        from: Party,
        /// Who was called (To).
        to: Party,
        /// Another call is already up: this one is a waiting call.
        waiting: bool,
    },
    /// Our outgoing call rings (180/183).
    Ringing {
        /// The call.
        call_id: String,
    },
    /// The call is up: media flows.
    Established {
        /// The call.
        call_id: String,
    },
    /// The call went on hold: our hold was accepted (`by_peer: false`), or the peer's re-INVITE
    /// said `sendonly`/`inactive` (`by_peer: true`).
    Held {
        /// The call.
        call_id: String,
        /// The peer holds us (rather than we the peer).
        by_peer: bool,
    },
    /// A hold ended: our resume was accepted, or the peer's re-INVITE said `sendrecv`/`recvonly`.
    Resumed {
        /// The call.
        call_id: String,
        /// The peer resumed (rather than we).
        by_peer: bool,
    },
    /// A DTMF digit arrived, as an RFC 4733 telephone-event (once per event) or in a SIP INFO
    /// request (`application/dtmf-relay` or `application/dtmf`).
    Dtmf {
        /// The call.
        call_id: String,
        /// `0-9`, `*`, `#` or `A-D`.
        digit: char,
    },
    /// Our blind transfer succeeded (the NOTIFY said 200); the call is then hung up.
    Transferred {
        /// The transferred call.
        call_id: String,
        /// Where it went (the Refer-To URI).
        target: String,
    },
    /// The call is over; its recording, if any, is complete.
    Closed {
        /// The call.
        call_id: String,
        /// Why.
        reason: CloseReason,
    },
    /// A SIP MESSAGE (text/plain) arrived.
    MessageReceived {
        /// The sender.
        from: Party,
        /// The text, UTF-8.
        text: String,
    },
    /// An audio device failed during a call; the call goes on without it.
    AudioError {
        /// The call.
        call_id: String,
        /// What failed.
        reason: String,
    },
}

#[derive(Clone)]
enum CallDialog {
    Server(InviteDialog),
    Client(InviteDialog),
    /// Our INVITE is out and no dialog handle is back yet.
    Dialing,
}

struct Call {
    dialog: CallDialog,
    rtp: Arc<UdpSocket>,
    remote: Option<RemoteAudio>,
    codec: Option<Codec>,
    media: Option<MediaStream>,
    session_id: u64,
    version: u64,
    answered: bool,
    established: bool,
    /// We hold the call.
    held_local: bool,
    /// The peer holds us.
    held_remote: bool,
    muted: bool,
    /// The negotiated telephone-event payload type.
    telephone_event: Option<u8>,
    /// Our REFER's target while a transfer we asked for is in progress.
    transfer_target: Option<String>,
    /// Told when this outgoing call is answered or fails (a transfer we carry out waits on it).
    outcome: Option<tokio::sync::oneshot::Sender<std::result::Result<(), String>>>,
    local_hangup: bool,
    /// Digits for the task sending them in INFO requests (a peer without telephone-event).
    info_dtmf: Option<mpsc::UnboundedSender<char>>,
    /// Cancelled when the call closes: a re-INVITE of ours still out then stops waiting.
    ended: CancellationToken,
}

impl Call {
    fn new(dialog: CallDialog, rtp: Arc<UdpSocket>, session_id: u64) -> Self {
        Self {
            dialog,
            rtp,
            remote: None,
            codec: None,
            media: None,
            session_id,
            version: 1,
            answered: false,
            established: false,
            held_local: false,
            held_remote: false,
            muted: false,
            telephone_event: None,
            transfer_target: None,
            outcome: None,
            local_hangup: false,
            info_dtmf: None,
            ended: CancellationToken::new(),
        }
    }

    /// The dialog of an established call, or why there is none.
    fn confirmed_dialog(&self, call_id: &str, action: &'static str) -> Result<InviteDialog> {
        match &self.dialog {
            CallDialog::Server(d) | CallDialog::Client(d) if self.established => Ok(d.clone()),
            _ => Err(Error::InvalidState {
                call_id: call_id.to_owned(),
                action,
                state: self.state_name(),
            }),
        }
    }

    /// Whether this call is up (counts for call waiting).
    fn is_up(&self) -> bool {
        self.established || (self.answered && matches!(self.dialog, CallDialog::Server(_)))
    }

    /// Tells the media whether to send: not while either side holds.
    fn apply_hold(&self) {
        if let Some(media) = &self.media {
            media.set_sending(!self.held_local && !self.held_remote);
        }
    }

    fn state_name(&self) -> &'static str {
        match (self.established, self.answered) {
            (true, _) => "established",
            (false, true) => "answered",
            (false, false) => "ringing",
        }
    }
}

struct Inner {
    config: Config,
    /// The audio devices for the next calls (from the config; changed by
    /// [`UserAgent::set_audio`]).
    audio: Mutex<(SourceConfig, SinkConfig)>,
    local_addr: SocketAddr,
    endpoint: Arc<rsipstack::transaction::endpoint::EndpointInner>,
    dialogs: Arc<DialogLayer>,
    state_sender: DialogStateSender,
    events: mpsc::UnboundedSender<Event>,
    calls: Mutex<HashMap<String, Call>>,
    cancel: CancellationToken,
    seq: std::sync::atomic::AtomicU32,
    /// Whether the TLS trust anchors are given to the stack (or why they could not be).
    tls_trust: std::sync::OnceLock<std::result::Result<Arc<rustls::ClientConfig>, String>>,
    /// The registration loop while it runs: its stop signal (it then unregisters) and its task.
    registration: Mutex<Option<(CancellationToken, tokio::task::JoinHandle<()>)>>,
    /// The stack's resolver of SIP domains (the same one, sharing its cache).
    resolver: crate::dns::Resolver,
    /// Our SIP-over-TCP connections (`stream.rs`).
    tcp: crate::stream::Tcp,
}

/// A running SIP user agent. Dropping it stops everything.
pub struct UserAgent {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for UserAgent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UserAgent")
            .field("local_addr", &self.inner.local_addr)
            .field("user", &self.inner.config.user)
            .finish()
    }
}

impl Drop for UserAgent {
    fn drop(&mut self) {
        self.inner.cancel.cancel();
    }
}

fn stack(context: &'static str) -> impl Fn(rsipstack::Error) -> Error {
    move |e| Error::Stack {
        context,
        message: e.to_string(),
    }
}

fn parse_uri(text: &str) -> Result<rsipstack::sip::Uri> {
    if text.len() > identity::MAX_URI || text.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err(Error::InvalidUri {
            uri: text.chars().take(80).collect(),
            reason: "too long or contains whitespace/control characters".to_owned(),
        });
    }
    rsipstack::sip::Uri::try_from(text).map_err(|e| Error::InvalidUri {
        uri: text.to_owned(),
        reason: e.to_string(),
    })
}

/// Binds the SIP UDP socket and, on the same port, the TCP listener (RFC 3261 §18: a UA takes
/// both; TCP is served by our own connections, `stream.rs`). With port 0 the port is one free
/// for both: an ephemeral UDP port can be the local port of some TCP connection, so another is
/// tried then.
async fn bind_sip_ports(addr: SocketAddr) -> Result<(SipSocket, tokio::net::TcpListener)> {
    const TRIES: u32 = 20;
    let mut attempt = 1;
    loop {
        let socket = SipSocket::bind(addr)
            .await
            .map_err(|source| Error::Socket { addr, source })?;
        let bound = socket
            .local_addr()
            .map_err(|source| Error::Socket { addr, source })?;
        let twin = SocketAddr::new(addr.ip(), bound.port());
        match tokio::net::TcpListener::bind(twin).await {
            Ok(listener) => return Ok((socket, listener)),
            Err(e)
                if addr.port() == 0
                    && attempt < TRIES
                    && e.kind() == std::io::ErrorKind::AddrInUse =>
            {
                debug!(
                    port = bound.port(),
                    "TCP twin of the SIP port taken; trying another"
                );
                attempt += 1;
            }
            Err(source) => return Err(Error::Socket { addr: twin, source }),
        }
    }
}

impl UserAgent {
    /// Binds the SIP socket and starts the agent; events arrive on the returned receiver.
    #[instrument(skip_all, fields(local = %config.local_addr, user = %config.user))]
    pub async fn start(config: Config) -> Result<(Self, mpsc::UnboundedReceiver<Event>)> {
        let cancel = CancellationToken::new();
        let resolver = crate::dns::Resolver::new(config.dns_server);
        let transport = TransportLayer::new_with_domain_resolver(
            cancel.child_token(),
            Box::new(resolver.clone()),
        );
        // Our own socket type, so that requests with a method the stack cannot parse get 501
        // (see `socket.rs` for why it is done there), and its TCP twin.
        let (socket, tcp_listener) = bind_sip_ports(config.local_addr).await?;
        let udp = UdpConnection::from_socket(Arc::new(socket), None, Some(cancel.child_token()))
            .await
            .map_err(|e| Error::Socket {
                addr: config.local_addr,
                source: std::io::Error::other(e.to_string()),
            })?;
        let local_addr: SocketAddr =
            udp.get_addr()
                .addr
                .clone()
                .try_into()
                .map_err(|e: rsipstack::sip::Error| Error::Stack {
                    context: "reading the bound SIP address",
                    message: e.to_string(),
                })?;
        transport.add_transport(udp.into());
        // The CA certificates TLS connections are verified against, read at the first TLS
        // target (`Inner::connect`): an account that never uses TLS does not pay for them, and an
        // unusable CA file is the reason its registration fails, not a failed start.
        let tls_trust = std::sync::OnceLock::new();
        let endpoint = EndpointBuilder::new()
            .with_user_agent(&config.user_agent)
            .with_transport_layer(transport)
            .with_cancel_token(cancel.child_token())
            .build();
        let incoming = endpoint
            .incoming_transactions()
            .map_err(stack("opening the incoming transaction queue"))?;
        let endpoint_inner = endpoint.inner.clone();
        let tcp = crate::stream::Tcp::start(
            tcp_listener,
            endpoint_inner.clone(),
            local_addr,
            cancel.child_token(),
        );
        let dialogs = Arc::new(DialogLayer::new(endpoint_inner.clone()));
        let (state_sender, state_receiver) = dialogs.new_dialog_state_channel();
        let (events, events_rx) = mpsc::unbounded_channel();
        let inner = Arc::new(Inner {
            audio: Mutex::new((config.source.clone(), config.sink.clone())),
            config,
            local_addr,
            endpoint: endpoint_inner,
            dialogs,
            state_sender,
            events,
            calls: Mutex::new(HashMap::new()),
            cancel: cancel.clone(),
            seq: std::sync::atomic::AtomicU32::new(1),
            tls_trust,
            resolver,
            tcp,
            registration: Mutex::new(None),
        });
        let serve_cancel = cancel.clone();
        tokio::spawn(async move {
            tokio::select! {
                _ = endpoint.serve() => {}
                _ = serve_cancel.cancelled() => endpoint.shutdown(),
            }
        });
        tokio::spawn(incoming_loop(inner.clone(), incoming));
        tokio::spawn(dialog_state_loop(inner.clone(), state_receiver));
        info!(%local_addr, "SIP user agent started");
        Ok((Self { inner }, events_rx))
    }

    /// Sets where the audio of the calls that start from now on comes from and goes to (a
    /// call in progress keeps its devices).
    pub fn set_audio(&self, source: SourceConfig, sink: SinkConfig) {
        *self
            .inner
            .audio
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = (source, sink);
    }

    /// The bound SIP address.
    pub fn local_addr(&self) -> SocketAddr {
        self.inner.local_addr
    }

    /// Starts registering with the configured domain and keeps the registration fresh.
    /// Progress arrives as `Registering`, `Registered` and `RegistrationFailed` events.
    pub fn register(&self) -> Result<()> {
        let registrar = self
            .inner
            .target_uri(&format!("sip:{}", self.inner.config.domain))?;
        let stop = self.inner.cancel.child_token();
        let task = tokio::spawn(register_loop(self.inner.clone(), registrar, stop.clone()));
        let previous = self
            .inner
            .registration
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .replace((stop, task));
        if let Some((stop, _)) = previous {
            stop.cancel();
        }
        Ok(())
    }

    /// Stops registering: when the registrar holds a binding of ours, it is removed with a
    /// REGISTER of `Expires: 0` (waited for at most [`UNREGISTER_WAIT`]), so that calls stop
    /// being routed here. Nothing happens when the agent was not registering.
    pub async fn unregister(&self) {
        let running = self
            .inner
            .registration
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take();
        let Some((stop, mut task)) = running else {
            return;
        };
        stop.cancel();
        if tokio::time::timeout(UNREGISTER_WAIT, &mut task)
            .await
            .is_err()
        {
            warn!("the registrar did not answer the unregistration in time");
            task.abort();
        }
    }

    /// How many calls the agent holds (ringing, dialing, up or on hold).
    pub fn call_count(&self) -> usize {
        self.inner.calls.lock().expect("calls lock").len()
    }

    /// Answers a ringing incoming call with 200 OK and our SDP answer; media starts.
    pub async fn answer(&self, call_id: &str) -> Result<()> {
        let inner = &self.inner;
        let (dialog, body) = {
            let mut calls = inner.calls.lock().expect("calls lock");
            let call = calls.get_mut(call_id).ok_or_else(|| Error::UnknownCall {
                call_id: call_id.to_owned(),
            })?;
            let (CallDialog::Server(dialog), false) = (&call.dialog, call.answered) else {
                return Err(Error::InvalidState {
                    call_id: call_id.to_owned(),
                    action: "answer",
                    state: call.state_name(),
                });
            };
            let dialog = dialog.clone();
            let local = call.rtp.local_addr().map_err(|source| Error::Socket {
                addr: inner.local_addr,
                source,
            })?;
            call.answered = true;
            let body = match (call.remote.clone(), call.codec) {
                (Some(remote), Some(codec)) => {
                    let body = sdp::write_audio(
                        local,
                        &[codec],
                        call.telephone_event,
                        remote.direction.answer_holding(call.held_local),
                        call.session_id,
                        call.version,
                    );
                    start_media(inner, call_id, call, &remote, codec);
                    body
                }
                // Late offer: we offer here; media starts with the ACK's answer.
                _ => sdp::write_audio(
                    local,
                    &inner.config.codecs,
                    Some(TELEPHONE_EVENT_PT),
                    Direction::offer(call.held_local, false),
                    call.session_id,
                    call.version,
                ),
            };
            (dialog, body)
        };
        dialog
            .accept(
                Some(vec![
                    Header::ContentType("application/sdp".into()),
                    Header::Other("Allow".into(), ALLOW.into()),
                ]),
                Some(body.into_bytes()),
            )
            .map_err(stack("sending 200 OK"))?;
        debug!(call_id, "answered");
        Ok(())
    }

    /// Declines a ringing incoming call with 486 Busy Here or 603 Decline.
    pub fn decline(&self, call_id: &str, how: Decline) -> Result<()> {
        let calls = self.inner.calls.lock().expect("calls lock");
        let call = calls.get(call_id).ok_or_else(|| Error::UnknownCall {
            call_id: call_id.to_owned(),
        })?;
        let (CallDialog::Server(dialog), false) = (&call.dialog, call.answered) else {
            return Err(Error::InvalidState {
                call_id: call_id.to_owned(),
                action: "decline",
                state: call.state_name(),
            });
        };
        let code = match how {
            Decline::Busy => StatusCode::BusyHere,
            Decline::Decline => StatusCode::Decline,
        };
        dialog.reject(Some(code), None).map_err(stack("declining"))
    }

    /// Ends a call: BYE when established, CANCEL while our INVITE rings.
    pub async fn hangup(&self, call_id: &str) -> Result<()> {
        let dialog = {
            let mut calls = self.inner.calls.lock().expect("calls lock");
            let call = calls.get_mut(call_id).ok_or_else(|| Error::UnknownCall {
                call_id: call_id.to_owned(),
            })?;
            call.local_hangup = true;
            call.dialog.clone()
        };
        match dialog {
            CallDialog::Server(d) if !d.state().is_confirmed() && !self.is_answered(call_id) => d
                .reject(Some(StatusCode::Decline), None)
                .map_err(stack("declining")),
            CallDialog::Server(d) => d.bye().await.map_err(stack("sending BYE")),
            CallDialog::Client(d) => d.hangup().await.map_err(stack("hanging up")),
            CallDialog::Dialing => Err(Error::InvalidState {
                call_id: call_id.to_owned(),
                action: "hang up",
                state: "dialing",
            }),
        }
    }

    fn is_answered(&self, call_id: &str) -> bool {
        let calls = self.inner.calls.lock().expect("calls lock");
        calls.get(call_id).is_some_and(|c| c.answered)
    }

    /// Puts an established call on hold: re-INVITE with `a=sendonly` (`inactive` if the peer
    /// holds us too). Once the peer accepts, our media stops sending and `Held { by_peer: false }`
    /// is reported.
    pub async fn hold(&self, call_id: &str) -> Result<()> {
        self.change_hold(call_id, true).await
    }

    /// Takes a call we hold off hold: re-INVITE with `a=sendrecv`; once accepted, media sends
    /// again and `Resumed { by_peer: false }` is reported.
    pub async fn resume(&self, call_id: &str) -> Result<()> {
        self.change_hold(call_id, false).await
    }

    async fn change_hold(&self, call_id: &str, hold: bool) -> Result<()> {
        let inner = &self.inner;
        let action = if hold { "hold" } else { "resume" };
        let (dialog, body, ended) = {
            let mut calls = inner.calls.lock().expect("calls lock");
            let call = calls.get_mut(call_id).ok_or_else(|| Error::UnknownCall {
                call_id: call_id.to_owned(),
            })?;
            let dialog = call.confirmed_dialog(call_id, action)?;
            let codec = call.codec.ok_or_else(|| Error::InvalidState {
                call_id: call_id.to_owned(),
                action,
                state: call.state_name(),
            })?;
            let local = call.rtp.local_addr().map_err(|source| Error::Socket {
                addr: inner.local_addr,
                source,
            })?;
            call.version += 1;
            let body = sdp::write_audio(
                local,
                &[codec],
                call.telephone_event,
                Direction::offer(hold, call.held_remote),
                call.session_id,
                call.version,
            );
            (dialog, body, call.ended.clone())
        };
        // A 491 (both sides re-INVITing at once) is retried after RFC 3261's random back-off.
        let reinvite = dialog.reinvite_with_glare_retry(
            Some(vec![Header::ContentType("application/sdp".into())]),
            Some(body.into_bytes()),
            REINVITE_ATTEMPTS,
        );
        // The peer may hang up while our re-INVITE is out (its BYE before its answer, or
        // crossing our ACK): the call's end is what counts then, reported by its `Closed`; the
        // hold neither failed nor took effect, and nothing is reported about it. A re-INVITE
        // left unanswered is not waited for (64·T1) once the call has closed.
        let response = tokio::select! {
            response = reinvite => Some(response),
            () = ended.cancelled() => None,
        };
        let Some(response) = response.filter(|_| !ended.is_cancelled()) else {
            info!(
                call_id,
                action, "the call ended during its re-INVITE; nothing to change"
            );
            return Ok(());
        };
        let response = response.map_err(stack("sending re-INVITE"))?;
        let response = response.ok_or_else(|| Error::Refused {
            method: "re-INVITE",
            status: "no final response (timeout or dialog not confirmed)".to_owned(),
        })?;
        if response.status_code.kind() != StatusCodeKind::Successful {
            return Err(Error::Refused {
                method: "re-INVITE",
                status: format!(
                    "{} {}",
                    response.status_code.code(),
                    response.status_code.text()
                ),
            });
        }
        let answer = sdp::parse_audio(&response.body).ok();
        let mut calls = inner.calls.lock().expect("calls lock");
        let Some(call) = calls.get_mut(call_id) else {
            info!(
                call_id,
                action, "the call ended as its re-INVITE was answered; nothing to change"
            );
            return Ok(());
        };
        call.held_local = hold;
        if let Some(answer) = answer {
            if let Some(media) = &call.media {
                if call.remote.as_ref().map(|r| r.rtp_addr) != Some(answer.rtp_addr) {
                    media.set_remote(answer.rtp_addr);
                }
            }
            call.remote = Some(answer);
        }
        call.apply_hold();
        info!(call_id, hold, "hold changed");
        inner.emit(if hold {
            Event::Held {
                call_id: call_id.to_owned(),
                by_peer: false,
            }
        } else {
            Event::Resumed {
                call_id: call_id.to_owned(),
                by_peer: false,
            }
        });
        Ok(())
    }

    /// Mutes or unmutes the microphone of a call. While muted the call keeps sending RTP, with
    /// silence in it (so NAT bindings and the peer's media timeout stay alive). May be set before
    /// the call is answered; it applies when media starts.
    pub fn set_mute(&self, call_id: &str, muted: bool) -> Result<()> {
        let mut calls = self.inner.calls.lock().expect("calls lock");
        let call = calls.get_mut(call_id).ok_or_else(|| Error::UnknownCall {
            call_id: call_id.to_owned(),
        })?;
        call.muted = muted;
        if let Some(media) = &call.media {
            media.set_muted(muted);
        }
        debug!(call_id, muted, "mute changed");
        Ok(())
    }

    /// Sends DTMF digits (`0-9 * # A-D`, letters in either case, at most 64), 100 ms each
    /// with 60 ms between them, queued after any digits still being sent: as RFC 4733
    /// telephone-events when the peer accepted `telephone-event`, otherwise in SIP INFO
    /// requests (`application/dtmf-relay`, one per digit). The call must be up.
    pub fn send_dtmf(&self, call_id: &str, digits: &str) -> Result<()> {
        let invalid = |reason: String| Error::InvalidDtmf {
            digits: digits.chars().take(MAX_DTMF_DIGITS).collect(),
            reason,
        };
        if digits.is_empty() {
            return Err(invalid("no digits".to_owned()));
        }
        if digits.chars().count() > MAX_DTMF_DIGITS {
            return Err(invalid(format!("more than {MAX_DTMF_DIGITS} digits")));
        }
        let codes = digits
            .chars()
            .map(|c| dtmf_event(c).ok_or_else(|| invalid(format!("{c:?} is not a DTMF digit"))))
            .collect::<Result<Vec<u8>>>()?;
        let mut calls = self.inner.calls.lock().expect("calls lock");
        let call = calls.get_mut(call_id).ok_or_else(|| Error::UnknownCall {
            call_id: call_id.to_owned(),
        })?;
        match (&call.media, call.telephone_event) {
            (Some(media), Some(_)) => {
                media.queue_events(&codes);
                Ok(())
            }
            (None, _) => Err(Error::InvalidState {
                call_id: call_id.to_owned(),
                action: "send DTMF",
                state: call.state_name(),
            }),
            (Some(_), None) => {
                let dialog = call.confirmed_dialog(call_id, "send DTMF")?;
                let queue = call.info_dtmf.get_or_insert_with(|| {
                    let (queue, digits) = mpsc::unbounded_channel();
                    tokio::spawn(send_info_dtmf(call_id.to_owned(), dialog, digits));
                    queue
                });
                for digit in digits.chars() {
                    queue.send(digit.to_ascii_uppercase()).ok();
                }
                Ok(())
            }
        }
    }

    /// Blind transfer: sends REFER with `Refer-To: target_uri` and returns once the peer accepts
    /// it (202). The peer's NOTIFY with `SIP/2.0 200` then reports `Transferred` and we hang up;
    /// a failure NOTIFY leaves the call as it is.
    pub async fn transfer(&self, call_id: &str, target_uri: &str) -> Result<()> {
        let target = parse_uri(target_uri)?;
        let dialog = {
            let mut calls = self.inner.calls.lock().expect("calls lock");
            let call = calls.get_mut(call_id).ok_or_else(|| Error::UnknownCall {
                call_id: call_id.to_owned(),
            })?;
            let dialog = call.confirmed_dialog(call_id, "transfer")?;
            call.transfer_target = Some(target_uri.to_owned());
            dialog
        };
        let refused = |status: String| {
            if let Some(call) = self
                .inner
                .calls
                .lock()
                .expect("calls lock")
                .get_mut(call_id)
            {
                call.transfer_target = None;
            }
            Error::Refused {
                method: "REFER",
                status,
            }
        };
        let response = match dialog.refer(target, None, None).await {
            Ok(Some(response)) => response,
            Ok(None) => return Err(refused("no final response".to_owned())),
            Err(e) => return Err(refused(e.to_string())),
        };
        if response.status_code.kind() != StatusCodeKind::Successful {
            return Err(refused(format!(
                "{} {}",
                response.status_code.code(),
                response.status_code.text()
            )));
        }
        info!(call_id, "REFER accepted");
        Ok(())
    }

    /// Calls `uri` (`sip:…`; a bare user is taken at the configured domain). Returns the Call-ID;
    /// progress arrives as `Ringing`, `Established` or `Closed` events.
    pub async fn dial(&self, uri: &str) -> Result<String> {
        place_call(&self.inner, uri, None).await
    }

    /// Sends a SIP MESSAGE (text/plain; charset=UTF-8) to `uri`, answering 401/407 challenges.
    pub async fn send_message(&self, uri: &str, text: &str) -> Result<()> {
        let inner = &self.inner;
        let target = inner.target_uri(uri)?;
        let endpoint = &inner.endpoint;
        // Over TCP or TLS the MESSAGE goes out on a connection of ours, opened now. The Via
        // names the transport it goes over: our TCP listener, or over TLS that connection.
        let connection = inner
            .connect(&target)
            .await
            .map_err(|f| Error::Connection { reason: f.reason })?;
        let via_addr = match target.transport() {
            Some(rsipstack::sip::Transport::Tls) => connection.map(|c| inner.flow_addr(&c)),
            Some(rsipstack::sip::Transport::Tcp) => Some(SipAddr {
                r#type: Some(rsipstack::sip::Transport::Tcp),
                addr: inner.local_addr.into(),
            }),
            _ => None,
        };
        let via = endpoint
            .get_via(via_addr, None)
            .map_err(stack("building Via"))?;
        let from = rsipstack::sip::typed::From {
            display_name: None,
            uri: parse_uri(&format!(
                "sip:{}@{}",
                inner.config.user, inner.config.domain
            ))?,
            params: vec![],
        }
        .with_tag(make_tag());
        let to = rsipstack::sip::typed::To {
            display_name: None,
            uri: target.clone(),
            params: vec![],
        };
        let seq = inner.seq.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let mut request = endpoint.make_request(Method::Message, target, via, from, to, seq, None);
        request
            .headers
            .push(Header::ContentType("text/plain;charset=UTF-8".into()));
        request.body = text.as_bytes().to_vec();
        request
            .headers
            .unique_push(Header::ContentLength((request.body.len() as u32).into()));
        let key = TransactionKey::from_request(&request, TransactionRole::Client)
            .map_err(stack("keying MESSAGE"))?;
        let mut tx = Transaction::new_client(key, request, endpoint.clone(), None);
        tx.send().await.map_err(stack("sending MESSAGE"))?;
        let mut challenged = false;
        while let Some(message) = tx.receive().await {
            let SipMessage::Response(resp) = message else {
                continue;
            };
            let code = resp.status_code.code();
            match code {
                100..=199 => continue,
                200..=299 => return Ok(()),
                401 | 407 if !challenged => {
                    let Some(credential) = inner.credential() else {
                        return Err(rejected("MESSAGE", &resp));
                    };
                    challenged = true;
                    let seq = inner.seq.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    tx = handle_client_authenticate(seq, &tx, resp, &credential)
                        .await
                        .map_err(stack("answering the MESSAGE challenge"))?;
                    tx.send().await.map_err(stack("sending MESSAGE"))?;
                }
                _ => return Err(rejected("MESSAGE", &resp)),
            }
        }
        Err(Error::Stack {
            context: "sending MESSAGE",
            message: "no final response (timeout)".to_owned(),
        })
    }

    /// Stops the agent: ends every call's media and closes the sockets.
    pub async fn shutdown(self) {
        self.stop().await;
    }

    /// [`UserAgent::shutdown`] through a shared reference: hangs up every call, unregisters,
    /// and closes the sockets (their ports are free once the stack's tasks have ended). The
    /// agent answers nothing afterwards.
    pub async fn stop(&self) {
        let calls: Vec<String> = self
            .inner
            .calls
            .lock()
            .expect("calls lock")
            .keys()
            .cloned()
            .collect();
        for call_id in calls {
            self.hangup(&call_id).await.ok();
            close_call(&self.inner, &call_id, CloseReason::LocalHangup).await;
        }
        self.unregister().await;
        self.inner.cancel.cancel();
    }
}

/// Sends an INVITE to `uri` and tracks the call; `outcome` is told when it is answered or fails.
async fn place_call(
    inner: &Arc<Inner>,
    uri: &str,
    outcome: Option<tokio::sync::oneshot::Sender<std::result::Result<(), String>>>,
) -> Result<String> {
    let target = if uri.contains(':') {
        inner.target_uri(uri)?
    } else {
        inner.target_uri(&format!("sip:{uri}@{}", inner.config.domain))?
    };
    // Over TLS our Contact names the connection the INVITE goes out on: open it first (the
    // stack then sends on it), which also tells an untrusted certificate apart from a refusal.
    // Over TCP too, so that the INVITE goes out on a connection of ours (`stream.rs`).
    let connection = inner
        .connect(&target)
        .await
        .map_err(|f| Error::Connection { reason: f.reason })?;
    let flow = match target.transport() {
        Some(rsipstack::sip::Transport::Tls) => connection.map(|c| inner.flow_addr(&c)),
        _ => None,
    };
    let contact = inner.contact(
        flow.as_ref(),
        target.scheme == Some(rsipstack::sip::Scheme::Sips),
    )?;
    let rtp = bind_rtp(inner.local_addr.ip()).await?;
    let local_rtp = rtp.local_addr().map_err(|source| Error::Socket {
        addr: inner.local_addr,
        source,
    })?;
    let call_id = format!("{}@{}", random_token(), inner.local_addr.ip());
    let session_id = rand::random::<u32>().into();
    let offer = sdp::write_audio(
        local_rtp,
        &inner.config.codecs,
        Some(TELEPHONE_EVENT_PT),
        Direction::SendRecv,
        session_id,
        1,
    );
    let mut call = Call::new(CallDialog::Dialing, rtp, session_id);
    call.answered = true;
    call.outcome = outcome;
    inner
        .calls
        .lock()
        .expect("calls lock")
        .insert(call_id.clone(), call);
    let option = InviteOption {
        caller: parse_uri(&format!(
            "sip:{}@{}",
            inner.config.user, inner.config.domain
        ))?,
        callee: target,
        contact,
        content_type: Some("application/sdp".to_owned()),
        offer: Some(offer.into_bytes()),
        credential: inner.credential(),
        call_id: Some(call_id.clone()),
        headers: Some(vec![Header::Other("Allow".into(), ALLOW.into())]),
        ..Default::default()
    };
    let (dialog, handle) = match inner
        .dialogs
        .do_invite_async(option, inner.state_sender.clone())
    {
        Ok(started) => started,
        Err(e) => {
            inner.calls.lock().expect("calls lock").remove(&call_id);
            return Err(stack("sending INVITE")(e));
        }
    };
    if let Some(call) = inner.calls.lock().expect("calls lock").get_mut(&call_id) {
        call.dialog = CallDialog::Client(dialog);
    }
    let inner = inner.clone();
    let id = call_id.clone();
    tokio::spawn(async move {
        let response = match handle.await {
            Ok(Ok((_, response))) => response,
            Ok(Err(e)) => {
                close_call(
                    &inner,
                    &id,
                    CloseReason::Failed {
                        reason: e.to_string(),
                    },
                )
                .await;
                return;
            }
            Err(e) => {
                close_call(
                    &inner,
                    &id,
                    CloseReason::Failed {
                        reason: e.to_string(),
                    },
                )
                .await;
                return;
            }
        };
        match response {
            Some(resp) if resp.status_code.kind() == StatusCodeKind::Successful => {
                on_answered(&inner, &id, &resp.body).await;
            }
            Some(resp) => {
                let reason = CloseReason::Rejected {
                    code: resp.status_code.code(),
                    reason: resp.status_code.text().to_owned(),
                };
                close_call(&inner, &id, reason).await;
            }
            None => close_call(&inner, &id, CloseReason::Timeout).await,
        }
    });
    Ok(call_id)
}

fn rejected(what: &'static str, resp: &rsipstack::sip::Response) -> Error {
    Error::Stack {
        context: what,
        message: format!("{} {}", resp.status_code.code(), resp.status_code.text()),
    }
}

fn random_token() -> String {
    use rand::Rng;
    let mut rng = rand::thread_rng();
    (0..20)
        .map(|_| char::from(b"abcdefghijklmnopqrstuvwxyz0123456789"[rng.gen_range(0..36)]))
        .collect()
}

async fn bind_rtp(ip: IpAddr) -> Result<Arc<UdpSocket>> {
    let addr = SocketAddr::new(ip, 0);
    UdpSocket::bind(addr)
        .await
        .map(Arc::new)
        .map_err(|source| Error::Socket { addr, source })
}

impl Inner {
    fn credential(&self) -> Option<Credential> {
        self.config.password.as_ref().map(|password| Credential {
            username: self.config.user.clone(),
            password: password.0.clone(),
            realm: None,
            auth_username: None,
        })
    }

    /// Our Contact: where the peer (or the registrar) sends requests to reach us. Over TLS that
    /// is `flow`, the local address of the TLS connection we opened: we accept no TLS
    /// connections, and a proxy sends to the connection whose remote address the Contact names.
    /// Otherwise our listening address, with `;transport=tcp` when we send over TCP. A `sips:`
    /// Contact when the dialog's target was one (RFC 3261 §8.1.1.8, §12.1.1).
    fn contact(&self, flow: Option<&SipAddr>, sips: bool) -> Result<rsipstack::sip::Uri> {
        let scheme = if sips { "sips" } else { "sip" };
        let user = &self.config.user;
        match flow {
            Some(flow) if flow.r#type == Some(rsipstack::sip::Transport::Tls) => {
                parse_uri(&format!("{scheme}:{user}@{};transport=tls", flow.addr))
            }
            _ => parse_uri(&format!(
                "{scheme}:{user}@{}{}",
                self.local_addr,
                self.config.transport.uri_param()
            )),
        }
    }

    /// The TCP or TLS connection a request to `target` goes out on (opened now when there is
    /// none yet, and kept by the stack for later requests), or why it cannot be made. `None`
    /// for UDP targets, once their domain resolves: given a name that does not, the stack
    /// retransmits into the void until its transaction times out, 32 s later, with no word of
    /// DNS.
    async fn connect(
        &self,
        target: &rsipstack::sip::Uri,
    ) -> std::result::Result<Option<SipConnection>, Failure> {
        let addr = SipAddr::try_from(target)
            .map_err(|e| Failure::new(FailureKind::Other, e.to_string()))?;
        // A name that does not resolve is named as such, whatever the transport.
        let key = self.resolve(&addr).await?;
        let tls = match addr.r#type {
            Some(rsipstack::sip::Transport::Tcp) => None,
            Some(rsipstack::sip::Transport::Tls) => Some(
                self.tls_trust
                    .get_or_init(|| {
                        let (ours, stack) =
                            crate::tls::client_config(self.config.tls_ca_file.as_deref())
                                .map_err(|e| e.to_string())?;
                        // For a TLS connection the stack opens itself (see `stream.rs`).
                        self.endpoint.transport_layer.set_tls_config(stack);
                        Ok(ours)
                    })
                    .clone()
                    .map_err(|reason| Failure::new(FailureKind::CaFile, reason))?,
            ),
            _ => return Ok(None),
        };
        self.connect_stream(&addr, key, tls).await.map(Some)
    }

    /// The address the stack knows `addr` by: a domain's resolved address (as the stack
    /// resolves it), or why the domain does not resolve.
    async fn resolve(&self, addr: &SipAddr) -> std::result::Result<SipAddr, Failure> {
        use rsipstack::transport::transport_layer::DomainResolver as _;
        let rsipstack::sip::Host::Domain(domain) = &addr.addr.host else {
            return Ok(addr.clone());
        };
        self.resolver.resolve(addr).await.map_err(|e| {
            Failure::new(
                FailureKind::UnknownHost,
                crate::dns::not_found(&domain.to_string(), &e),
            )
        })
    }

    /// The address a connection has on our side, as our Contact and Via name it: over one of
    /// our TLS connections its local address (the stack knows a channel connection by its
    /// peer's address only); otherwise what the stack says.
    fn flow_addr(&self, connection: &SipConnection) -> SipAddr {
        self.tcp
            .local_of(connection)
            .unwrap_or_else(|| connection.get_addr().clone())
    }

    /// Our TCP connection to `addr`, or TLS one when `tls` gives the trust (opened now when there
    /// is none), under `key`, the address the stack looks it up by (see [`Self::resolve`]).
    /// Over TLS the certificate must be for the name in `addr` (its IP address when it names
    /// none), sent as SNI.
    async fn connect_stream(
        &self,
        addr: &SipAddr,
        key: SipAddr,
        tls: Option<Arc<rustls::ClientConfig>>,
    ) -> std::result::Result<SipConnection, Failure> {
        let name = match &addr.addr.host {
            rsipstack::sip::Host::Domain(domain) => domain.to_string(),
            rsipstack::sip::Host::IpAddr(ip) => ip.to_string(),
        };
        let connected = match (key.r#type, tls) {
            (Some(rsipstack::sip::Transport::Tcp), None) => self
                .tcp
                .connect(&key, None)
                .await
                .map_err(rsipstack::Error::IoError),
            (Some(rsipstack::sip::Transport::Tls), Some(config)) => self
                .tcp
                .connect(&key, Some((config, name)))
                .await
                .map_err(rsipstack::Error::IoError),
            // The domain's SRV records chose another transport: the stack's own.
            _ => self
                .endpoint
                .transport_layer
                .lookup(addr, None)
                .await
                .map(|(connection, _)| connection),
        };
        connected.map_err(|e| {
            Failure::new(
                crate::tls::failure_kind(&e),
                crate::tls::connect_failure(&e, &addr.addr.to_string()),
            )
        })
    }

    /// Parses a request target, adding our transport's `;transport=` when it names none. A
    /// `sips:` target always goes over TLS (rsipstack picks the transport from the parameter
    /// only, and a `sips:` request must never go over UDP or TCP).
    fn target_uri(&self, text: &str) -> Result<rsipstack::sip::Uri> {
        let lower = text.to_ascii_lowercase();
        let param = if lower.starts_with("sips:") {
            Transport::Tls.uri_param()
        } else {
            self.config.transport.uri_param()
        };
        if param.is_empty() || lower.contains(";transport=") {
            return parse_uri(text);
        }
        match text.split_once('?') {
            Some((uri, headers)) => parse_uri(&format!("{uri}{param}?{headers}")),
            None => parse_uri(&format!("{text}{param}")),
        }
    }

    fn emit(&self, event: Event) {
        log_event(&event);
        self.events.send(event).ok();
    }
}

/// Sends queued DTMF digits one INFO request at a time (`application/dtmf-relay`, 100 ms
/// each), the next once the peer answered and the tone had time to play. A refusal drops the
/// digits still queued (a peer that refuses one will refuse the rest); the call goes on.
async fn send_info_dtmf(
    call_id: String,
    dialog: InviteDialog,
    mut digits: mpsc::UnboundedReceiver<char>,
) {
    let spacing = Duration::from_millis(u64::from(INFO_DTMF_MS + INFO_DTMF_GAP_MS));
    while let Some(digit) = digits.recv().await {
        let started = tokio::time::Instant::now();
        let body = crate::info::relay_body(digit, INFO_DTMF_MS);
        let headers = vec![Header::ContentType(crate::info::DTMF_RELAY.into())];
        let refused = match dialog.info(Some(headers), Some(body.into_bytes())).await {
            Ok(Some(response)) if response.status_code.code() < 300 => None,
            Ok(Some(response)) => Some(response.status_code.to_string()),
            Ok(None) => Some("the call is not up".to_owned()),
            Err(e) => Some(e.to_string()),
        };
        if let Some(reason) = refused {
            let dropped = std::iter::from_fn(|| digits.try_recv().ok()).count();
            warn!(call_id, %reason, dropped, "the peer refused DTMF in INFO");
            continue;
        }
        tokio::time::sleep_until(started + spacing).await;
    }
}

/// Logs an event at debug level. A DTMF digit is left out: it may be part of a card number or
/// a PIN the caller keys in.
fn log_event(event: &Event) {
    match event {
        Event::Dtmf { call_id, .. } => debug!(call_id, "event: Dtmf (digit not logged)"),
        event => debug!(?event, "event"),
    }
}

/// Opens the call's devices and starts RTP; device failures fall back to null devices.
fn start_media(
    inner: &Arc<Inner>,
    call_id: &str,
    call: &mut Call,
    remote: &RemoteAudio,
    codec: Codec,
) {
    if call.media.is_some() {
        return;
    }
    let (source, sink) = inner
        .audio
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .clone();
    let source = source.open().unwrap_or_else(|e| {
        inner.emit(Event::AudioError {
            call_id: call_id.to_owned(),
            reason: e.to_string(),
        });
        Box::new(crate::audio::NullDevice)
    });
    let sink = sink.open(call_id).unwrap_or_else(|e| {
        inner.emit(Event::AudioError {
            call_id: call_id.to_owned(),
            reason: e.to_string(),
        });
        Box::new(crate::audio::NullDevice)
    });
    let (media_events, mut media_rx) = mpsc::unbounded_channel::<MediaEvent>();
    let events = inner.events.clone();
    let id = call_id.to_owned();
    tokio::spawn(async move {
        while let Some(event) = media_rx.recv().await {
            let event = match event {
                MediaEvent::DeviceError(reason) => Event::AudioError {
                    call_id: id.clone(),
                    reason,
                },
                MediaEvent::Dtmf(digit) => Event::Dtmf {
                    call_id: id.clone(),
                    digit,
                },
            };
            log_event(&event);
            events.send(event).ok();
        }
    });
    call.held_remote = remote.direction.holds_peer();
    call.media = Some(MediaStream::start(
        call.rtp.clone(),
        remote.rtp_addr,
        MediaOptions {
            codec,
            telephone_event: call.telephone_event,
            sending: !call.held_local && !call.held_remote,
            muted: call.muted,
        },
        source,
        sink,
        media_events,
    ));
}

/// A late-offer call's ACK arrived: its body answers the offer in our 200; start media with it.
fn late_answer(
    inner: &Arc<Inner>,
    call_id: &str,
    call: &mut Call,
    ack_body: Option<&[u8]>,
) -> Result<()> {
    let remote = sdp::parse_audio(ack_body.unwrap_or_default())?;
    let codec = sdp::choose_codec(&remote, &inner.config.codecs)?;
    call.telephone_event = remote.telephone_event;
    call.remote = Some(remote.clone());
    call.codec = Some(codec);
    start_media(inner, call_id, call, &remote, codec);
    Ok(())
}

/// Our outgoing call got its 200: read the answer, start media, report `Established`.
async fn on_answered(inner: &Arc<Inner>, call_id: &str, body: &[u8]) {
    let answer = sdp::parse_audio(body).and_then(|remote| {
        let codec = sdp::choose_codec(&remote, &inner.config.codecs)?;
        Ok((remote, codec))
    });
    let (remote, codec) = match answer {
        Ok(answer) => answer,
        Err(e) => {
            warn!(call_id, error = %e, "unusable SDP answer; hanging up");
            let dialog = inner
                .calls
                .lock()
                .expect("calls lock")
                .get(call_id)
                .map(|c| c.dialog.clone());
            if let Some(CallDialog::Client(d)) = dialog {
                d.hangup().await.ok();
            }
            close_call(
                inner,
                call_id,
                CloseReason::Failed {
                    reason: e.to_string(),
                },
            )
            .await;
            return;
        }
    };
    let mut calls = inner.calls.lock().expect("calls lock");
    let Some(call) = calls.get_mut(call_id) else {
        return;
    };
    call.remote = Some(remote.clone());
    call.codec = Some(codec);
    call.telephone_event = remote.telephone_event;
    start_media(inner, call_id, call, &remote, codec);
    if !call.established {
        call.established = true;
        inner.emit(Event::Established {
            call_id: call_id.to_owned(),
        });
    }
    if let Some(outcome) = call.outcome.take() {
        outcome.send(Ok(())).ok();
    }
}

/// Removes the call, stops its media (flushing recordings) and reports `Closed` once.
async fn close_call(inner: &Arc<Inner>, call_id: &str, reason: CloseReason) {
    let Some(mut call) = inner.calls.lock().expect("calls lock").remove(call_id) else {
        return;
    };
    call.ended.cancel();
    if let Some(outcome) = call.outcome.take() {
        let failure = match &reason {
            CloseReason::Rejected { code, reason } => format!("{code} {reason}"),
            CloseReason::Timeout => "408 Request Timeout".to_owned(),
            _ => "500 Server Internal Error".to_owned(),
        };
        outcome.send(Err(failure)).ok();
    }
    let reason = if call.local_hangup && reason != CloseReason::Declined {
        CloseReason::LocalHangup
    } else {
        reason
    };
    if let Some(media) = call.media {
        let stats = media.stop().await;
        debug!(call_id, ?stats, "media stopped");
    }
    match &call.dialog {
        CallDialog::Server(d) => inner.dialogs.remove_dialog(&d.id()),
        CallDialog::Client(d) => inner.dialogs.remove_dialog(&d.id()),
        CallDialog::Dialing => {}
    }
    info!(call_id, ?reason, "call closed");
    inner.emit(Event::Closed {
        call_id: call_id.to_owned(),
        reason,
    });
}

async fn register_loop(inner: Arc<Inner>, registrar: rsipstack::sip::Uri, stop: CancellationToken) {
    let mut registration = Registration::new(inner.endpoint.clone(), inner.credential());
    let mut failures = 0u32;
    loop {
        inner.emit(Event::Registering);
        let (outcome, flow) = tokio::select! {
            done = register_once(&inner, &mut registration, &registrar) => done,
            // A REGISTER still unanswered when we stop: the binding, if any, expires by itself.
            _ = stop.cancelled() => return,
        };
        let registered = outcome.is_ok();
        let wait = match outcome {
            Ok(expires) => {
                failures = 0;
                inner.emit(Event::Registered { expires });
                rsipstack::dialog::registration::refresh_interval(expires)
            }
            Err(Failure { kind, reason }) => {
                failures += 1;
                inner.emit(Event::RegistrationFailed { reason, kind });
                rsipstack::dialog::registration::backoff_interval(failures)
            }
        };
        let go_on = tokio::select! {
            go_on = wait_for_refresh(&inner, wait.max(Duration::from_secs(1)), flow.as_ref()) => go_on,
            _ = stop.cancelled() => false,
        };
        if !go_on {
            if registered && stop.is_cancelled() && !inner.cancel.is_cancelled() {
                unregister_once(&inner, &mut registration, &registrar).await;
            }
            return;
        }
    }
}

/// Removes our binding: the same REGISTER (Call-ID, CSeq, digest answer) with `Expires: 0`.
async fn unregister_once(
    inner: &Inner,
    registration: &mut Registration,
    registrar: &rsipstack::sip::Uri,
) {
    match registration.register(registrar.clone(), Some(0)).await {
        Ok(resp) if resp.status_code.kind() == StatusCodeKind::Successful => {
            info!("unregistered");
        }
        Ok(resp) => warn!(
            status = resp.status_code.code(),
            "the registrar refused the unregistration"
        ),
        Err(e) => warn!(error = %e, "unregistration not sent"),
    }
    inner.emit(Event::Unregistered);
}

/// One REGISTER (with its digest answer): the granted lifetime or why it failed, and the TCP or
/// TLS connection it went over.
async fn register_once(
    inner: &Arc<Inner>,
    registration: &mut Registration,
    registrar: &rsipstack::sip::Uri,
) -> (std::result::Result<u32, Failure>, Option<SipConnection>) {
    // Over TCP and TLS the registration lives on a connection: open it ourselves, so that a
    // refusal or an untrusted certificate is reported as such and our Contact can name it.
    let flow = match inner.connect(registrar).await {
        Ok(flow) => flow,
        Err(failure) => return (Err(failure), None),
    };
    if let Some(flow) = &flow {
        // Without a Contact of ours rsipstack registers the connection's address without
        // `;transport=`, and the registrar would send calls over UDP.
        let sips = registrar.scheme == Some(rsipstack::sip::Scheme::Sips);
        match inner.contact(Some(&inner.flow_addr(flow)), sips) {
            Ok(uri) => {
                registration.contact = Some(rsipstack::sip::typed::Contact {
                    display_name: None,
                    uri,
                    params: vec![],
                })
            }
            Err(e) => {
                return (
                    Err(Failure::new(FailureKind::Other, e.to_string())),
                    Some(flow.clone()),
                )
            }
        }
    }
    let outcome = match registration
        .register(registrar.clone(), Some(inner.config.register_expires))
        .await
    {
        Ok(resp) if resp.status_code.kind() == StatusCodeKind::Successful => {
            Ok(registration.expires())
        }
        Ok(resp) => Err(Failure::new(
            FailureKind::of_status(resp.status_code.code()),
            format!("{} {}", resp.status_code.code(), resp.status_code.text()),
        )),
        Err(e) => Err(Failure::new(error_kind(&e), e.to_string())),
    };
    (outcome, flow)
}

/// The kind of an error the stack returned for a REGISTER (timeouts come as 408 responses).
fn error_kind(error: &rsipstack::Error) -> FailureKind {
    match error {
        rsipstack::Error::DnsResolutionError(_) => FailureKind::UnknownHost,
        rsipstack::Error::TransportLayerError(..) | rsipstack::Error::IoError(_) => {
            crate::tls::failure_kind(error)
        }
        _ => FailureKind::Other,
    }
}

/// Waits `wait` before the next REGISTER. Over TCP and TLS it meanwhile sends a CRLF keep-alive
/// every [`KEEPALIVE_INTERVAL`] on the registration's connection, and ends early (after a
/// second) when that connection closes: the registrar can no longer reach us through it, so we
/// register again on a new one. `false` when the agent stops.
async fn wait_for_refresh(inner: &Inner, wait: Duration, flow: Option<&SipConnection>) -> bool {
    let deadline = tokio::time::Instant::now() + wait;
    let closed = flow.and_then(SipConnection::cancel_token);
    let flow_closed = async {
        match &closed {
            Some(token) => token.cancelled().await,
            None => std::future::pending().await,
        }
    };
    tokio::pin!(flow_closed);
    loop {
        let next = match flow {
            Some(_) => deadline.min(tokio::time::Instant::now() + KEEPALIVE_INTERVAL),
            None => deadline,
        };
        tokio::select! {
            _ = inner.cancel.cancelled() => return false,
            _ = &mut flow_closed => {
                info!("the registrar's connection closed; registering again");
                break;
            }
            _ = tokio::time::sleep_until(next) => {}
        }
        if tokio::time::Instant::now() >= deadline {
            return true;
        }
        if let Some(flow) = flow {
            let sent = match flow {
                SipConnection::Tls(c) => c.send_raw(KEEPALIVE_REQUEST).await,
                SipConnection::Tcp(c) => c.send_raw(KEEPALIVE_REQUEST).await,
                SipConnection::Channel(_) => {
                    inner.tcp.ping(flow).map_err(rsipstack::Error::IoError)
                }
                _ => Ok(()),
            };
            if let Err(e) = sent {
                info!(error = %e, "keep-alive to the registrar failed; registering again");
                break;
            }
        }
    }
    // Not at once: a registrar that closes every connection would get a REGISTER loop.
    tokio::select! {
        _ = inner.cancel.cancelled() => false,
        _ = tokio::time::sleep(Duration::from_secs(1)) => true,
    }
}

async fn incoming_loop(inner: Arc<Inner>, mut incoming: TransactionReceiver) {
    loop {
        let tx = tokio::select! {
            _ = inner.cancel.cancelled() => return,
            tx = incoming.recv() => match tx { Some(tx) => tx, None => return },
        };
        let inner = inner.clone();
        tokio::spawn(async move {
            let method = tx.original.method;
            if let Err(e) = handle_request(&inner, tx).await {
                debug!(%method, error = %e, "request handling ended with an error");
            }
        });
    }
}

/// The headers of an OPTIONS answer: what we allow and accept.
fn capabilities() -> Vec<Header> {
    vec![
        Header::Other("Allow".into(), ALLOW.into()),
        Header::Other("Accept".into(), ACCEPT.into()),
    ]
}

fn has_to_tag(tx: &Transaction) -> bool {
    tx.original
        .to_header()
        .ok()
        .and_then(|to| to.tag().ok().flatten())
        .is_some()
}

async fn handle_request(inner: &Arc<Inner>, mut tx: Transaction) -> Result<()> {
    let method = tx.original.method;
    if has_to_tag(&tx) || matches!(method, Method::Ack | Method::Bye | Method::Cancel) {
        return match inner.dialogs.match_dialog(&tx) {
            Some(mut dialog) => dialog
                .handle(&mut tx)
                .await
                .map_err(stack("handling an in-dialog request")),
            None if method == Method::Ack => Ok(()),
            None => tx
                .reply(StatusCode::CallTransactionDoesNotExist)
                .await
                .map_err(stack("answering 481")),
        };
    }
    match method {
        Method::Invite => handle_invite(inner, tx).await,
        Method::Options => tx
            .reply_with(StatusCode::OK, capabilities(), None)
            .await
            .map_err(stack("answering OPTIONS")),
        Method::Message => {
            let status = match incoming_message(&tx.original) {
                Ok((from, text)) => {
                    inner.emit(Event::MessageReceived { from, text });
                    StatusCode::OK
                }
                Err(status) => status,
            };
            tx.reply(status).await.map_err(stack("answering MESSAGE"))
        }
        _ => tx
            .reply_with(
                StatusCode::MethodNotAllowed,
                vec![Header::Other("Allow".into(), ALLOW.into())],
                None,
            )
            .await
            .map_err(stack("answering 405")),
    }
}

/// Reads a MESSAGE: its sender and UTF-8 text, or the status to refuse it with.
fn incoming_message(
    request: &rsipstack::sip::Request,
) -> std::result::Result<(Party, String), StatusCode> {
    use rsipstack::sip::prelude::HasHeaders;
    let content_type = request
        .headers()
        .iter()
        .find(|h| h.name().eq_ignore_ascii_case("Content-Type"))
        .map(|h| h.value().to_ascii_lowercase())
        .unwrap_or_default();
    if !content_type.trim_start().starts_with("text/plain") {
        return Err(StatusCode::UnsupportedMediaType);
    }
    if request.body.len() > MAX_MESSAGE_BODY {
        return Err(StatusCode::RequestEntityTooLarge);
    }
    let text = String::from_utf8(request.body.clone()).map_err(|_| StatusCode::BadRequest)?;
    let from = party_header(request, "From").ok_or(StatusCode::BadRequest)?;
    Ok((from, text))
}

fn raw_header(request: &rsipstack::sip::Request, name: &str) -> Option<String> {
    use rsipstack::sip::prelude::HasHeaders;
    request
        .headers()
        .iter()
        .filter(|h| h.name().eq_ignore_ascii_case(name))
        .map(|h| h.value().to_string())
        .reduce(|a, b| format!("{a},{b}"))
}

fn party_header(request: &rsipstack::sip::Request, name: &str) -> Option<Party> {
    identity::parse_name_addr(&raw_header(request, name)?)
}

async fn handle_invite(inner: &Arc<Inner>, mut tx: Transaction) -> Result<()> {
    let request = tx.original.clone();
    let call_id = request
        .call_id_header()
        .map(|c| c.value().to_string())
        .map_err(|e| Error::Stack {
            context: "reading Call-ID",
            message: e.to_string(),
        })?;
    // An INVITE without a body is a late offer: our 200 carries the offer, the ACK the answer.
    let offer = if request.body.is_empty() {
        Ok(None)
    } else {
        sdp::parse_audio(&request.body).and_then(|remote| {
            let codec = sdp::choose_codec(&remote, &inner.config.codecs)?;
            Ok(Some((remote, codec)))
        })
    };
    let offer = match offer {
        Ok(offer) => offer,
        Err(e) => {
            info!(call_id, error = %e, "refusing INVITE with 488");
            return tx
                .reply(StatusCode::NotAcceptableHere)
                .await
                .map_err(stack("answering 488"));
        }
    };
    let from = identity::caller(
        raw_header(&request, "P-Asserted-Identity").as_deref(),
        raw_header(&request, "Remote-Party-ID").as_deref(),
        &raw_header(&request, "From").unwrap_or_default(),
    );
    let to = party_header(&request, "To");
    let (Some(from), Some(to)) = (from, to) else {
        return tx
            .reply(StatusCode::BadRequest)
            .await
            .map_err(stack("answering 400"));
    };
    let waiting = {
        let calls = inner.calls.lock().expect("calls lock");
        if calls.contains_key(&call_id) {
            return Ok(()); // a retransmission racing the first copy
        }
        calls.values().any(Call::is_up)
    };
    if waiting && inner.config.busy_policy == BusyPolicy::Reject486 {
        info!(call_id, "busy: refusing a second call with 486");
        return tx
            .reply(StatusCode::BusyHere)
            .await
            .map_err(stack("answering 486"));
    }
    let rtp = bind_rtp(inner.local_addr.ip()).await?;
    // An INVITE that came over one of our TLS connections is answered with a Contact naming it.
    let flow = tx.connection.as_ref().map(|c| inner.flow_addr(c));
    let contact = inner.contact(
        flow.as_ref(),
        request.uri.scheme == Some(rsipstack::sip::Scheme::Sips),
    )?;
    // rsipstack 0.7.14 appends the connection's transport (`;transport=TLS`) to the caller's
    // Contact, the dialog's remote target, when it makes a server dialog from a TCP or TLS
    // request. When a proxy record-routed the call that is wrong: our in-dialog requests reach
    // the proxy by the route set, and their Request-URI must be the Contact as the caller sent
    // it (RFC 3261 §12.1.1, §12.2.1.1); kamailio sent our BYE to a UDP caller over TLS and
    // answered 477. Such a dialog is therefore made without the connection (the transaction
    // keeps it for its answers); the route set's first hop leads back onto the same connection.
    let proxied = request
        .headers
        .iter()
        .any(|h| matches!(h, Header::RecordRoute(_)));
    let reliable = tx
        .connection
        .as_ref()
        .is_some_and(SipConnection::is_reliable);
    let connection = if proxied && reliable {
        tx.connection.take()
    } else {
        None
    };
    let created = inner.dialogs.get_or_create_server_invite(
        &tx,
        inner.state_sender.clone(),
        None,
        Some(contact),
    );
    if connection.is_some() {
        tx.connection = connection;
    }
    let dialog = created.map_err(stack("creating the server dialog"))?;
    let server = dialog.clone();
    tx.send_trying()
        .await
        .map_err(stack("sending 100 Trying"))?;
    let mut call = Call::new(
        CallDialog::Server(server.clone()),
        rtp,
        rand::random::<u32>().into(),
    );
    if let Some((remote, codec)) = offer {
        call.telephone_event = remote.telephone_event;
        call.remote = Some(remote);
        call.codec = Some(codec);
    }
    inner
        .calls
        .lock()
        .expect("calls lock")
        .insert(call_id.clone(), call);
    server
        .ringing(None, None)
        .map_err(stack("sending 180 Ringing"))?;
    inner.emit(Event::IncomingCall {
        call_id: call_id.clone(),
        from,
        to,
        waiting,
    });
    let mut dialog = dialog;
    dialog
        .handle(&mut tx)
        .await
        .map_err(stack("running the INVITE transaction"))
}

async fn dialog_state_loop(inner: Arc<Inner>, mut states: DialogStateReceiver) {
    loop {
        let state = tokio::select! {
            _ = inner.cancel.cancelled() => return,
            state = states.recv() => match state { Some(s) => s, None => return },
        };
        let inner = inner.clone();
        tokio::spawn(async move { on_dialog_state(&inner, state).await });
    }
}

async fn on_dialog_state(inner: &Arc<Inner>, state: DialogState) {
    match state {
        DialogState::Early(id, _) => {
            let outgoing = matches!(
                inner
                    .calls
                    .lock()
                    .expect("calls lock")
                    .get(&id.call_id)
                    .map(|c| &c.dialog),
                Some(CallDialog::Client(_) | CallDialog::Dialing)
            );
            if outgoing {
                inner.emit(Event::Ringing {
                    call_id: id.call_id,
                });
            }
        }
        DialogState::Confirmed(id, _) => {
            let failed = {
                let mut calls = inner.calls.lock().expect("calls lock");
                match calls.get_mut(&id.call_id) {
                    Some(call) if !call.established => {
                        let started = match (&call.dialog, call.media.is_some()) {
                            (_, true) => Ok(()),
                            (CallDialog::Server(dialog), false) if call.answered => {
                                let ack = dialog.last_remote_ack().map(|a| a.body);
                                late_answer(inner, &id.call_id, call, ack.as_deref())
                            }
                            _ => Ok(()),
                        };
                        match started {
                            Ok(()) if call.media.is_some() => {
                                call.established = true;
                                inner.emit(Event::Established {
                                    call_id: id.call_id.clone(),
                                });
                                None
                            }
                            Ok(()) => None,
                            Err(e) => Some((call.dialog.clone(), e)),
                        }
                    }
                    _ => None,
                }
            };
            if let Some((dialog, e)) = failed {
                warn!(call_id = %id.call_id, error = %e, "late offer: unusable answer in the ACK; hanging up");
                if let CallDialog::Server(d) = dialog {
                    d.bye().await.ok();
                }
                close_call(
                    inner,
                    &id.call_id,
                    CloseReason::Failed {
                        reason: e.to_string(),
                    },
                )
                .await;
            }
        }
        DialogState::Terminated(id, reason) => {
            let reason = match reason {
                TerminatedReason::UacCancel => CloseReason::Cancelled,
                TerminatedReason::UacBye | TerminatedReason::UasBye => CloseReason::RemoteHangup,
                TerminatedReason::UasDecline | TerminatedReason::UasBusy => CloseReason::Declined,
                TerminatedReason::Timeout => CloseReason::Timeout,
                TerminatedReason::UacBusy => CloseReason::Rejected {
                    code: 486,
                    reason: "Busy Here".to_owned(),
                },
                TerminatedReason::ProxyAuthRequired => CloseReason::Rejected {
                    code: 407,
                    reason: "Proxy Authentication Required".to_owned(),
                },
                TerminatedReason::ProxyError(code)
                | TerminatedReason::UacOther(code)
                | TerminatedReason::UasOther(code) => CloseReason::Rejected {
                    code: code.code(),
                    reason: code.text().to_owned(),
                },
            };
            close_call(inner, &id.call_id, reason).await;
        }
        DialogState::Updated(id, request, handle) => {
            if request.method != Method::Invite {
                handle.reply(StatusCode::OK).await.ok();
                return;
            }
            let reply = reinvite_answer(inner, &id.call_id, &request.body);
            match reply {
                Ok((body, event)) => {
                    handle
                        .respond(
                            StatusCode::OK,
                            Some(vec![Header::ContentType("application/sdp".into())]),
                            Some(body.into_bytes()),
                        )
                        .await
                        .ok();
                    if let Some(event) = event {
                        inner.emit(event);
                    }
                }
                Err(e) => {
                    debug!(call_id = %id.call_id, error = %e, "re-INVITE refused");
                    handle.reply(StatusCode::NotAcceptableHere).await.ok();
                }
            }
        }
        DialogState::Message(_, request, handle) => match incoming_message(&request) {
            Ok((from, text)) => {
                handle.reply(StatusCode::OK).await.ok();
                inner.emit(Event::MessageReceived { from, text });
            }
            Err(status) => {
                handle.reply(status).await.ok();
            }
        },
        DialogState::Notify(id, request, handle) => {
            handle.reply(StatusCode::OK).await.ok();
            on_notify(inner, &id.call_id, &request).await;
        }
        DialogState::Refer(id, request, handle) => {
            on_refer(inner, &id.call_id, &request, handle).await;
        }
        DialogState::Options(_, _, handle) => {
            handle
                .respond(StatusCode::OK, Some(capabilities()), None)
                .await
                .ok();
        }
        DialogState::Info(id, request, handle) => {
            let content_type = raw_header(&request, "Content-Type");
            match crate::info::parse(content_type.as_deref(), &request.body) {
                Ok(digit) => {
                    handle.reply(StatusCode::OK).await.ok();
                    if let Some(digit) = digit {
                        inner.emit(Event::Dtmf {
                            call_id: id.call_id.clone(),
                            digit,
                        });
                    }
                }
                Err(e) => {
                    debug!(call_id = %id.call_id, error = %e, "INFO refused");
                    let (status, headers) = match e {
                        crate::info::InfoError::UnsupportedType(_) => (
                            StatusCode::UnsupportedMediaType,
                            Some(vec![Header::Other(
                                "Accept".into(),
                                crate::info::ACCEPT.into(),
                            )]),
                        ),
                        crate::info::InfoError::BadDigit => (StatusCode::BadRequest, None),
                        crate::info::InfoError::TooLarge => {
                            (StatusCode::RequestEntityTooLarge, None)
                        }
                    };
                    handle.respond(status, headers, None).await.ok();
                }
            }
        }
        DialogState::Publish(_, _, handle) => {
            handle.reply(StatusCode::NotImplemented).await.ok();
        }
        DialogState::Calling(_) | DialogState::Trying(_) | DialogState::WaitAck(_, _) => {}
    }
}

/// Answers a re-INVITE's offer with our current stream; reports hold or resume when the peer's
/// direction changes, and follows a new RTP address.
fn reinvite_answer(
    inner: &Arc<Inner>,
    call_id: &str,
    body: &[u8],
) -> Result<(String, Option<Event>)> {
    let mut calls = inner.calls.lock().expect("calls lock");
    let call = calls.get_mut(call_id).ok_or_else(|| Error::UnknownCall {
        call_id: call_id.to_owned(),
    })?;
    let codec = call.codec.ok_or_else(|| Error::InvalidState {
        call_id: call_id.to_owned(),
        action: "re-negotiate",
        state: call.state_name(),
    })?;
    let remote = sdp::parse_audio(body)?;
    if !remote.codecs.contains(&codec) {
        return Err(Error::NoCommonCodec {
            offered: remote.offered,
        });
    }
    let held = remote.direction.holds_peer();
    let event = match (call.held_remote, held) {
        (false, true) => Some(Event::Held {
            call_id: call_id.to_owned(),
            by_peer: true,
        }),
        (true, false) => Some(Event::Resumed {
            call_id: call_id.to_owned(),
            by_peer: true,
        }),
        _ => None,
    };
    call.held_remote = held;
    call.version += 1;
    if remote.telephone_event.is_some() {
        call.telephone_event = remote.telephone_event;
    }
    if let Some(media) = &call.media {
        if call.remote.as_ref().map(|r| r.rtp_addr) != Some(remote.rtp_addr) {
            media.set_remote(remote.rtp_addr);
        }
    }
    call.apply_hold();
    let local = call.rtp.local_addr().map_err(|source| Error::Socket {
        addr: inner.local_addr,
        source,
    })?;
    let body = sdp::write_audio(
        local,
        &[codec],
        remote.telephone_event,
        remote.direction.answer_holding(call.held_local),
        call.session_id,
        call.version,
    );
    call.remote = Some(remote);
    Ok((body, event))
}

/// The status code of a `message/sipfrag` body (`SIP/2.0 200 OK`), if it is one.
pub(crate) fn sipfrag_status(body: &[u8]) -> Option<u16> {
    let text = std::str::from_utf8(body.get(..body.len().min(256))?).ok()?;
    let line = text.lines().next()?.trim();
    let rest = line.strip_prefix("SIP/2.0 ")?;
    let code: u16 = rest.get(..3)?.parse().ok()?;
    (100..700).contains(&code).then_some(code)
}

/// A NOTIFY in a call: when it reports on our REFER, a final 2xx completes the transfer
/// (`Transferred`, then BYE); a final failure ends the attempt and the call stays.
async fn on_notify(inner: &Arc<Inner>, call_id: &str, request: &rsipstack::sip::Request) {
    let is_refer = raw_header(request, "Event")
        .is_some_and(|e| e.trim().to_ascii_lowercase().starts_with("refer"));
    let Some(code) = sipfrag_status(&request.body).filter(|_| is_refer) else {
        return;
    };
    if code < 200 {
        debug!(call_id, code, "transfer in progress");
        return;
    }
    let (target, dialog) = {
        let mut calls = inner.calls.lock().expect("calls lock");
        let Some(call) = calls.get_mut(call_id) else {
            return;
        };
        let Some(target) = call.transfer_target.take() else {
            return;
        };
        if !(200..300).contains(&code) {
            warn!(call_id, code, "the transfer target refused; the call stays");
            return;
        }
        call.local_hangup = true;
        (target, call.dialog.clone())
    };
    info!(call_id, "transfer completed");
    inner.emit(Event::Transferred {
        call_id: call_id.to_owned(),
        target,
    });
    tokio::time::sleep(ANSWER_SETTLE).await;
    let result = match dialog {
        CallDialog::Server(d) => d.bye().await,
        CallDialog::Client(d) => d.hangup().await,
        CallDialog::Dialing => Ok(()),
    };
    if let Err(e) = result {
        debug!(call_id, error = %e, "BYE after transfer failed");
    }
    close_call(inner, call_id, CloseReason::LocalHangup).await;
}

/// Reads the URI of a Refer-To value (`<sip:…>` with parameters, or a bare URI).
fn refer_to_uri(value: &str) -> Option<String> {
    let party = identity::parse_name_addr(value)?;
    let uri = party.uri.split('?').next().unwrap_or_default().to_owned();
    parse_uri(&uri).ok()?;
    Some(uri)
}

/// The peer asks us to call someone else (blind transfer, RFC 3515): 202, NOTIFY 100, the new
/// call, NOTIFY with its outcome, and on success BYE to the old call.
async fn on_refer(
    inner: &Arc<Inner>,
    call_id: &str,
    request: &rsipstack::sip::Request,
    handle: rsipstack::dialog::dialog::TransactionHandle,
) {
    let target = raw_header(request, "Refer-To").and_then(|v| refer_to_uri(&v));
    let dialog = inner
        .calls
        .lock()
        .expect("calls lock")
        .get(call_id)
        .and_then(|c| c.confirmed_dialog(call_id, "be transferred").ok());
    let (Some(target), Some(dialog)) = (target, dialog) else {
        handle.reply(StatusCode::BadRequest).await.ok();
        return;
    };
    handle.reply(StatusCode::Accepted).await.ok();
    info!(call_id, %target, "transferred by the peer");
    let inner = inner.clone();
    let call_id = call_id.to_owned();
    tokio::spawn(async move {
        // The 100 Trying NOTIFY goes out while the new call is placed, not before it.
        let trying = {
            let dialog = dialog.clone();
            tokio::spawn(async move {
                tokio::time::sleep(ANSWER_SETTLE).await;
                notify_refer(&dialog, "SIP/2.0 100 Trying", "active;expires=60").await
            })
        };
        let (tx, rx) = tokio::sync::oneshot::channel();
        let outcome = match place_call(&inner, &target, Some(tx)).await {
            Ok(_) => rx
                .await
                .unwrap_or_else(|_| Err("500 Server Internal Error".to_owned())),
            Err(e) => Err(format!("503 Service Unavailable ({e})")),
        };
        trying.await.ok();
        match outcome {
            Ok(()) => {
                notify_refer(&dialog, "SIP/2.0 200 OK", "terminated;reason=noresource").await;
                if let Some(call) = inner.calls.lock().expect("calls lock").get_mut(&call_id) {
                    call.local_hangup = true;
                }
                dialog.bye().await.ok();
                close_call(&inner, &call_id, CloseReason::LocalHangup).await;
            }
            Err(status) => {
                let code = status.get(..3).unwrap_or("500");
                let frag = format!("SIP/2.0 {code} Transfer Failed");
                notify_refer(&dialog, &frag, "terminated;reason=noresource").await;
            }
        }
    });
}

/// Sends a NOTIFY (`message/sipfrag`) for a REFER we received.
async fn notify_refer(dialog: &InviteDialog, sipfrag: &str, state: &str) {
    let headers = vec![
        Header::Event("refer".into()),
        Header::SubscriptionState(state.into()),
        Header::ContentType("message/sipfrag;version=2.0".into()),
    ];
    match dialog
        .notify(Some(headers), Some(format!("{sipfrag}\r\n").into_bytes()))
        .await
    {
        Ok(Some(_)) => {}
        Ok(None) => debug!(sipfrag, "NOTIFY for REFER not sent: the dialog is over"),
        Err(e) => debug!(error = %e, "NOTIFY for REFER failed"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn register_refusals_have_kinds() {
        for (code, kind) in [
            (401, FailureKind::Credentials),
            (403, FailureKind::Credentials),
            (407, FailureKind::Credentials),
            (404, FailureKind::UnknownUser),
            (408, FailureKind::Unreachable),
            (503, FailureKind::ServerError),
            (420, FailureKind::Other),
            (606, FailureKind::Other),
        ] {
            assert_eq!(FailureKind::of_status(code), kind, "{code}");
        }
    }
}
