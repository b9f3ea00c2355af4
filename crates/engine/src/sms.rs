//! One SMS to log: the day's Task (one per number per local day) is composed from the day's row
//! as it is on disk, inside the outbox writer's transaction, so that the row and its Task write
//! are stored together, in the order the messages came, or not at all (and then tried again).

use chrono::{DateTime, NaiveDate, Utc};
use cti::task::{SmsDay as CtiSmsDay, SmsMessage, SmsWrite};
use cti::{Behaviour, Normalized, RecordRef};
use store::{NewOutboxItem, OutboxId, SmsDay, Store, WriteKind};

/// An SMS sent or received, with what is needed to log it.
#[derive(Debug, Clone)]
pub(crate) struct SmsJob {
    /// The number's match-cache key (E.164 when known): the day map's number.
    pub key: String,
    /// The agent's local day of the message.
    pub day: NaiveDate,
    /// The day's CallObject (one Task per number per day).
    pub call_object: String,
    /// The other party.
    pub number: Normalized,
    /// The matched Contact or Lead, if any.
    pub who: Option<RecordRef>,
    /// The message.
    pub message: SmsMessage,
    /// The Tasks' owner.
    pub owner_id: Option<String>,
    /// Subjects, time zone, region.
    pub behaviour: Behaviour,
}

impl SmsJob {
    /// Appends the message to the day's row and queues the day's Task write, in one
    /// transaction (see [`store::SmsDays::log_message`]).
    pub fn log(&self, store: &Store, now: DateTime<Utc>) -> store::Result<OutboxId> {
        store
            .sms_days()
            .log_message(&self.key, self.day, now, |existing| {
                self.compose(existing, now)
            })
    }

    /// The day's new row and its Task write, given the row on disk: the first message of the
    /// day creates the Task, later ones update it with the whole day.
    fn compose(&self, existing: Option<SmsDay>, now: DateTime<Utc>) -> (SmsDay, NewOutboxItem) {
        let mut messages: Vec<SmsMessage> = match &existing {
            Some(day) => serde_json::from_value(day.messages.clone()).unwrap_or_else(|e| {
                tracing::warn!(error = %e, "the day's earlier messages are unreadable; the Task keeps this one");
                Vec::new()
            }),
            None => Vec::new(),
        };
        messages.push(self.message.clone());
        let day = CtiSmsDay {
            number: self.number.clone(),
            who: self.who.clone(),
            day: self.day,
            messages,
            owner_id: self.owner_id.clone(),
        };
        // An existing day whose Task id is not known yet: the outbox takes the target from the
        // day's create once Salesforce has answered it.
        let existing_task = existing
            .as_ref()
            .map(|d| d.task_id.clone().unwrap_or_default());
        let item = match cti::task::compose_sms(&day, existing_task.as_deref(), &self.behaviour) {
            SmsWrite::Create(mut fields) => {
                fields.call_object = Some(self.call_object.clone());
                NewOutboxItem {
                    kind: WriteKind::Create,
                    sobject: "Task".into(),
                    call_object: self.call_object.clone(),
                    target_id: None,
                    payload: serde_json::to_value(&fields).unwrap_or_default(),
                }
            }
            SmsWrite::Update { task_id, fields } => NewOutboxItem {
                kind: WriteKind::Update,
                sobject: "Task".into(),
                call_object: self.call_object.clone(),
                target_id: (!task_id.is_empty()).then_some(task_id),
                payload: serde_json::to_value(&fields).unwrap_or_default(),
            },
        };
        let row = SmsDay {
            number: self.key.clone(),
            day: self.day,
            task_id: existing.and_then(|d| d.task_id),
            messages: serde_json::to_value(&day.messages).unwrap_or_default(),
            pending: true,
            updated_at: now,
        };
        (row, item)
    }
}
