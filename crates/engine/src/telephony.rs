//! The seam the SIP user agent plugs into: events come to the engine over a channel, commands go
//! out through the [`Telephony`] trait.
//!
//! [`ScriptedTelephony`] is a real implementation of the trait whose events are fed by a test or
//! the demo script ([`ScriptedTelephony::emit`]) and whose commands are recorded
//! ([`ScriptedTelephony::commands`]).

use std::sync::Mutex;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;

use crate::{Error, Result};

/// Which way a call goes, as the telephony source sees it (internal calls are recognised by the
/// engine from the number).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub enum Direction {
    /// Someone calls the agent.
    Inbound,
    /// The agent calls out.
    Outbound,
}

/// What could not be done, for the agent's message (the frame of the sentence is translated
/// by the UI; the detail that follows is the technical reason, as the peer or the system gave
/// it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub enum FailedAction {
    /// Answering a call.
    Answer,
    /// Declining a call.
    Decline,
    /// Hanging up.
    HangUp,
    /// Putting a call on hold.
    Hold,
    /// Taking a call off hold.
    Resume,
    /// Muting or unmuting.
    Mute,
    /// Sending DTMF digits.
    Dtmf,
    /// Transferring a call.
    Transfer,
    /// Placing a call (a dialed number, a clicked link).
    Dial,
    /// Sending an SMS.
    Sms,
    /// A call's sound device.
    Audio,
    /// The phone itself (no SIP agent running).
    Phone,
    /// The agent's action does not fit the call (unknown call, wrong moment).
    Call,
    /// The local database.
    Store,
    /// Salesforce.
    Salesforce,
    /// A phone number that cannot be used.
    Number,
}

/// Why a call ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub enum EndReason {
    /// Either side hung up after the call was answered.
    HungUp,
    /// The caller gave up before it was answered.
    Missed,
    /// The agent declined it.
    Declined,
    /// The call failed (network, busy, …), with the source's reason.
    Failed {
        /// What the source reported.
        reason: String,
    },
}

/// What the telephony source reports.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum TelephonyEvent {
    /// A call rings (inbound) or is being placed (outbound).
    Ringing {
        /// The call's unique id (also the Task's CallObject).
        call_id: String,
        /// Inbound or outbound.
        direction: Direction,
        /// The remote number as received or dialed (caller ID, SIP URI …).
        remote_raw: String,
        /// The remote party's display name, when the source has one (untrusted).
        remote_display_name: Option<String>,
        /// The local number dialed (DNIS), when known.
        local: Option<String>,
        /// The queue the call came through, when any.
        queue: Option<String>,
    },
    /// The call was answered.
    Answered {
        /// The call.
        call_id: String,
    },
    /// The call was put on hold.
    Held {
        /// The call.
        call_id: String,
    },
    /// The call was taken off hold.
    Resumed {
        /// The call.
        call_id: String,
    },
    /// The call ended.
    Ended {
        /// The call.
        call_id: String,
        /// Why.
        reason: EndReason,
    },
    /// An SMS came in.
    SmsReceived {
        /// The sender's number, as received.
        from: String,
        /// The agent's number.
        to: String,
        /// The message.
        text: String,
        /// When it was received.
        at: DateTime<Utc>,
    },
    /// The agent sent an SMS.
    SmsSent {
        /// The agent's number.
        from: String,
        /// The recipient's number, as dialed.
        to: String,
        /// The message.
        text: String,
        /// When it was sent.
        at: DateTime<Utc>,
    },
    /// A command could not be carried out (the source found out after `command` returned); the
    /// engine shows it to the agent as [`crate::UiEvent::ActionFailed`].
    CommandFailed {
        /// The call the command was about, when any.
        call_id: Option<String>,
        /// What could not be done.
        action: FailedAction,
        /// Why, fit to show after the agent's sentence for `action`.
        message: String,
    },
}

/// What the engine asks the telephony source to do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum TelephonyCommand {
    /// Answer a ringing call.
    Answer {
        /// The call.
        call_id: String,
    },
    /// Decline a ringing call.
    Decline {
        /// The call.
        call_id: String,
    },
    /// Hang up.
    HangUp {
        /// The call.
        call_id: String,
    },
    /// Put on hold.
    Hold {
        /// The call.
        call_id: String,
    },
    /// Take off hold.
    Resume {
        /// The call.
        call_id: String,
    },
    /// Place a call.
    Dial {
        /// The number to call, as the agent typed or clicked it.
        number: String,
    },
    /// Send an SMS.
    SendSms {
        /// The recipient.
        to: String,
        /// The message.
        text: String,
    },
    /// Mute or unmute the microphone in a call.
    Mute {
        /// The call.
        call_id: String,
        /// Muted when true.
        muted: bool,
    },
    /// Send DTMF digits in a call (`0-9`, `*`, `#`, `A-D`).
    SendDtmf {
        /// The call.
        call_id: String,
        /// The digits, in order.
        digits: String,
    },
    /// Transfer a call (blind) to another number or SIP URI.
    Transfer {
        /// The call.
        call_id: String,
        /// The number or URI to transfer to.
        target: String,
    },
}

/// A telephony source: the SIP user agent (later) or [`ScriptedTelephony`].
pub trait Telephony: Send + Sync + 'static {
    /// The receiver of the source's events. The engine calls it once, at start; a second call
    /// is [`Error::TelephonyEventsTaken`].
    fn events(&self) -> Result<mpsc::Receiver<TelephonyEvent>>;

    /// Carries out a command (without waiting for its outcome, which comes back as an event).
    fn command(&self, command: TelephonyCommand) -> Result<()>;
}

/// The scripted event source for tests and the demo: the script feeds events with
/// [`ScriptedTelephony::emit`]; commands are recorded, in order, for the script to read.
#[derive(Debug)]
pub struct ScriptedTelephony {
    sender: mpsc::Sender<TelephonyEvent>,
    receiver: Mutex<Option<mpsc::Receiver<TelephonyEvent>>>,
    commands: Mutex<Vec<TelephonyCommand>>,
}

impl Default for ScriptedTelephony {
    fn default() -> Self {
        Self::new()
    }
}

impl ScriptedTelephony {
    /// A source with room for 1,024 events not yet taken by the engine.
    pub fn new() -> Self {
        let (sender, receiver) = mpsc::channel(1024);
        Self {
            sender,
            receiver: Mutex::new(Some(receiver)),
            commands: Mutex::new(Vec::new()),
        }
    }

    /// Reports `event` to the engine (waits while the channel is full).
    pub async fn emit(&self, event: TelephonyEvent) -> Result<()> {
        self.sender
            .send(event)
            .await
            .map_err(|_| Error::EngineStopped)
    }

    /// The commands received so far, in order.
    pub fn commands(&self) -> Vec<TelephonyCommand> {
        self.commands
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }
}

impl Telephony for ScriptedTelephony {
    fn events(&self) -> Result<mpsc::Receiver<TelephonyEvent>> {
        self.receiver
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take()
            .ok_or(Error::TelephonyEventsTaken)
    }

    fn command(&self, command: TelephonyCommand) -> Result<()> {
        tracing::debug!(?command, "scripted telephony command");
        self.commands
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push(command);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn scripted_events_arrive_in_order_and_commands_are_recorded() {
        let phone = ScriptedTelephony::new();
        let mut rx = phone.events().expect("first take of the events");
        assert!(
            matches!(phone.events(), Err(Error::TelephonyEventsTaken)),
            "the events can be taken only once"
        );
        for id in ["a", "b"] {
            phone
                .emit(TelephonyEvent::Answered { call_id: id.into() })
                .await
                .expect("emit");
        }
        for id in ["a", "b"] {
            assert_eq!(
                rx.recv().await,
                Some(TelephonyEvent::Answered { call_id: id.into() }),
                "events come out in the order they were emitted"
            );
        }
        phone
            .command(TelephonyCommand::Answer {
                call_id: "a".into(),
            })
            .expect("command");
        assert_eq!(
            phone.commands(),
            vec![TelephonyCommand::Answer {
                call_id: "a".into()
            }],
            "every command is recorded"
        );
    }

    #[tokio::test]
    async fn emit_after_the_engine_is_gone_is_an_error() {
        let phone = ScriptedTelephony::new();
        drop(phone.events().expect("take"));
        let err = phone
            .emit(TelephonyEvent::Held {
                call_id: "x".into(),
            })
            .await
            .expect_err("nobody listens any more");
        assert!(
            matches!(err, Error::EngineStopped),
            "a closed channel is reported as EngineStopped, got {err:?}"
        );
    }
}
