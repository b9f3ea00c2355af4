//! One fuzz target over every parser that sees network input: the first byte picks the parser,
//! the rest is its input. None may panic; an SDP we accept must give an answer that parses back,
//! a 501 we give to an unknown method must parse as one, and an INFO DTMF digit must round-trip.
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
    match selector % 6 {
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
        // One name-addr (From, To, Refer-To).
        _ => {
            let _ = identity::parse_name_addr(&text);
        }
    }
});
