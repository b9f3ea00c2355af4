//! DTMF carried in SIP INFO requests (sans-IO): the `application/dtmf-relay` body many PBXs and
//! phones send (`Signal=5` and `Duration=160` lines) and the shorter `application/dtmf` body (the
//! digit alone). Used when a peer sends its digits that way, and for our own digits when the peer
//! did not accept RFC 4733 telephone-events in its SDP.
//!
//! An INFO without a body is a keep-alive some PBXs send: it is answered 200 and means nothing.

use crate::rtp::{dtmf_digit, dtmf_event};

/// Media type of the `Signal=`/`Duration=` body.
pub const DTMF_RELAY: &str = "application/dtmf-relay";
/// Media type of the digit-only body.
pub const DTMF: &str = "application/dtmf";
/// What an INFO request may carry, for the `Accept` of a 415 to any other INFO body.
pub const ACCEPT: &str = "application/dtmf-relay, application/dtmf";

/// Largest INFO body we read; a DTMF body is a few dozen bytes.
const MAX_BODY: usize = 1024;

/// Why an INFO request is refused, with the status it gets.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InfoError {
    /// A body of a type other than the two DTMF ones: 415.
    #[error("INFO body of type {0:?} is not DTMF")]
    UnsupportedType(String),
    /// A DTMF body with no digit in it, or a bad one: 400.
    #[error("INFO DTMF body has no valid digit")]
    BadDigit,
    /// A body over 1 KiB: 413.
    #[error("INFO body is over {MAX_BODY} bytes")]
    TooLarge,
}

/// The digit an INFO request carries: `Ok(None)` for an empty keep-alive, `Ok(Some(digit))`
/// (`0-9`, `*`, `#`, `A-D`) for a DTMF body. `content_type` is the header's value as sent
/// (parameters and case ignored); a signal given as an event code (`10` for `*`, `11` for `#`,
/// `12`-`15` for `A`-`D`) is understood too.
pub fn parse(content_type: Option<&str>, body: &[u8]) -> Result<Option<char>, InfoError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    if body.len() > MAX_BODY {
        return Err(InfoError::TooLarge);
    }
    let media_type = content_type
        .unwrap_or_default()
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    let text = std::str::from_utf8(body).map_err(|_| InfoError::BadDigit)?;
    let signal = match media_type.as_str() {
        DTMF_RELAY => text
            .lines()
            .filter_map(|line| line.split_once('='))
            .find(|(key, _)| key.trim().eq_ignore_ascii_case("signal"))
            .map(|(_, value)| value.trim())
            .ok_or(InfoError::BadDigit)?,
        DTMF => text.trim(),
        _ => return Err(InfoError::UnsupportedType(media_type)),
    };
    signal_digit(signal).map(Some).ok_or(InfoError::BadDigit)
}

/// A signal value: one digit character, or a telephone-event code from 0 to 15.
fn signal_digit(signal: &str) -> Option<char> {
    let mut chars = signal.chars();
    match (chars.next(), chars.next()) {
        (Some(c), None) => dtmf_event(c).map(|_| c.to_ascii_uppercase()),
        _ => dtmf_digit(signal.parse().ok()?),
    }
}

/// The `application/dtmf-relay` body for one digit lasting `duration_ms`. `digit` must be a
/// DTMF digit (checked by the caller with [`dtmf_event`]).
pub fn relay_body(digit: char, duration_ms: u32) -> String {
    format!(
        "Signal={}\r\nDuration={duration_ms}\r\n",
        digit.to_ascii_uppercase()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_dtmf_relay_body_gives_its_signal() {
        assert_eq!(
            parse(Some(DTMF_RELAY), b"Signal=5\r\nDuration=160\r\n"),
            Ok(Some('5'))
        );
        assert_eq!(
            parse(
                Some("Application/DTMF-Relay; charset=utf-8"),
                b"Duration=250\nsignal = #\n"
            ),
            Ok(Some('#')),
            "case, parameters, order, bare LF and spaces do not matter"
        );
        assert_eq!(parse(Some(DTMF_RELAY), b"Signal=b\r\n"), Ok(Some('B')));
    }

    #[test]
    fn event_codes_are_understood_as_signals() {
        assert_eq!(parse(Some(DTMF_RELAY), b"Signal=10\r\n"), Ok(Some('*')));
        assert_eq!(parse(Some(DTMF_RELAY), b"Signal=11\r\n"), Ok(Some('#')));
        assert_eq!(parse(Some(DTMF), b"15"), Ok(Some('D')));
        assert_eq!(parse(Some(DTMF), b" 7\r\n"), Ok(Some('7')));
    }

    #[test]
    fn an_empty_info_is_a_keep_alive() {
        assert_eq!(parse(None, b""), Ok(None));
        assert_eq!(parse(Some(DTMF_RELAY), b"\r\n"), Ok(None));
    }

    #[test]
    fn other_bodies_and_bad_digits_are_refused() {
        assert_eq!(
            parse(Some("application/media_control+xml"), b"<media_control/>"),
            Err(InfoError::UnsupportedType(
                "application/media_control+xml".into()
            ))
        );
        assert_eq!(
            parse(None, b"Signal=5"),
            Err(InfoError::UnsupportedType(String::new()))
        );
        for body in [
            &b"Signal=\r\n"[..],
            b"Duration=100\r\n",
            b"Signal=16\r\n",
            b"Signal=x\r\n",
            b"Signal=55\r\n",
            b"Signal=\xff\r\n",
        ] {
            assert_eq!(
                parse(Some(DTMF_RELAY), body),
                Err(InfoError::BadDigit),
                "{body:?}"
            );
        }
        assert_eq!(parse(Some(DTMF), &[b'1'; 2000]), Err(InfoError::TooLarge));
    }

    #[test]
    fn our_body_round_trips() {
        for digit in "0123456789*#abcd".chars() {
            let body = relay_body(digit, 100);
            assert_eq!(
                parse(Some(DTMF_RELAY), body.as_bytes()),
                Ok(Some(digit.to_ascii_uppercase()))
            );
        }
        assert_eq!(relay_body('#', 100), "Signal=#\r\nDuration=100\r\n");
    }
}
