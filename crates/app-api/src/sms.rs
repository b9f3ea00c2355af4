//! Stored SMS days ([`store::SmsDay`]) as the SMS view shows them: threads ([`SmsThread`]) and
//! a thread's messages ([`SmsItem`]).

use cti::task::{Direction as SmsDirection, SmsMessage};
use cti::Match;
use engine::Direction;
use store::{CachedMatch, SmsDay};

use crate::{SmsItem, SmsThread};

/// The messages of a day, in the order they came; a day whose log cannot be read has none (it
/// is logged, the others still show).
fn messages(day: &SmsDay) -> Vec<SmsMessage> {
    serde_json::from_value(day.messages.clone()).unwrap_or_else(|err| {
        tracing::warn!(%err, day = %day.day, "stored SMS day unreadable");
        Vec::new()
    })
}

fn item(message: SmsMessage) -> SmsItem {
    SmsItem {
        direction: match message.direction {
            SmsDirection::Incoming => Direction::Inbound,
            SmsDirection::Outgoing => Direction::Outbound,
        },
        text: message.text,
        at: message.at,
    }
}

/// The record a number stands for in the match cache: the agent's pinned one, else the only
/// match (several matches name nobody).
pub fn cached_record(cached: Option<&CachedMatch>) -> Option<Match> {
    let cached = cached?;
    if let Some(pinned) = &cached.pinned {
        return serde_json::from_value(pinned.record.clone()).ok();
    }
    let records: Vec<Match> = serde_json::from_value(cached.records.clone()?).ok()?;
    match <[Match; 1]>::try_from(records) {
        Ok([only]) => Some(only),
        Err(_) => None,
    }
}

/// The thread of a number's latest day: its last message, and the record (from the match
/// cache) when one is known. `None` for a day with no readable message.
pub fn sms_thread(latest: &SmsDay, record: Option<Match>) -> Option<SmsThread> {
    let last = messages(latest).pop()?;
    Some(SmsThread {
        number: latest.number.clone(),
        display_name: record.as_ref().map(|r| r.name.clone()),
        last_text: last.text,
        last_at: last.at,
        record,
    })
}

/// Every message of the days given, in order.
pub fn sms_items(days: &[SmsDay]) -> Vec<SmsItem> {
    days.iter().flat_map(messages).map(item).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{NaiveDate, TimeZone, Utc};
    use serde_json::json;

    fn day(d: u32, messages: serde_json::Value) -> SmsDay {
        SmsDay {
            number: "+81312345678".into(),
            day: NaiveDate::from_ymd_opt(2027, 1, d).unwrap(),
            task_id: None,
            messages,
            pending: false,
            updated_at: Utc.with_ymd_and_hms(2027, 1, d, 12, 0, 0).unwrap(),
        }
    }

    fn message(d: u32, direction: &str, text: &str) -> serde_json::Value {
        let at = Utc.with_ymd_and_hms(2027, 1, d, 9, 0, 0).unwrap();
        json!({ "at": at, "direction": direction, "text": text })
    }

    fn contact(id: &str, name: &str) -> serde_json::Value {
        json!({ "record": { "sobject": "Contact", "id": id }, "name": name })
    }

    #[test]
    fn a_thread_shows_the_last_message_and_the_known_record() {
        let latest = day(
            31,
            json!([
                message(31, "Incoming", "こんにちは"),
                message(31, "Outgoing", "はい")
            ]),
        );
        let record: Match =
            serde_json::from_value(contact("003000000000001AAA", "山田 太郎")).unwrap();
        let thread = sms_thread(&latest, Some(record)).expect("a thread");
        assert_eq!(thread.last_text, "はい");
        assert_eq!(thread.display_name.as_deref(), Some("山田 太郎"));
        assert!(sms_thread(&day(30, json!("not a list")), None).is_none());
    }

    #[test]
    fn items_run_across_days_in_order_with_directions() {
        let days = [
            day(30, json!([message(30, "Incoming", "a")])),
            day(31, json!("unreadable")),
            day(31, json!([message(31, "Outgoing", "b")])),
        ];
        let items = sms_items(&days);
        let seen: Vec<_> = items
            .iter()
            .map(|i| (i.direction, i.text.as_str()))
            .collect();
        assert_eq!(
            seen,
            [(Direction::Inbound, "a"), (Direction::Outbound, "b")]
        );
    }

    #[test]
    fn the_cached_record_is_the_pinned_one_else_the_only_match() {
        let now = Utc.with_ymd_and_hms(2027, 1, 31, 9, 0, 0).unwrap();
        let one = CachedMatch {
            records: Some(json!([contact("003000000000001AAA", "A")])),
            fetched_at: Some(now),
            pinned: None,
            fresh: true,
        };
        assert_eq!(cached_record(Some(&one)).map(|m| m.name), Some("A".into()));
        let two = CachedMatch {
            records: Some(json!([
                contact("003000000000001AAA", "A"),
                contact("003000000000002AAA", "B")
            ])),
            ..one.clone()
        };
        assert!(
            cached_record(Some(&two)).is_none(),
            "several matches name nobody"
        );
        let pinned = CachedMatch {
            pinned: Some(store::PinnedRecord {
                record: contact("003000000000002AAA", "B"),
                source: store::PinSource::Picked,
                pinned_at: now,
            }),
            ..two
        };
        assert_eq!(
            cached_record(Some(&pinned)).map(|m| m.name),
            Some("B".into())
        );
        assert!(cached_record(None).is_none());
    }
}
