//! The Salesforce connection as the agent sees it: one state for the whole engine.
//!
//! Every part that talks to Salesforce reports what it learned: the flusher (Task writes, whose
//! holds are its own), the caller lookups, and the session check made at start and after each
//! sign-in. The UI hears of a change once, in the order the changes were made.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use salesforce::{Client, ErrorClass};
use tokio::sync::{mpsc, Mutex};

use crate::clock::Clock;
use crate::events::{ConnectionState, UiEvent};

/// The engine's one connection state; cheap to share behind an `Arc`.
#[derive(Debug)]
pub(crate) struct Connection {
    /// Held while the UI is told, so that two reports cannot reach it in the wrong order.
    state: Mutex<ConnectionState>,
    ui: mpsc::Sender<UiEvent>,
}

impl Connection {
    pub(crate) fn new(ui: mpsc::Sender<UiEvent>) -> Self {
        Self {
            state: Mutex::new(ConnectionState::Unknown),
            ui,
        }
    }

    /// Sets the state (the flusher's word: it holds its writes accordingly).
    pub(crate) async fn set(&self, state: ConnectionState) {
        let mut current = self.state.lock().await;
        self.change(&mut current, state).await;
    }

    /// What a request outside the flusher learned (`None`: nothing about the connection).
    /// A success does not end a request-limit hold before its time: the flusher still waits
    /// for it, and the status line says so.
    pub(crate) async fn observe(&self, learned: Option<ConnectionState>, now: DateTime<Utc>) {
        let Some(state) = learned else {
            return;
        };
        let mut current = self.state.lock().await;
        if let ConnectionState::LimitExceeded { until } = *current {
            if state == ConnectionState::Connected && now < until {
                return;
            }
        }
        self.change(&mut current, state).await;
    }

    /// Stores `state` and tells the UI, when it differs (under the caller's lock).
    async fn change(&self, current: &mut ConnectionState, state: ConnectionState) {
        if *current != state {
            *current = state.clone();
            if self.ui.send(UiEvent::Connection { state }).await.is_err() {
                tracing::debug!("UI receiver gone; event dropped");
            }
        }
    }
}

/// Asks Salesforce whose session the client holds and reports the answer: at start (so the
/// status line is true before the first call) and after each sign-in or disconnection. It
/// asks the OAuth userinfo endpoint, which does not count against the org's API limit; with
/// no session it asks nothing.
pub(crate) async fn check_session(
    client: Client,
    connection: Arc<Connection>,
    clock: Arc<dyn Clock>,
) {
    let outcome = client.userinfo().await;
    if let Err(e) = &outcome {
        tracing::info!(error = %e, "Salesforce session check failed");
    }
    let now = clock.now();
    connection.observe(learned(&outcome, now), now).await;
}

/// The state for an error of the reconnect-needed class: nobody signed in (never, or
/// disconnected), or a session that ended and needs a new sign-in.
pub(crate) fn signed_out(error: &salesforce::Error) -> ConnectionState {
    if matches!(error, salesforce::Error::NotSignedIn) {
        ConnectionState::NotSignedIn
    } else {
        ConnectionState::ReconnectNeeded
    }
}

/// What a request's outcome says about the connection: a success means connected; no session
/// (never signed in, or disconnected) and an ended session each have their state; an outage,
/// a network failure or a timeout means offline; the API limit means no requests until the
/// back-off passes. A refusal of this one request (a bad query, a locked row) says nothing.
pub(crate) fn learned<T>(
    outcome: &Result<T, salesforce::Error>,
    now: DateTime<Utc>,
) -> Option<ConnectionState> {
    let error = match outcome {
        Ok(_) => return Some(ConnectionState::Connected),
        Err(e) => e,
    };
    match error.classify() {
        ErrorClass::ReconnectNeeded => Some(signed_out(error)),
        ErrorClass::Retryable { after } => match error.api_code() {
            Some("REQUEST_LIMIT_EXCEEDED") => {
                let wait = after.unwrap_or_default();
                let until = now + chrono::Duration::from_std(wait).unwrap_or_default();
                Some(ConnectionState::LimitExceeded { until })
            }
            Some("UNABLE_TO_LOCK_ROW") => None,
            _ => Some(ConnectionState::offline(error)),
        },
        ErrorClass::Permanent { .. } => None,
    }
}

#[cfg(test)]
mod tests {
    use salesforce::ApiError;

    use super::*;
    use crate::events::SfTrouble;

    fn api(status: u16, code: &str) -> salesforce::Error {
        salesforce::Error::Api {
            status,
            errors: vec![ApiError {
                message: format!("{code} happened"),
                code: code.to_owned(),
                fields: Vec::new(),
            }],
            retry_after: None,
        }
    }

    fn at(secs: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000 + secs, 0).expect("time")
    }

    #[test]
    fn each_outcome_says_what_it_knows_of_the_connection() {
        let now = at(0);
        let ok: Result<(), _> = Ok(());
        assert_eq!(learned(&ok, now), Some(ConnectionState::Connected));
        let err = |e| learned::<()>(&Err(e), now);
        assert_eq!(
            err(salesforce::Error::NotSignedIn),
            Some(ConnectionState::NotSignedIn)
        );
        assert_eq!(
            err(salesforce::Error::ReconnectNeeded),
            Some(ConnectionState::ReconnectNeeded)
        );
        assert_eq!(
            err(api(401, "INVALID_SESSION_ID")),
            Some(ConnectionState::ReconnectNeeded)
        );
        assert!(matches!(
            err(salesforce::Error::Connection {
                message: "refused".into()
            }),
            Some(ConnectionState::Offline { kind: SfTrouble::Unreachable, reason })
                if reason.contains("refused")
        ));
        assert!(matches!(
            err(api(503, "SERVER_UNAVAILABLE")),
            Some(ConnectionState::Offline {
                kind: SfTrouble::ServerError,
                ..
            })
        ));
        assert!(matches!(
            err(api(403, "REQUEST_LIMIT_EXCEEDED")),
            Some(ConnectionState::LimitExceeded { until }) if until > now
        ));
        assert_eq!(
            err(api(400, "MALFORMED_SEARCH")),
            None,
            "this request's fault"
        );
        assert_eq!(err(api(503, "UNABLE_TO_LOCK_ROW")), None, "contention");
    }

    #[tokio::test]
    async fn the_ui_hears_each_change_once() {
        let (tx, mut rx) = mpsc::channel(8);
        let c = Connection::new(tx);
        c.set(ConnectionState::Connected).await;
        c.observe(Some(ConnectionState::Connected), at(0)).await;
        c.observe(None, at(0)).await;
        c.set(ConnectionState::NotSignedIn).await;
        drop(c);
        let mut seen = Vec::new();
        while let Some(UiEvent::Connection { state }) = rx.recv().await {
            seen.push(state);
        }
        assert_eq!(
            seen,
            [ConnectionState::Connected, ConnectionState::NotSignedIn]
        );
    }

    #[tokio::test]
    async fn a_search_that_works_does_not_end_a_limit_hold_early() {
        let (tx, _rx) = mpsc::channel(8);
        let c = Connection::new(tx);
        let until = at(60);
        c.set(ConnectionState::LimitExceeded { until }).await;
        c.observe(Some(ConnectionState::Connected), at(30)).await;
        assert_eq!(
            *c.state.lock().await,
            ConnectionState::LimitExceeded { until },
            "the flusher still waits: so does the status"
        );
        c.observe(Some(ConnectionState::Connected), at(61)).await;
        assert_eq!(*c.state.lock().await, ConnectionState::Connected);
    }
}
