//! SIP over TCP and TLS on connections of our own: a message the stack cannot parse is answered
//! (501 for an unknown method) or dropped, and the connection stays up.
//!
//! rsipstack 0.7.14 reads its TCP and TLS connections with its own codec, and a message its
//! parser refuses (a method it does not know, a broken header) is a codec error that closes the
//! whole connection. That costs the registration's flow, and with it the calls the PBX would
//! send over it, for one request RFC 3261 §8.2.1 says to answer with 501 Not Implemented. The
//! stack's seam for transports of the application's own is its channel connection
//! (`transport/channel.rs`, the same seam its WebSocket bridges use): parsed messages go in,
//! messages to send come out, and the stack's transaction, dialog and flow-affinity logic treat it
//! as a reliable connection. So this module accepts and dials TCP, and dials TLS (rustls through
//! tokio-rustls, verified against the trust `tls.rs` builds), itself, frames the byte stream
//! ([`next_frame`], sans-IO: Content-Length framing, RFC 3261 §18.3; CRLF keep-alives, RFC 5626
//! §3.5.1), lets the stack's parser read each message, answers an unknown-method request with
//! the same 501 as over UDP ([`crate::socket::not_implemented`]), and hands the rest to the stack
//! through one channel connection per TCP or TLS connection.
//!
//! Two things the stack does for its own stream connections are done here instead: the top Via of
//! a request received gets `received`/`rport` (RFC 3581), and a connection silent for the stack's
//! idle timeout is closed. One thing is mended on the way out: the stack names a channel
//! connection by its peer's address only, so a REGISTER it builds over one carries the
//! registrar's address as its Via sent-by; the writer puts ours there (RFC 3261 §18.1.1), and
//! [`Tcp::local_of`] gives the address the Contact names over TLS.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rsipstack::sip::prelude::{HeadersExt, ToTypedHeader};
use rsipstack::sip::{HostWithPort, SipMessage, Transport};
use rsipstack::transaction::endpoint::EndpointInner;
use rsipstack::transport::channel::ChannelConnection;
use rsipstack::transport::connection::{TransportReceiver, TransportSender};
use rsipstack::transport::{SipAddr, SipConnection, TransportEvent};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, trace, warn};

/// The largest SIP message we take over TCP (the stack's limit for its own streams); a peer
/// sending more without a complete message loses the connection.
pub const MAX_MESSAGE: usize = 65_535;

/// A CRLF keep-alive ping (RFC 5626 §3.5.1), sent by the side keeping the flow alive.
pub const PING: &[u8] = b"\r\n\r\n";
/// The pong answering it.
pub const PONG: &[u8] = b"\r\n";

/// One unit read off a SIP stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    /// A keep-alive ping: answer [`PONG`].
    Ping,
    /// A keep-alive pong.
    Pong,
    /// One whole SIP message (head and body), not parsed yet.
    Message(Vec<u8>),
}

/// Why a stream cannot be read on: after these, where the next message starts is unknown.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FramingError {
    /// A Content-Length that is not a number.
    #[error("the Content-Length is not a number")]
    BadContentLength,
    /// More than [`MAX_MESSAGE`] bytes without a whole message.
    #[error("a message larger than {MAX_MESSAGE} bytes")]
    TooLarge,
    /// A carriage return not followed by a line feed in a message head (RFC 3261 §7 ends every
    /// line with CRLF; a lone CR is where a header could be smuggled into a message we send on).
    #[error("a lone carriage return in a message head")]
    BareCr,
}

/// Whether `head` holds a carriage return not followed by a line feed (see
/// [`FramingError::BareCr`]); the UDP socket drops such datagrams too.
pub(crate) fn has_lone_cr(head: &[u8]) -> bool {
    head.iter()
        .enumerate()
        .any(|(i, &b)| b == b'\r' && head.get(i + 1) != Some(&b'\n'))
}

/// Takes the next frame off the front of `buffer`, or `None` until more bytes arrive. A message
/// without Content-Length has no body (RFC 3261 §18.3 makes the header mandatory on streams; the
/// stack reads it the same way).
pub fn next_frame(buffer: &mut Vec<u8>) -> Result<Option<Frame>, FramingError> {
    if buffer.starts_with(PING) {
        buffer.drain(..PING.len());
        return Ok(Some(Frame::Ping));
    }
    if buffer.starts_with(PONG) {
        // "\r\n" then "\r\n" may be a ping still arriving: wait for the byte that tells.
        if buffer.len() < PING.len() && PING.starts_with(buffer) {
            return Ok(None);
        }
        buffer.drain(..PONG.len());
        return Ok(Some(Frame::Pong));
    }
    let Some(head_end) = find(buffer, b"\r\n\r\n") else {
        return if buffer.len() > MAX_MESSAGE {
            Err(FramingError::TooLarge)
        } else {
            Ok(None)
        };
    };
    let head = &buffer[..head_end];
    if has_lone_cr(head) {
        return Err(FramingError::BareCr);
    }
    let body_len = content_length(head)?;
    let total = (head_end + 4).saturating_add(body_len);
    if total > MAX_MESSAGE {
        return Err(FramingError::TooLarge);
    }
    if buffer.len() < total {
        return Ok(None);
    }
    Ok(Some(Frame::Message(buffer.drain(..total).collect())))
}

/// The Content-Length of a message head (`l` is its compact form); 0 when absent.
fn content_length(head: &[u8]) -> Result<usize, FramingError> {
    for line in head.split(|&b| b == b'\n') {
        let Some(colon) = line.iter().position(|&b| b == b':') else {
            continue;
        };
        let name = line[..colon].trim_ascii();
        if name.eq_ignore_ascii_case(b"content-length") || name.eq_ignore_ascii_case(b"l") {
            return std::str::from_utf8(&line[colon + 1..])
                .ok()
                .and_then(|v| v.trim().parse().ok())
                .ok_or(FramingError::BadContentLength);
        }
    }
    Ok(0)
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// Our TCP side: the listener (on the UDP port), the connections it accepted and those we
/// dialled, each known to the stack as a channel connection under its peer's address.
#[derive(Clone)]
pub(crate) struct Tcp {
    shared: Arc<Shared>,
}

struct Shared {
    endpoint: Arc<EndpointInner>,
    /// Our listening address: the Via sent-by over TCP of requests the stack addresses wrongly.
    local: SocketAddr,
    /// Live connections by the address the stack looks them up under.
    flows: Mutex<BTreeMap<SipAddr, Flow>>,
    cancel: CancellationToken,
    /// Keys the To tags of our 501s (see [`crate::socket::not_implemented`]).
    tags: std::collections::hash_map::RandomState,
}

#[derive(Clone)]
struct Flow {
    channel: ChannelConnection,
    /// The address we advertise on it: our listener over TCP; over TLS (we never listen for
    /// TLS) the connection's own local address.
    ours: SipAddr,
    /// Bytes written as they are (pongs, pings, our 501s), in turn with the stack's messages.
    raw: mpsc::UnboundedSender<Vec<u8>>,
}

impl Tcp {
    /// Starts accepting SIP connections on `listener`. `local` is the address we advertise.
    pub(crate) fn start(
        listener: TcpListener,
        endpoint: Arc<EndpointInner>,
        local: SocketAddr,
        cancel: CancellationToken,
    ) -> Self {
        let tcp = Self {
            shared: Arc::new(Shared {
                endpoint,
                local,
                flows: Mutex::new(BTreeMap::new()),
                cancel,
                tags: std::collections::hash_map::RandomState::new(),
            }),
        };
        let accepting = tcp.clone();
        tokio::spawn(async move { accepting.accept_loop(listener).await });
        tcp
    }

    async fn accept_loop(self, listener: TcpListener) {
        loop {
            let accepted = tokio::select! {
                _ = self.shared.cancel.cancelled() => return,
                accepted = listener.accept() => accepted,
            };
            match accepted {
                Ok((stream, peer)) => {
                    debug!(%peer, "SIP connection accepted over TCP");
                    let key = sip_addr(peer, Transport::Tcp);
                    let ours = sip_addr(self.shared.local, Transport::Tcp);
                    if let Err(e) = self.serve(stream, peer, ours, key).await {
                        warn!(%peer, error = %e, "serving a SIP connection failed");
                    }
                }
                Err(e) => {
                    // Out of file descriptors and the like: try again shortly rather than spin.
                    warn!(error = %e, "accepting a SIP connection failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        }
    }

    /// The connection to `key` (a resolved address with its transport, as the stack looks it
    /// up), dialled now when there is none: TCP, or TLS when `tls` gives the client config and
    /// the name the certificate must be for (SNI).
    pub(crate) async fn connect(
        &self,
        key: &SipAddr,
        tls: Option<(Arc<rustls::ClientConfig>, String)>,
    ) -> std::io::Result<SipConnection> {
        if let Some(flow) = self.flow(key) {
            return Ok(SipConnection::Channel(flow.channel));
        }
        let default_port = if tls.is_some() { 5061 } else { 5060 };
        let target = match &key.addr.host {
            rsipstack::sip::Host::IpAddr(ip) => SocketAddr::new(
                *ip,
                key.addr.port.as_ref().map_or(default_port, |p| p.value()),
            ),
            rsipstack::sip::Host::Domain(d) => {
                return Err(std::io::Error::other(format!("{d} is not resolved")));
            }
        };
        let stream = TcpStream::connect(target).await?;
        let peer = stream.peer_addr()?;
        let Some((config, name)) = tls else {
            debug!(%peer, "SIP connection opened over TCP");
            let ours = sip_addr(self.shared.local, Transport::Tcp);
            return Ok(SipConnection::Channel(
                self.serve(stream, peer, ours, key.clone()).await?,
            ));
        };
        let local = stream.local_addr()?;
        let name = rustls::pki_types::ServerName::try_from(name)
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
        let stream = tokio_rustls::TlsConnector::from(config)
            .connect(name, stream)
            .await?;
        debug!(%peer, "SIP connection opened over TLS");
        let ours = sip_addr(local, Transport::Tls);
        Ok(SipConnection::Channel(
            self.serve(stream, peer, ours, key.clone()).await?,
        ))
    }

    /// The address we advertise on `connection` when it is one of ours (over TLS, its local
    /// address: the one our Contact names).
    pub(crate) fn local_of(&self, connection: &SipConnection) -> Option<SipAddr> {
        let SipConnection::Channel(channel) = connection else {
            return None;
        };
        channel
            .get_remote_addr()
            .and_then(|key| self.flow(key))
            .map(|flow| flow.ours)
    }

    /// Sends a keep-alive ping on `connection` when it is one of ours.
    pub(crate) fn ping(&self, connection: &SipConnection) -> std::io::Result<()> {
        let SipConnection::Channel(channel) = connection else {
            return Ok(());
        };
        let flow = channel
            .get_remote_addr()
            .and_then(|key| self.flow(key))
            .ok_or_else(|| std::io::Error::from(std::io::ErrorKind::NotConnected))?;
        flow.raw
            .send(PING.to_vec())
            .map_err(|_| std::io::Error::from(std::io::ErrorKind::BrokenPipe))
    }

    fn flow(&self, key: &SipAddr) -> Option<Flow> {
        let flows = self.shared.flows.lock().unwrap_or_else(|e| e.into_inner());
        flows
            .get(key)
            .filter(|f| !f.channel.cancel_token().is_some_and(|t| t.is_cancelled()))
            .cloned()
    }

    /// Serves one connection: a reader, a writer, and the channel connection between them and
    /// the stack, which the stack then knows under `key`; `ours` is what we advertise on it.
    async fn serve<S>(
        &self,
        stream: S,
        peer: SocketAddr,
        ours: SipAddr,
        key: SipAddr,
    ) -> std::io::Result<ChannelConnection>
    where
        S: AsyncRead + AsyncWrite + Send + 'static,
    {
        let (read, write) = tokio::io::split(stream);
        let (to_stack, from_us) = mpsc::unbounded_channel();
        let (to_peer, outgoing) = mpsc::unbounded_channel();
        let (raw, raw_out) = mpsc::unbounded_channel();
        let token = self.shared.cancel.child_token();
        let channel = ChannelConnection::create_connection(
            from_us,
            to_peer,
            key.clone(),
            Some(token.clone()),
        )
        .await
        .map_err(|e| std::io::Error::other(e.to_string()))?;
        let flow = Flow {
            channel: channel.clone(),
            ours: ours.clone(),
            raw: raw.clone(),
        };
        self.shared
            .flows
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(key.clone(), flow);
        let transport = key.r#type.unwrap_or(Transport::Tcp);
        tokio::spawn(write_loop(
            write,
            outgoing,
            raw_out,
            key.addr.clone(),
            ours.addr,
            token.clone(),
        ));
        let reader = Reader {
            tcp: self.clone(),
            channel: channel.clone(),
            peer,
            transport,
            to_stack,
            raw,
            token,
        };
        tokio::spawn(reader.run(read, key));
        self.shared
            .endpoint
            .transport_layer
            .add_connection(SipConnection::Channel(channel.clone()));
        Ok(channel)
    }
}

/// An address with its transport, as the stack names connections' ends.
fn sip_addr(addr: SocketAddr, transport: Transport) -> SipAddr {
    SipAddr {
        r#type: Some(transport),
        addr: addr.into(),
    }
}

struct Reader {
    tcp: Tcp,
    channel: ChannelConnection,
    peer: SocketAddr,
    transport: Transport,
    to_stack: TransportSender,
    raw: mpsc::UnboundedSender<Vec<u8>>,
    token: CancellationToken,
}

impl Reader {
    async fn run<R: AsyncRead + Unpin>(self, mut read: R, key: SipAddr) {
        let why = self.read_all(&mut read).await;
        info!(peer = %self.peer, transport = %self.transport, why, "SIP connection closed");
        {
            let mut flows = self
                .tcp
                .shared
                .flows
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            if flows
                .get(&key)
                .is_some_and(|f| f.raw.same_channel(&self.raw))
            {
                flows.remove(&key);
            }
        }
        // The stack retires the connection when its side of the channel ends (dropping
        // `to_stack` does that); the token stops the writer and tells flow affinity.
        self.tcp
            .shared
            .endpoint
            .transport_layer
            .remove_connection(&SipConnection::Channel(self.channel.clone()));
        self.token.cancel();
    }

    /// Reads until the connection ends; why it ended.
    async fn read_all<R: AsyncRead + Unpin>(&self, read: &mut R) -> &'static str {
        let idle = self
            .tcp
            .shared
            .endpoint
            .transport_layer
            .stream_idle_timeout();
        let mut buffer = Vec::with_capacity(4096);
        let mut chunk = vec![0u8; 16 * 1024];
        loop {
            let wait = async {
                if idle.is_zero() {
                    Ok(read.read(&mut chunk).await)
                } else {
                    tokio::time::timeout(idle, read.read(&mut chunk)).await
                }
            };
            let n = tokio::select! {
                _ = self.token.cancelled() => return "closed by us",
                n = wait => match n {
                    Err(_) => return "idle",
                    Ok(Ok(0)) => return "closed by the peer",
                    Ok(Ok(n)) => n,
                    Ok(Err(e)) => {
                        debug!(peer = %self.peer, error = %e, "reading a SIP connection failed");
                        return "read error";
                    }
                },
            };
            buffer.extend_from_slice(&chunk[..n]);
            loop {
                match next_frame(&mut buffer) {
                    Ok(None) => break,
                    Ok(Some(Frame::Ping)) => {
                        let _ = self.raw.send(PONG.to_vec());
                    }
                    Ok(Some(Frame::Pong)) => {}
                    Ok(Some(Frame::Message(bytes))) => {
                        if !self.deliver(&bytes) {
                            return "the stack stopped";
                        }
                    }
                    Err(e) => {
                        warn!(peer = %self.peer, error = %e, "SIP stream unreadable; closing it");
                        return "framing lost";
                    }
                }
            }
        }
    }

    /// Gives one message to the stack, or answers or drops what it cannot parse. `false` when
    /// the stack is gone.
    fn deliver(&self, bytes: &[u8]) -> bool {
        let message = match SipMessage::try_from(bytes) {
            Ok(message) => message,
            Err(e) => {
                match crate::socket::not_implemented(bytes, self.peer, &self.tcp.shared.tags) {
                    Some((answer, _)) => {
                        debug!(peer = %self.peer, "unknown SIP method on a stream: answering 501");
                        let _ = self.raw.send(answer);
                    }
                    None => {
                        // Parsed nowhere: no request line to answer, or no headers to answer
                        // with. The connection and its calls go on.
                        info!(peer = %self.peer, error = %e, "unreadable SIP message on a stream dropped");
                        trace!(message = %String::from_utf8_lossy(bytes), "unreadable message");
                    }
                }
                return true;
            }
        };
        let message = match SipConnection::update_msg_received(message, self.peer, self.transport) {
            Ok(message) => message,
            Err(e) => {
                info!(peer = %self.peer, error = %e, "SIP request without a usable Via dropped");
                return true;
            }
        };
        self.to_stack
            .send(TransportEvent::Incoming(
                message,
                SipConnection::Channel(self.channel.clone()),
                sip_addr(self.peer, self.transport),
            ))
            .is_ok()
    }
}

/// Writes the stack's messages and our raw bytes, in the order they come, until the connection
/// ends (`token`) or a write fails.
async fn write_loop<W: AsyncWrite + Unpin>(
    mut write: W,
    mut outgoing: TransportReceiver,
    mut raw: mpsc::UnboundedReceiver<Vec<u8>>,
    peer: HostWithPort,
    local: HostWithPort,
    token: CancellationToken,
) {
    loop {
        let bytes = tokio::select! {
            _ = token.cancelled() => break,
            event = outgoing.recv() => match event {
                Some(TransportEvent::Incoming(message, _, _)) => {
                    own_via(message, &peer, &local).to_bytes()
                }
                Some(_) => continue,
                None => break,
            },
            bytes = raw.recv() => match bytes {
                Some(bytes) => bytes,
                None => break,
            },
        };
        if let Err(e) = write.write_all(&bytes).await {
            debug!(error = %e, "writing a SIP connection failed");
            break;
        }
    }
    token.cancel();
    let _ = write.shutdown().await;
}

/// A request whose top Via names the peer (the stack takes a channel connection's only address
/// for ours) names `local` instead; anything else is sent as the stack made it.
pub fn own_via(message: SipMessage, peer: &HostWithPort, local: &HostWithPort) -> SipMessage {
    let SipMessage::Request(mut request) = message else {
        return message;
    };
    if let Ok(via) = request.via_header_mut() {
        let mended = via.update_first_value(|value| {
            let mut typed = value.typed()?;
            if typed.uri.host_with_port == *peer {
                typed.uri.host_with_port = local.clone();
            }
            Ok(typed.into())
        });
        if let Err(e) = mended {
            debug!(error = %e, "Via left as the stack made it");
        }
    }
    request.into()
}

#[cfg(test)]
mod tests {
    use super::*;

    const OPTIONS: &[u8] = b"OPTIONS sip:agent@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/TCP 127.0.0.1:5070;branch=z9hG4bK1\r\nContent-Length: 0\r\n\r\n";

    fn frames(bytes: &[u8]) -> (Vec<Frame>, Vec<u8>) {
        let mut buffer = bytes.to_vec();
        let mut out = Vec::new();
        while let Some(frame) = next_frame(&mut buffer).expect("framable") {
            out.push(frame);
        }
        (out, buffer)
    }

    #[test]
    fn a_lone_carriage_return_in_a_head_is_a_framing_error() {
        let mut buffer =
            b"OPTIONS sip:a@b\r\r:? SIP/2.0\r\nVia: SIP/2.0/TCP 10.0.0.9\r\n\r\n".to_vec();
        assert!(matches!(next_frame(&mut buffer), Err(FramingError::BareCr)));
        let (got, rest) = frames(OPTIONS);
        assert_eq!(got.len(), 1, "a head of CRLF lines is still one message");
        assert!(rest.is_empty());
    }

    #[test]
    fn messages_are_cut_at_their_content_length_and_keep_alives_between_them() {
        let body = "v=0\r\n";
        let invite = format!("INVITE sip:a@b SIP/2.0\r\nl: {}\r\n\r\n{body}", body.len());
        let mut stream = Vec::new();
        stream.extend_from_slice(PING);
        stream.extend_from_slice(invite.as_bytes());
        stream.extend_from_slice(PONG);
        stream.extend_from_slice(OPTIONS);
        stream.extend_from_slice(b"BYE sip:a@b SIP/2.0\r\n");
        let (got, rest) = frames(&stream);
        assert_eq!(
            got,
            vec![
                Frame::Ping,
                Frame::Message(invite.into_bytes()),
                Frame::Pong,
                Frame::Message(OPTIONS.to_vec()),
            ],
            "the compact Content-Length counts; a pong between messages is one frame"
        );
        assert_eq!(
            rest, b"BYE sip:a@b SIP/2.0\r\n",
            "a head still arriving waits"
        );
    }

    #[test]
    fn a_body_still_arriving_waits_and_a_ping_in_two_halves_is_one_ping() {
        let mut buffer = b"MESSAGE sip:a@b SIP/2.0\r\nContent-Length: 10\r\n\r\nhello".to_vec();
        assert_eq!(next_frame(&mut buffer), Ok(None), "5 of 10 body bytes");
        buffer.extend_from_slice(b"world");
        assert!(matches!(
            next_frame(&mut buffer),
            Ok(Some(Frame::Message(_)))
        ));
        let mut buffer = b"\r\n".to_vec();
        assert_eq!(next_frame(&mut buffer), Ok(None), "may be half a ping");
        buffer.extend_from_slice(b"\r\n");
        assert_eq!(next_frame(&mut buffer), Ok(Some(Frame::Ping)));
        assert!(buffer.is_empty());
    }

    #[test]
    fn a_stream_that_cannot_be_framed_says_why() {
        let mut buffer = b"INVITE sip:a@b SIP/2.0\r\nContent-Length: many\r\n\r\n".to_vec();
        assert_eq!(next_frame(&mut buffer), Err(FramingError::BadContentLength));
        let mut buffer = b"INVITE sip:a@b SIP/2.0\r\nContent-Length: 99999\r\n\r\n".to_vec();
        assert_eq!(
            next_frame(&mut buffer),
            Err(FramingError::TooLarge),
            "announced"
        );
        let mut buffer =
            format!("INVITE sip:a@b SIP/2.0\r\nl: {}\r\n\r\n", usize::MAX).into_bytes();
        assert_eq!(
            next_frame(&mut buffer),
            Err(FramingError::TooLarge),
            "no overflow"
        );
        let mut buffer = vec![b'A'; MAX_MESSAGE + 1];
        assert_eq!(
            next_frame(&mut buffer),
            Err(FramingError::TooLarge),
            "no head end"
        );
    }

    #[test]
    fn a_via_naming_the_peer_names_us_and_others_are_kept() {
        let peer: HostWithPort = "10.0.0.9:5060".parse::<SocketAddr>().expect("addr").into();
        let local: HostWithPort = "10.0.0.2:5070".parse::<SocketAddr>().expect("addr").into();
        let register = |via: &str| {
            SipMessage::try_from(format!(
                "REGISTER sip:pbx SIP/2.0\r\nVia: SIP/2.0/TCP {via};branch=z9hG4bK7;rport\r\nVia: SIP/2.0/TCP 10.0.0.9:5060;branch=z9hG4bK8\r\nContent-Length: 0\r\n\r\n"
            ).as_str())
            .expect("a REGISTER")
        };
        let mended = own_via(register("10.0.0.9:5060"), &peer, &local).to_string();
        assert!(
            mended.contains("Via: SIP/2.0/TCP 10.0.0.2:5070;branch=z9hG4bK7;rport\r\n"),
            "the top Via names us, its parameters kept: {mended}"
        );
        assert!(
            mended.contains("Via: SIP/2.0/TCP 10.0.0.9:5060;branch=z9hG4bK8"),
            "only the top Via is ours to mend: {mended}"
        );
        let kept = own_via(register("10.0.0.2:5070"), &peer, &local).to_string();
        assert_eq!(kept, register("10.0.0.2:5070").to_string(), "already ours");
    }
}
