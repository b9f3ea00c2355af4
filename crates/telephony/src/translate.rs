//! Sans-IO: SIP user agent events in, engine events and registration status out.
//!
//! [`Translator::handle`] takes one [`sip::Event`] and the current time and returns what to
//! publish. Events about an outbound call that the dialing task has not announced yet (its
//! `Ringing` carries the number, which only the dialer knows) are held back and released, after
//! that `Ringing`, by [`Translator::announce_outbound`]: the engine always sees `Ringing` first.

use std::collections::{HashSet, VecDeque};
use std::net::SocketAddr;

use chrono::{DateTime, Utc};
use engine::{Direction, EndReason, TelephonyEvent};
use serde::{Deserialize, Serialize};
use sip::CloseReason;

use crate::{Error, Result};

/// At most this many events are held back for calls not announced yet (the oldest go first).
const MAX_HELD_BACK: usize = 256;

/// Where registration stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum RegistrationState {
    /// Not registered (no registrar configured, or not started yet).
    Unregistered,
    /// A REGISTER is on its way.
    Registering,
    /// The registrar accepted us.
    Registered {
        /// Granted lifetime in seconds (refreshed before it runs out).
        expires: u32,
    },
    /// Registration failed (it is retried with back-off).
    Failed {
        /// The status line or error.
        reason: String,
        /// What went wrong, for words in the agent's language.
        kind: sip::FailureKind,
    },
}

/// What the tray and the settings panel show about the phone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SipStatus {
    /// Registration.
    pub state: RegistrationState,
    /// The bound SIP address (UDP).
    pub local_addr: SocketAddr,
}

/// What [`Translator::handle`] asks the adapter to publish.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    /// Send this to the engine.
    Telephony(TelephonyEvent),
    /// The registration state changed.
    Status(RegistrationState),
}

/// The mapping state: which calls the engine knows, and events held back for calls it does not
/// know yet.
#[derive(Debug)]
pub struct Translator {
    user: String,
    calls: HashSet<String>,
    held_back: VecDeque<(String, sip::Event)>,
}

impl Translator {
    /// A translator for the agent whose user name (our number) is `user`.
    pub fn new(user: impl Into<String>) -> Self {
        Self {
            user: user.into(),
            calls: HashSet::new(),
            held_back: VecDeque::new(),
        }
    }

    /// Translates one agent event.
    pub fn handle(&mut self, now: DateTime<Utc>, event: sip::Event) -> Vec<Output> {
        use sip::Event as E;
        let call_id = match &event {
            E::Ringing { call_id }
            | E::Established { call_id }
            | E::Held { call_id, .. }
            | E::Resumed { call_id, .. }
            | E::Closed { call_id, .. }
            | E::AudioError { call_id, .. } => Some(call_id.clone()),
            _ => None,
        };
        if let Some(id) = call_id {
            if !self.calls.contains(&id) {
                if self.held_back.len() >= MAX_HELD_BACK {
                    self.held_back.pop_front();
                }
                self.held_back.push_back((id, event));
                return Vec::new();
            }
        }
        self.translate(now, event)
    }

    /// The dialer placed an outbound call `call_id` to `number`: returns its `Ringing`, then
    /// whatever arrived about it before (answer, end …), in order.
    pub fn announce_outbound(
        &mut self,
        now: DateTime<Utc>,
        call_id: &str,
        number: &str,
    ) -> Vec<Output> {
        self.calls.insert(call_id.to_owned());
        let mut out = vec![Output::Telephony(TelephonyEvent::Ringing {
            call_id: call_id.to_owned(),
            direction: Direction::Outbound,
            remote_raw: number.to_owned(),
            remote_display_name: None,
            local: Some(self.user.clone()),
            queue: None,
        })];
        let (mine, others): (VecDeque<_>, VecDeque<_>) = std::mem::take(&mut self.held_back)
            .into_iter()
            .partition(|(id, _)| id == call_id);
        self.held_back = others;
        for (_, event) in mine {
            out.extend(self.translate(now, event));
        }
        out
    }

    /// How many calls the engine has been told about and that have not ended.
    pub fn active_calls(&self) -> usize {
        self.calls.len()
    }

    fn translate(&mut self, now: DateTime<Utc>, event: sip::Event) -> Vec<Output> {
        use sip::Event as E;
        let event = match event {
            E::Registering => return vec![Output::Status(RegistrationState::Registering)],
            E::Registered { expires } => {
                return vec![Output::Status(RegistrationState::Registered { expires })]
            }
            E::RegistrationFailed { reason, kind } => {
                return vec![Output::Status(RegistrationState::Failed { reason, kind })]
            }
            E::Unregistered => return vec![Output::Status(RegistrationState::Unregistered)],
            E::IncomingCall {
                call_id, from, to, ..
            } => {
                self.calls.insert(call_id.clone());
                TelephonyEvent::Ringing {
                    call_id,
                    direction: Direction::Inbound,
                    remote_raw: user_part(&from.uri),
                    remote_display_name: from.display_name,
                    local: Some(user_part(&to.uri)).filter(|u| !u.is_empty()),
                    queue: None,
                }
            }
            // An outbound call's Ringing was sent when it was announced.
            E::Ringing { .. } => return Vec::new(),
            E::Established { call_id } => TelephonyEvent::Answered { call_id },
            E::Held { call_id, .. } => TelephonyEvent::Held { call_id },
            E::Resumed { call_id, .. } => TelephonyEvent::Resumed { call_id },
            E::Closed { call_id, reason } => {
                self.calls.remove(&call_id);
                TelephonyEvent::Ended {
                    call_id,
                    reason: end_reason(reason),
                }
            }
            E::MessageReceived { from, text } => TelephonyEvent::SmsReceived {
                from: user_part(&from.uri),
                to: self.user.clone(),
                text,
                at: now,
            },
            E::AudioError { call_id, reason } => TelephonyEvent::CommandFailed {
                call_id: Some(call_id),
                action: engine::FailedAction::Audio,
                message: reason,
            },
            E::Dtmf { call_id, .. } => {
                // The digit itself stays out of the log (it may be a card number or a PIN).
                tracing::debug!(%call_id, "DTMF received; not shown to the engine");
                return Vec::new();
            }
            E::Transferred { call_id, .. } => {
                tracing::info!(%call_id, "call transferred; its end follows");
                return Vec::new();
            }
        };
        vec![Output::Telephony(event)]
    }
}

/// Why a call ended, as the engine sees it.
fn end_reason(reason: CloseReason) -> EndReason {
    match reason {
        // Also our CANCEL of an unanswered outbound call: the agent hung up.
        CloseReason::LocalHangup | CloseReason::RemoteHangup => EndReason::HungUp,
        CloseReason::Cancelled => EndReason::Missed,
        CloseReason::Declined => EndReason::Declined,
        CloseReason::Rejected { code, reason } => EndReason::Failed {
            reason: format!("{code} {reason}"),
        },
        CloseReason::Timeout => EndReason::Failed {
            reason: "no answer in time".to_owned(),
        },
        CloseReason::Failed { reason } => EndReason::Failed { reason },
    }
}

/// The user part of a `sip:`, `sips:` or `tel:` URI (`sip:+14155550100@pbx;user=phone` →
/// `+14155550100`), which is the number for the engine; the whole text when there is none.
pub fn user_part(uri: &str) -> String {
    let trimmed = uri.trim();
    let lower = trimmed.to_ascii_lowercase();
    let rest = ["sips:", "sip:", "tel:"]
        .iter()
        .find(|scheme| lower.starts_with(*scheme))
        .map_or(trimmed, |scheme| &trimmed[scheme.len()..]);
    let user = match rest.rfind('@') {
        Some(at) => &rest[..at],
        None if lower.starts_with("tel:") => rest,
        // `sip:host` has no user part: the host is all there is.
        None => rest,
    };
    let user = user.split([';', '?']).next().unwrap_or(user);
    let user = user.split(':').next().unwrap_or(user);
    if user.is_empty() {
        trimmed.to_owned()
    } else {
        percent_decode(user)
    }
}

/// Decodes `%XX` escapes (RFC 3261 user parts may escape `#` and others); invalid escapes and
/// invalid UTF-8 are kept as they are.
fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let (Some(h), Some(l)) = (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                out.push((h * 16 + l) as u8);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8(out).unwrap_or_else(|_| text.to_owned())
}

/// Where a dial or an SMS goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DialTarget {
    /// A full `sip:`/`sips:` URI, used as given.
    Uri(String),
    /// A number or extension, called at the configured domain (already escaped for a URI).
    User(String),
}

impl DialTarget {
    /// The target as a URI at `domain` (for MESSAGE, which needs a full URI).
    pub fn uri_at(&self, domain: &str) -> String {
        match self {
            DialTarget::Uri(uri) => uri.clone(),
            DialTarget::User(user) => format!("sip:{user}@{domain}"),
        }
    }

    /// What the agent's user agent dials: the URI, or the bare user (taken at its domain).
    pub fn dial_string(&self) -> &str {
        match self {
            DialTarget::Uri(uri) | DialTarget::User(uri) => uri,
        }
    }
}

/// What the agent typed or clicked, as something to call: a `sip:` URI as is, or a number with
/// its visual separators (spaces, dashes, dots between digits, parentheses) removed. Letters are
/// kept for extensions (`bob`), `#` is escaped. Anything else is refused.
pub fn dial_target(input: &str) -> Result<DialTarget> {
    let invalid = |reason| Error::InvalidNumber {
        number: input.chars().take(80).collect(),
        reason,
    };
    let trimmed = input.trim();
    let lower = trimmed.to_ascii_lowercase();
    if lower.starts_with("sip:") || lower.starts_with("sips:") {
        if trimmed.chars().any(|c| c.is_control() || c.is_whitespace()) {
            return Err(invalid(
                "a SIP URI cannot contain spaces or control characters",
            ));
        }
        return Ok(DialTarget::Uri(trimmed.to_owned()));
    }
    let trimmed = if lower.starts_with("tel:") {
        &trimmed[4..]
    } else {
        trimmed
    };
    let mut user = String::new();
    for (i, c) in trimmed.chars().enumerate() {
        match c {
            ' ' | '-' | '(' | ')' | '.' | '\u{a0}' => {}
            '+' if i == 0 => user.push('+'),
            '#' => user.push_str("%23"),
            '*' | '_' => user.push(c),
            c if c.is_ascii_alphanumeric() => user.push(c),
            _ => return Err(invalid("only digits, letters, +, * and # can be dialed")),
        }
    }
    if user.is_empty() || user == "+" {
        return Err(invalid("nothing to dial"));
    }
    if user.len() > 64 {
        return Err(invalid("longer than 64 characters"));
    }
    Ok(DialTarget::User(user))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use sip::identity::Party;

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2027, 1, 31, 10, 0, 0)
            .single()
            .expect("valid time")
    }

    fn party(uri: &str, name: Option<&str>) -> Party {
        Party {
            uri: uri.to_owned(),
            display_name: name.map(str::to_owned),
        }
    }

    fn telephony(out: Vec<Output>) -> Vec<TelephonyEvent> {
        out.into_iter()
            .filter_map(|o| match o {
                Output::Telephony(e) => Some(e),
                Output::Status(_) => None,
            })
            .collect()
    }

    fn incoming(call_id: &str) -> sip::Event {
        sip::Event::IncomingCall {
            call_id: call_id.to_owned(),
            from: party("sip:+14155550100@pbx.example;user=phone", Some("Ann <b>")),
            to: party("sip:2001@pbx.example", None),
            waiting: false,
        }
    }

    #[test]
    fn user_parts_of_the_usual_uris() {
        for (uri, want) in [
            ("sip:+14155550100@pbx;user=phone", "+14155550100"),
            ("sips:alice@example.com:5061", "alice"),
            ("tel:+81-3-1234-5678;phone-context=x", "+81-3-1234-5678"),
            ("sip:alice:secret@host", "alice"),
            ("sip:%2A123%23@host", "*123#"),
            ("sip:host.example", "host.example"),
            ("anonymous", "anonymous"),
        ] {
            assert_eq!(user_part(uri), want, "user part of {uri}");
        }
    }

    #[test]
    fn an_inbound_call_rings_answers_and_hangs_up_in_order() {
        let mut t = Translator::new("2001");
        let mut events = telephony(t.handle(now(), incoming("c1")));
        events.extend(telephony(t.handle(
            now(),
            sip::Event::Established {
                call_id: "c1".into(),
            },
        )));
        events.extend(telephony(t.handle(
            now(),
            sip::Event::Closed {
                call_id: "c1".into(),
                reason: CloseReason::RemoteHangup,
            },
        )));
        assert_eq!(
            events,
            vec![
                TelephonyEvent::Ringing {
                    call_id: "c1".into(),
                    direction: Direction::Inbound,
                    remote_raw: "+14155550100".into(),
                    remote_display_name: Some("Ann <b>".into()),
                    local: Some("2001".into()),
                    queue: None,
                },
                TelephonyEvent::Answered {
                    call_id: "c1".into()
                },
                TelephonyEvent::Ended {
                    call_id: "c1".into(),
                    reason: EndReason::HungUp
                },
            ],
            "ring, answer, hang-up map one to one; the display name is carried verbatim as data"
        );
        assert_eq!(t.active_calls(), 0, "an ended call is forgotten");
    }

    #[test]
    fn hold_from_either_side_maps_to_held_and_resumed() {
        let mut t = Translator::new("2001");
        t.handle(now(), incoming("c1"));
        for by_peer in [false, true] {
            let out = telephony(t.handle(
                now(),
                sip::Event::Held {
                    call_id: "c1".into(),
                    by_peer,
                },
            ));
            assert_eq!(
                out,
                vec![TelephonyEvent::Held {
                    call_id: "c1".into()
                }],
                "hold (by_peer {by_peer}) is shown as held"
            );
            let out = telephony(t.handle(
                now(),
                sip::Event::Resumed {
                    call_id: "c1".into(),
                    by_peer,
                },
            ));
            assert_eq!(
                out,
                vec![TelephonyEvent::Resumed {
                    call_id: "c1".into()
                }],
                "resume (by_peer {by_peer}) is shown as resumed"
            );
        }
    }

    #[test]
    fn close_reasons_map_to_end_reasons() {
        for (reason, want) in [
            (CloseReason::Cancelled, EndReason::Missed),
            (CloseReason::Declined, EndReason::Declined),
            (
                CloseReason::Rejected {
                    code: 486,
                    reason: "Busy Here".into(),
                },
                EndReason::Failed {
                    reason: "486 Busy Here".into(),
                },
            ),
            (
                CloseReason::Timeout,
                EndReason::Failed {
                    reason: "no answer in time".into(),
                },
            ),
            (
                CloseReason::Failed {
                    reason: "socket".into(),
                },
                EndReason::Failed {
                    reason: "socket".into(),
                },
            ),
            (CloseReason::LocalHangup, EndReason::HungUp),
        ] {
            let mut t = Translator::new("2001");
            t.handle(now(), incoming("c"));
            let out = telephony(t.handle(
                now(),
                sip::Event::Closed {
                    call_id: "c".into(),
                    reason: reason.clone(),
                },
            ));
            assert_eq!(
                out,
                vec![TelephonyEvent::Ended {
                    call_id: "c".into(),
                    reason: want
                }],
                "{reason:?} maps to the engine's end reason"
            );
        }
    }

    #[test]
    fn events_before_an_outbound_announcement_are_held_back_and_follow_its_ringing() {
        let mut t = Translator::new("2001");
        for event in [
            sip::Event::Ringing {
                call_id: "o1".into(),
            },
            sip::Event::Established {
                call_id: "o1".into(),
            },
        ] {
            assert!(
                t.handle(now(), event).is_empty(),
                "nothing is published about a call the engine has not heard of"
            );
        }
        let out = telephony(t.announce_outbound(now(), "o1", "+14155550100"));
        assert_eq!(
            out,
            vec![
                TelephonyEvent::Ringing {
                    call_id: "o1".into(),
                    direction: Direction::Outbound,
                    remote_raw: "+14155550100".into(),
                    remote_display_name: None,
                    local: Some("2001".into()),
                    queue: None,
                },
                TelephonyEvent::Answered {
                    call_id: "o1".into()
                },
            ],
            "the announcement's Ringing comes first, then the held-back answer"
        );
        assert!(
            t.handle(
                now(),
                sip::Event::Ringing {
                    call_id: "o1".into()
                }
            )
            .is_empty(),
            "a 180 on an announced outbound call adds nothing: Ringing was already sent"
        );
    }

    #[test]
    fn held_back_events_are_bounded() {
        let mut t = Translator::new("2001");
        for i in 0..(MAX_HELD_BACK + 10) {
            t.handle(
                now(),
                sip::Event::Closed {
                    call_id: format!("ghost{i}"),
                    reason: CloseReason::Timeout,
                },
            );
        }
        assert_eq!(
            t.held_back.len(),
            MAX_HELD_BACK,
            "stray events for unknown calls cannot grow memory without bound"
        );
    }

    #[test]
    fn a_message_becomes_an_sms_to_our_number() {
        let mut t = Translator::new("2001");
        let out = telephony(t.handle(
            now(),
            sip::Event::MessageReceived {
                from: party("sip:+819012345678@carrier", Some("送信者")),
                text: "こんにちは".into(),
            },
        ));
        assert_eq!(
            out,
            vec![TelephonyEvent::SmsReceived {
                from: "+819012345678".into(),
                to: "2001".into(),
                text: "こんにちは".into(),
                at: now(),
            }],
            "sender's number from the URI, our user as recipient, text intact, time as given"
        );
    }

    #[test]
    fn registration_events_become_status() {
        let mut t = Translator::new("2001");
        assert_eq!(
            t.handle(now(), sip::Event::Registered { expires: 60 }),
            vec![Output::Status(RegistrationState::Registered {
                expires: 60
            })],
            "a registration is a status change, not an engine event"
        );
        assert_eq!(
            t.handle(
                now(),
                sip::Event::RegistrationFailed {
                    reason: "403 Forbidden".into(),
                    kind: sip::FailureKind::Credentials,
                }
            ),
            vec![Output::Status(RegistrationState::Failed {
                reason: "403 Forbidden".into(),
                kind: sip::FailureKind::Credentials,
            })],
            "a failure carries its reason and kind"
        );
        assert_eq!(
            serde_json::to_value(RegistrationState::Failed {
                reason: "404 Not Found".into(),
                kind: sip::FailureKind::UnknownUser,
            })
            .expect("serializes"),
            serde_json::json!({"state": "failed", "reason": "404 Not Found", "kind": "unknown_user"}),
            "the kind is a snake_case word"
        );
        let json = serde_json::to_value(RegistrationState::Registered { expires: 60 })
            .expect("serializes");
        assert_eq!(
            json,
            serde_json::json!({"state": "registered", "expires": 60}),
            "the UI reads a tagged state"
        );
    }

    #[test]
    fn dial_targets() {
        for (input, want) in [
            ("+1 (415) 555-0100", DialTarget::User("+14155550100".into())),
            ("bob", DialTarget::User("bob".into())),
            ("*72#", DialTarget::User("*72%23".into())),
            (
                "tel:+81.3.1234.5678",
                DialTarget::User("+81312345678".into()),
            ),
            (
                "sip:bob@pbx.example",
                DialTarget::Uri("sip:bob@pbx.example".into()),
            ),
        ] {
            assert_eq!(
                dial_target(input).expect(input),
                want,
                "{input} is dialable"
            );
        }
        for bad in [
            "",
            "  ",
            "+",
            "bob\r\nVia: x",
            "sip:bob @x",
            "1;2",
            "<script>",
        ] {
            assert!(
                matches!(dial_target(bad), Err(Error::InvalidNumber { .. })),
                "{bad:?} is refused with a typed error"
            );
        }
        assert_eq!(
            dial_target("+14155550100")
                .expect("a number")
                .uri_at("pbx.example"),
            "sip:+14155550100@pbx.example",
            "an SMS to a number goes to the number at our domain"
        );
    }
}
