//! Why a command did not do what the agent asked, as data: the UI words it in the agent's
//! language (`failure.<kind>` in its locales, the fields as placeholders), so no English sentence
//! from the Rust side reaches a Japanese, French or Korean agent. `detail` fields carry the cause
//! as a library, the OS or Salesforce gave it (technical text, shown as received). The English
//! `Display` is for logs and tests.

use serde::{Deserialize, Serialize};
use ts_rs::TS;

use crate::DialError;

/// What a command reports when it fails.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS, thiserror::Error)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Failure {
    /// A write to the local database failed.
    #[error("Callpop could not save this on disk: {detail}.")]
    NotStored {
        /// The database's error.
        detail: String,
    },
    /// A name search needs two letters at least.
    #[error("Type at least two letters of a name to search.")]
    NameTooShort,
    /// The Salesforce name search failed.
    #[error("The search in Salesforce failed: {detail}.")]
    SearchFailed {
        /// Salesforce's or the network's error.
        detail: String,
    },
    /// The call history could not be read.
    #[error("The call history could not be read: {detail}.")]
    HistoryUnreadable {
        /// The database's error.
        detail: String,
    },
    /// The SMS history could not be read.
    #[error("The SMS history could not be read: {detail}.")]
    SmsHistoryUnreadable {
        /// The database's error.
        detail: String,
    },
    /// An SMS without text.
    #[error("Type a message to send.")]
    EmptyMessage,
    /// The default region is not a region code.
    #[error("{region:?} is not a region code (JP, FR, KR, US …).")]
    BadRegion {
        /// What was given.
        region: String,
    },
    /// The internal-number rule is not usable.
    #[error("Internal numbers: {detail}.")]
    BadInternalNumbers {
        /// What is wrong with it.
        detail: String,
    },
    /// The layout is not valid; the previous one stays.
    #[error("The layout was not saved: {detail}.")]
    LayoutNotSaved {
        /// What is wrong with it.
        detail: String,
    },
    /// The layout file is not valid; the current layout stays.
    #[error("The layout file was not imported (the current layout stays): {detail}.")]
    LayoutNotImported {
        /// The line and field at fault.
        detail: String,
    },
    /// The login server is not usable (a My Domain URL that is not one).
    #[error("The login server is not usable: {detail}.")]
    BadLoginServer {
        /// What is wrong with it.
        detail: String,
    },
    /// The browser sign-in failed.
    #[error("Signing in to Salesforce failed: {detail}.")]
    SignInFailed {
        /// The OAuth or network error.
        detail: String,
    },
    /// The engine is gone (the app must restart).
    #[error("Callpop's engine has stopped; restart Callpop.")]
    EngineStopped,
    /// Disconnecting (revoking the token) failed.
    #[error("Disconnecting from Salesforce failed: {detail}.")]
    DisconnectFailed {
        /// The OAuth or network error.
        detail: String,
    },
    /// The OS keychain refused the password.
    #[error("The password could not be kept in the OS keychain: {detail}.")]
    KeychainFailed {
        /// The keychain's error.
        detail: String,
    },
    /// A SIP account without user or domain.
    #[error("A SIP account needs a user and a domain.")]
    SipAccountIncomplete,
    /// The CA certificate file of a SIP account over TLS is not usable.
    #[error("The CA certificate file is not usable: {detail}.")]
    BadCaFile {
        /// The file and what is wrong with it.
        detail: String,
    },
    /// The DNS server of a SIP account is not an IP address (with an optional port).
    #[error("The DNS server “{given}” is not an IP address (such as 10.0.0.2 or 10.0.0.2:5353).")]
    BadDnsServer {
        /// What the agent typed.
        given: String,
    },
    /// The SIP agent could not restart on the saved account (the previous one runs again).
    #[error("The SIP account was saved but could not start (the previous one is back): {detail}.")]
    SipRestartFailed {
        /// Why.
        detail: String,
    },
    /// No sound output device.
    #[error("No speaker or headset was found on this computer.")]
    NoSpeaker,
    /// No sound input device.
    #[error("No microphone was found on this computer.")]
    NoMicrophone,
    /// The test tone could not play.
    #[error("The test tone could not play: {detail}.")]
    ToneFailed {
        /// The audio error.
        detail: String,
    },
    /// The microphone could not be opened.
    #[error("The microphone could not be opened: {detail}.")]
    MicFailed {
        /// The audio error.
        detail: String,
    },
    /// A global shortcut was refused by the OS (another program has it) or is not a key
    /// combination.
    #[error("The {shortcut:?} shortcut {accel:?} could not be used: {detail}.")]
    Shortcut {
        /// Which one.
        shortcut: ShortcutName,
        /// The key combination given.
        accel: String,
        /// The OS's or the parser's error.
        detail: String,
    },
    /// Several problems at once (both shortcuts refused).
    #[error("{}", failures.iter().map(ToString::to_string).collect::<Vec<_>>().join(" "))]
    Several {
        /// Each problem.
        failures: Vec<Failure>,
    },
    /// What was pasted or clicked cannot be dialed.
    #[error(transparent)]
    Dial(#[from] DialError),
    /// Not signed in to Salesforce (a connection check).
    #[error("Callpop is not signed in to Salesforce.")]
    NotSignedIn,
    /// The Salesforce session ended (a connection check).
    #[error("The Salesforce session ended: sign in again.")]
    SessionEnded,
    /// `userinfo` failed (a connection check).
    #[error("Salesforce did not say who is signed in: {detail}.")]
    UserUnknown {
        /// The error.
        detail: String,
    },
    /// The REST API did not answer (a connection check).
    #[error("The REST API is not reachable: {detail}.")]
    RestUnreachable {
        /// The error.
        detail: String,
    },
}

/// The global shortcuts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum ShortcutName {
    /// Answer the ringing call.
    Answer,
    /// Hang up.
    HangUp,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failure_is_a_tagged_object_the_ui_can_word() {
        let f = Failure::Shortcut {
            shortcut: ShortcutName::HangUp,
            accel: "Ctrl+Q".into(),
            detail: "already taken".into(),
        };
        assert_eq!(
            serde_json::to_value(&f).unwrap(),
            serde_json::json!({
                "kind": "shortcut", "shortcut": "hang_up", "accel": "Ctrl+Q",
                "detail": "already taken"
            }),
            "kind names the sentence, the other fields fill it"
        );
        assert_eq!(
            serde_json::to_value(Failure::NoSpeaker).unwrap(),
            serde_json::json!({ "kind": "no_speaker" })
        );
    }

    #[test]
    fn dial_errors_keep_their_data() {
        let f = Failure::from(DialError::UnsupportedLink {
            scheme: "javascript".into(),
        });
        assert_eq!(
            serde_json::to_value(&f).unwrap(),
            serde_json::json!({ "kind": "dial", "problem": "unsupported_link", "scheme": "javascript" }),
            "the dial problem and its data, under the failure's kind"
        );
        assert_eq!(
            Failure::from(DialError::TooLong { len: 600 }).to_string(),
            "That text is 600 characters long, too long to be a phone number."
        );
    }
}
