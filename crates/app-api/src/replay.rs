//! What the shell remembers of the engine's UI events, so that a window opened (or reloaded)
//! mid-call gets the live calls back ([`crate::Snapshot::calls`]), and what the popup window
//! does on each event. Plain values in, plain values out.

use engine::{CallPhase, ConnectionState, Direction, UiEvent};

use crate::ApiUsage;

/// The latest `CallState`, `Popup` and `LogState` of each live call, in the order calls
/// started, plus the last connection state and API usage.
#[derive(Debug, Clone, Default)]
pub struct Replay {
    calls: Vec<LiveCall>,
    connection: Option<ConnectionState>,
    api_usage: Option<ApiUsage>,
}

#[derive(Debug, Clone)]
struct LiveCall {
    call_id: String,
    state: Option<UiEvent>,
    popup: Option<UiEvent>,
    log: Option<UiEvent>,
}

impl Replay {
    /// Takes one engine event into account. A call is forgotten once `Closed`.
    pub fn apply(&mut self, event: &UiEvent) {
        match event {
            UiEvent::CallState { call_id, phase } => {
                if matches!(phase, CallPhase::Closed { .. }) {
                    self.calls.retain(|c| c.call_id != *call_id);
                } else {
                    self.call_mut(call_id).state = Some(event.clone());
                }
            }
            UiEvent::Popup { call_id, .. } => {
                if let Some(call) = self.calls.iter_mut().find(|c| c.call_id == *call_id) {
                    call.popup = Some(event.clone());
                }
            }
            UiEvent::LogState { call_object, .. } => {
                if let Some(call) = self.calls.iter_mut().find(|c| c.call_id == *call_object) {
                    call.log = Some(event.clone());
                }
            }
            UiEvent::Connection { state } => self.connection = Some(state.clone()),
            UiEvent::ApiUsage { used, max } => {
                self.api_usage = Some(ApiUsage {
                    used: *used,
                    max: *max,
                })
            }
            UiEvent::Pop { .. } | UiEvent::ActionFailed { .. } | UiEvent::SmsStored { .. } => {}
        }
    }

    fn call_mut(&mut self, call_id: &str) -> &mut LiveCall {
        if let Some(i) = self.calls.iter().position(|c| c.call_id == call_id) {
            return &mut self.calls[i];
        }
        self.calls.push(LiveCall {
            call_id: call_id.to_owned(),
            state: None,
            popup: None,
            log: None,
        });
        let last = self.calls.len() - 1;
        &mut self.calls[last]
    }

    /// The events to replay, call by call: state, popup, log.
    pub fn events(&self) -> Vec<UiEvent> {
        self.calls
            .iter()
            .flat_map(|c| [&c.state, &c.popup, &c.log])
            .flatten()
            .cloned()
            .collect()
    }

    /// The last connection state (`Unknown` before any).
    pub fn connection(&self) -> ConnectionState {
        self.connection.clone().unwrap_or(ConnectionState::Unknown)
    }

    /// The last API usage reported.
    pub fn api_usage(&self) -> Option<ApiUsage> {
        self.api_usage
    }

    /// The call ringing inbound (the oldest, when several), for the answer shortcut.
    pub fn ringing_inbound(&self) -> Option<&str> {
        self.calls.iter().find_map(|c| match &c.state {
            Some(UiEvent::CallState {
                phase:
                    CallPhase::Ringing {
                        direction: Direction::Inbound,
                        ..
                    },
                ..
            }) => Some(c.call_id.as_str()),
            _ => None,
        })
    }

    /// The call in conversation or on hold (the newest), for the hang-up shortcut; else a call
    /// being placed.
    pub fn active(&self) -> Option<&str> {
        let phase_of = |c: &LiveCall| match &c.state {
            Some(UiEvent::CallState { phase, .. }) => Some(phase.clone()),
            _ => None,
        };
        self.calls
            .iter()
            .rev()
            .find(|c| matches!(phase_of(c), Some(CallPhase::Established | CallPhase::Held)))
            .or_else(|| {
                self.calls.iter().rev().find(|c| {
                    matches!(
                        phase_of(c),
                        Some(CallPhase::Ringing {
                            direction: Direction::Outbound,
                            ..
                        })
                    )
                })
            })
            .map(|c| c.call_id.as_str())
    }
}

/// What the incoming-call popup window does on an engine event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PopupWindow {
    /// Show it (an inbound call rings).
    Show,
    /// Hide it (no inbound call rings any more).
    Hide,
}

/// The popup window's move for `event`, given the state after it (`replay` has applied it):
/// shown while an inbound call rings, hidden once none does (answered, declined, ended).
pub fn popup_window(event: &UiEvent, replay: &Replay) -> Option<PopupWindow> {
    match event {
        UiEvent::CallState { .. } if replay.ringing_inbound().is_some() => Some(PopupWindow::Show),
        UiEvent::CallState { .. } => Some(PopupWindow::Hide),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use cti::CallerDisplay;
    use engine::{EndReason, LogStatus};

    use super::*;

    fn ringing(id: &str, direction: Direction) -> UiEvent {
        UiEvent::CallState {
            call_id: id.into(),
            phase: CallPhase::Ringing {
                direction,
                caller: CallerDisplay {
                    number: "+81 3-1234-5678".into(),
                    e164: Some("+81312345678".into()),
                    name: None,
                },
            },
        }
    }

    fn phase(id: &str, phase: CallPhase) -> UiEvent {
        UiEvent::CallState {
            call_id: id.into(),
            phase,
        }
    }

    #[test]
    fn live_calls_replay_their_latest_state_and_closed_calls_are_dropped() {
        let mut r = Replay::default();
        r.apply(&ringing("a", Direction::Inbound));
        r.apply(&phase("a", CallPhase::Established));
        r.apply(&UiEvent::LogState {
            call_object: "a".into(),
            state: LogStatus::Queued,
        });
        r.apply(&ringing("b", Direction::Inbound));
        let events = r.events();
        assert_eq!(
            events,
            vec![
                phase("a", CallPhase::Established),
                UiEvent::LogState {
                    call_object: "a".into(),
                    state: LogStatus::Queued
                },
                ringing("b", Direction::Inbound),
            ],
            "each call's latest state then its log, in the order calls started"
        );
        r.apply(&phase(
            "a",
            CallPhase::Closed {
                reason: EndReason::HungUp,
            },
        ));
        assert_eq!(
            r.events(),
            vec![ringing("b", Direction::Inbound)],
            "a closed call is no longer replayed"
        );
    }

    #[test]
    fn the_popup_shows_while_an_inbound_call_rings() {
        let mut r = Replay::default();
        let steps = [
            (ringing("a", Direction::Inbound), Some(PopupWindow::Show)),
            (phase("a", CallPhase::Established), Some(PopupWindow::Hide)),
            (ringing("b", Direction::Outbound), Some(PopupWindow::Hide)),
            (ringing("c", Direction::Inbound), Some(PopupWindow::Show)),
            (
                phase(
                    "c",
                    CallPhase::Closed {
                        reason: EndReason::Declined,
                    },
                ),
                Some(PopupWindow::Hide),
            ),
            (
                UiEvent::Connection {
                    state: ConnectionState::Connected,
                },
                None,
            ),
        ];
        for (event, want) in steps {
            r.apply(&event);
            assert_eq!(popup_window(&event, &r), want, "after {event:?}");
        }
    }

    #[test]
    fn shortcuts_find_the_ringing_and_the_active_call() {
        let mut r = Replay::default();
        assert_eq!(r.ringing_inbound(), None, "no call, nothing to answer");
        r.apply(&ringing("a", Direction::Inbound));
        assert_eq!(
            r.ringing_inbound(),
            Some("a"),
            "the ringing call is answered"
        );
        assert_eq!(r.active(), None, "a ringing inbound call is not hung up");
        r.apply(&phase("a", CallPhase::Established));
        r.apply(&ringing("b", Direction::Inbound));
        assert_eq!(r.ringing_inbound(), Some("b"), "the waiting call rings");
        assert_eq!(r.active(), Some("a"), "the call in conversation is hung up");
        r.apply(&UiEvent::ApiUsage { used: 5, max: 100 });
        assert_eq!(
            r.api_usage(),
            Some(ApiUsage { used: 5, max: 100 }),
            "the last usage is kept for the snapshot"
        );
    }
}
