//! Callpop's sans-IO CTI core.
//!
//! Contract: every function here is a pure function of plain values. There is no tokio, no
//! socket, no HTTP, no SQLite and no clock in this crate: the time (`now`) and the agent's time
//! zone are passed in by the caller, so every decision can be unit-tested with plain values.
//!
//! - [`phone`]: normalise caller IDs to E.164, recognise internal extensions, build the search
//!   terms for Salesforce's phone search and rank what it returns.
//! - [`layout`]: softphone layouts per call type (fields, objects, screen-pop rules), imported and
//!   exported as JSON; an import is all or nothing.
//! - [`pop`]: the popup's content, the screen-pop decision and its Lightning URL.
//! - [`settings`]: the agent's [`Behaviour`] settings with documented defaults.
//! - [`task`]: call logs and SMS day logs as Salesforce Task fields.
//! - [`wrapup`]: one call's after-call state machine: the Task is written once, when wrap-up
//!   ends, and later changed only by the agent.
//!
//! Errors: each module has its own `thiserror` enum with data in the variants; [`Error`] gathers
//! them. Bad input is always a typed error, never a panic. Untrusted text (caller names, record
//! names, notes) is carried as data: control characters removed, lengths bounded ([`text`]).
#![deny(missing_docs)]

mod json;
pub mod layout;
pub mod phone;
pub mod pop;
pub mod record;
pub mod settings;
pub mod task;
pub mod text;
pub mod wrapup;

pub use layout::{
    CallField, CallType, CallTypeLayout, FieldSpec, FlowTarget, Layout, LayoutError,
    MultipleMatchAction, NoMatchAction, ObjectSpec, OpenWithin, PanelSize, PopRules,
    SalesforceImport, SingleMatchAction,
};
pub use phone::{
    format_for_display, is_internal, normalize, rank_matches, search_terms, InternalRule,
    Normalized, PhoneError, Region,
};
pub use pop::{
    classic_search_url, decide_pop, lightning_base, pop_url, CallContext, CallerDisplay, PopAction,
    PopDecision, PopupField, PopupRecord,
};
pub use record::{Match, RecordRef};
pub use settings::{render_subject, Behaviour, Language, SettingsError, SubjectTemplates};
pub use task::{
    compose_call_task, compose_sms, sms_day_key, CallLog, Candidate, Direction, SmsDay, SmsMessage,
    SmsWrite, TaskFields,
};
pub use wrapup::{CallState, CallWrapUp, WrapUpError};

/// Any error of this crate. Each module's functions return their own error type (so a caller
/// matches only what can happen); this enum gathers them for callers that handle them together.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// A caller ID, region or internal-extension rule was refused.
    #[error(transparent)]
    Phone(#[from] PhoneError),
    /// A layout file was refused (the previous layout stays).
    #[error(transparent)]
    Layout(#[from] LayoutError),
    /// A settings file was refused (the previous settings stay).
    #[error(transparent)]
    Settings(#[from] SettingsError),
    /// A call-state input did not fit the call's state.
    #[error(transparent)]
    WrapUp(#[from] WrapUpError),
}

/// A result with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
