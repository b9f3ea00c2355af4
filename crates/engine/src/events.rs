//! The engine's typed output: what the UI (through the desktop shell) is told.

use chrono::{DateTime, Utc};
use cti::{CallerDisplay, PopDecision};
use serde::{Deserialize, Serialize};
use url::Url;

use crate::lookup::LookupStatus;
use crate::telephony::{Direction, EndReason};

/// Where a call stands, as the UI shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "phase", rename_all = "snake_case")]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub enum CallPhase {
    /// Ringing (inbound) or being placed (outbound).
    Ringing {
        /// Which way.
        direction: Direction,
        /// The caller as the popup will show it, known at once (before any lookup), so the UI
        /// can show who is calling however slow Salesforce is.
        caller: CallerDisplay,
    },
    /// Answered and talking.
    Established,
    /// On hold.
    Held,
    /// Hung up; the agent is wrapping up until `deadline` (when the log is auto-saved) or
    /// until they save or discard.
    WrapUp {
        /// When the auto-save fires, if it will.
        deadline: Option<DateTime<Utc>>,
    },
    /// Ended and finished with (log saved, discarded, or not to be logged).
    Closed {
        /// Why the call ended.
        reason: EndReason,
    },
}

/// Where a log (a call's or an SMS day's Task) stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub enum LogStatus {
    /// Committed to the outbox, not yet confirmed by Salesforce.
    Queued,
    /// Written to Salesforce as this Task.
    Saved {
        /// The Task's Id.
        task_id: String,
    },
    /// Salesforce refused it for good; the agent may fix and retry.
    Failed {
        /// Why, for the agent.
        reason: String,
    },
}

/// What kind of trouble a Salesforce request ran into: the UI says it in the agent's language
/// and adds the stack's own words (which are English) after it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub enum SfTrouble {
    /// No answer within the time allowed.
    Timeout,
    /// No connection: network down, host unknown, connection refused or reset.
    Unreachable,
    /// Salesforce answered with a server error (5xx: outage, maintenance).
    ServerError,
    /// An answer that is not what Salesforce's API sends (a proxy's page, a cut-off body).
    BadResponse,
    /// Salesforce refused the request (a 4xx with its error array, an OAuth error).
    Refused,
    /// Anything else.
    Other,
}

impl SfTrouble {
    /// The kind of a Salesforce client error.
    pub fn of(error: &salesforce::Error) -> Self {
        use salesforce::Error as E;
        match error {
            E::Timeout { .. } => SfTrouble::Timeout,
            E::Connection { .. } => SfTrouble::Unreachable,
            E::Api { status, .. } | E::Status { status, .. } if *status >= 500 => {
                SfTrouble::ServerError
            }
            E::Api { .. } | E::OAuth { .. } => SfTrouble::Refused,
            E::Decode { .. } | E::Status { .. } => SfTrouble::BadResponse,
            _ => SfTrouble::Other,
        }
    }
}

/// How the engine's Salesforce connection is doing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub enum ConnectionState {
    /// Not known yet (the session check made at start has not answered).
    Unknown,
    /// No Salesforce session: never signed in, or disconnected. Logs wait in the outbox.
    NotSignedIn,
    /// Requests succeed.
    Connected,
    /// Requests fail for now (outage, network); writes wait in the outbox.
    Offline {
        /// What kind of trouble, for a sentence in the agent's language.
        kind: SfTrouble,
        /// The last error, in the stack's words (English), for the detail.
        reason: String,
    },
    /// The org's API request limit is used up: nothing is sent before `until`.
    LimitExceeded {
        /// When sending resumes.
        until: DateTime<Utc>,
    },
    /// The session ended for good: the agent must sign in again (writes wait in the outbox).
    ReconnectNeeded,
}

impl ConnectionState {
    /// Offline because of this error.
    pub fn offline(error: &salesforce::Error) -> Self {
        ConnectionState::Offline {
            kind: SfTrouble::of(error),
            reason: error.to_string(),
        }
    }
}

/// The popup's content for a call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Popup {
    /// The caller, the matches (the chooser), the call fields and the decided pop.
    pub decision: PopDecision,
    /// Where the matches came from, or why there are none ("lookup failed", "not connected").
    pub lookup: LookupStatus,
}

/// What the engine tells the UI.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub enum UiEvent {
    /// A call changed phase.
    CallState {
        /// The call.
        call_id: String,
        /// Its new phase.
        phase: CallPhase,
    },
    /// The popup for a call (sent once the lookup is over, or failed).
    Popup {
        /// The call.
        call_id: String,
        /// What it shows.
        popup: Popup,
    },
    /// A page to open in the browser.
    Pop {
        /// The call.
        call_id: String,
        /// The Lightning URL.
        url: Url,
        /// Open in a new window (the layout's "open within").
        new_window: bool,
    },
    /// A log's state changed. `call_object` is the call id for a call log, the SMS day key for
    /// an SMS log.
    LogState {
        /// The Task's CallObject.
        call_object: String,
        /// Its new state.
        state: LogStatus,
    },
    /// The Salesforce connection changed.
    Connection {
        /// The new state.
        state: ConnectionState,
    },
    /// Salesforce reported the org's API usage.
    ApiUsage {
        /// Requests used in the rolling 24 hours.
        used: u64,
        /// The allocation.
        max: u64,
    },
    /// An SMS (received or sent) is in the local SMS history: a view showing that number's
    /// thread can read it again.
    SmsStored {
        /// The thread's number (E.164 when known), as the SMS history keys it.
        number: String,
    },
    /// Something the agent asked for could not be done.
    ActionFailed {
        /// The call concerned, when any.
        call_id: Option<String>,
        /// What could not be done (the UI words it in the agent's language).
        action: crate::telephony::FailedAction,
        /// Why (the technical reason, as given).
        message: String,
    },
}
