//! Call logs and SMS logs as Salesforce Task field sets.
//!
//! [`compose_call_task`] turns a finished call ([`CallLog`]) into the exact [`TaskFields`] of its
//! Task. [`compose_sms`] turns one number's messages of one agent-local day ([`SmsDay`]) into a
//! Task create (first message of the day) or an update of that day's Task (later messages).
//!
//! Salesforce limits are enforced by cutting on `char` boundaries: `Subject` ≤ 255 characters
//! (cut with `…`), `Description` ≤ 32,000 (the number and candidate lines are kept, the agent's
//! notes are cut with `…`; an SMS day keeps its latest lines), `CallObject` and `CallDisposition`
//! ≤ 255 (cut plainly, so a cut call id stays the same id on every retry).

use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

use crate::layout::CallType;
use crate::phone::{format_for_display, Normalized};
use crate::record::RecordRef;
use crate::settings::{render_subject, Behaviour};
use crate::text::{clean_line, clean_multiline, truncate_chars};

/// Salesforce's limit on Task `Subject`, in characters.
pub const MAX_SUBJECT_CHARS: usize = 255;
/// Salesforce's limit on Task `Description` (Comments), in characters.
pub const MAX_DESCRIPTION_CHARS: usize = 32_000;
/// Salesforce's limit on Task `CallObject` and `CallDisposition`, in characters.
pub const MAX_CALL_OBJECT_CHARS: usize = 255;
/// The disposition of an inbound call nobody answered, unless the agent set one.
pub const MISSED_DISPOSITION: &str = "Missed";
/// The disposition of an outbound call nobody answered, unless the agent set one.
pub const NO_ANSWER_DISPOSITION: &str = "No Answer";

/// Which way the call went (an internal call goes either way).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Direction {
    /// Towards the agent.
    Incoming,
    /// From the agent.
    Outgoing,
}

/// A record that matched the number but was not picked, named in the Description when the log
/// has no `WhoId`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Candidate {
    /// The record.
    pub record: RecordRef,
    /// Its name.
    pub name: String,
}

/// Everything known about one finished call, as the engine collected it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallLog {
    /// The call's unique id (telephony call id); becomes `CallObject`.
    pub call_id: String,
    /// Inbound, Outbound or Internal.
    pub call_type: CallType,
    /// Which way the call went.
    pub direction: Direction,
    /// When it started ringing / was dialled.
    pub started_at: DateTime<Utc>,
    /// When it was answered, if it was.
    pub answered_at: Option<DateTime<Utc>>,
    /// When it ended.
    pub ended_at: Option<DateTime<Utc>>,
    /// The other party's number.
    pub caller: Normalized,
    /// The Contact or Lead the call is logged against (the agent's pick, or the single match).
    pub who: Option<RecordRef>,
    /// The `who` record's name, for `{name}` in subjects.
    pub who_name: Option<String>,
    /// What the call is related to (Account, Opportunity, Case …).
    pub what: Option<RecordRef>,
    /// Records that matched when none was picked (listed in the Description).
    pub candidates: Vec<Candidate>,
    /// The agent's notes.
    pub notes: String,
    /// The call result, if the agent set one.
    pub disposition: Option<String>,
    /// A subject the agent typed instead of the template.
    pub subject_override: Option<String>,
    /// The signed-in user's Id.
    pub owner_id: Option<String>,
    /// True when the call came through a queue and this agent answered it.
    pub queue_answered: bool,
}

impl CallLog {
    /// Seconds from answer to end; 0 when unanswered, not ended, or ended before answer.
    pub fn duration_seconds(&self) -> u32 {
        match (self.answered_at, self.ended_at) {
            (Some(answered), Some(ended)) if ended > answered => {
                u32::try_from((ended - answered).num_seconds()).unwrap_or(u32::MAX)
            }
            _ => 0,
        }
    }
}

/// The fields of a Task, named as Salesforce names them. `None` fields are not sent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct TaskFields {
    /// `Subject` (≤ 255).
    pub subject: String,
    /// `TaskSubtype`: `Call` for calls, `Task` for SMS. Create-only: `None` in updates.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub task_subtype: Option<String>,
    /// `CallType`.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub call_type: Option<CallType>,
    /// `CallDurationInSeconds`.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub call_duration_in_seconds: Option<u32>,
    /// `CallObject` (≤ 255): the call's unique id, used to find the Task again.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub call_object: Option<String>,
    /// `CallDisposition` (≤ 255).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub call_disposition: Option<String>,
    /// `Description` (≤ 32,000).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub description: Option<String>,
    /// `WhoId`: a Contact or Lead.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub who_id: Option<String>,
    /// `WhatId`: never together with a Lead `WhoId`.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub what_id: Option<String>,
    /// `ActivityDate`: the agent's local date, `YYYY-MM-DD`.
    pub activity_date: NaiveDate,
    /// `Status`: `Completed`.
    pub status: String,
    /// `OwnerId`.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub owner_id: Option<String>,
}

impl TaskFields {
    /// The same fields for a PATCH: `TaskSubtype` is create-only and is left out.
    pub fn for_update(&self) -> TaskFields {
        TaskFields {
            task_subtype: None,
            ..self.clone()
        }
    }
}

fn is_who_object(record: &RecordRef) -> bool {
    record.is_lead()
        || record.sobject.eq_ignore_ascii_case("Contact")
        || record.id.starts_with("003")
}

/// Appends `appendix` to `notes`, cutting the notes (never the appendix) to fit `max` chars.
fn description_with(notes: &str, appendix: &str, max: usize) -> Option<String> {
    let appendix = truncate_chars(appendix, max);
    let room =
        max.saturating_sub(appendix.chars().count() + if appendix.is_empty() { 0 } else { 2 });
    let notes = truncate_chars(notes, room);
    let text = match (notes.is_empty(), appendix.is_empty()) {
        (true, true) => return None,
        (false, true) => notes,
        (true, false) => appendix,
        (false, false) => format!("{notes}\n\n{appendix}"),
    };
    Some(text)
}

/// The Task of a finished call.
///
/// - `Subject`: the agent's override, else the template of the agent's language for the call type
///   (`missed` for an unanswered inbound call), with the number as the agent reads it.
/// - `WhoId` only for a Contact or Lead; an Account (or other object) picked as "who" becomes the
///   `WhatId` instead. `WhatId` is dropped, with a warning, when the `WhoId` is a Lead
///   (Salesforce refuses both) or when its object is not in `related_to_objects`.
/// - Without a `WhoId` the Description ends with the number and the candidate records, so the
///   log is never lost or ambiguous.
/// - `OwnerId`: the signed-in user, except for a queue call when
///   `log_queue_calls_to_answering_agent` is off (left to Salesforce's default).
/// - Unanswered calls get `Missed` (inbound) or `No Answer` (outbound) unless a disposition is set.
/// - `ActivityDate` is the day the call started, in the agent's time zone.
pub fn compose_call_task(log: &CallLog, behaviour: &Behaviour) -> TaskFields {
    let number = format_for_display(&log.caller, behaviour.default_region);
    let answered = log.answered_at.is_some();
    let subject = match log
        .subject_override
        .as_deref()
        .map(|s| clean_line(s, MAX_SUBJECT_CHARS))
        .filter(|s| !s.is_empty())
    {
        Some(subject) => subject,
        None => {
            let subjects = behaviour.subjects();
            let name = log.who_name.as_deref().map(|n| clean_line(n, 120));
            let rendered = render_subject(
                subjects.for_call(log.call_type, answered),
                &number,
                name.as_deref(),
            );
            clean_line(&rendered, MAX_SUBJECT_CHARS)
        }
    };

    let (mut who, mut what) = (log.who.clone(), log.what.clone());
    if let Some(record) = who.clone() {
        if !is_who_object(&record) {
            who = None;
            if what.is_none() {
                what = Some(record);
            }
        }
    }
    if let Some(record) = &what {
        if !behaviour.may_relate_to(&record.sobject) {
            tracing::warn!(call_id = %log.call_id, sobject = %record.sobject, "WhatId dropped: object not allowed as Related To");
            what = None;
        }
    }
    if who.as_ref().is_some_and(RecordRef::is_lead) && what.is_some() {
        tracing::warn!(call_id = %log.call_id, "WhatId dropped: a Lead WhoId cannot have a WhatId");
        what = None;
    }

    let mut appendix = String::new();
    if who.is_none() {
        match log.caller.e164.as_deref() {
            Some(e164) if e164 != number => {
                appendix.push_str(&format!("Number: {number} ({e164})"));
            }
            _ => appendix.push_str(&format!("Number: {number}")),
        }
        if !log.candidates.is_empty() {
            appendix.push_str("\nPossible matches:");
            for candidate in &log.candidates {
                appendix.push_str(&format!(
                    "\n- {} ({} {})",
                    clean_line(&candidate.name, 120),
                    candidate.record.sobject,
                    candidate.record.id
                ));
            }
        }
    }
    let notes = clean_multiline(&log.notes, MAX_DESCRIPTION_CHARS);
    let description = description_with(&notes, &appendix, MAX_DESCRIPTION_CHARS);

    let disposition = log
        .disposition
        .as_deref()
        .map(|d| clean_line(d, MAX_CALL_OBJECT_CHARS * 4))
        .filter(|d| !d.is_empty())
        .or_else(|| {
            (!answered).then(|| match log.direction {
                Direction::Incoming => MISSED_DISPOSITION.to_owned(),
                Direction::Outgoing => NO_ANSWER_DISPOSITION.to_owned(),
            })
        })
        .map(|d| d.chars().take(MAX_CALL_OBJECT_CHARS).collect());

    let owner_id = if log.queue_answered && !behaviour.log_queue_calls_to_answering_agent {
        None
    } else {
        log.owner_id.clone()
    };

    TaskFields {
        subject,
        task_subtype: Some("Call".into()),
        call_type: Some(log.call_type),
        call_duration_in_seconds: Some(log.duration_seconds()),
        call_object: Some(log.call_id.chars().take(MAX_CALL_OBJECT_CHARS).collect()),
        call_disposition: disposition,
        description,
        who_id: who.map(|r| r.id),
        what_id: what.map(|r| r.id),
        activity_date: log
            .started_at
            .with_timezone(&behaviour.time_zone)
            .date_naive(),
        status: "Completed".into(),
        owner_id,
    }
}

// ---- SMS --------------------------------------------------------------------------------------

/// The key of an SMS day log: one Task per (number, agent's local day). Returns
/// `("{number}|{YYYY-MM-DD}", day)`.
pub fn sms_day_key(number_e164: &str, at: DateTime<Utc>, tz: Tz) -> (String, NaiveDate) {
    let day = at.with_timezone(&tz).date_naive();
    (format!("{number_e164}|{day}"), day)
}

/// One SMS.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SmsMessage {
    /// When it was sent or received.
    pub at: DateTime<Utc>,
    /// Received (`Incoming`, shown `←`) or sent (`Outgoing`, shown `→`).
    pub direction: Direction,
    /// Its text.
    pub text: String,
}

/// The messages with one number on one agent-local day.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SmsDay {
    /// The other party.
    pub number: Normalized,
    /// The matched Contact or Lead.
    pub who: Option<RecordRef>,
    /// The agent-local day.
    pub day: NaiveDate,
    /// The messages, oldest first.
    pub messages: Vec<SmsMessage>,
    /// The signed-in user's Id.
    pub owner_id: Option<String>,
}

/// What to write for an SMS day.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum SmsWrite {
    /// The first message of the day: create this Task.
    Create(TaskFields),
    /// A later message: replace that day's Task fields (full Description).
    Update {
        /// The day's Task Id.
        task_id: String,
        /// The new fields (no `TaskSubtype`).
        fields: TaskFields,
    },
}

/// The Task of an SMS day: `Create` when the day has no Task yet (`existing_task_id` is `None`),
/// else `Update` of that Task with the whole day's Description (`HH:MM ← text` / `HH:MM → text`,
/// agent-local times). Messages outside `day.day` in the agent's zone are left out. A Description
/// over 32,000 characters keeps its latest lines.
pub fn compose_sms(
    day: &SmsDay,
    existing_task_id: Option<&str>,
    behaviour: &Behaviour,
) -> SmsWrite {
    let tz = behaviour.time_zone;
    let number = format_for_display(&day.number, behaviour.default_region);
    let subject = clean_line(
        &render_subject(&behaviour.subjects().sms, &number, None),
        MAX_SUBJECT_CHARS,
    );
    let mut messages: Vec<&SmsMessage> = day
        .messages
        .iter()
        .filter(|m| m.at.with_timezone(&tz).date_naive() == day.day)
        .collect();
    messages.sort_by_key(|m| m.at);
    let lines: Vec<String> = messages
        .iter()
        .map(|m| {
            let arrow = match m.direction {
                Direction::Incoming => '←',
                Direction::Outgoing => '→',
            };
            let time = m.at.with_timezone(&tz).format("%H:%M");
            format!(
                "{time} {arrow} {}",
                clean_line(&m.text, MAX_DESCRIPTION_CHARS)
            )
        })
        .collect();
    let description = keep_latest(&lines, MAX_DESCRIPTION_CHARS);
    let fields = TaskFields {
        subject,
        task_subtype: Some("Task".into()),
        call_type: None,
        call_duration_in_seconds: None,
        call_object: None,
        call_disposition: None,
        description: (!description.is_empty()).then_some(description),
        who_id: day.who.as_ref().map(|r| r.id.clone()),
        what_id: None,
        activity_date: day.day,
        status: "Completed".into(),
        owner_id: day.owner_id.clone(),
    };
    match existing_task_id {
        None => SmsWrite::Create(fields),
        Some(task_id) => SmsWrite::Update {
            task_id: task_id.to_owned(),
            fields: fields.for_update(),
        },
    }
}

/// Joins lines with `\n`, dropping the oldest ones (marked by a first line `…`) to fit `max`.
fn keep_latest(lines: &[String], max: usize) -> String {
    let mut kept: Vec<String> = Vec::new();
    let mut used = 0usize;
    for line in lines.iter().rev() {
        let len = line.chars().count() + usize::from(!kept.is_empty());
        // Leave room for the `…\n` marker.
        if used + len + 2 > max {
            if kept.is_empty() {
                kept.push(truncate_chars(line, max.saturating_sub(2)));
            }
            kept.push("…".into());
            break;
        }
        used += len;
        kept.push(line.clone());
    }
    kept.reverse();
    kept.join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::phone::{normalize, Region};
    use crate::settings::Language;
    use chrono::TimeZone;

    fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, mo, d, h, mi, s)
            .single()
            .expect("a valid UTC instant")
    }

    fn tokyo_agent() -> Behaviour {
        Behaviour {
            default_region: Region::parse("JP").expect("JP"),
            time_zone: chrono_tz::Asia::Tokyo,
            ..Behaviour::default()
        }
    }

    fn call() -> CallLog {
        CallLog {
            call_id: "pbx-7f3a".into(),
            call_type: CallType::Inbound,
            direction: Direction::Incoming,
            started_at: utc(2026, 3, 1, 14, 58, 0),
            answered_at: Some(utc(2026, 3, 1, 14, 58, 10)),
            ended_at: Some(utc(2026, 3, 1, 15, 3, 40)),
            caller: normalize("+81312345678", Region::parse("JP").expect("JP")).expect("valid"),
            who: Some(RecordRef::new("Contact", "003000000000001AAA")),
            who_name: Some("Sato".into()),
            what: Some(RecordRef::new("Account", "001000000000001AAA")),
            candidates: Vec::new(),
            notes: "Asked about the invoice.".into(),
            disposition: Some("Resolved".into()),
            subject_override: None,
            owner_id: Some("005000000000001AAA".into()),
            queue_answered: false,
        }
    }

    #[test]
    fn call_task_has_exactly_the_salesforce_fields() {
        let task = compose_call_task(&call(), &tokyo_agent());
        let json = serde_json::to_value(&task).expect("task fields serialise");
        assert_eq!(
            json,
            serde_json::json!({
                "Subject": "Inbound call from 03-1234-5678",
                "TaskSubtype": "Call",
                "CallType": "Inbound",
                "CallDurationInSeconds": 330,
                "CallObject": "pbx-7f3a",
                "CallDisposition": "Resolved",
                "Description": "Asked about the invoice.",
                "WhoId": "003000000000001AAA",
                "WhatId": "001000000000001AAA",
                "ActivityDate": "2026-03-01",
                "Status": "Completed",
                "OwnerId": "005000000000001AAA"
            }),
            "every field under its Salesforce name; the 14:58Z start is 23:58 on the 1st in Tokyo"
        );
    }

    #[test]
    fn activity_date_is_the_agent_local_day() {
        let mut log = call();
        log.started_at = utc(2026, 3, 1, 15, 0, 0);
        assert_eq!(
            compose_call_task(&log, &tokyo_agent()).activity_date,
            NaiveDate::from_ymd_opt(2026, 3, 2).expect("date"),
            "15:00 UTC is midnight of the next day in Tokyo"
        );
        let utc_agent = Behaviour {
            time_zone: chrono_tz::UTC,
            ..tokyo_agent()
        };
        assert_eq!(
            compose_call_task(&log, &utc_agent).activity_date,
            NaiveDate::from_ymd_opt(2026, 3, 1).expect("date"),
            "the same instant is still the 1st in UTC"
        );
    }

    #[test]
    fn lead_who_drops_what() {
        let mut log = call();
        log.who = Some(RecordRef::new("Lead", "00Q000000000001AAA"));
        let task = compose_call_task(&log, &tokyo_agent());
        assert_eq!(
            task.who_id.as_deref(),
            Some("00Q000000000001AAA"),
            "the Lead stays the WhoId"
        );
        assert_eq!(
            task.what_id, None,
            "Salesforce forbids a WhatId with a Lead WhoId"
        );
    }

    #[test]
    fn account_picked_as_who_becomes_what() {
        let mut log = call();
        log.who = Some(RecordRef::new("Account", "001000000000002AAA"));
        log.what = None;
        let task = compose_call_task(&log, &tokyo_agent());
        assert_eq!(task.who_id, None, "an Account cannot be a WhoId");
        assert_eq!(
            task.what_id.as_deref(),
            Some("001000000000002AAA"),
            "it becomes the WhatId"
        );
        assert!(
            task.description
                .as_deref()
                .unwrap_or_default()
                .contains("+81312345678"),
            "without WhoId the number is in the Description"
        );
    }

    #[test]
    fn unpicked_matches_are_named_in_the_description() {
        let mut log = call();
        log.who = None;
        log.who_name = None;
        log.candidates = vec![
            Candidate {
                record: RecordRef::new("Contact", "0031"),
                name: "Sato Ichiro".into(),
            },
            Candidate {
                record: RecordRef::new("Lead", "00Q1"),
                name: "Sato Jiro".into(),
            },
        ];
        let description = compose_call_task(&log, &tokyo_agent())
            .description
            .expect("a description");
        assert_eq!(
            description,
            "Asked about the invoice.\n\nNumber: 03-1234-5678 (+81312345678)\nPossible matches:\n- Sato Ichiro (Contact 0031)\n- Sato Jiro (Lead 00Q1)",
            "the notes, then the number and each candidate"
        );
    }

    #[test]
    fn missed_calls_and_localized_subjects() {
        let mut log = call();
        log.answered_at = None;
        log.disposition = None;
        let ja = Behaviour {
            language: Language::Ja,
            ..tokyo_agent()
        };
        let task = compose_call_task(&log, &ja);
        assert_eq!(
            task.subject, "不在着信: 03-1234-5678",
            "unanswered inbound uses the Japanese missed template"
        );
        assert_eq!(
            task.call_disposition.as_deref(),
            Some("Missed"),
            "missed calls default to Missed"
        );
        assert_eq!(
            task.call_duration_in_seconds,
            Some(0),
            "an unanswered call lasts 0 s"
        );
        log.answered_at = Some(log.started_at);
        let answered = compose_call_task(&log, &ja);
        assert_eq!(
            answered.subject, "着信: 03-1234-5678",
            "answered inbound in Japanese"
        );
        let us = Behaviour::default();
        assert_eq!(
            compose_call_task(&log, &us).subject,
            "Inbound call from +81 3-1234-5678",
            "abroad the number is international"
        );
    }

    #[test]
    fn limits_are_enforced_on_char_boundaries() {
        let mut log = call();
        log.subject_override = Some("件".repeat(300));
        log.notes = "メモ".repeat(20_000);
        log.who = None;
        log.call_id = "c".repeat(300);
        log.disposition = Some("d".repeat(300));
        let task = compose_call_task(&log, &tokyo_agent());
        assert_eq!(
            task.subject.chars().count(),
            MAX_SUBJECT_CHARS,
            "Subject is cut to 255 chars"
        );
        let description = task.description.expect("a description");
        assert_eq!(
            description.chars().count(),
            MAX_DESCRIPTION_CHARS,
            "Description is cut to 32,000 chars"
        );
        assert!(
            description.ends_with("(+81312345678)"),
            "the number survives the cut, the notes give way"
        );
        assert_eq!(
            task.call_object.map(|c| c.chars().count()),
            Some(255),
            "CallObject ≤ 255"
        );
        assert_eq!(
            task.call_disposition.map(|c| c.chars().count()),
            Some(255),
            "CallDisposition ≤ 255"
        );
    }

    #[test]
    fn queue_calls_follow_the_owner_setting() {
        let mut log = call();
        log.queue_answered = true;
        assert!(
            compose_call_task(&log, &tokyo_agent()).owner_id.is_some(),
            "by default the answering agent owns it"
        );
        let off = Behaviour {
            log_queue_calls_to_answering_agent: false,
            ..tokyo_agent()
        };
        assert_eq!(
            compose_call_task(&log, &off).owner_id,
            None,
            "off: Salesforce's default owner"
        );
    }

    #[test]
    fn update_fields_leave_out_the_create_only_subtype() {
        let update = compose_call_task(&call(), &tokyo_agent()).for_update();
        let json = serde_json::to_value(&update).expect("serialises");
        assert!(
            json.get("TaskSubtype").is_none(),
            "TaskSubtype cannot be updated"
        );
    }

    fn sms(at: DateTime<Utc>, direction: Direction, text: &str) -> SmsMessage {
        SmsMessage {
            at,
            direction,
            text: text.into(),
        }
    }

    #[test]
    fn sms_days_split_at_the_agent_midnight_tokyo_vs_utc() {
        let before = utc(2026, 3, 1, 14, 59, 0); // 23:59 in Tokyo
        let after = utc(2026, 3, 1, 15, 1, 0); // 00:01 the next day in Tokyo
        let tokyo = chrono_tz::Asia::Tokyo;
        assert_ne!(
            sms_day_key("+81312345678", before, tokyo),
            sms_day_key("+81312345678", after, tokyo),
            "two days in Tokyo"
        );
        assert_eq!(
            sms_day_key("+81312345678", before, chrono_tz::UTC),
            sms_day_key("+81312345678", after, chrono_tz::UTC),
            "one day in UTC"
        );
        assert_eq!(
            sms_day_key("+81312345678", after, tokyo).0,
            "+81312345678|2026-03-02",
            "the key is number and local date"
        );
    }

    #[test]
    fn sms_days_follow_the_dst_change_in_paris() {
        let paris = chrono_tz::Europe::Paris;
        // 29 March 2026 has 23 hours in Paris: it starts at 23:00Z on the 28th and ends at 22:00Z.
        let day = |at| sms_day_key("+33612345678", at, paris).1;
        assert_eq!(
            day(utc(2026, 3, 28, 23, 30, 0)),
            NaiveDate::from_ymd_opt(2026, 3, 29).expect("d"),
            "00:30 CET is the 29th"
        );
        assert_eq!(
            day(utc(2026, 3, 29, 21, 59, 0)),
            NaiveDate::from_ymd_opt(2026, 3, 29).expect("d"),
            "23:59 CEST is still the 29th"
        );
        assert_eq!(
            day(utc(2026, 3, 29, 22, 30, 0)),
            NaiveDate::from_ymd_opt(2026, 3, 30).expect("d"),
            "00:30 CEST is the 30th, not 23:30 of a fixed +1 offset"
        );
    }

    #[test]
    fn sms_first_message_creates_later_ones_update() {
        let behaviour = Behaviour {
            time_zone: chrono_tz::Europe::Paris,
            default_region: Region::parse("FR").expect("FR"),
            ..Behaviour::default()
        };
        let number = normalize("+33612345678", Region::parse("FR").expect("FR")).expect("valid");
        let first = utc(2026, 3, 29, 0, 15, 0); // 01:15 CET
        let (_, local_day) = sms_day_key(
            number.e164.as_deref().expect("e164"),
            first,
            behaviour.time_zone,
        );
        let mut day = SmsDay {
            number,
            who: Some(RecordRef::new("Contact", "0031")),
            day: local_day,
            messages: vec![sms(first, Direction::Incoming, "Bonjour ?")],
            owner_id: None,
        };
        let SmsWrite::Create(created) = compose_sms(&day, None, &behaviour) else {
            panic!("the first message of the day creates a Task");
        };
        assert_eq!(
            created.subject, "SMS with 06 12 34 56 78",
            "SMS subject with the national number"
        );
        assert_eq!(
            created.description.as_deref(),
            Some("01:15 ← Bonjour ?"),
            "an incoming line"
        );
        assert_eq!(
            created.task_subtype.as_deref(),
            Some("Task"),
            "SMS Tasks are plain tasks"
        );
        day.messages.push(sms(
            utc(2026, 3, 29, 1, 5, 0),
            Direction::Outgoing,
            "Oui,\nje rappelle",
        ));
        day.messages.push(sms(
            utc(2026, 3, 29, 22, 5, 0),
            Direction::Incoming,
            "next day",
        ));
        match compose_sms(&day, Some("00T1"), &behaviour) {
            SmsWrite::Update { task_id, fields } => {
                assert_eq!(task_id, "00T1", "the day's Task is updated");
                assert_eq!(
                    fields.description.as_deref(),
                    Some("01:15 ← Bonjour ?\n03:05 → Oui, je rappelle"),
                    "the full day, times after the DST jump in CEST, the next day's message left out"
                );
                assert_eq!(fields.task_subtype, None, "updates leave out TaskSubtype");
            }
            other => panic!("a later message updates, got {other:?}"),
        }
    }

    #[test]
    fn long_sms_days_keep_the_latest_lines() {
        let lines: Vec<String> = (0..5_000)
            .map(|i| format!("line {i:05} {}", "x".repeat(20)))
            .collect();
        let kept = keep_latest(&lines, MAX_DESCRIPTION_CHARS);
        assert!(
            kept.chars().count() <= MAX_DESCRIPTION_CHARS,
            "within the limit"
        );
        assert!(kept.starts_with("…\n"), "the cut is marked");
        assert!(kept.ends_with(&lines[4_999]), "the latest line is kept");
    }
}
