//! Screen pops: from the ranked matches, the layout and the behaviour settings, decide what the
//! popup shows and what page opens ([`decide_pop`]), and build the Lightning URL of that page
//! ([`pop_url`]) on the org's Lightning host ([`lightning_base`]).
//!
//! Search: Lightning Experience has no supported URL for global search results, so a `Search`
//! pop opens no page: [`pop_url`] returns `None` and the popup's chooser (always filled with the
//! matches) is the search page. [`classic_search_url`] builds the Classic-style search URL for an
//! engine that offers it behind a setting; it is undocumented and may stop working.
//!
//! Data from the network (caller display names, record names, field values) is carried as text:
//! control characters removed, length bounded, never interpreted.

use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use serde::{Deserialize, Serialize};
use url::Url;

use crate::layout::{
    CallField, CallType, Layout, MultipleMatchAction, NoMatchAction, ObjectSpec, OpenWithin,
    SingleMatchAction,
};
use crate::phone::{format_for_display, is_exact, search_terms, Normalized};
use crate::record::{Match, RecordRef};
use crate::settings::Behaviour;
use crate::text::{clean_line, MAX_DISPLAY_CHARS};

/// Everything but RFC 3986 unreserved characters is percent-encoded in query values, so a comma,
/// `=`, `&` or `+` inside a value never splits it (Salesforce asks for URL-encoded
/// `defaultFieldValues` values for exactly this reason).
const QUERY_VALUE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// What the telephony side knows about the call besides the number.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallContext {
    /// The caller's display name from the PBX (CNAM / SIP display name), untrusted.
    pub display_name: Option<String>,
    /// The dialled number (DNIS).
    pub dnis: Option<String>,
    /// The queue the call came through.
    pub queue: Option<String>,
    /// The call segment.
    pub segment: Option<String>,
}

/// The page to open for a call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind")]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub enum PopAction {
    /// Open nothing.
    None,
    /// A record's detail page.
    Record {
        /// Object API name.
        sobject: String,
        /// Record Id.
        id: String,
    },
    /// A new record with default field values.
    NewRecord {
        /// Object API name.
        sobject: String,
        /// Field API name → value, in order.
        defaults: Vec<(String, String)>,
    },
    /// The search for a term (shown in the popup's chooser; see the module docs).
    Search {
        /// The digits searched.
        term: String,
    },
    /// A screen flow with input variables.
    Flow {
        /// Flow API name.
        name: String,
        /// Input variable → value.
        params: Vec<(String, String)>,
    },
}

/// One field of a matched record, as the popup shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct PopupField {
    /// The layout's label.
    pub label: String,
    /// Field API name.
    pub api_name: String,
    /// The value as text (empty when the record has none), cleaned for display.
    pub value: String,
}

/// A matched record in the popup's chooser.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct PopupRecord {
    /// Which record.
    pub record: RecordRef,
    /// Its name, cleaned for display.
    pub name: String,
    /// The layout's fields for its object.
    pub fields: Vec<PopupField>,
    /// True when one of its phone fields is the caller's number exactly.
    pub exact: bool,
}

/// The caller as the popup shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct CallerDisplay {
    /// The number as the agent reads it (national at home, international otherwise).
    pub number: String,
    /// E.164, when known.
    pub e164: Option<String>,
    /// The PBX's display name, cleaned (control characters removed, length bounded).
    pub name: Option<String>,
}

/// The popup's content and the page to open.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct PopDecision {
    /// The call type the decision was made for.
    pub call_type: CallType,
    /// The caller.
    pub caller: CallerDisplay,
    /// Call-related fields to show with their values (empty values are kept out).
    pub call_fields: Vec<(CallField, String)>,
    /// The chooser: matches of the layout's objects, in the order given (rank them first with
    /// [`crate::phone::rank_matches`]).
    pub matches: Vec<PopupRecord>,
    /// The page to open.
    pub action: PopAction,
    /// Where it opens.
    pub open_within: OpenWithin,
    /// False when the call is ignored (an internal call with `ignore_internal_calls`): no pop,
    /// no popup, no call log.
    pub handled: bool,
}

/// The value of `api_name` in the record's fetched fields: a flat key (`Account.Name`) or a path
/// through nested objects (`{"Account": {"Name": …}}`), as text.
fn field_text(record: &Match, api_name: &str) -> String {
    let value = record.fields.get(api_name).cloned().or_else(|| {
        let mut parts = api_name.split('.');
        let first = record.fields.get(parts.next()?)?;
        parts.try_fold(first, |v, part| v.get(part)).cloned()
    });
    let value = value.or_else(|| record.phones.get(api_name).cloned().map(Into::into));
    match value {
        Some(serde_json::Value::String(s)) => clean_line(&s, MAX_DISPLAY_CHARS),
        Some(serde_json::Value::Null) | None => String::new(),
        Some(other) => clean_line(&other.to_string(), MAX_DISPLAY_CHARS),
    }
}

fn popup_record(caller: &Normalized, record: &Match, spec: &ObjectSpec) -> PopupRecord {
    PopupRecord {
        record: record.record.clone(),
        name: clean_line(&record.name, MAX_DISPLAY_CHARS),
        fields: spec
            .fields
            .iter()
            .map(|f| PopupField {
                label: clean_line(&f.label, MAX_DISPLAY_CHARS),
                api_name: f.api_name.clone(),
                value: field_text(record, &f.api_name),
            })
            .collect(),
        exact: is_exact(caller, record),
    }
}

/// The number written into new records and flow inputs: E.164 when known (one searchable token),
/// else the digits received.
fn number_value(caller: &Normalized) -> String {
    caller.e164.clone().unwrap_or_else(|| caller.digits.clone())
}

fn search_term(caller: &Normalized) -> String {
    search_terms(caller)
        .into_iter()
        .next()
        .unwrap_or_else(|| caller.digits.clone())
}

/// Decides the popup and the pop for a call.
///
/// Only matches of objects in the call type's layout are shown, with that object's fields. The
/// layout's rules for the call type apply (by default only inbound calls pop, as in Salesforce);
/// an internal call with `ignore_internal_calls` is not handled at all. A no-match new Contact or
/// Lead also gets the caller's display name as `LastName` when the PBX sent one.
pub fn decide_pop(
    call_type: CallType,
    matches: &[Match],
    layout: &Layout,
    behaviour: &Behaviour,
    caller: &Normalized,
    context: &CallContext,
) -> PopDecision {
    let display_name = context
        .display_name
        .as_deref()
        .map(|n| clean_line(n, MAX_DISPLAY_CHARS))
        .filter(|n| !n.is_empty());
    let caller_display = CallerDisplay {
        number: format_for_display(caller, behaviour.default_region),
        e164: caller.e164.clone(),
        name: display_name.clone(),
    };
    let rules = layout.for_call(call_type);
    if call_type == CallType::Internal && behaviour.ignore_internal_calls {
        return PopDecision {
            call_type,
            caller: caller_display,
            call_fields: Vec::new(),
            matches: Vec::new(),
            action: PopAction::None,
            open_within: rules.pop.open_within,
            handled: false,
        };
    }
    let call_fields = rules
        .call_fields
        .iter()
        .filter_map(|field| {
            let value = match field {
                CallField::Ani => Some(caller_display.number.clone()),
                CallField::Dnis => context.dnis.clone(),
                CallField::Queue => context.queue.clone(),
                CallField::Segment => context.segment.clone(),
            }?;
            let value = clean_line(&value, MAX_DISPLAY_CHARS);
            (!value.is_empty()).then_some((*field, value))
        })
        .collect();
    let shown: Vec<PopupRecord> = matches
        .iter()
        .filter_map(|m| {
            rules
                .object(&m.record.sobject)
                .map(|spec| popup_record(caller, m, spec))
        })
        .collect();
    let number = number_value(caller);
    let flow = |target: &crate::layout::FlowTarget| PopAction::Flow {
        name: target.name.clone(),
        params: vec![(target.input_var.clone(), number.clone())],
    };
    let action = match shown.as_slice() {
        [] => match &rules.pop.no_match {
            NoMatchAction::DontPop => PopAction::None,
            NoMatchAction::NewRecord { sobject, prefill } => {
                let mut defaults: Vec<(String, String)> = prefill
                    .iter()
                    .map(|field| (field.clone(), number.clone()))
                    .collect();
                if let Some(name) = &display_name {
                    if matches!(sobject.as_str(), "Contact" | "Lead") {
                        defaults.push(("LastName".into(), name.clone()));
                    }
                }
                PopAction::NewRecord {
                    sobject: sobject.clone(),
                    defaults,
                }
            }
            NoMatchAction::Search => PopAction::Search {
                term: search_term(caller),
            },
            NoMatchAction::Flow(target) => flow(target),
        },
        [one] => match &rules.pop.single_match {
            SingleMatchAction::Record => PopAction::Record {
                sobject: one.record.sobject.clone(),
                id: one.record.id.clone(),
            },
            SingleMatchAction::DontPop => PopAction::None,
            SingleMatchAction::Flow(target) => flow(target),
        },
        _ => match &rules.pop.multiple_matches {
            MultipleMatchAction::Search => PopAction::Search {
                term: search_term(caller),
            },
            MultipleMatchAction::DontPop => PopAction::None,
            MultipleMatchAction::Flow(target) => flow(target),
        },
    };
    PopDecision {
        call_type,
        caller: caller_display,
        call_fields,
        matches: shown,
        action,
        open_within: rules.pop.open_within,
        handled: true,
    }
}

/// The Lightning host of an org: `https://x.my.salesforce.com` → `https://x.lightning.force.com`,
/// `https://x--sbx.sandbox.my.salesforce.com` → `https://x--sbx.sandbox.lightning.force.com` (any
/// `*.my.salesforce.com` the same way). Any other URL (the loopback emulator, a proxy) is kept as
/// it is. Path, query and fragment are dropped.
pub fn lightning_base(instance_url: &Url) -> Url {
    let mut base = instance_url.clone();
    base.set_path("/");
    base.set_query(None);
    base.set_fragment(None);
    if let Some(host) = instance_url.host_str() {
        let lower = host.to_ascii_lowercase();
        if let Some(prefix) = lower.strip_suffix(".my.salesforce.com") {
            if !prefix.is_empty() {
                let lightning = format!("{prefix}.lightning.force.com");
                if base.set_host(Some(&lightning)).is_err() {
                    return base;
                }
            }
        }
    }
    base
}

/// A safe path segment: an API name or a record Id (letters, digits, `_`).
fn is_segment(s: &str) -> bool {
    !s.is_empty() && s.len() <= 255 && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn encode(value: &str) -> String {
    utf8_percent_encode(value, QUERY_VALUE).to_string()
}

fn with_path(base: &Url, segments: &[&str]) -> Option<Url> {
    let mut url = base.clone();
    url.set_query(None);
    url.set_fragment(None);
    url.path_segments_mut().ok()?.clear().extend(segments);
    Some(url)
}

/// The Lightning URL of a pop on `lightning_base` (see [`lightning_base`]):
/// record `/lightning/r/{SObject}/{Id}/view`; new record
/// `/lightning/o/{SObject}/new?defaultFieldValues=Phone=%2B…,LastName=…` (each value
/// percent-encoded, commas inside values too); flow `/lightning/flow/{Name}?flow__{var}={value}`.
/// `None` for no pop, for `Search` (no supported Lightning URL; the chooser shows the matches),
/// and for names that are not API names or Ids (never a URL built from hostile data).
pub fn pop_url(action: &PopAction, lightning_base: &Url) -> Option<Url> {
    match action {
        PopAction::None | PopAction::Search { .. } => None,
        PopAction::Record { sobject, id } => {
            if !is_segment(sobject) || !is_segment(id) {
                return None;
            }
            with_path(lightning_base, &["lightning", "r", sobject, id, "view"])
        }
        PopAction::NewRecord { sobject, defaults } => {
            if !is_segment(sobject) || defaults.iter().any(|(field, _)| !is_segment(field)) {
                return None;
            }
            let mut url = with_path(lightning_base, &["lightning", "o", sobject, "new"])?;
            if !defaults.is_empty() {
                let pairs: Vec<String> = defaults
                    .iter()
                    .map(|(field, value)| format!("{field}={}", encode(value)))
                    .collect();
                url.set_query(Some(&format!("defaultFieldValues={}", pairs.join(","))));
            }
            Some(url)
        }
        PopAction::Flow { name, params } => {
            if !is_segment(name) || params.iter().any(|(var, _)| !is_segment(var)) {
                return None;
            }
            let mut url = with_path(lightning_base, &["lightning", "flow", name])?;
            if !params.is_empty() {
                let query: Vec<String> = params
                    .iter()
                    .map(|(var, value)| format!("flow__{var}={}", encode(value)))
                    .collect();
                url.set_query(Some(&query.join("&")));
            }
            Some(url)
        }
    }
}

/// The Salesforce Classic search page for a term, `/_ui/search/ui/UnifiedSearchResults?str=…`,
/// on the instance URL (not the Lightning host). Undocumented; offer it only behind a setting.
pub fn classic_search_url(term: &str, instance_url: &Url) -> Option<Url> {
    let mut url = with_path(
        instance_url,
        &["_ui", "search", "ui", "UnifiedSearchResults"],
    )?;
    url.set_query(Some(&format!("str={}", encode(term))));
    Some(url)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layout::{FlowTarget, PopRules};
    use crate::phone::{normalize, Region};

    fn jp() -> Behaviour {
        Behaviour {
            default_region: Region::parse("JP").expect("JP is a region"),
            ..Behaviour::default()
        }
    }

    fn caller() -> Normalized {
        normalize("+81312345678", Region::parse("JP").expect("JP")).expect("a valid number")
    }

    fn contact(id: &str, name: &str) -> Match {
        Match {
            record: RecordRef::new("Contact", id),
            name: name.to_owned(),
            phones: [("Phone".to_owned(), "03-1234-5678".to_owned())]
                .into_iter()
                .collect(),
            fields: [
                ("Name".to_owned(), serde_json::json!(name)),
                ("Account".to_owned(), serde_json::json!({"Name": "Acme"})),
            ]
            .into_iter()
            .collect(),
        }
    }

    fn base() -> Url {
        Url::parse("https://acme.lightning.force.com").expect("a valid URL")
    }

    #[test]
    fn single_inbound_match_pops_the_record_with_layout_fields() {
        let m = contact("003000000000001AAA", "Sato");
        let d = decide_pop(
            CallType::Inbound,
            &[m],
            &Layout::default(),
            &jp(),
            &caller(),
            &CallContext::default(),
        );
        assert_eq!(
            d.action,
            PopAction::Record {
                sobject: "Contact".into(),
                id: "003000000000001AAA".into()
            },
            "one inbound match pops its record"
        );
        assert_eq!(
            d.caller.number, "03-1234-5678",
            "a JP agent reads the national format"
        );
        let fields: Vec<(&str, &str)> = d.matches[0]
            .fields
            .iter()
            .map(|f| (f.api_name.as_str(), f.value.as_str()))
            .collect();
        assert_eq!(
            fields,
            [
                ("Name", "Sato"),
                ("Account.Name", "Acme"),
                ("Phone", "03-1234-5678")
            ],
            "the layout's Contact fields are filled, nested Account.Name included"
        );
        assert!(
            d.matches[0].exact,
            "the stored number is the caller's exactly"
        );
        assert!(d.handled, "an inbound call is handled");
        let url = pop_url(&d.action, &base()).expect("a record pop has a URL");
        assert_eq!(
            url.as_str(),
            "https://acme.lightning.force.com/lightning/r/Contact/003000000000001AAA/view",
            "record view URL"
        );
    }

    #[test]
    fn no_match_pops_a_new_contact_with_the_number() {
        let context = CallContext {
            display_name: Some("Doe, Jane".into()),
            ..CallContext::default()
        };
        let d = decide_pop(
            CallType::Inbound,
            &[],
            &Layout::default(),
            &jp(),
            &caller(),
            &context,
        );
        assert_eq!(
            d.action,
            PopAction::NewRecord {
                sobject: "Contact".into(),
                defaults: vec![
                    ("Phone".into(), "+81312345678".into()),
                    ("LastName".into(), "Doe, Jane".into())
                ],
            },
            "no match pops a new Contact with the E.164 number and the display name"
        );
        let url = pop_url(&d.action, &base()).expect("a new record has a URL");
        assert_eq!(
            url.as_str(),
            "https://acme.lightning.force.com/lightning/o/Contact/new?defaultFieldValues=Phone=%2B81312345678,LastName=Doe%2C%20Jane",
            "values are percent-encoded, the comma inside a value too, pairs are comma-separated"
        );
    }

    #[test]
    fn several_matches_search_in_the_chooser() {
        let ms = [contact("0031", "Sato"), contact("0032", "Suzuki")];
        let d = decide_pop(
            CallType::Inbound,
            &ms,
            &Layout::default(),
            &jp(),
            &caller(),
            &CallContext::default(),
        );
        assert_eq!(
            d.action,
            PopAction::Search {
                term: "312345678".into()
            },
            "several matches pop the search"
        );
        assert_eq!(d.matches.len(), 2, "the chooser lists both");
        assert_eq!(
            pop_url(&d.action, &base()),
            None,
            "there is no supported Lightning search URL"
        );
        let classic = classic_search_url(
            "312345678",
            &Url::parse("https://acme.my.salesforce.com").expect("url"),
        )
        .expect("a Classic search URL");
        assert_eq!(
            classic.as_str(),
            "https://acme.my.salesforce.com/_ui/search/ui/UnifiedSearchResults?str=312345678",
            "Classic form"
        );
    }

    #[test]
    fn outbound_and_ignored_internal_calls_do_not_pop() {
        let m = contact("0031", "Sato");
        let out = decide_pop(
            CallType::Outbound,
            std::slice::from_ref(&m),
            &Layout::default(),
            &jp(),
            &caller(),
            &CallContext::default(),
        );
        assert_eq!(
            out.action,
            PopAction::None,
            "outbound calls do not pop by default"
        );
        assert!(out.handled, "but they are handled (and logged)");
        assert_eq!(out.matches.len(), 1, "the popup still shows the record");
        let ignore = Behaviour {
            ignore_internal_calls: true,
            ..jp()
        };
        let internal = decide_pop(
            CallType::Internal,
            &[m],
            &Layout::default(),
            &ignore,
            &caller(),
            &CallContext::default(),
        );
        assert!(!internal.handled, "an ignored internal call is not handled");
        assert_eq!(internal.action, PopAction::None, "and never pops");
    }

    #[test]
    fn matches_outside_the_layout_objects_are_not_shown() {
        let mut case = contact("5001", "Case");
        case.record.sobject = "Case".into();
        let d = decide_pop(
            CallType::Inbound,
            &[case],
            &Layout::default(),
            &jp(),
            &caller(),
            &CallContext::default(),
        );
        assert!(d.matches.is_empty(), "Case is not in the default layout");
        assert!(
            matches!(d.action, PopAction::NewRecord { .. }),
            "so it counts as no match"
        );
    }

    #[test]
    fn flow_pop_passes_the_number() {
        let mut layout = Layout::default();
        layout.inbound.pop = PopRules {
            single_match: SingleMatchAction::Flow(FlowTarget {
                name: "Caller_Intake".into(),
                input_var: "Phone".into(),
            }),
            ..layout.inbound.pop.clone()
        };
        let d = decide_pop(
            CallType::Inbound,
            &[contact("0031", "Sato")],
            &layout,
            &jp(),
            &caller(),
            &CallContext::default(),
        );
        let url = pop_url(&d.action, &base()).expect("a flow has a URL");
        assert_eq!(url.as_str(), "https://acme.lightning.force.com/lightning/flow/Caller_Intake?flow__Phone=%2B81312345678", "flow URL with flow__ prefix");
    }

    #[test]
    fn hostile_data_is_carried_as_cleaned_text() {
        let mut m = contact("0031", "<img src=x onerror=alert(1)>\u{0}\u{1b}");
        m.fields
            .insert("Name".into(), serde_json::json!("x".repeat(10_000)));
        let context = CallContext {
            display_name: Some(format!("<script>\u{7}{}", "名".repeat(10_000))),
            dnis: Some("0120\r\n444".into()),
            ..CallContext::default()
        };
        let d = decide_pop(
            CallType::Inbound,
            &[m],
            &Layout::default(),
            &jp(),
            &caller(),
            &context,
        );
        assert_eq!(
            d.matches[0].name, "<img src=x onerror=alert(1)>",
            "markup kept verbatim as text, controls gone"
        );
        assert!(
            d.matches[0].fields[0].value.chars().count() <= MAX_DISPLAY_CHARS,
            "a 10 kB field is bounded"
        );
        let name = d.caller.name.expect("the display name is kept");
        assert!(
            name.starts_with("<script>名"),
            "the bell character is removed: {name:.20}"
        );
        assert!(
            name.chars().count() <= MAX_DISPLAY_CHARS,
            "a 10 kB display name is bounded"
        );
        assert!(
            d.call_fields
                .contains(&(CallField::Dnis, "0120 444".into())),
            "line breaks in DNIS become a space"
        );
        let hostile = PopAction::Record {
            sobject: "Contact".into(),
            id: "../../evil?x=1".into(),
        };
        assert_eq!(
            pop_url(&hostile, &base()),
            None,
            "an Id that is not an Id never becomes a URL"
        );
    }

    #[test]
    fn lightning_base_maps_my_domain_hosts_only() {
        let cases = [
            (
                "https://acme.my.salesforce.com",
                "https://acme.lightning.force.com/",
            ),
            (
                "https://acme--uat.sandbox.my.salesforce.com/services/data",
                "https://acme--uat.sandbox.lightning.force.com/",
            ),
            ("http://127.0.0.1:8443/", "http://127.0.0.1:8443/"),
            (
                "https://login.salesforce.com",
                "https://login.salesforce.com/",
            ),
        ];
        for (instance, expected) in cases {
            let got = lightning_base(&Url::parse(instance).expect("valid URL"));
            assert_eq!(got.as_str(), expected, "{instance} maps to {expected}");
        }
    }
}
