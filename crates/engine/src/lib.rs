//! Callpop's CTI engine: everything between "the phone rings" and "the Task is in Salesforce".
//!
//! # Contract
//!
//! - A tokio service ([`Engine::start`]) with a typed input ([`Input`]: telephony events and
//!   agent actions) and a typed output ([`UiEvent`]). The desktop shell only forwards both.
//! - Decisions are `cti`'s (normalization, ranking, pops, Task fields, wrap-up); local state is
//!   `store`'s; Salesforce is reached only through the `salesforce` client. The engine composes.
//! - Ringing is never blocked: the popup shows the caller even when Salesforce is slow or down.
//! - Every Task write goes through the durable outbox, committed before the UI is told
//!   [`LogStatus::Queued`]; the flusher never writes a Task twice (an unknown outcome is asked
//!   about by `CallObject` before anything is resent).
//! - Time comes from an injected [`Clock`], so tests run on a [`ManualClock`].
//! - No secret in a log line or in `Debug` output (tokens stay inside the client).
#![deny(missing_docs)]

pub mod clock;
mod connection;
mod engine;
pub mod events;
mod flusher;
mod history;
pub mod lookup;
mod queue;
mod sms;
pub mod telephony;

pub use clock::{Clock, ManualClock, SystemClock};
pub use engine::{AgentAction, Engine, EngineConfig, EngineDeps, EngineHandle, Input};
pub use events::{CallPhase, ConnectionState, LogStatus, Popup, SfTrouble, UiEvent};
pub use flusher::{soql_tasks_by_call_objects, FlushConfig};
pub use lookup::{cache_key, matches_from_search, Lookup, LookupStatus};
pub use telephony::{
    Direction, EndReason, FailedAction, ScriptedTelephony, Telephony, TelephonyCommand,
    TelephonyEvent,
};

/// Everything that can go wrong in the engine.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The engine has stopped (its input channel is closed).
    #[error("the engine has stopped")]
    EngineStopped,
    /// The telephony source's events were already taken by another engine.
    #[error("the telephony events were already taken")]
    TelephonyEventsTaken,
    /// An agent action named a call the engine does not know (or no longer tracks).
    #[error("unknown call {call_id:?}")]
    UnknownCall {
        /// The call id given.
        call_id: String,
    },
    /// An agent action does not fit the call's state.
    #[error("call {call_id:?}: {reason}")]
    InvalidAction {
        /// The call.
        call_id: String,
        /// Why it was refused.
        reason: String,
    },
    /// The local store failed.
    #[error("local store: {source}")]
    Store {
        /// The store's error.
        #[from]
        source: store::Error,
    },
    /// Salesforce failed.
    #[error("Salesforce: {source}")]
    Salesforce {
        /// The client's error.
        #[from]
        source: salesforce::Error,
    },
    /// A number could not be used.
    #[error("phone number: {source}")]
    Phone {
        /// The core's error.
        #[from]
        source: cti::PhoneError,
    },
}

/// The crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
