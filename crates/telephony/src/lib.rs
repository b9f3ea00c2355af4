//! The phone behind the engine: [`SipTelephony`] implements [`engine::Telephony`] over the SIP
//! user agent ([`sip::UserAgent`]).
//!
//! # Contract
//!
//! - The agent's events become [`engine::TelephonyEvent`]s, in the order the agent reported them;
//!   an outbound call's `Ringing` comes first, before anything else about that call.
//! - Commands are accepted at once (the trait is synchronous) and carried out on the tokio
//!   runtime that started the adapter; a command that fails later is reported as
//!   [`engine::TelephonyEvent::CommandFailed`], which the engine shows to the agent.
//! - Registration progress is published as a [`SipStatus`] on a `watch` channel for the tray and
//!   the settings panel.
//! - The mapping from SIP events to engine events is a sans-IO [`Translator`] (time passed in),
//!   unit-tested without a network; the adapter itself is tested against `sipp` in `tests/`.
//! - Display names are data only; no password reaches a log line (the agent's `Password`
//!   prints `[redacted]`).
#![deny(missing_docs)]

mod adapter;
pub mod translate;

pub use adapter::SipTelephony;
pub use translate::{
    dial_target, user_part, DialTarget, Output, RegistrationState, SipStatus, Translator,
};

/// Everything that can go wrong in the adapter.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The SIP user agent failed (binding its socket, starting the registration …).
    #[error("SIP user agent: {source}")]
    Sip {
        /// The agent's error.
        #[from]
        source: sip::Error,
    },
    /// A number or address cannot be called or messaged.
    #[error("cannot call or message {number:?}: {reason}")]
    InvalidNumber {
        /// What was given (cut to 80 characters).
        number: String,
        /// Why it is refused.
        reason: &'static str,
    },
    /// The agent cannot be restarted on a new account while it holds calls.
    #[error("{calls} call(s) in progress: the SIP account changes once they are over")]
    CallInProgress {
        /// How many.
        calls: usize,
    },
    /// The adapter has no running agent (a restart failed twice).
    #[error("the SIP agent is not running")]
    Stopped,
    /// The adapter was started outside a tokio runtime.
    #[error("no tokio runtime: start the adapter from inside one")]
    NoRuntime,
}

/// The crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
