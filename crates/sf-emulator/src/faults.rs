//! Injected failures: what each [`Fault`] does to the next counted REST request.

use std::time::Duration;

use rand::Rng;
use serde::{Deserialize, Serialize};

use crate::error::Error;

/// A failure injected into the next counted REST requests.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Fault {
    /// 500 `UNKNOWN_EXCEPTION`.
    Http500,
    /// 503 `SERVER_UNAVAILABLE`.
    Http503,
    /// No answer for 120 s (ended early by shutdown).
    Hang,
    /// 401 `INVALID_SESSION_ID`.
    #[serde(rename = "invalidsession", alias = "invalid_session")]
    InvalidSession,
    /// 403 `REQUEST_LIMIT_EXCEEDED`.
    #[serde(rename = "requestlimitexceeded", alias = "request_limit_exceeded")]
    RequestLimitExceeded,
    /// The TCP connection is closed (reset) without a response.
    #[serde(rename = "connectionreset", alias = "connection_reset")]
    ConnectionReset,
}

/// How long the `Hang` fault keeps a request open (far past any client timeout).
pub const HANG: Duration = Duration::from_secs(120);

/// What the server does for a fault.
#[derive(Debug, PartialEq, Eq)]
pub enum Effect {
    /// Answer with this error (it carries the usual headers).
    Answer(Error),
    /// Answer nothing for [`HANG`].
    Hang,
    /// Close the connection without answering.
    Reset,
}

impl Fault {
    /// The effect of this fault.
    pub fn effect(self) -> Effect {
        match self {
            Fault::Http500 => Effect::Answer(Error::UnknownException {
                error_id: error_id(),
            }),
            Fault::Http503 => Effect::Answer(Error::ServerUnavailable),
            Fault::InvalidSession => Effect::Answer(Error::InvalidSession),
            Fault::RequestLimitExceeded => Effect::Answer(Error::RequestLimitExceeded),
            Fault::Hang => Effect::Hang,
            Fault::ConnectionReset => Effect::Reset,
        }
    }
}

/// A made-up ErrorId in Salesforce's `1391618318-30123 (-1513208498)` style.
fn error_id() -> String {
    let mut rng = rand::thread_rng();
    format!(
        "{}-{} ({})",
        rng.gen_range(1_000_000_000u64..2_000_000_000),
        rng.gen_range(10_000..99_999),
        rng.gen_range(-2_000_000_000i64..-1)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_fault_has_its_status_and_code() {
        let answer = |f: Fault| match f.effect() {
            Effect::Answer(e) => Some((e.status().as_u16(), e.error_code())),
            _ => None,
        };
        assert_eq!(
            answer(Fault::Http500),
            Some((500, "UNKNOWN_EXCEPTION")),
            "500 fault"
        );
        assert_eq!(
            answer(Fault::Http503),
            Some((503, "SERVER_UNAVAILABLE")),
            "503 fault"
        );
        assert_eq!(
            answer(Fault::InvalidSession),
            Some((401, "INVALID_SESSION_ID")),
            "401 fault"
        );
        assert_eq!(
            answer(Fault::RequestLimitExceeded),
            Some((403, "REQUEST_LIMIT_EXCEEDED")),
            "403 fault"
        );
        assert_eq!(Fault::Hang.effect(), Effect::Hang, "hang answers nothing");
        assert_eq!(
            Fault::ConnectionReset.effect(),
            Effect::Reset,
            "reset closes the connection"
        );
    }

    #[test]
    fn faults_read_from_control_json() {
        let f: Fault = serde_json::from_str("\"http503\"").unwrap();
        assert_eq!(f, Fault::Http503, "lower-case names as in the control API");
        let f: Fault = serde_json::from_str("\"connection_reset\"").unwrap();
        assert_eq!(
            f,
            Fault::ConnectionReset,
            "snake_case spellings are accepted too"
        );
    }
}
