//! One call's after-call state machine (sans-IO, driven like quinn's connections):
//! `Ringing → Active → WrapUp { deadline } → Saved | Discarded`.
//!
//! The rule it enforces: the Task is written once, when wrap-up ends (the agent saves, or the
//! auto-save deadline passes), and afterwards it changes only by the agent's own action (a later
//! save writes only the fields the agent changed, as a patch). Background information (a match
//! that arrives late, a remembered pick) fills gaps but never replaces what the agent chose, and
//! nothing is written in the background after the first write.
//!
//! Drive it with [`CallWrapUp::handle_input`]`(now, input)`, then drain
//! [`CallWrapUp::poll_output`] until `None`, and arm a timer for [`CallWrapUp::poll_timeout`]; when
//! it fires, send [`Input::TimerFired`] with the current time.
//!
//! Several matches never block logging: the Task goes against the agent's pick, else the pick
//! remembered for this number (passed to [`CallWrapUp::new`]), else without a `WhoId` and with the
//! number and candidates in the Description.

use std::collections::VecDeque;

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use crate::record::RecordRef;
use crate::settings::Behaviour;
use crate::task::{compose_call_task, CallLog, TaskFields};

/// An input that does not fit the call's state.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WrapUpError {
    /// The input cannot happen in this state (e.g. `Answered` after the call ended).
    #[error("call {call_id}: {input} is not possible while {state}")]
    InvalidInput {
        /// The call's id.
        call_id: String,
        /// The state's name.
        state: &'static str,
        /// The input's name.
        input: &'static str,
    },
}

/// Where a call is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum CallState {
    /// Ringing or dialling.
    Ringing,
    /// Connected.
    Active,
    /// Ended; the log waits for the agent or the deadline (`None` when auto-save is off).
    WrapUp {
        /// When the log is saved without the agent.
        deadline: Option<DateTime<Utc>>,
    },
    /// The Task has been written.
    Saved,
    /// The agent discarded the log; nothing was written.
    Discarded,
}

impl CallState {
    fn name(&self) -> &'static str {
        match self {
            CallState::Ringing => "ringing",
            CallState::Active => "active",
            CallState::WrapUp { .. } => "in wrap-up",
            CallState::Saved => "saved",
            CallState::Discarded => "discarded",
        }
    }
}

/// Something that happened to the call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Input {
    /// The call was answered.
    Answered,
    /// The call ended (hang-up on either side, or never answered).
    Ended,
    /// The agent changed the notes.
    EditNotes(String),
    /// The agent set (or cleared) the call result.
    SetDisposition(Option<String>),
    /// The agent picked the record the call is about (a Contact or Lead; an Account becomes the
    /// `WhatId`).
    PickWho {
        /// The record.
        record: RecordRef,
        /// Its name.
        name: String,
    },
    /// The agent set (or cleared) Related To.
    SetWhat(Option<RecordRef>),
    /// The agent typed a subject (or cleared it for the template).
    SetSubject(Option<String>),
    /// A background lookup found the single matching record: used only if the agent has not
    /// picked one and the Task is not written yet.
    MatchFound {
        /// The record.
        record: RecordRef,
        /// Its name.
        name: String,
    },
    /// The agent pressed save.
    Save,
    /// The agent discarded the log (only before it is written).
    Discard,
    /// The timer armed from `poll_timeout` fired.
    TimerFired,
}

impl Input {
    fn name(&self) -> &'static str {
        match self {
            Input::Answered => "Answered",
            Input::Ended => "Ended",
            Input::EditNotes(_) => "EditNotes",
            Input::SetDisposition(_) => "SetDisposition",
            Input::PickWho { .. } => "PickWho",
            Input::SetWhat(_) => "SetWhat",
            Input::SetSubject(_) => "SetSubject",
            Input::MatchFound { .. } => "MatchFound",
            Input::Save => "Save",
            Input::Discard => "Discard",
            Input::TimerFired => "TimerFired",
        }
    }
}

/// A write for the engine's outbox.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Output {
    /// Create the call's Task (once per call).
    WriteTask(TaskFields),
    /// Change the call's Task (found by `call_object`) after an agent's save: only the fields the
    /// agent changed since the last write, by Salesforce name; `null` clears a field.
    UpdateTask {
        /// The Task's `CallObject`.
        call_object: String,
        /// Changed fields.
        changes: serde_json::Map<String, serde_json::Value>,
    },
}

/// One call's after-call state machine.
#[derive(Debug, Clone)]
pub struct CallWrapUp {
    log: CallLog,
    behaviour: Behaviour,
    state: CallState,
    agent_picked: bool,
    remembered: Option<(RecordRef, String)>,
    written: Option<TaskFields>,
    outputs: VecDeque<Output>,
}

impl CallWrapUp {
    /// Starts a ringing call. `log` holds what is known so far (its `who` is the single match, if
    /// any; its `candidates` the several matches). `remembered_pick` is the record the agent last
    /// picked for this number, used when nothing better is known at write time.
    pub fn new(
        log: CallLog,
        behaviour: Behaviour,
        remembered_pick: Option<(RecordRef, String)>,
    ) -> Self {
        Self {
            log,
            behaviour,
            state: CallState::Ringing,
            agent_picked: false,
            remembered: remembered_pick,
            written: None,
            outputs: VecDeque::new(),
        }
    }

    /// The current state.
    pub fn state(&self) -> &CallState {
        &self.state
    }

    /// The call log as it stands (with the agent's edits).
    pub fn log(&self) -> &CallLog {
        &self.log
    }

    /// The Task fields last written, if any.
    pub fn written(&self) -> Option<&TaskFields> {
        self.written.as_ref()
    }

    /// When [`Input::TimerFired`] is due: the wrap-up deadline, if one is pending.
    pub fn poll_timeout(&self) -> Option<DateTime<Utc>> {
        match self.state {
            CallState::WrapUp { deadline } => deadline,
            _ => None,
        }
    }

    /// The next write to queue, if any.
    pub fn poll_output(&mut self) -> Option<Output> {
        self.outputs.pop_front()
    }

    fn invalid(&self, input: &Input) -> WrapUpError {
        WrapUpError::InvalidInput {
            call_id: self.log.call_id.clone(),
            state: self.state.name(),
            input: input.name(),
        }
    }

    /// Feeds one input at `now`. An input that does not fit the state changes nothing and is
    /// answered with [`WrapUpError::InvalidInput`].
    pub fn handle_input(&mut self, now: DateTime<Utc>, input: Input) -> Result<(), WrapUpError> {
        let closed = matches!(self.state, CallState::Discarded);
        match input {
            Input::Answered => match self.state {
                CallState::Ringing => {
                    self.log.answered_at = Some(now);
                    self.state = CallState::Active;
                }
                _ => return Err(self.invalid(&input)),
            },
            Input::Ended => match self.state {
                CallState::Ringing | CallState::Active => {
                    self.log.ended_at = Some(now);
                    self.enter_wrap_up(now);
                }
                _ => return Err(self.invalid(&input)),
            },
            Input::EditNotes(_)
            | Input::SetDisposition(_)
            | Input::PickWho { .. }
            | Input::SetWhat(_)
            | Input::SetSubject(_)
                if closed =>
            {
                return Err(self.invalid(&input))
            }
            Input::EditNotes(notes) => self.log.notes = notes,
            Input::SetDisposition(disposition) => self.log.disposition = disposition,
            Input::SetSubject(subject) => self.log.subject_override = subject,
            Input::SetWhat(what) => self.log.what = what,
            Input::PickWho { record, name } => {
                self.agent_picked = true;
                self.log.who = Some(record);
                self.log.who_name = Some(name);
            }
            Input::MatchFound { record, name } => {
                // Background data: never over the agent's pick, never after the write.
                if !self.agent_picked && self.written.is_none() && !closed {
                    self.log.who = Some(record);
                    self.log.who_name = Some(name);
                }
            }
            Input::Save => match self.state {
                CallState::WrapUp { .. } => self.write(),
                CallState::Saved => self.update(),
                _ => return Err(self.invalid(&input)),
            },
            Input::Discard => match self.state {
                CallState::WrapUp { .. } => self.state = CallState::Discarded,
                _ => return Err(self.invalid(&input)),
            },
            Input::TimerFired => {
                if let CallState::WrapUp {
                    deadline: Some(deadline),
                } = self.state
                {
                    if now >= deadline {
                        self.write();
                    }
                }
                // A late or early timer elsewhere is harmless and ignored.
            }
        }
        Ok(())
    }

    fn enter_wrap_up(&mut self, now: DateTime<Utc>) {
        let deadline = self
            .behaviour
            .auto_save_call_logs
            .then(|| now + Duration::seconds(i64::from(self.behaviour.wrap_up_seconds)));
        self.state = CallState::WrapUp { deadline };
        if self.behaviour.auto_save_call_logs && self.behaviour.wrap_up_seconds == 0 {
            self.write();
        }
    }

    /// The log to compose from: the agent's pick, else the match, else the remembered pick.
    fn effective_log(&self) -> CallLog {
        let mut log = self.log.clone();
        if log.who.is_none() {
            if let Some((record, name)) = &self.remembered {
                log.who = Some(record.clone());
                log.who_name = Some(name.clone());
            }
        }
        if log.who.is_some() {
            log.candidates.clear();
        }
        log
    }

    fn write(&mut self) {
        let task = compose_call_task(&self.effective_log(), &self.behaviour);
        self.outputs.push_back(Output::WriteTask(task.clone()));
        self.written = Some(task);
        self.state = CallState::Saved;
    }

    fn update(&mut self) {
        let Some(previous) = self.written.clone() else {
            return;
        };
        let next = compose_call_task(&self.effective_log(), &self.behaviour);
        let changes = diff(&previous.for_update(), &next.for_update());
        if changes.is_empty() {
            return;
        }
        self.outputs.push_back(Output::UpdateTask {
            call_object: previous.call_object.clone().unwrap_or_default(),
            changes,
        });
        self.written = Some(next);
    }
}

/// Fields whose value differs between two Task field sets; a field gone in `next` maps to null.
fn diff(previous: &TaskFields, next: &TaskFields) -> serde_json::Map<String, serde_json::Value> {
    let as_map = |t: &TaskFields| match serde_json::to_value(t) {
        Ok(serde_json::Value::Object(map)) => map,
        _ => serde_json::Map::new(),
    };
    let (old, new) = (as_map(previous), as_map(next));
    let mut changes = serde_json::Map::new();
    for (key, value) in &new {
        if old.get(key) != Some(value) {
            changes.insert(key.clone(), value.clone());
        }
    }
    for key in old.keys() {
        if !new.contains_key(key) {
            changes.insert(key.clone(), serde_json::Value::Null);
        }
    }
    changes
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layout::CallType;
    use crate::phone::{normalize, Region};
    use crate::task::{Candidate, Direction};
    use chrono::TimeZone;

    fn t(seconds: i64) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 5, 1, 9, 0, 0)
            .single()
            .expect("valid")
            + Duration::seconds(seconds)
    }

    fn log() -> CallLog {
        CallLog {
            call_id: "call-1".into(),
            call_type: CallType::Inbound,
            direction: Direction::Incoming,
            started_at: t(0),
            answered_at: None,
            ended_at: None,
            caller: normalize("+14155550100", Region::US).expect("valid"),
            who: None,
            who_name: None,
            what: None,
            candidates: vec![
                Candidate {
                    record: RecordRef::new("Contact", "0031"),
                    name: "Ann".into(),
                },
                Candidate {
                    record: RecordRef::new("Contact", "0032"),
                    name: "Bob".into(),
                },
            ],
            notes: String::new(),
            disposition: None,
            subject_override: None,
            owner_id: None,
            queue_answered: false,
        }
    }

    fn drain(call: &mut CallWrapUp) -> Vec<Output> {
        std::iter::from_fn(|| call.poll_output()).collect()
    }

    fn answered_and_ended(
        behaviour: Behaviour,
        remembered: Option<(RecordRef, String)>,
    ) -> CallWrapUp {
        let mut call = CallWrapUp::new(log(), behaviour, remembered);
        call.handle_input(t(5), Input::Answered)
            .expect("ringing calls can be answered");
        call.handle_input(t(65), Input::Ended)
            .expect("active calls can end");
        call
    }

    #[test]
    fn auto_save_writes_once_at_the_deadline() {
        let mut call = answered_and_ended(Behaviour::default(), None);
        assert_eq!(
            call.poll_timeout(),
            Some(t(125)),
            "the deadline is hang-up plus 60 s"
        );
        call.handle_input(t(100), Input::TimerFired)
            .expect("an early timer is harmless");
        assert!(
            drain(&mut call).is_empty(),
            "nothing is written before the deadline"
        );
        call.handle_input(t(125), Input::TimerFired).expect("timer");
        let outputs = drain(&mut call);
        assert_eq!(outputs.len(), 1, "one write");
        let Output::WriteTask(task) = &outputs[0] else {
            panic!("a create, got {outputs:?}")
        };
        assert_eq!(
            task.call_duration_in_seconds,
            Some(60),
            "answered at 5 s, ended at 65 s"
        );
        assert_eq!(call.state(), &CallState::Saved, "saved after the write");
        assert_eq!(call.poll_timeout(), None, "no timer after the write");
        call.handle_input(t(200), Input::TimerFired).expect("timer");
        assert!(drain(&mut call).is_empty(), "a second timer writes nothing");
    }

    #[test]
    fn agent_save_ends_wrap_up_early_with_edits() {
        let mut call = answered_and_ended(Behaviour::default(), None);
        call.handle_input(t(70), Input::EditNotes("Wants a callback".into()))
            .expect("notes");
        call.handle_input(
            t(71),
            Input::PickWho {
                record: RecordRef::new("Contact", "0032"),
                name: "Bob".into(),
            },
        )
        .expect("pick");
        call.handle_input(t(72), Input::Save).expect("save");
        let outputs = drain(&mut call);
        let [Output::WriteTask(task)] = outputs.as_slice() else {
            panic!("one create, got {outputs:?}")
        };
        assert_eq!(
            task.who_id.as_deref(),
            Some("0032"),
            "the agent's pick is the WhoId"
        );
        assert_eq!(
            task.description.as_deref(),
            Some("Wants a callback"),
            "no candidate list once a record is picked"
        );
    }

    #[test]
    fn several_matches_never_block_logging() {
        let mut call = answered_and_ended(
            Behaviour {
                wrap_up_seconds: 0,
                ..Behaviour::default()
            },
            None,
        );
        let outputs = drain(&mut call);
        let [Output::WriteTask(task)] = outputs.as_slice() else {
            panic!("written at hang-up, got {outputs:?}")
        };
        assert_eq!(task.who_id, None, "no pick, no memory: no WhoId");
        let description = task.description.as_deref().unwrap_or_default();
        assert!(
            description.contains("+14155550100")
                && description.contains("Ann")
                && description.contains("Bob"),
            "the number and both candidates are in the Description: {description}"
        );
    }

    #[test]
    fn remembered_pick_is_used_when_the_agent_picks_nothing() {
        let remembered = Some((RecordRef::new("Contact", "0032"), "Bob".into()));
        let mut call = answered_and_ended(
            Behaviour {
                wrap_up_seconds: 0,
                ..Behaviour::default()
            },
            remembered,
        );
        let outputs = drain(&mut call);
        let [Output::WriteTask(task)] = outputs.as_slice() else {
            panic!("one write, got {outputs:?}")
        };
        assert_eq!(
            task.who_id.as_deref(),
            Some("0032"),
            "the last pick for this number is used"
        );
    }

    #[test]
    fn background_match_never_overrides_the_agent() {
        let mut call = CallWrapUp::new(log(), Behaviour::default(), None);
        call.handle_input(
            t(1),
            Input::PickWho {
                record: RecordRef::new("Contact", "0031"),
                name: "Ann".into(),
            },
        )
        .expect("pick while ringing");
        call.handle_input(
            t(2),
            Input::MatchFound {
                record: RecordRef::new("Contact", "0099"),
                name: "Late".into(),
            },
        )
        .expect("late match");
        assert_eq!(
            call.log().who.as_ref().map(|r| r.id.as_str()),
            Some("0031"),
            "the agent's pick stands"
        );
    }

    #[test]
    fn after_the_write_only_the_agent_changes_the_task_and_only_what_changed() {
        let mut call = answered_and_ended(
            Behaviour {
                wrap_up_seconds: 0,
                ..Behaviour::default()
            },
            None,
        );
        drain(&mut call);
        call.handle_input(
            t(80),
            Input::MatchFound {
                record: RecordRef::new("Contact", "0099"),
                name: "Late".into(),
            },
        )
        .expect("late match");
        call.handle_input(t(81), Input::TimerFired).expect("timer");
        assert!(
            drain(&mut call).is_empty(),
            "background inputs write nothing after the first write"
        );
        call.handle_input(t(90), Input::SetDisposition(Some("Callback".into())))
            .expect("edit");
        assert!(
            drain(&mut call).is_empty(),
            "an edit is not written until the agent saves"
        );
        call.handle_input(t(91), Input::Save).expect("save again");
        let outputs = drain(&mut call);
        let [Output::UpdateTask {
            call_object,
            changes,
        }] = outputs.as_slice()
        else {
            panic!("one update, got {outputs:?}")
        };
        assert_eq!(
            call_object, "call-1",
            "the update finds the Task by CallObject"
        );
        assert_eq!(
            changes.keys().map(String::as_str).collect::<Vec<_>>(),
            ["CallDisposition"],
            "only the field the agent changed is sent, so edits made elsewhere are not overwritten"
        );
        call.handle_input(t(92), Input::Save)
            .expect("save with no change");
        assert!(
            drain(&mut call).is_empty(),
            "a save without changes writes nothing"
        );
    }

    #[test]
    fn manual_mode_waits_for_the_agent_and_discard_writes_nothing() {
        let mut call = answered_and_ended(
            Behaviour {
                auto_save_call_logs: false,
                ..Behaviour::default()
            },
            None,
        );
        assert_eq!(
            call.poll_timeout(),
            None,
            "no deadline when auto-save is off"
        );
        call.handle_input(t(10_000), Input::TimerFired)
            .expect("timer");
        assert!(
            drain(&mut call).is_empty(),
            "nothing is written without the agent"
        );
        call.handle_input(t(10_001), Input::Discard)
            .expect("discard in wrap-up");
        assert_eq!(call.state(), &CallState::Discarded, "discarded");
        assert!(
            drain(&mut call).is_empty(),
            "a discarded log is never written"
        );
        assert!(
            call.handle_input(t(10_002), Input::Save).is_err(),
            "a discarded log cannot be saved"
        );
    }

    #[test]
    fn missed_call_is_logged_and_bad_inputs_are_typed_errors() {
        let mut call = CallWrapUp::new(
            log(),
            Behaviour {
                wrap_up_seconds: 0,
                ..Behaviour::default()
            },
            None,
        );
        assert!(
            call.handle_input(t(1), Input::Save).is_err(),
            "a ringing call cannot be saved"
        );
        call.handle_input(t(20), Input::Ended)
            .expect("unanswered calls end too");
        let outputs = drain(&mut call);
        let [Output::WriteTask(task)] = outputs.as_slice() else {
            panic!("a missed call is logged, got {outputs:?}")
        };
        assert_eq!(
            task.call_disposition.as_deref(),
            Some("Missed"),
            "missed disposition"
        );
        assert_eq!(
            call.handle_input(t(21), Input::Answered),
            Err(WrapUpError::InvalidInput {
                call_id: "call-1".into(),
                state: "saved",
                input: "Answered"
            }),
            "answering a finished call is refused with its state"
        );
        assert!(
            call.handle_input(t(22), Input::Discard).is_err(),
            "a written log cannot be discarded"
        );
    }
}
