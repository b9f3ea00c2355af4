//! A stored call ([`store::CallRecord`]) as the history view shows it ([`HistoryRow`]).

use cti::{Match, Region};
use engine::{Direction, LogStatus};
use store::{CallDirection, CallRecord, LogState};

use crate::HistoryRow;

/// The history row of a stored call: the number as the agent reads it (under `region`), the
/// record it was logged against (the picked one, else the first match), its duration once
/// answered and its log's state (none while wrap-up is open, or when it is not logged).
pub fn history_row(call: &CallRecord, region: Region) -> HistoryRow {
    let matches: Vec<Match> = serde_json::from_value(call.matches.clone()).unwrap_or_default();
    let picked = [&call.who_id, &call.what_id]
        .into_iter()
        .flatten()
        .find_map(|id| matches.iter().find(|m| m.record.id == *id));
    let record = picked.or(matches.first()).cloned();
    let number = cti::normalize(&call.remote_raw, region)
        .map(|n| cti::format_for_display(&n, region))
        .unwrap_or_else(|_| call.remote_raw.clone());
    let duration_s = match (call.answered_at, call.ended_at) {
        (Some(a), Some(e)) if e >= a => u32::try_from((e - a).num_seconds()).ok(),
        _ => None,
    };
    let log = match &call.log_state {
        LogState::Queued => Some(LogStatus::Queued),
        LogState::Saved { task_id } => Some(LogStatus::Saved {
            task_id: task_id.clone(),
        }),
        LogState::Failed { reason } => Some(LogStatus::Failed {
            reason: reason.clone(),
        }),
        LogState::Pending | LogState::Discarded | LogState::NotLogged => None,
    };
    HistoryRow {
        call_id: call.call_id.clone(),
        call_object: call.call_id.clone(),
        // An internal call is shown as the way it went: the store keeps only "internal", and
        // the history shows it as inbound (the agent can tell from the short number).
        direction: match call.direction {
            CallDirection::Outbound => Direction::Outbound,
            CallDirection::Inbound | CallDirection::Internal => Direction::Inbound,
        },
        number,
        display_name: call.display_name.clone(),
        started_at: call.started_at,
        duration_s,
        record,
        disposition: call.disposition.clone(),
        log,
    }
}

#[cfg(test)]
mod tests {
    use chrono::{TimeZone, Utc};

    use super::*;

    fn call() -> CallRecord {
        let t0 = Utc
            .with_ymd_and_hms(2027, 1, 31, 10, 0, 0)
            .single()
            .expect("a valid time");
        CallRecord {
            call_id: "c1".into(),
            direction: CallDirection::Inbound,
            remote_raw: "+81312345678".into(),
            remote_e164: Some("+81312345678".into()),
            display_name: Some("<img src=x onerror=alert(1)>".into()),
            started_at: t0,
            answered_at: Some(t0 + chrono::Duration::seconds(5)),
            ended_at: Some(t0 + chrono::Duration::seconds(95)),
            matches: serde_json::json!([
                {"record": {"sobject": "Contact", "id": "003A"}, "name": "Yamada Taro"},
                {"record": {"sobject": "Contact", "id": "003B"}, "name": "Yamada Hanako"}
            ]),
            who_id: Some("003B".into()),
            what_id: None,
            notes: String::new(),
            disposition: Some("Interested".into()),
            log_state: LogState::Saved {
                task_id: "00T1".into(),
            },
        }
    }

    #[test]
    fn a_logged_call_shows_its_record_duration_and_task() {
        let row = history_row(&call(), Region::parse("JP").expect("JP"));
        assert_eq!(
            row.record.as_ref().map(|m| m.record.id.as_str()),
            Some("003B"),
            "the picked record, not the first match"
        );
        assert_eq!(row.duration_s, Some(90), "answered at +5 s, ended at +95 s");
        assert_eq!(
            row.log,
            Some(LogStatus::Saved {
                task_id: "00T1".into()
            }),
            "the saved Task is shown"
        );
        assert_eq!(
            row.display_name.as_deref(),
            Some("<img src=x onerror=alert(1)>"),
            "the display name is data, passed on as text for the UI to escape"
        );
        assert!(
            row.number.starts_with("03"),
            "a JP number reads nationally for a JP agent: {}",
            row.number
        );
    }

    #[test]
    fn an_unanswered_unlogged_call_has_no_duration_and_no_log() {
        let mut c = call();
        c.answered_at = None;
        c.log_state = LogState::NotLogged;
        c.matches = serde_json::json!("not a list");
        let row = history_row(&c, Region::US);
        assert_eq!(row.duration_s, None, "never answered");
        assert_eq!(row.log, None, "not logged");
        assert_eq!(row.record, None, "unreadable matches give no record");
    }
}
