//! The types the desktop shell (`src-tauri/`) and its web UI (`ui/`) exchange, defined once in
//! Rust; their TypeScript twins are generated with `ts-rs` into `ui/src/bindings/`.
//!
//! # Contract
//!
//! - Every command argument and result, and every event payload, is a type here or an engine /
//!   cti type re-exported here. JSON field names are serde's (snake_case); serde-tagged enums are
//!   TypeScript discriminated unions.
//! - [`export_bindings`] writes one `.ts` file per type; the committed `ui/src/bindings/` must be
//!   what it writes (the `bindings_are_current` test fails otherwise; refresh with
//!   `cargo run -p callpop-app-api --bin export-bindings`).
//! - [`dial_target`] turns what the agent pasted or clicked (any format, or a `tel:` / `callto:` /
//!   `sip:` link) into what is dialed, or a typed error: a pure function of plain values.
#![deny(missing_docs)]

mod dial;
mod dto;
mod failure;
mod history;
mod replay;
mod shell_text;
mod sms;

use std::path::{Path, PathBuf};

pub use dial::{dial_target, DialError};
pub use dto::*;
pub use failure::{Failure, ShortcutName};
pub use history::history_row;
pub use replay::{popup_window, PopupWindow, Replay};
pub use shell_text::{shell_text, ShellText};
pub use sms::{cached_record, sms_items, sms_thread};

// The engine and cti types the UI receives, under the names the contract uses.
pub use cti::{
    Behaviour, CallField, CallType, CallTypeLayout, CallerDisplay, FieldSpec, FlowTarget,
    InternalRule, Language, Layout, Match, MultipleMatchAction, NoMatchAction, ObjectSpec,
    OpenWithin, PanelSize, PopAction, PopDecision, PopRules, PopupField, PopupRecord, RecordRef,
    SingleMatchAction, SubjectTemplates,
};
pub use engine::{
    AgentAction, CallPhase, ConnectionState, Direction, EndReason, LogStatus, LookupStatus, Popup,
    UiEvent,
};

/// Everything that can go wrong in this crate.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// ts-rs could not write a binding file.
    #[error("exporting the TypeScript bindings to {dir}: {message}")]
    Export {
        /// The folder written to.
        dir: PathBuf,
        /// ts-rs's error, as text.
        message: String,
    },
    /// A dial string or link could not be used.
    #[error(transparent)]
    Dial(#[from] DialError),
}

/// The crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Where the committed bindings live: `ui/src/bindings/` at the workspace root.
pub fn bindings_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../ui/src/bindings")
}

/// Writes the TypeScript binding of every shared type (and of every type they use) into `dir`,
/// one `<Type>.ts` file each.
pub fn export_bindings(dir: &Path) -> Result<()> {
    use ts_rs::{Config, TS};
    // u64 counters (API usage) are JSON numbers, far below 2^53: `number`, not `bigint`.
    let config = Config::new().with_out_dir(dir).with_large_int("number");
    let fail = |e: ts_rs::ExportError| Error::Export {
        dir: dir.to_path_buf(),
        message: e.to_string(),
    };
    macro_rules! export {
        ($($ty:ty),* $(,)?) => {
            $( <$ty>::export_all(&config).map_err(fail)?; )*
        };
    }
    export!(
        // engine and cti types the UI receives
        UiEvent,
        CallPhase,
        Popup,
        PopDecision,
        CallerDisplay,
        PopupRecord,
        PopupField,
        Match,
        RecordRef,
        LogStatus,
        ConnectionState,
        AgentAction,
        Direction,
        EndReason,
        Layout,
        Behaviour,
        // the shell's own DTOs
        Failure,
        ShortcutName,
        DialError,
        Snapshot,
        ApiUsage,
        SipStatus,
        SipState,
        SipFailure,
        DialTarget,
        HistoryRow,
        SmsThread,
        SmsItem,
        AppSettings,
        LanguageChoice,
        Theme,
        Shortcuts,
        SalesforceSettings,
        SfEnvironment,
        ConnectionCheck,
        SipAccount,
        Transport,
        BusyPolicy,
        AudioDevices,
        AudioChoice,
    );
    Ok(())
}
