//! One fuzz target over every parser that sees network input: the first byte picks the parser,
//! the rest is its input. None may panic; an SDP we accept must give an answer that parses back,
//! a 501 we give to an unknown method must parse as one, an INFO DTMF digit must round-trip, and
//! a TCP stream frames the same whole or in two reads, losing no byte.
#![no_main]

use callpop_sip::identity;
use callpop_sip::rtp::{DtmfDetector, RtpPacket, TelephoneEvent};
use callpop_sip::sdp::{self, Codec, Direction};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&selector, input)) = data.split_first() else {
        return;
    };
    let text = String::from_utf8_lossy(input);
    match selector % 7 {
        // A whole SIP message, as the stack's UDP transport parses it; when our socket answers
        // it with 501 (an unknown method), that answer must parse as a 501.
        0 => {
            let _ = rsipstack::sip::SipMessage::try_from(input);
            let source = "127.0.0.1:40000".parse().expect("literal address");
            if let Some((answer, _)) = callpop_sip::socket::not_implemented(
                input,
                source,
                &std::collections::hash_map::RandomState::new(),
            ) {
                match rsipstack::sip::SipMessage::try_from(answer.as_slice()) {
                    Ok(rsipstack::sip::SipMessage::Response(r)) => {
                        assert_eq!(r.status_code.code(), 501, "our answer is a 501")
                    }
                    other => panic!("our 501 must parse: {other:?}"),
                }
            }
        }
        // SDP offer → answer → our answer parses back with the chosen codec.
        1 => {
            if let Ok(remote) = sdp::parse_audio(input) {
                if let Ok(codec) = sdp::choose_codec(&remote, &Codec::ALL) {
                    let local = "127.0.0.1:40000".parse().expect("literal address");
                    let answer = sdp::write_audio(
                        local,
                        &[codec],
                        remote.telephone_event,
                        remote.direction.answer_holding(false),
                        1,
                        1,
                    );
                    let back = sdp::parse_audio(answer.as_bytes())
                        .expect("our answer to an accepted offer must parse");
                    assert_eq!(back.codecs, vec![codec], "the answer carries the codec");
                    assert_ne!(back.direction, Direction::SendOnly, "never sendonly unheld");
                }
            }
        }
        // RTP, and a telephone-event payload inside it.
        2 => {
            if let Ok(packet) = RtpPacket::parse(input) {
                if let Ok(event) = TelephoneEvent::parse(packet.payload) {
                    let _ = DtmfDetector::default().push(packet.timestamp, &event);
                    assert_eq!(
                        TelephoneEvent::parse(&event.to_bytes()).ok(),
                        Some(TelephoneEvent {
                            volume: event.volume & 0x3f,
                            ..event
                        }),
                        "a parsed event writes and parses back"
                    );
                }
            }
        }
        // Caller identity from the three headers, split on NUL.
        3 => {
            let mut parts = text.splitn(3, '\0');
            let (pai, rpid, from) = (parts.next(), parts.next(), parts.next().unwrap_or(""));
            let _ = identity::caller(pai, rpid, from);
        }
        // An INFO request's Content-Type and body, split on the first NUL: a digit it gives
        // is a DTMF digit, and our body for it gives it back.
        4 => {
            let (content_type, body) = match input.iter().position(|&b| b == 0) {
                Some(at) => (Some(String::from_utf8_lossy(&input[..at])), &input[at + 1..]),
                None => (None, input),
            };
            if let Ok(Some(digit)) = callpop_sip::info::parse(content_type.as_deref(), body) {
                let ours = callpop_sip::info::relay_body(digit, 100);
                assert_eq!(
                    callpop_sip::info::parse(Some(callpop_sip::info::DTMF_RELAY), ours.as_bytes()),
                    Ok(Some(digit)),
                    "our dtmf-relay body for a digit gives that digit"
                );
            }
        }
        // A SIP-over-TCP byte stream, framed at once and in two reads (cut where the next byte
        // says): the same frames, nothing lost; a message whose Via we mend still parses.
        6 => {
            use callpop_sip::stream::{next_frame, own_via, Frame, MAX_MESSAGE};
            let frame_all = |reads: &[&[u8]]| {
                let mut buffer = Vec::new();
                let mut frames = Vec::new();
                for read in reads {
                    buffer.extend_from_slice(read);
                    loop {
                        match next_frame(&mut buffer) {
                            Ok(Some(frame)) => frames.push(frame),
                            Ok(None) => break,
                            Err(e) => return Err(e),
                        }
                    }
                }
                Ok((frames, buffer))
            };
            let Some((&cut, stream)) = input.split_first() else {
                return;
            };
            let cut = usize::from(cut).min(stream.len());
            let whole = frame_all(&[stream]);
            let pieces = frame_all(&[&stream[..cut], &stream[cut..]]);
            if let (Ok(whole), Ok(pieces)) = (&whole, &pieces) {
                assert_eq!(whole, pieces, "framing does not depend on how bytes arrive");
                let mut back = Vec::new();
                for frame in &whole.0 {
                    match frame {
                        Frame::Ping => back.extend_from_slice(b"\r\n\r\n"),
                        Frame::Pong => back.extend_from_slice(b"\r\n"),
                        Frame::Message(m) => {
                            assert!(m.len() <= MAX_MESSAGE, "no frame over the limit");
                            back.extend_from_slice(m);
                            if let Ok(message) = rsipstack::sip::SipMessage::try_from(m.as_slice()) {
                                let peer = "10.0.0.9:5060"
                                    .parse::<std::net::SocketAddr>()
                                    .expect("literal address")
                                    .into();
                                let local = "10.0.0.2:5070"
                                    .parse::<std::net::SocketAddr>()
                                    .expect("literal address")
                                    .into();
                                let mended = own_via(message, &peer, &local).to_bytes();
                                assert!(
                                    rsipstack::sip::SipMessage::try_from(mended.as_slice()).is_ok(),
                                    "a message we send on must parse: {mended:?}"
                                );
                            }
                        }
                    }
                }
                back.extend_from_slice(&whole.1);
                assert_eq!(back, stream, "every byte is in a frame or still waiting");
            }
        }
        // One name-addr (From, To, Refer-To).
        _ => {
            let _ = identity::parse_name_addr(&text);
        }
    }
});
