//! The agent's SIP/UDP socket: requests with a method the stack does not know get 501 here.
//!
//! rsipstack 0.7.14 knows a fixed set of methods (`rsipstack::sip::Method`); a request with any
//! other method fails to parse in its UDP read loop and is dropped without an answer, so the peer
//! retransmits it until its timer runs out. RFC 3261 §8.2.1 wants 501 Not Implemented. The
//! stack offers no hook between the socket and its parser, but it takes the socket itself as a
//! trait object (`rsipstack::platform::net::UdpSocket`, handed to `UdpConnection::from_socket`),
//! so `SipSocket` wraps the tokio socket: each datagram is looked at before the stack reads it;
//! an unknown-method request is answered from here ([`not_implemented`], sans-IO) and not passed
//! on; a datagram whose head holds a lone CR (see `stream::FramingError::BareCr`) is dropped;
//! everything else goes to the stack unchanged. This keeps rsipstack unforked and its parser
//! the only one for every message it does understand. Its channel transport
//! (`transport/channel.rs`) was the other way in, but it takes messages already parsed and
//! leaves receiving, sending and response routing to the application: we would have rewritten
//! its UDP transport to answer one kind of request.
//!
//! Over TCP the stack reads connections with its own concrete `TcpStream` types and no such
//! seam; there the channel transport is worth it, and `stream.rs` uses it (the 501 comes from
//! [`not_implemented`] all the same).

use std::hash::BuildHasher;
use std::net::{IpAddr, SocketAddr};

use rsipstack::sip::Method;
use tracing::{debug, trace, warn};

use crate::ua::ALLOW;

/// Tokens allowed in a SIP method name besides letters and digits (RFC 3261 §25.1 `token`).
const TOKEN_MARKS: &[u8] = b"-.!%*_+`'~";

/// The agent's UDP socket: a tokio socket that answers unknown-method requests with 501 itself.
#[derive(Debug)]
pub(crate) struct SipSocket {
    socket: tokio::net::UdpSocket,
    /// Keys the To tags of our 501s (random per socket; see [`not_implemented`]).
    tags: std::collections::hash_map::RandomState,
}

impl SipSocket {
    /// Binds `addr`.
    pub(crate) async fn bind(addr: SocketAddr) -> std::io::Result<Self> {
        Ok(Self {
            socket: tokio::net::UdpSocket::bind(addr).await?,
            tags: std::collections::hash_map::RandomState::new(),
        })
    }

    /// The address it is bound to.
    pub(crate) fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.socket.local_addr()
    }
}

#[async_trait::async_trait]
impl rsipstack::platform::net::UdpSocket for SipSocket {
    async fn recv_from(&self, buf: &mut [u8]) -> rsipstack::Result<(usize, SocketAddr)> {
        loop {
            let (len, source) = self.socket.recv_from(buf).await?;
            let datagram = &buf[..len];
            let head = &datagram[..find(datagram, b"\r\n\r\n").unwrap_or(len)];
            if crate::stream::has_lone_cr(head) {
                // The stack would parse it and copy the line into its answer, CR and all: a
                // header of the sender's making for any peer that ends lines at CR. (Logged at
                // debug: anyone can send datagrams, and a flood of them must not fill the log.)
                debug!(%source, "SIP datagram with a lone CR in its head: dropped");
                continue;
            }
            let Some((answer, destination)) = not_implemented(datagram, source, &self.tags) else {
                return Ok((len, source));
            };
            debug!(%source, %destination, "unknown SIP method: answering 501");
            trace!(request = %String::from_utf8_lossy(datagram), "unknown-method request");
            if let Err(e) = self.socket.send_to(&answer, destination).await {
                warn!(%destination, error = %e, "sending 501 failed");
            }
        }
    }

    async fn send_to(&self, buf: &[u8], addr: SocketAddr) -> rsipstack::Result<usize> {
        Ok(self.socket.send_to(buf, addr).await?)
    }

    fn local_addr(&self) -> rsipstack::Result<SocketAddr> {
        Ok(self.socket.local_addr()?)
    }
}

/// When `datagram` is a SIP request whose method rsipstack does not know, the 501 Not
/// Implemented to send and where to send it (RFC 3261 §8.2.1, §18.2.2; RFC 3581 for `rport`).
/// `None` for everything else (responses, known methods, garbage), which the stack handles, and
/// for a request without the Via, From, To, Call-ID and CSeq an answer must carry.
///
/// Answering here is stateless, so the To tag we add is a hash of the request (keyed by `tags`,
/// random per socket): a retransmission gets the same tag (RFC 3261 §8.2.7).
pub fn not_implemented(
    datagram: &[u8],
    source: SocketAddr,
    tags: &impl BuildHasher,
) -> Option<(Vec<u8>, SocketAddr)> {
    let head_end = find(datagram, b"\r\n\r\n").unwrap_or(datagram.len());
    let head = std::str::from_utf8(&datagram[..head_end]).ok()?;
    let mut lines = head.split("\r\n");
    let method = unknown_method(lines.next()?)?;

    let mut vias = Vec::new();
    let (mut from, mut to, mut call_id, mut cseq) = (None, None, None, None);
    for (name, value) in unfolded(lines) {
        match name.to_ascii_lowercase().as_str() {
            "via" | "v" => vias.push(value),
            "from" | "f" => from = Some(value),
            "to" | "t" => to = Some(value),
            "call-id" | "i" => call_id = Some(value),
            "cseq" => cseq = Some(value),
            _ => {}
        }
    }
    let (from, to, call_id, cseq) = (from?, to?, call_id?, cseq?);
    // Values are copied into the answer: a stray CR or LF in one would start a header of its own.
    let copied = vias.iter().chain([&from, &to, &call_id, &cseq]);
    if copied
        .flat_map(|v| v.chars())
        .any(|c| c.is_control() && c != '\t')
    {
        return None;
    }
    let (top_via, destination) = answer_via(vias.first()?, source)?;
    let to = if has_tag(&to) {
        to
    } else {
        let tag = tags.hash_one((&vias[0], &from, &call_id, &cseq));
        format!("{to};tag={tag:016x}")
    };
    let mut answer = String::from("SIP/2.0 501 Not Implemented\r\n");
    answer.push_str(&format!("Via: {top_via}\r\n"));
    for via in &vias[1..] {
        answer.push_str(&format!("Via: {via}\r\n"));
    }
    answer.push_str(&format!(
        "From: {from}\r\nTo: {to}\r\nCall-ID: {call_id}\r\nCSeq: {cseq}\r\nAllow: {ALLOW}\r\nContent-Length: 0\r\n\r\n"
    ));
    debug!(method, "501 prepared");
    Some((answer.into_bytes(), destination))
}

/// The method of a request line `METHOD SP Request-URI SP SIP/2.0` when it is a valid token
/// rsipstack does not parse.
fn unknown_method(line: &str) -> Option<&str> {
    let mut parts = line.split(' ');
    let (method, uri, version) = (parts.next()?, parts.next()?, parts.next()?);
    let is_token = !method.is_empty()
        && method
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || TOKEN_MARKS.contains(&b));
    let well_formed = is_token
        && !uri.is_empty()
        && version.eq_ignore_ascii_case("SIP/2.0")
        && parts.next().is_none();
    (well_formed && method.parse::<Method>().is_err()).then_some(method)
}

/// Header lines as `(name, value)`, continuation lines (starting with a space or tab) joined
/// to the line before (RFC 3261 §7.3.1). Lines without a colon are skipped.
fn unfolded<'a>(lines: impl Iterator<Item = &'a str>) -> Vec<(String, String)> {
    let mut headers: Vec<(String, String)> = Vec::new();
    for line in lines {
        if line.starts_with([' ', '\t']) {
            if let Some((_, value)) = headers.last_mut() {
                value.push(' ');
                value.push_str(line.trim());
            }
            continue;
        }
        if let Some((name, value)) = line.split_once(':') {
            headers.push((name.trim().to_owned(), value.trim().to_owned()));
        }
    }
    headers
}

/// The top Via value for the answer (`received` and a filled `rport` added as RFC 3261 §18.2.1
/// and RFC 3581 say) and where the answer goes: the source IP, at the source port when `rport`
/// was asked for, else at the sent-by port (5060 when none).
fn answer_via(line: &str, source: SocketAddr) -> Option<(String, SocketAddr)> {
    // A Via line may hold several values separated by commas; the first is the top one.
    let (top, rest) = match line.split_once(',') {
        Some((top, rest)) => (top.trim(), Some(rest.trim())),
        None => (line.trim(), None),
    };
    let (sent, params) = match top.split_once(';') {
        Some((sent, params)) => (sent.trim(), params),
        None => (top, ""),
    };
    // `SIP/2.0/UDP host[:port]`
    let sent_by = sent.split_whitespace().last()?;
    let (host, port) = split_host_port(sent_by)?;
    let mut rport = false;
    let mut kept = Vec::new();
    for param in params.split(';').map(str::trim).filter(|p| !p.is_empty()) {
        let name = param.split('=').next().unwrap_or_default().trim();
        if name.eq_ignore_ascii_case("rport") {
            rport = true;
        } else if !name.eq_ignore_ascii_case("received") {
            kept.push(param);
        }
    }
    let source_ip = source.ip();
    let mut value = String::from(sent);
    for param in kept {
        value.push(';');
        value.push_str(param);
    }
    if rport || host.parse::<IpAddr>().ok() != Some(source_ip) {
        value.push_str(&format!(";received={source_ip}"));
    }
    if rport {
        value.push_str(&format!(";rport={}", source.port()));
    }
    if let Some(rest) = rest {
        value.push_str(", ");
        value.push_str(rest);
    }
    let port = if rport {
        source.port()
    } else {
        port.unwrap_or(5060)
    };
    Some((value, SocketAddr::new(source_ip, port)))
}

/// `host`, `host:port`, `[v6]` or `[v6]:port`.
fn split_host_port(text: &str) -> Option<(&str, Option<u16>)> {
    if let Some(rest) = text.strip_prefix('[') {
        let (host, after) = rest.split_once(']')?;
        let port = match after.strip_prefix(':') {
            Some(port) => Some(port.parse().ok()?),
            None if after.is_empty() => None,
            None => return None,
        };
        return Some((host, port));
    }
    match text.split_once(':') {
        Some((host, port)) => Some((host, Some(port.parse().ok()?))),
        None => Some((text, None)),
    }
}

/// Whether a To value carries a `tag` parameter (after the `>` of a name-addr; an addr-spec
/// cannot hold `;` in its URI, so its parameters are the header's).
fn has_tag(to: &str) -> bool {
    let params = to.rsplit_once('>').map_or(to, |(_, after)| after);
    params.split(';').skip(1).any(|p| {
        p.split('=')
            .next()
            .is_some_and(|name| name.trim().eq_ignore_ascii_case("tag"))
    })
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn source() -> SocketAddr {
        "127.0.0.1:40000".parse().unwrap()
    }

    /// One key for the whole test binary, as one socket has.
    fn tags() -> &'static std::collections::hash_map::RandomState {
        static TAGS: std::sync::OnceLock<std::collections::hash_map::RandomState> =
            std::sync::OnceLock::new();
        TAGS.get_or_init(Default::default)
    }

    fn answer(request: &str) -> (String, SocketAddr) {
        let (bytes, to) = not_implemented(request.as_bytes(), source(), tags())
            .expect("an unknown method gets 501");
        (String::from_utf8(bytes).expect("UTF-8"), to)
    }

    const FOOBAR: &str = "FOOBAR sip:alice@127.0.0.1:5060 SIP/2.0\r\n\
        Via: SIP/2.0/UDP 127.0.0.1:40000;branch=z9hG4bK1;rport\r\n\
        Via: SIP/2.0/UDP 10.0.0.1:5070;branch=z9hG4bK0\r\n\
        From: <sip:bob@127.0.0.1>;tag=abc\r\n\
        To: <sip:alice@127.0.0.1>\r\n\
        Call-ID: 42@probe\r\n\
        CSeq: 7 FOOBAR\r\n\
        Max-Forwards: 70\r\n\
        Content-Length: 0\r\n\r\n";

    #[test]
    fn unknown_method_gets_501_with_the_request_headers_and_a_to_tag() {
        let (text, to) = answer(FOOBAR);
        assert!(
            text.starts_with("SIP/2.0 501 Not Implemented\r\n"),
            "the status line is 501: {text}"
        );
        assert!(
            text.contains("Via: SIP/2.0/UDP 127.0.0.1:40000;branch=z9hG4bK1;received=127.0.0.1;rport=40000\r\nVia: SIP/2.0/UDP 10.0.0.1:5070;branch=z9hG4bK0\r\n"),
            "both Vias in order, the top one with received and rport filled: {text}"
        );
        assert!(
            text.contains("From: <sip:bob@127.0.0.1>;tag=abc\r\n"),
            "From copied: {text}"
        );
        assert!(
            text.contains("To: <sip:alice@127.0.0.1>;tag="),
            "To gets a tag: {text}"
        );
        assert!(
            text.contains("Call-ID: 42@probe\r\nCSeq: 7 FOOBAR\r\n"),
            "Call-ID and CSeq copied: {text}"
        );
        assert!(
            text.ends_with("Content-Length: 0\r\n\r\n"),
            "no body: {text}"
        );
        assert_eq!(to, source(), "rport: the answer goes back to the source");
    }

    #[test]
    fn a_retransmission_gets_the_same_to_tag_and_another_request_another() {
        let tag = |request: &str| {
            let (text, _) = answer(request);
            let to = text
                .lines()
                .find(|l| l.starts_with("To:"))
                .unwrap()
                .to_owned();
            to
        };
        assert_eq!(
            tag(FOOBAR),
            tag(FOOBAR),
            "a stateless answer to the same request carries the same tag"
        );
        assert_ne!(
            tag(FOOBAR),
            tag(&FOOBAR.replace("CSeq: 7", "CSeq: 8")),
            "a new request gets a new tag"
        );
    }

    #[test]
    fn known_methods_responses_and_garbage_go_to_the_stack() {
        for known in ["INVITE", "OPTIONS", "SUBSCRIBE", "PRACK", "PUBLISH"] {
            let request = FOOBAR.replace("FOOBAR", known);
            assert!(
                not_implemented(request.as_bytes(), source(), tags()).is_none(),
                "{known} is the stack's to answer"
            );
        }
        let response = "SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 127.0.0.1;branch=z9hG4bK1\r\n\r\n";
        assert!(
            not_implemented(response.as_bytes(), source(), tags()).is_none(),
            "responses are not requests"
        );
        for garbage in [
            "",
            "\r\n\r\n",
            "hello",
            "FOO BAR",
            "FOO{} sip:a SIP/2.0\r\n\r\n",
        ] {
            assert!(
                not_implemented(garbage.as_bytes(), source(), tags()).is_none(),
                "{garbage:?} is not a request line with a token method"
            );
        }
        assert!(
            not_implemented(&[0xff, 0xfe, b' ', b'x'], source(), tags()).is_none(),
            "non-UTF-8 is left to the stack"
        );
    }

    #[test]
    fn a_request_missing_a_header_an_answer_needs_gets_nothing() {
        for header in ["Via:", "From:", "To:", "Call-ID:", "CSeq:"] {
            let request: String = FOOBAR
                .split_inclusive("\r\n")
                .filter(|line| !line.starts_with(header))
                .collect();
            assert!(
                not_implemented(request.as_bytes(), source(), tags()).is_none(),
                "without {header} no answer can be addressed or matched"
            );
        }
    }

    #[test]
    fn a_bare_line_feed_or_control_character_in_a_copied_value_gets_nothing() {
        for (from, to) in [
            (
                "From: <sip:bob@127.0.0.1>;tag=abc\r\n",
                "From: <sip:bob@x>;tag=a\nInjected: yes\r\n",
            ),
            ("Call-ID: 42@probe\r\n", "Call-ID: 42\r@probe\r\n"),
            ("CSeq: 7 FOOBAR\r\n", "CSeq: 7 FOO\u{0}BAR\r\n"),
        ] {
            let request = FOOBAR.replace(from, to);
            assert!(
                not_implemented(request.as_bytes(), source(), tags()).is_none(),
                "{to:?} would be copied into our answer as is"
            );
        }
    }

    #[test]
    fn compact_and_folded_headers_and_an_existing_tag_are_kept() {
        let request = "FOOBAR sip:alice@127.0.0.1 SIP/2.0\r\n\
            v: SIP/2.0/UDP peer.example:5070;branch=z9hG4bK9\r\n\
            f: <sip:bob@example>\r\n ;tag=folded\r\n\
            t: sip:alice@example;tag=there\r\n\
            i: 1@x\r\n\
            CSeq: 2 FOOBAR\r\n\r\nbody";
        let (text, to) = answer(request);
        assert!(
            text.contains(
                "Via: SIP/2.0/UDP peer.example:5070;branch=z9hG4bK9;received=127.0.0.1\r\n"
            ),
            "a host name as sent-by gets received (no rport asked): {text}"
        );
        assert!(
            text.contains("From: <sip:bob@example> ;tag=folded\r\n"),
            "the folded line is joined: {text}"
        );
        assert!(
            text.contains("To: sip:alice@example;tag=there\r\n"),
            "an existing To tag is kept and no second one added: {text}"
        );
        assert_eq!(
            to,
            "127.0.0.1:5070".parse().unwrap(),
            "no rport: the source IP at the sent-by port"
        );
    }

    #[test]
    fn without_rport_or_port_the_answer_goes_to_5060() {
        let request = FOOBAR.replace(
            "127.0.0.1:40000;branch=z9hG4bK1;rport",
            "127.0.0.1;branch=z9hG4bK1",
        );
        let (text, to) = answer(&request);
        assert_eq!(
            to,
            "127.0.0.1:5060".parse().unwrap(),
            "the default SIP port"
        );
        assert!(
            text.contains("Via: SIP/2.0/UDP 127.0.0.1;branch=z9hG4bK1\r\n"),
            "sent-by equals the source: no received added: {text}"
        );
    }

    #[test]
    fn ipv6_sent_by_and_several_vias_in_one_line() {
        let request = "FOOBAR sip:alice@[::1] SIP/2.0\r\n\
            Via: SIP/2.0/UDP [::1]:5072;branch=z9hG4bKa, SIP/2.0/UDP [::1]:5073;branch=z9hG4bKb\r\n\
            From: <sip:bob@[::1]>;tag=1\r\nTo: <sip:alice@[::1]>\r\nCall-ID: 6@x\r\nCSeq: 1 FOOBAR\r\n\r\n";
        let (text, to) = not_implemented(request.as_bytes(), "[::1]:5072".parse().unwrap(), tags())
            .map(|(b, to)| (String::from_utf8(b).unwrap(), to))
            .expect("501");
        assert!(
            text.contains("Via: SIP/2.0/UDP [::1]:5072;branch=z9hG4bKa, SIP/2.0/UDP [::1]:5073;branch=z9hG4bKb\r\n"),
            "the first value is the top Via; the rest is kept: {text}"
        );
        assert_eq!(to, "[::1]:5072".parse().unwrap(), "the sent-by port");
    }
}
