//! SDP offer/answer for one audio stream (RFC 3264), parsed with `sdp-types`; no I/O.

use std::net::{IpAddr, SocketAddr};

use crate::error::{Error, Result};
use crate::g711;

/// An audio codec this agent speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Codec {
    /// G.711 μ-law, static payload type 0.
    Pcmu,
    /// G.711 A-law, static payload type 8.
    Pcma,
}

impl Codec {
    /// Every supported codec, in our order of preference for offers.
    pub const ALL: [Codec; 2] = [Codec::Pcmu, Codec::Pcma];

    /// The static RTP payload type.
    pub fn payload_type(self) -> u8 {
        match self {
            Codec::Pcmu => 0,
            Codec::Pcma => 8,
        }
    }

    /// The encoding name used in `a=rtpmap`.
    pub fn name(self) -> &'static str {
        match self {
            Codec::Pcmu => "PCMU",
            Codec::Pcma => "PCMA",
        }
    }

    /// The codec for an encoding name (case-insensitive), if we support it.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|codec| codec.name().eq_ignore_ascii_case(name))
    }

    /// Encodes linear samples to one payload byte each.
    pub fn encode(self, samples: &[i16], out: &mut Vec<u8>) {
        out.clear();
        match self {
            Codec::Pcmu => out.extend(samples.iter().map(|&s| g711::ulaw_encode(s))),
            Codec::Pcma => out.extend(samples.iter().map(|&s| g711::alaw_encode(s))),
        }
    }

    /// Decodes payload bytes to linear samples.
    pub fn decode(self, payload: &[u8], out: &mut Vec<i16>) {
        out.clear();
        match self {
            Codec::Pcmu => out.extend(payload.iter().map(|&b| g711::ulaw_decode(b))),
            Codec::Pcma => out.extend(payload.iter().map(|&b| g711::alaw_decode(b))),
        }
    }
}

/// Media direction attribute of a stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// `a=sendrecv` (the default).
    SendRecv,
    /// `a=sendonly`: the peer holds us.
    SendOnly,
    /// `a=recvonly`.
    RecvOnly,
    /// `a=inactive`.
    Inactive,
}

impl Direction {
    fn attribute(self) -> &'static str {
        match self {
            Direction::SendRecv => "sendrecv",
            Direction::SendOnly => "sendonly",
            Direction::RecvOnly => "recvonly",
            Direction::Inactive => "inactive",
        }
    }

    /// Whether a peer offering this direction puts us on hold (it will not send: `sendonly` or
    /// `inactive`, RFC 6337 §5).
    pub fn holds_peer(self) -> bool {
        matches!(self, Direction::SendOnly | Direction::Inactive)
    }

    /// The direction we answer this offer with while we ourselves hold the call (`local_hold`)
    /// or not: an offer we would answer `sendrecv` becomes `sendonly`, `recvonly` becomes
    /// `inactive` (RFC 3264 §6.1, RFC 6337 §5).
    pub fn answer_holding(self, local_hold: bool) -> Self {
        match (self.answer(), local_hold) {
            (Direction::SendRecv, true) => Direction::SendOnly,
            (Direction::RecvOnly, true) => Direction::Inactive,
            (answer, _) => answer,
        }
    }

    /// The direction we offer when we hold (`local_hold`) or not, given whether the peer holds us.
    pub fn offer(local_hold: bool, peer_hold: bool) -> Self {
        match (local_hold, peer_hold) {
            (false, false) => Direction::SendRecv,
            (true, false) => Direction::SendOnly,
            (false, true) => Direction::RecvOnly,
            (true, true) => Direction::Inactive,
        }
    }

    /// The direction an answerer uses for this offered direction (RFC 3264 §6.1).
    pub fn answer(self) -> Self {
        match self {
            Direction::SendRecv => Direction::SendRecv,
            Direction::SendOnly => Direction::RecvOnly,
            Direction::RecvOnly => Direction::SendOnly,
            Direction::Inactive => Direction::Inactive,
        }
    }
}

/// The peer's audio stream as described by its SDP.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteAudio {
    /// Where the peer wants RTP sent.
    pub rtp_addr: SocketAddr,
    /// Codecs we support among those offered, in the peer's order.
    pub codecs: Vec<Codec>,
    /// Every payload type the peer listed.
    pub offered: Vec<u8>,
    /// The stream's direction.
    pub direction: Direction,
    /// The payload type of `telephone-event` (RFC 4733), if offered.
    pub telephone_event: Option<u8>,
}

/// Parses an SDP body and picks its first active `audio` stream over RTP/AVP.
pub fn parse_audio(body: &[u8]) -> Result<RemoteAudio> {
    let session = sdp_types::Session::parse(body).map_err(|e| Error::InvalidSdp {
        reason: e.to_string(),
    })?;
    let media = session
        .medias
        .iter()
        .find(|m| m.media == "audio" && m.port != 0 && m.proto.starts_with("RTP/"))
        .ok_or_else(|| Error::InvalidSdp {
            reason: "no active RTP audio stream (m=audio)".to_owned(),
        })?;
    let connection = media
        .connections
        .first()
        .or(session.connection.as_ref())
        .ok_or_else(|| Error::InvalidSdp {
            reason: "no connection line (c=) for the audio stream".to_owned(),
        })?;
    let ip: IpAddr = connection
        .connection_address
        .split('/')
        .next()
        .unwrap_or_default()
        .parse()
        .map_err(|_| Error::InvalidSdp {
            reason: format!(
                "connection address {:?} is not an IP address",
                connection.connection_address
            ),
        })?;

    let offered: Vec<u8> = media
        .fmt
        .split_whitespace()
        .filter_map(|pt| pt.parse::<u8>().ok())
        .filter(|pt| *pt < 128)
        .collect();
    let rtpmap = |pt: u8| -> Option<String> {
        media
            .attributes
            .iter()
            .filter(|a| a.attribute == "rtpmap")
            .filter_map(|a| a.value.as_deref())
            .find_map(|v| {
                let (num, rest) = v.split_once(' ')?;
                (num.trim().parse::<u8>().ok()? == pt).then(|| rest.trim().to_owned())
            })
    };
    let mut codecs = Vec::new();
    let mut telephone_event = None;
    for &pt in &offered {
        let codec = match rtpmap(pt) {
            Some(map) => {
                let mut parts = map.split('/');
                let name = parts.next().unwrap_or_default();
                let rate = parts.next().unwrap_or_default();
                if name.eq_ignore_ascii_case("telephone-event") && rate == "8000" {
                    telephone_event.get_or_insert(pt);
                }
                Codec::from_name(name).filter(|_| rate == "8000")
            }
            None => Codec::ALL.into_iter().find(|c| c.payload_type() == pt),
        };
        if let Some(codec) = codec.filter(|c| c.payload_type() == pt) {
            if !codecs.contains(&codec) {
                codecs.push(codec);
            }
        }
    }
    let direction_of = |attrs: &[sdp_types::Attribute]| {
        attrs.iter().find_map(|a| match a.attribute.as_str() {
            "sendrecv" => Some(Direction::SendRecv),
            "sendonly" => Some(Direction::SendOnly),
            "recvonly" => Some(Direction::RecvOnly),
            "inactive" => Some(Direction::Inactive),
            _ => None,
        })
    };
    let direction = direction_of(&media.attributes)
        .or_else(|| direction_of(&session.attributes))
        .unwrap_or(Direction::SendRecv);
    Ok(RemoteAudio {
        rtp_addr: SocketAddr::new(ip, media.port),
        codecs,
        offered,
        direction,
        telephone_event,
    })
}

/// Picks the codec for an answer: the peer's first offered codec that we also support.
pub fn choose_codec(remote: &RemoteAudio, supported: &[Codec]) -> Result<Codec> {
    remote
        .codecs
        .iter()
        .copied()
        .find(|codec| supported.contains(codec))
        .ok_or_else(|| Error::NoCommonCodec {
            offered: remote.offered.clone(),
        })
}

/// The payload type we offer for `telephone-event` (RFC 4733); in answers the peer's is used.
pub const TELEPHONE_EVENT_PT: u8 = 101;

/// Writes an SDP body (offer or answer) for one audio stream at `rtp_addr` with `codecs` in order,
/// and `telephone-event/8000` (events 0-16) at `telephone_event` when given.
pub fn write_audio(
    rtp_addr: SocketAddr,
    codecs: &[Codec],
    telephone_event: Option<u8>,
    direction: Direction,
    session_id: u64,
    version: u64,
) -> String {
    let addr_type = if rtp_addr.is_ipv4() { "IP4" } else { "IP6" };
    let ip = rtp_addr.ip();
    let fmt: Vec<String> = codecs
        .iter()
        .map(|c| c.payload_type())
        .chain(telephone_event)
        .map(|pt| pt.to_string())
        .collect();
    let mut sdp = format!(
        "v=0\r\no=callpop {session_id} {version} IN {addr_type} {ip}\r\ns=callpop\r\nc=IN {addr_type} {ip}\r\nt=0 0\r\nm=audio {port} RTP/AVP {fmt}\r\n",
        port = rtp_addr.port(),
        fmt = fmt.join(" "),
    );
    for codec in codecs {
        sdp.push_str(&format!(
            "a=rtpmap:{} {}/8000\r\n",
            codec.payload_type(),
            codec.name()
        ));
    }
    if let Some(pt) = telephone_event {
        sdp.push_str(&format!(
            "a=rtpmap:{pt} telephone-event/8000\r\na=fmtp:{pt} 0-16\r\n"
        ));
    }
    sdp.push_str("a=ptime:20\r\n");
    sdp.push_str(&format!("a={}\r\n", direction.attribute()));
    sdp
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The offer sipp 3.6 sends in its default uac scenario (pcap variant), trimmed to its lines.
    const SIPP_OFFER: &str = "v=0\r\no=user1 53655765 2353687637 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 6000 RTP/AVP 8 101\r\na=rtpmap:8 PCMA/8000\r\na=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-11,16\r\n";

    #[test]
    fn parses_a_sipp_offer() {
        let remote = parse_audio(SIPP_OFFER.as_bytes()).expect("sipp's offer is valid SDP");
        assert_eq!(
            remote.rtp_addr,
            "127.0.0.1:6000".parse().unwrap(),
            "session-level c= applies to the stream"
        );
        assert_eq!(
            remote.codecs,
            vec![Codec::Pcma],
            "only PCMA among 8 and 101 is a codec"
        );
        assert_eq!(
            remote.telephone_event,
            Some(101),
            "telephone-event is found by its rtpmap"
        );
        assert_eq!(
            remote.direction,
            Direction::SendRecv,
            "no attribute means sendrecv"
        );
        assert_eq!(
            choose_codec(&remote, &Codec::ALL).unwrap(),
            Codec::Pcma,
            "the only common codec"
        );
    }

    #[test]
    fn media_level_connection_and_direction_win() {
        let sdp = "v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\na=sendrecv\r\nm=audio 4000 RTP/AVP 0 8\r\nc=IN IP4 127.0.0.2\r\na=sendonly\r\n";
        let remote = parse_audio(sdp.as_bytes()).expect("valid SDP");
        assert_eq!(
            remote.rtp_addr,
            "127.0.0.2:4000".parse().unwrap(),
            "m-level c= overrides the session's"
        );
        assert_eq!(
            remote.direction,
            Direction::SendOnly,
            "m-level direction overrides the session's"
        );
        assert_eq!(
            remote.direction.answer(),
            Direction::RecvOnly,
            "sendonly is answered recvonly"
        );
        assert_eq!(
            remote.codecs,
            vec![Codec::Pcmu, Codec::Pcma],
            "static types without rtpmap are known"
        );
    }

    #[test]
    fn no_common_codec_is_a_typed_error() {
        let sdp = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 96 9\r\na=rtpmap:96 opus/48000/2\r\n";
        let remote = parse_audio(sdp.as_bytes()).expect("valid SDP");
        match choose_codec(&remote, &Codec::ALL) {
            Err(Error::NoCommonCodec { offered }) => {
                assert_eq!(offered, vec![96, 9], "error carries the offer")
            }
            other => panic!("expected NoCommonCodec, got {other:?}"),
        }
    }

    #[test]
    fn nonsense_is_rejected_without_panicking() {
        let cases: [&[u8]; 5] = [
            b"",
            b"hello",
            b"v=0\r\nm=audio 4000 RTP/AVP 0\r\n",
            b"v=0\r\no=- 1 1 IN IP4 x\r\ns=-\r\nc=IN IP4 not-an-ip\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n",
            b"v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=video 4000 RTP/AVP 96\r\n",
        ];
        for case in cases {
            assert!(
                parse_audio(case).is_err(),
                "{:?} must be rejected",
                String::from_utf8_lossy(case)
            );
        }
    }

    #[test]
    fn written_sdp_parses_back() {
        let addr: SocketAddr = "127.0.0.1:40000".parse().unwrap();
        let text = write_audio(addr, &Codec::ALL, Some(97), Direction::SendRecv, 42, 1);
        let remote = parse_audio(text.as_bytes()).expect("our own SDP must parse");
        assert_eq!(remote.rtp_addr, addr, "address and port survive");
        assert_eq!(remote.codecs, Codec::ALL.to_vec(), "codec order survives");
        assert_eq!(
            remote.telephone_event,
            Some(97),
            "telephone-event is written at the payload type given"
        );
        assert!(
            text.contains("m=audio 40000 RTP/AVP 0 8 97\r\n")
                && text.contains("a=fmtp:97 0-16\r\n"),
            "the event type is listed in m= and has its fmtp: {text}"
        );
    }

    #[test]
    fn codec_encode_decode_lengths_match() {
        let samples = [0i16, 1000, -1000, 32000];
        let mut bytes = Vec::new();
        let mut back = Vec::new();
        for codec in Codec::ALL {
            codec.encode(&samples, &mut bytes);
            codec.decode(&bytes, &mut back);
            assert_eq!(
                back.len(),
                samples.len(),
                "{codec:?}: one byte per sample and back"
            );
            assert!(
                (back[1] - 1000).abs() < 64,
                "{codec:?}: 1000 decodes close to 1000, got {}",
                back[1]
            );
        }
    }

    #[test]
    fn hold_directions_follow_rfc_6337() {
        use Direction::*;
        assert_eq!(
            Direction::offer(true, false),
            SendOnly,
            "our hold offers sendonly"
        );
        assert_eq!(
            Direction::offer(true, true),
            Inactive,
            "both holding: inactive"
        );
        assert_eq!(
            Direction::offer(false, false),
            SendRecv,
            "resume offers sendrecv"
        );
        assert_eq!(
            Direction::offer(false, true),
            RecvOnly,
            "held by the peer only: recvonly"
        );
        assert!(
            SendOnly.holds_peer() && Inactive.holds_peer(),
            "sendonly and inactive are hold"
        );
        assert!(
            !SendRecv.holds_peer() && !RecvOnly.holds_peer(),
            "sendrecv and recvonly are not"
        );
        assert_eq!(
            SendOnly.answer_holding(false),
            RecvOnly,
            "peer's hold answered recvonly"
        );
        assert_eq!(
            SendRecv.answer_holding(true),
            SendOnly,
            "while we hold, sendrecv gets sendonly"
        );
        assert_eq!(
            SendOnly.answer_holding(true),
            Inactive,
            "both hold: inactive"
        );
        assert_eq!(
            Inactive.answer_holding(false),
            Inactive,
            "inactive stays inactive"
        );
    }
}
