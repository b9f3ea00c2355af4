//! Softphone layouts, modelled on Salesforce's own (Setup → Softphone Layouts): per call type the
//! call-related fields shown, the objects searched and shown with their fields, and the screen-pop
//! rules for no match, a single match and several matches.
//!
//! Layout files are JSON. [`import`] either returns a whole, validated [`Layout`] or a
//! [`LayoutError`] naming the line, column and field path (syntax and shape) or the field path
//! (meaning); it never returns part of a layout. The caller keeps its current layout when import
//! fails. Missing parts of a file take the documented defaults ([`Layout::default`],
//! [`CallTypeLayout::default_for`]). [`import_salesforce`] reads the JSON that Open CTI's
//! `getSoftphoneLayout()` returns.

use std::collections::BTreeMap;
use std::fmt;

use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::{Deserialize, Serialize};

/// The largest layout file accepted, in bytes.
pub const MAX_LAYOUT_BYTES: usize = 1024 * 1024;
/// The panel width bounds Salesforce accepts for a Lightning softphone panel (pixels).
pub const PANEL_WIDTH_RANGE: (u32, u32) = (200, 1920);
/// The panel height bounds Salesforce accepts for a Lightning softphone panel (pixels).
pub const PANEL_HEIGHT_RANGE: (u32, u32) = (240, 2560);

/// Why a layout file was refused. The caller's current layout stays in force.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LayoutError {
    /// The file is not JSON of the expected shape (syntax error, wrong type, unknown or missing
    /// field).
    #[error("layout file, line {line} column {column}, at `{path}`: {message}")]
    Syntax {
        /// 1-based line of the error.
        line: usize,
        /// 1-based column of the error.
        column: usize,
        /// The field path, e.g. `call_types.Inbound.objects[0].fields`.
        path: String,
        /// What the parser said.
        message: String,
    },
    /// The file parses but says something that cannot work (unknown call type, object without
    /// fields, flow without a name, new record of an object without a phone field …).
    #[error("layout file, at `{path}`: {message}")]
    Invalid {
        /// The field path.
        path: String,
        /// What is wrong.
        message: String,
    },
    /// The file is larger than [`MAX_LAYOUT_BYTES`].
    #[error("layout file is {len} bytes, more than the {max} accepted")]
    TooLarge {
        /// Its size.
        len: usize,
        /// The limit.
        max: usize,
    },
}

fn invalid(path: impl Into<String>, message: impl Into<String>) -> LayoutError {
    LayoutError::Invalid {
        path: path.into(),
        message: message.into(),
    }
}

/// The three call types of Salesforce softphone layouts (also the values of Task `CallType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub enum CallType {
    /// A call from outside to the agent.
    Inbound,
    /// A call the agent places to outside.
    Outbound,
    /// A call between extensions of the same PBX.
    Internal,
}

impl CallType {
    /// All call types, in layout order.
    pub const ALL: [CallType; 3] = [CallType::Inbound, CallType::Outbound, CallType::Internal];

    /// The Salesforce name: `Inbound`, `Outbound`, `Internal`.
    pub fn as_str(self) -> &'static str {
        match self {
            CallType::Inbound => "Inbound",
            CallType::Outbound => "Outbound",
            CallType::Internal => "Internal",
        }
    }

    fn parse(name: &str) -> Option<CallType> {
        CallType::ALL.into_iter().find(|t| t.as_str() == name)
    }
}

impl fmt::Display for CallType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A call-related field shown in the popup (Salesforce: ANI, DNIS, SEGMENT, QUEUE).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub enum CallField {
    /// Caller ID.
    Ani,
    /// Dialled number.
    Dnis,
    /// Call segment.
    Segment,
    /// Queue the call came through.
    Queue,
}

/// One field shown for a record: its label and API name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct FieldSpec {
    /// Label shown to the agent.
    pub label: String,
    /// Field API name (`Name`, `AccountId`, `Account.Name`, `Custom__c`).
    pub api_name: String,
}

impl FieldSpec {
    /// A field whose label is its API name.
    pub fn named(api_name: &str) -> Self {
        Self::new(api_name, api_name)
    }

    /// A field with a label.
    pub fn new(label: &str, api_name: &str) -> Self {
        Self {
            label: label.to_owned(),
            api_name: api_name.to_owned(),
        }
    }
}

/// One object searched and shown, with the fields shown for its records.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct ObjectSpec {
    /// Object API name.
    pub sobject: String,
    /// Fields shown in the popup, in order. At least one.
    pub fields: Vec<FieldSpec>,
    /// Phone fields of the object beyond the standard ones ([`standard_phone_fields`]); needed
    /// for custom objects (`Phone__c`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub phone_fields: Vec<String>,
}

impl ObjectSpec {
    /// Every phone field known for this object: the standard ones, then the listed ones.
    pub fn all_phone_fields(&self) -> Vec<String> {
        let mut all: Vec<String> = standard_phone_fields(&self.sobject)
            .iter()
            .map(|f| (*f).to_owned())
            .collect();
        for field in &self.phone_fields {
            if !all.contains(field) {
                all.push(field.clone());
            }
        }
        all
    }
}

/// The standard phone fields Salesforce searches `IN PHONE FIELDS` for the common objects.
pub fn standard_phone_fields(sobject: &str) -> &'static [&'static str] {
    match sobject {
        "Contact" => &[
            "Phone",
            "MobilePhone",
            "HomePhone",
            "OtherPhone",
            "AssistantPhone",
            "Fax",
        ],
        "Lead" => &["Phone", "MobilePhone", "Fax"],
        "Account" => &["Phone", "Fax"],
        _ => &[],
    }
}

/// A screen flow popped with the number as an input variable.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct FlowTarget {
    /// Flow API name.
    pub name: String,
    /// Name of the flow's input variable that receives the number (default `Phone`).
    #[serde(default = "default_flow_var")]
    pub input_var: String,
}

fn default_flow_var() -> String {
    "Phone".to_owned()
}

fn default_prefill() -> Vec<String> {
    vec!["Phone".to_owned()]
}

/// What to pop when no record matches.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "action", deny_unknown_fields)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub enum NoMatchAction {
    /// Pop nothing (the popup still shows the caller).
    DontPop,
    /// A new record of `sobject` with the number in the `prefill` fields.
    NewRecord {
        /// Object API name.
        sobject: String,
        /// Phone fields that receive the number (default `Phone`).
        #[serde(default = "default_prefill")]
        prefill: Vec<String>,
    },
    /// The search (shown in the app's chooser, see `pop`).
    Search,
    /// A flow.
    Flow(FlowTarget),
}

/// What to pop when exactly one record matches.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "action", deny_unknown_fields)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub enum SingleMatchAction {
    /// The record's detail page.
    Record,
    /// Pop nothing.
    DontPop,
    /// A flow.
    Flow(FlowTarget),
}

/// What to pop when several records match.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "action", deny_unknown_fields)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub enum MultipleMatchAction {
    /// The search (shown in the app's chooser, see `pop`).
    Search,
    /// Pop nothing.
    DontPop,
    /// A flow.
    Flow(FlowTarget),
}

/// Where pops open.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub enum OpenWithin {
    /// Reuse the browser window (default).
    #[default]
    ExistingWindow,
    /// A new window or tab.
    NewWindow,
}

/// Screen-pop rules of one call type.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct PopRules {
    /// Where pops open.
    pub open_within: OpenWithin,
    /// No match.
    pub no_match: NoMatchAction,
    /// One match.
    pub single_match: SingleMatchAction,
    /// Several matches.
    pub multiple_matches: MultipleMatchAction,
}

impl PopRules {
    /// Pops nothing in any case (Salesforce's rule for outbound and internal calls).
    pub fn never() -> Self {
        Self {
            open_within: OpenWithin::ExistingWindow,
            no_match: NoMatchAction::DontPop,
            single_match: SingleMatchAction::DontPop,
            multiple_matches: MultipleMatchAction::DontPop,
        }
    }
}

/// The layout of one call type.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct CallTypeLayout {
    /// Call-related fields shown.
    pub call_fields: Vec<CallField>,
    /// Objects searched and shown, in priority order.
    pub objects: Vec<ObjectSpec>,
    /// Screen-pop rules.
    pub pop: PopRules,
}

impl CallTypeLayout {
    /// The defaults: Account, Contact, Lead (Name and Phone; Contact also Account, Lead also
    /// Company). Inbound shows caller ID, dialled number and queue and pops (no match → new
    /// Contact with the number in Phone, one match → the record, several → search). Outbound
    /// shows the dialled number, Internal the caller ID; neither pops.
    pub fn default_for(call_type: CallType) -> Self {
        let objects = vec![
            ObjectSpec {
                sobject: "Account".into(),
                fields: vec![
                    FieldSpec::new("Account Name", "Name"),
                    FieldSpec::named("Phone"),
                ],
                phone_fields: Vec::new(),
            },
            ObjectSpec {
                sobject: "Contact".into(),
                fields: vec![
                    FieldSpec::named("Name"),
                    FieldSpec::new("Account Name", "Account.Name"),
                    FieldSpec::named("Phone"),
                ],
                phone_fields: Vec::new(),
            },
            ObjectSpec {
                sobject: "Lead".into(),
                fields: vec![
                    FieldSpec::named("Name"),
                    FieldSpec::named("Company"),
                    FieldSpec::named("Phone"),
                ],
                phone_fields: Vec::new(),
            },
        ];
        match call_type {
            CallType::Inbound => Self {
                call_fields: vec![CallField::Ani, CallField::Dnis, CallField::Queue],
                objects,
                pop: PopRules {
                    open_within: OpenWithin::ExistingWindow,
                    no_match: NoMatchAction::NewRecord {
                        sobject: "Contact".into(),
                        prefill: default_prefill(),
                    },
                    single_match: SingleMatchAction::Record,
                    multiple_matches: MultipleMatchAction::Search,
                },
            },
            CallType::Outbound => Self {
                call_fields: vec![CallField::Dnis],
                objects,
                pop: PopRules::never(),
            },
            CallType::Internal => Self {
                call_fields: vec![CallField::Ani],
                objects,
                pop: PopRules::never(),
            },
        }
    }

    /// The layout's object spec for `sobject`, if it lists that object.
    pub fn object(&self, sobject: &str) -> Option<&ObjectSpec> {
        self.objects.iter().find(|o| o.sobject == sobject)
    }

    /// The object API names in priority order.
    pub fn object_names(&self) -> Vec<String> {
        self.objects.iter().map(|o| o.sobject.clone()).collect()
    }
}

/// Softphone panel size in pixels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct PanelSize {
    /// Width (default 400).
    pub width: u32,
    /// Height (default 640).
    pub height: u32,
}

impl Default for PanelSize {
    /// 400 × 640: the size used by the reference softphone setups (Salesforce documents none).
    fn default() -> Self {
        Self {
            width: 400,
            height: 640,
        }
    }
}

/// A complete softphone layout: one [`CallTypeLayout`] per call type and the panel size.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Layout {
    /// Inbound calls.
    pub inbound: CallTypeLayout,
    /// Outbound calls.
    pub outbound: CallTypeLayout,
    /// Internal calls.
    pub internal: CallTypeLayout,
    /// Panel size.
    pub panel: PanelSize,
}

impl Default for Layout {
    fn default() -> Self {
        Self {
            inbound: CallTypeLayout::default_for(CallType::Inbound),
            outbound: CallTypeLayout::default_for(CallType::Outbound),
            internal: CallTypeLayout::default_for(CallType::Internal),
            panel: PanelSize::default(),
        }
    }
}

impl Layout {
    /// The layout of one call type.
    pub fn for_call(&self, call_type: CallType) -> &CallTypeLayout {
        match call_type {
            CallType::Inbound => &self.inbound,
            CallType::Outbound => &self.outbound,
            CallType::Internal => &self.internal,
        }
    }

    fn for_call_mut(&mut self, call_type: CallType) -> &mut CallTypeLayout {
        match call_type {
            CallType::Inbound => &mut self.inbound,
            CallType::Outbound => &mut self.outbound,
            CallType::Internal => &mut self.internal,
        }
    }

    /// Checks the layout's meaning; the error names the field path.
    pub fn validate(&self) -> Result<(), LayoutError> {
        let (min_w, max_w) = PANEL_WIDTH_RANGE;
        if !(min_w..=max_w).contains(&self.panel.width) {
            return Err(invalid(
                "panel.width",
                format!("{} is outside {min_w}..={max_w}", self.panel.width),
            ));
        }
        let (min_h, max_h) = PANEL_HEIGHT_RANGE;
        if !(min_h..=max_h).contains(&self.panel.height) {
            return Err(invalid(
                "panel.height",
                format!("{} is outside {min_h}..={max_h}", self.panel.height),
            ));
        }
        for call_type in CallType::ALL {
            validate_call_type(&format!("call_types.{call_type}"), self.for_call(call_type))?;
        }
        Ok(())
    }
}

/// A Salesforce API name: a letter first, then letters, digits, `_`; dots join relationship
/// names (`Account.Name`).
fn is_api_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 255
        && s.split('.').all(|part| {
            let mut chars = part.chars();
            chars.next().is_some_and(|c| c.is_ascii_alphabetic())
                && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        })
}

fn check_api_name(path: &str, value: &str, what: &str) -> Result<(), LayoutError> {
    if is_api_name(value) {
        Ok(())
    } else {
        Err(invalid(
            path,
            format!(
                "{:?} is not a valid {what} API name",
                crate::text::clean_line(value, 80)
            ),
        ))
    }
}

fn check_flow(path: &str, flow: &FlowTarget) -> Result<(), LayoutError> {
    if flow.name.trim().is_empty() {
        return Err(invalid(format!("{path}.name"), "a flow needs a name"));
    }
    check_api_name(&format!("{path}.name"), &flow.name, "flow")?;
    check_api_name(
        &format!("{path}.input_var"),
        &flow.input_var,
        "flow variable",
    )
}

fn validate_call_type(path: &str, layout: &CallTypeLayout) -> Result<(), LayoutError> {
    let mut seen: Vec<&str> = Vec::new();
    for (i, object) in layout.objects.iter().enumerate() {
        let object_path = format!("{path}.objects[{i}]");
        check_api_name(&format!("{object_path}.sobject"), &object.sobject, "object")?;
        if seen.contains(&object.sobject.as_str()) {
            return Err(invalid(
                format!("{object_path}.sobject"),
                format!("{} is listed twice", object.sobject),
            ));
        }
        seen.push(&object.sobject);
        if object.fields.is_empty() {
            return Err(invalid(
                format!("{object_path}.fields"),
                format!("{} has no field to show", object.sobject),
            ));
        }
        for (j, field) in object.fields.iter().enumerate() {
            check_api_name(
                &format!("{object_path}.fields[{j}].api_name"),
                &field.api_name,
                "field",
            )?;
            if field.label.trim().is_empty() {
                return Err(invalid(
                    format!("{object_path}.fields[{j}].label"),
                    "a field needs a label",
                ));
            }
        }
        for (j, field) in object.phone_fields.iter().enumerate() {
            check_api_name(&format!("{object_path}.phone_fields[{j}]"), field, "field")?;
        }
    }
    let pop = &layout.pop;
    match &pop.no_match {
        NoMatchAction::NewRecord { sobject, prefill } => {
            let at = format!("{path}.pop.no_match");
            check_api_name(&format!("{at}.sobject"), sobject, "object")?;
            let phone_fields = match layout.object(sobject) {
                Some(spec) => spec.all_phone_fields(),
                None => standard_phone_fields(sobject)
                    .iter()
                    .map(|f| (*f).to_owned())
                    .collect(),
            };
            if phone_fields.is_empty() {
                return Err(invalid(
                    format!("{at}.sobject"),
                    format!(
                        "{sobject} has no phone field to put the number in (list it under objects with phone_fields)"
                    ),
                ));
            }
            if prefill.is_empty() {
                return Err(invalid(
                    format!("{at}.prefill"),
                    "name at least one phone field to receive the number",
                ));
            }
            for (j, field) in prefill.iter().enumerate() {
                if !phone_fields.contains(field) {
                    return Err(invalid(
                        format!("{at}.prefill[{j}]"),
                        format!(
                            "{} is not a phone field of {sobject} (known: {})",
                            crate::text::clean_line(field, 80),
                            phone_fields.join(", ")
                        ),
                    ));
                }
            }
        }
        NoMatchAction::Flow(flow) => check_flow(&format!("{path}.pop.no_match"), flow)?,
        NoMatchAction::DontPop | NoMatchAction::Search => {}
    }
    if let SingleMatchAction::Flow(flow) = &pop.single_match {
        check_flow(&format!("{path}.pop.single_match"), flow)?;
    }
    if let MultipleMatchAction::Flow(flow) = &pop.multiple_matches {
        check_flow(&format!("{path}.pop.multiple_matches"), flow)?;
    }
    Ok(())
}

// ---- our file format -------------------------------------------------------------------------

/// A layout file: every part optional, missing parts take the defaults.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct LayoutFile {
    #[serde(default)]
    panel: Option<PanelSize>,
    #[serde(default)]
    call_types: Option<OrderedMap<CallTypeFile>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct CallTypeFile {
    #[serde(default)]
    call_fields: Option<Vec<CallField>>,
    #[serde(default)]
    objects: Option<Vec<ObjectSpec>>,
    #[serde(default)]
    pop: Option<PopFile>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct PopFile {
    #[serde(default)]
    open_within: Option<OpenWithin>,
    #[serde(default)]
    no_match: Option<NoMatchAction>,
    #[serde(default)]
    single_match: Option<SingleMatchAction>,
    #[serde(default)]
    multiple_matches: Option<MultipleMatchAction>,
}

#[derive(Serialize)]
struct LayoutFileOut<'a> {
    panel: &'a PanelSize,
    call_types: BTreeMap<&'static str, &'a CallTypeLayout>,
}

/// A JSON object read in document order (serde_json's map is sorted unless a workspace-wide
/// feature is turned on, and object order is priority order in Salesforce's layout JSON).
#[derive(Debug)]
struct OrderedMap<V>(Vec<(String, V)>);

impl<V> Default for OrderedMap<V> {
    fn default() -> Self {
        OrderedMap(Vec::new())
    }
}

impl<'de, V: Deserialize<'de>> Deserialize<'de> for OrderedMap<V> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct OrderedVisitor<V>(std::marker::PhantomData<V>);
        impl<'de, V: Deserialize<'de>> Visitor<'de> for OrderedVisitor<V> {
            type Value = OrderedMap<V>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut entries = Vec::new();
                while let Some((key, value)) = map.next_entry::<String, V>()? {
                    if entries.iter().any(|(k, _): &(String, V)| *k == key) {
                        return Err(de::Error::custom(format!("duplicate key {key:?}")));
                    }
                    entries.push((key, value));
                }
                Ok(OrderedMap(entries))
            }
        }
        deserializer.deserialize_map(OrderedVisitor(std::marker::PhantomData))
    }
}

/// Parses JSON into `T`, naming the line, column and field path on error.
fn parse_json<T: de::DeserializeOwned>(json: &str) -> Result<T, LayoutError> {
    crate::json::parse(json, MAX_LAYOUT_BYTES).map_err(|err| match err {
        crate::json::JsonError::TooLarge { len, max } => LayoutError::TooLarge { len, max },
        crate::json::JsonError::Syntax {
            line,
            column,
            path,
            message,
        } => LayoutError::Syntax {
            line,
            column,
            path,
            message,
        },
    })
}

/// Reads a layout file (our JSON format, as written by [`export`]).
///
/// Contract: returns a complete, validated layout, or an error and nothing else; on error the
/// caller keeps the layout it had. Parts missing from the file take the defaults.
pub fn import(json: &str) -> Result<Layout, LayoutError> {
    let file: LayoutFile = parse_json(json)?;
    let mut layout = Layout::default();
    if let Some(panel) = file.panel {
        layout.panel = panel;
    }
    for (name, part) in file.call_types.unwrap_or_default().0 {
        let Some(call_type) = CallType::parse(&name) else {
            return Err(invalid(
                format!("call_types.{}", crate::text::clean_line(&name, 40)),
                "unknown call type (expected Inbound, Outbound or Internal)",
            ));
        };
        let target = layout.for_call_mut(call_type);
        if let Some(fields) = part.call_fields {
            target.call_fields = fields;
        }
        if let Some(objects) = part.objects {
            target.objects = objects;
        }
        if let Some(pop) = part.pop {
            if let Some(v) = pop.open_within {
                target.pop.open_within = v;
            }
            if let Some(v) = pop.no_match {
                target.pop.no_match = v;
            }
            if let Some(v) = pop.single_match {
                target.pop.single_match = v;
            }
            if let Some(v) = pop.multiple_matches {
                target.pop.multiple_matches = v;
            }
        }
    }
    layout.validate()?;
    Ok(layout)
}

/// Writes a layout as a pretty JSON file that [`import`] reads back to an equal layout.
pub fn export(layout: &Layout) -> String {
    let out = LayoutFileOut {
        panel: &layout.panel,
        call_types: CallType::ALL
            .into_iter()
            .map(|t| (t.as_str(), layout.for_call(t)))
            .collect(),
    };
    // Serialising plain structs and enums with string keys cannot fail.
    serde_json::to_string_pretty(&out).unwrap_or_default()
}

// ---- Salesforce's getSoftphoneLayout() shape ---------------------------------------------------

#[derive(Debug, Deserialize)]
struct SfCallType {
    #[serde(rename = "callRelatedFields", default)]
    call_related_fields: Vec<String>,
    #[serde(default)]
    objects: OrderedMap<Vec<SfField>>,
    #[serde(rename = "screenPopSettings", default)]
    screen_pop_settings: Option<SfPopSettings>,
}

#[derive(Debug, Deserialize)]
struct SfField {
    #[serde(rename = "displayName")]
    display_name: String,
    #[serde(rename = "apiName")]
    api_name: String,
}

#[derive(Debug, Deserialize)]
struct SfPopSettings {
    #[serde(rename = "screenPopsOpenWithin", default)]
    open_within: Option<OpenWithin>,
    #[serde(rename = "NoMatch", default)]
    no_match: Option<SfPop>,
    #[serde(rename = "SingleMatch", default)]
    single_match: Option<SfPop>,
    #[serde(rename = "MultipleMatches", default)]
    multiple_matches: Option<SfPop>,
}

#[derive(Debug, Deserialize)]
struct SfPop {
    #[serde(rename = "screenPopType", default)]
    pop_type: Option<String>,
    #[serde(rename = "screenPopData", default)]
    data: Option<String>,
}

/// A layout read from Salesforce's `getSoftphoneLayout()` JSON, with notes on what could not be
/// carried over.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SalesforceImport {
    /// The layout (validated).
    pub layout: Layout,
    /// What was adapted, e.g. a Visualforce pop replaced by "don't pop"; shown to the admin.
    pub notes: Vec<String>,
}

/// The pop a Salesforce rule names, before it is fitted to a match case.
enum SfRule {
    DontPop,
    Entity(Option<String>),
    Visualforce,
    Search,
    Flow(String),
}

fn sf_rule(path: &str, pop: Option<SfPop>) -> Result<SfRule, LayoutError> {
    // How Salesforce encodes "Don't pop any screen" is undocumented: a missing rule or type
    // (or an explicit `DontPop`/`None`) is read as that.
    let Some(pop) = pop else {
        return Ok(SfRule::DontPop);
    };
    let data = pop.data.filter(|d| !d.trim().is_empty());
    match pop.pop_type.as_deref() {
        None | Some("DontPop") | Some("None") => Ok(SfRule::DontPop),
        Some("PopToEntity") => Ok(SfRule::Entity(data)),
        Some("PopToVisualforce") => Ok(SfRule::Visualforce),
        Some("PopToSearch") => Ok(SfRule::Search),
        Some("PopToFlow") => match data {
            Some(name) => Ok(SfRule::Flow(name)),
            None => Err(invalid(
                format!("{path}.screenPopData"),
                "PopToFlow needs the flow name in screenPopData",
            )),
        },
        Some(other) => Err(invalid(
            format!("{path}.screenPopType"),
            format!(
                "unknown screenPopType {:?} (expected PopToEntity, PopToVisualforce, PopToSearch or PopToFlow)",
                crate::text::clean_line(other, 60)
            ),
        )),
    }
}

fn flow(name: String) -> FlowTarget {
    FlowTarget {
        name,
        input_var: default_flow_var(),
    }
}

/// Reads the JSON that Open CTI's `getSoftphoneLayout()` returns (keys `Inbound`, `Outbound`,
/// `Internal`, each with `callRelatedFields`, `objects`, `screenPopSettings`).
///
/// Mapping: `PopToEntity` → new record of `screenPopData` (the number in `Phone`) for no match,
/// the record for a single match; `PopToSearch` → search; `PopToFlow` → the flow named in
/// `screenPopData`, the number in its `Phone` input; a missing rule → don't pop;
/// `PopToVisualforce` (not poppable from a desktop app) → don't pop, with a note. A call type
/// missing from the JSON pops nothing and shows the default objects. Same contract as
/// [`import`]: a whole validated layout or an error.
pub fn import_salesforce(json: &str) -> Result<SalesforceImport, LayoutError> {
    let parsed: OrderedMap<SfCallType> = parse_json(json)?;
    let mut layout = Layout::default();
    for call_type in CallType::ALL {
        layout.for_call_mut(call_type).pop = PopRules::never();
    }
    let mut notes = Vec::new();
    for (name, sf) in parsed.0 {
        let Some(call_type) = CallType::parse(&name) else {
            return Err(invalid(
                crate::text::clean_line(&name, 40),
                "unknown call type (expected Inbound, Outbound or Internal)",
            ));
        };
        let mut call_fields = Vec::new();
        for (i, field) in sf.call_related_fields.iter().enumerate() {
            let parsed = match field.as_str() {
                "ANI" => CallField::Ani,
                "DNIS" => CallField::Dnis,
                "SEGMENT" => CallField::Segment,
                "QUEUE" => CallField::Queue,
                other => {
                    return Err(invalid(
                        format!("{name}.callRelatedFields[{i}]"),
                        format!(
                        "unknown call-related field {:?} (expected ANI, DNIS, SEGMENT or QUEUE)",
                        crate::text::clean_line(other, 40)
                    ),
                    ))
                }
            };
            if !call_fields.contains(&parsed) {
                call_fields.push(parsed);
            }
        }
        let mut objects = Vec::new();
        for (sobject, fields) in sf.objects.0 {
            let mut fields: Vec<FieldSpec> = fields
                .into_iter()
                .map(|f| FieldSpec {
                    label: f.display_name,
                    api_name: f.api_name,
                })
                .collect();
            if fields.is_empty() {
                notes.push(format!("{name}: {sobject} had no fields; showing Name"));
                fields.push(FieldSpec::named("Name"));
            }
            objects.push(ObjectSpec {
                sobject,
                fields,
                phone_fields: Vec::new(),
            });
        }
        let mut pop = PopRules::never();
        if let Some(settings) = sf.screen_pop_settings {
            let at = format!("{name}.screenPopSettings");
            pop.open_within = settings.open_within.unwrap_or_default();
            pop.no_match = match sf_rule(&format!("{at}.NoMatch"), settings.no_match)? {
                SfRule::DontPop => NoMatchAction::DontPop,
                SfRule::Entity(Some(sobject)) => NoMatchAction::NewRecord {
                    sobject,
                    prefill: default_prefill(),
                },
                SfRule::Entity(None) => {
                    return Err(invalid(
                        format!("{at}.NoMatch.screenPopData"),
                        "PopToEntity for no match needs the object to create in screenPopData",
                    ))
                }
                SfRule::Search => NoMatchAction::Search,
                SfRule::Flow(name) => NoMatchAction::Flow(flow(name)),
                SfRule::Visualforce => {
                    notes.push(format!(
                        "{at}.NoMatch: Visualforce pop replaced by don't pop"
                    ));
                    NoMatchAction::DontPop
                }
            };
            pop.single_match = match sf_rule(&format!("{at}.SingleMatch"), settings.single_match)? {
                SfRule::DontPop => SingleMatchAction::DontPop,
                SfRule::Entity(_) => SingleMatchAction::Record,
                SfRule::Flow(name) => SingleMatchAction::Flow(flow(name)),
                SfRule::Search => {
                    notes.push(format!("{at}.SingleMatch: search replaced by the record"));
                    SingleMatchAction::Record
                }
                SfRule::Visualforce => {
                    notes.push(format!(
                        "{at}.SingleMatch: Visualforce pop replaced by don't pop"
                    ));
                    SingleMatchAction::DontPop
                }
            };
            pop.multiple_matches =
                match sf_rule(&format!("{at}.MultipleMatches"), settings.multiple_matches)? {
                    SfRule::DontPop => MultipleMatchAction::DontPop,
                    SfRule::Search => MultipleMatchAction::Search,
                    SfRule::Flow(name) => MultipleMatchAction::Flow(flow(name)),
                    SfRule::Entity(_) => {
                        notes.push(format!(
                            "{at}.MultipleMatches: entity pop replaced by search"
                        ));
                        MultipleMatchAction::Search
                    }
                    SfRule::Visualforce => {
                        notes.push(format!(
                            "{at}.MultipleMatches: Visualforce pop replaced by don't pop"
                        ));
                        MultipleMatchAction::DontPop
                    }
                };
        }
        *layout.for_call_mut(call_type) = CallTypeLayout {
            call_fields,
            objects,
            pop,
        };
    }
    layout.validate()?;
    Ok(SalesforceImport { layout, notes })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_match_the_documentation() {
        let layout = Layout::default();
        assert_eq!(
            layout.panel,
            PanelSize {
                width: 400,
                height: 640
            },
            "panel defaults to 400 x 640"
        );
        assert_eq!(
            layout.inbound.object_names(),
            ["Account", "Contact", "Lead"],
            "Account, Contact and Lead are searched by default"
        );
        assert_eq!(
            layout.outbound.pop,
            PopRules::never(),
            "outbound calls never pop by default"
        );
        assert_eq!(
            layout.internal.pop,
            PopRules::never(),
            "internal calls never pop by default"
        );
        assert!(
            matches!(layout.inbound.pop.no_match, NoMatchAction::NewRecord { ref sobject, .. } if sobject == "Contact"),
            "inbound no match pops a new Contact"
        );
        assert!(layout.validate().is_ok(), "the default layout is valid");
    }

    #[test]
    fn export_then_import_round_trips() {
        let mut layout = Layout::default();
        layout.inbound.pop.single_match = SingleMatchAction::Flow(FlowTarget {
            name: "Inbound_Call".into(),
            input_var: "CallerNumber".into(),
        });
        layout.panel = PanelSize {
            width: 500,
            height: 700,
        };
        let json = export(&layout);
        assert_eq!(
            import(&json),
            Ok(layout),
            "an exported layout imports back unchanged"
        );
    }

    #[test]
    fn empty_file_gives_the_defaults_and_partial_file_merges() {
        assert_eq!(
            import("{}"),
            Ok(Layout::default()),
            "an empty object means all defaults"
        );
        let json = r#"{"call_types": {"Outbound": {"pop": {"no_match": {"action": "Search"}}}}}"#;
        let layout = import(json).expect("a partial file is valid");
        assert_eq!(
            layout.outbound.pop.no_match,
            NoMatchAction::Search,
            "the given rule is used"
        );
        assert_eq!(
            layout.outbound.pop.single_match,
            SingleMatchAction::DontPop,
            "rules not given keep the call type's defaults"
        );
        assert_eq!(
            layout.inbound,
            CallTypeLayout::default_for(CallType::Inbound),
            "untouched types keep defaults"
        );
    }

    #[test]
    fn syntax_error_names_line_column_and_path() {
        let json = "{\n  \"call_types\": {\n    \"Inbound\": {\n      \"objects\": [{\"sobject\": \"Contact\", \"fields\": 7}]\n    }\n  }\n}";
        match import(json) {
            Err(LayoutError::Syntax {
                line, column, path, ..
            }) => {
                assert_eq!(line, 4, "the wrong value is on line 4");
                assert!(column > 0, "a column is given");
                assert_eq!(
                    path, "call_types.Inbound.objects[0].fields",
                    "the path leads to the field"
                );
            }
            other => panic!("expected a syntax error, got {other:?}"),
        }
    }

    #[test]
    fn unknown_field_and_trailing_garbage_are_refused() {
        let typo = r#"{"panel": {"width": 400, "hieght": 640}}"#;
        assert!(
            matches!(import(typo), Err(LayoutError::Syntax { ref path, .. }) if path.starts_with("panel")),
            "a misspelt field is refused with its path"
        );
        assert!(
            matches!(import("{} {"), Err(LayoutError::Syntax { .. })),
            "data after the document is an error"
        );
        let big = " ".repeat(MAX_LAYOUT_BYTES + 1);
        assert!(
            matches!(import(&big), Err(LayoutError::TooLarge { .. })),
            "a huge file is refused before parsing"
        );
    }

    fn invalid_path(json: &str) -> String {
        match import(json) {
            Err(LayoutError::Invalid { path, .. }) => path,
            other => panic!("expected a semantic error for {json}, got {other:?}"),
        }
    }

    #[test]
    fn semantic_errors_name_the_field() {
        assert_eq!(
            invalid_path(r#"{"call_types": {"Inboundd": {}}}"#),
            "call_types.Inboundd",
            "an unknown call type is named"
        );
        assert_eq!(
            invalid_path(
                r#"{"call_types": {"Inbound": {"objects": [{"sobject": "Case", "fields": []}]}}}"#
            ),
            "call_types.Inbound.objects[0].fields",
            "an object without fields is refused"
        );
        assert_eq!(
            invalid_path(
                r#"{"call_types": {"Inbound": {"pop": {"single_match": {"action": "Flow", "name": " "}}}}}"#
            ),
            "call_types.Inbound.pop.single_match.name",
            "a flow without a name is refused"
        );
        assert_eq!(
            invalid_path(
                r#"{"call_types": {"Inbound": {"pop": {"no_match": {"action": "NewRecord", "sobject": "Case"}}}}}"#
            ),
            "call_types.Inbound.pop.no_match.sobject",
            "a new Case cannot receive the number: Case has no phone field"
        );
        assert_eq!(
            invalid_path(
                r#"{"call_types": {"Inbound": {"pop": {"no_match": {"action": "NewRecord", "sobject": "Lead", "prefill": ["Email"]}}}}}"#
            ),
            "call_types.Inbound.pop.no_match.prefill[0]",
            "Email is not a phone field"
        );
        assert_eq!(
            invalid_path(r#"{"panel": {"width": 10, "height": 640}}"#),
            "panel.width",
            "a 10-pixel panel is refused"
        );
    }

    #[test]
    fn custom_object_with_declared_phone_field_can_be_created() {
        let json = r#"{"call_types": {"Inbound": {
            "objects": [{"sobject": "Patient__c", "fields": [{"label": "Name", "api_name": "Name"}], "phone_fields": ["Phone__c"]}],
            "pop": {"no_match": {"action": "NewRecord", "sobject": "Patient__c", "prefill": ["Phone__c"]}}}}}"#;
        let layout = import(json).expect("a declared custom phone field is accepted");
        assert_eq!(
            layout.inbound.object_names(),
            ["Patient__c"],
            "the custom object replaces the defaults"
        );
    }

    #[test]
    fn import_never_returns_half_a_layout() {
        // Inbound alone is valid; Outbound is not. The whole import must fail.
        let json = r#"{"call_types": {
            "Inbound": {"pop": {"no_match": {"action": "Search"}}},
            "Outbound": {"objects": [{"sobject": "Lead", "fields": []}]}}}"#;
        let current = Layout::default();
        let kept = import(json).unwrap_or_else(|_| current.clone());
        assert_eq!(
            kept, current,
            "on error the caller keeps its layout, untouched by the valid part"
        );
        assert!(
            import(json).is_err(),
            "one bad call type refuses the whole file"
        );
    }

    const SF_LAYOUT: &str = r#"{"Inbound": {
        "callRelatedFields": ["ANI", "DNIS", "QUEUE"],
        "objects": {"Lead": [{"displayName": "Company", "apiName": "Company"}],
                    "Contact": [{"displayName": "Name", "apiName": "Name"}, {"displayName": "Account Name", "apiName": "AccountId"}]},
        "screenPopSettings": {"screenPopsOpenWithin": "NewWindow",
            "NoMatch": {"screenPopType": "PopToEntity", "screenPopData": "Lead"},
            "SingleMatch": {"screenPopType": "PopToEntity"},
            "MultipleMatches": {"screenPopType": "PopToVisualforce", "screenPopData": "Chooser"}}},
      "Outbound": {"callRelatedFields": ["DNIS"], "objects": {"Contact": [{"displayName": "Name", "apiName": "Name"}]}},
      "Internal": {"callRelatedFields": ["ANI"], "objects": {}}}"#;

    #[test]
    fn salesforce_layout_is_imported() {
        let imported = import_salesforce(SF_LAYOUT).expect("the documented shape imports");
        let inbound = &imported.layout.inbound;
        assert_eq!(
            inbound.object_names(),
            ["Lead", "Contact"],
            "object order follows the JSON, not the alphabet"
        );
        assert_eq!(
            inbound.call_fields,
            [CallField::Ani, CallField::Dnis, CallField::Queue],
            "ANI, DNIS, QUEUE map over"
        );
        assert_eq!(
            inbound.pop.open_within,
            OpenWithin::NewWindow,
            "NewWindow is kept"
        );
        assert_eq!(
            inbound.pop.no_match,
            NoMatchAction::NewRecord {
                sobject: "Lead".into(),
                prefill: vec!["Phone".into()]
            },
            "PopToEntity Lead on no match is a new Lead with the number in Phone"
        );
        assert_eq!(
            inbound.pop.single_match,
            SingleMatchAction::Record,
            "PopToEntity on one match pops the record"
        );
        assert_eq!(
            inbound.pop.multiple_matches,
            MultipleMatchAction::DontPop,
            "Visualforce cannot pop here"
        );
        assert_eq!(
            imported.notes.len(),
            1,
            "the Visualforce replacement is reported: {:?}",
            imported.notes
        );
        assert_eq!(
            imported.layout.outbound.pop,
            PopRules::never(),
            "no screenPopSettings means no pop"
        );
        assert!(
            imported.layout.internal.objects.is_empty(),
            "an empty objects map searches nothing"
        );
    }

    #[test]
    fn salesforce_layout_errors_name_the_field() {
        let bad =
            r#"{"Inbound": {"screenPopSettings": {"NoMatch": {"screenPopType": "PopToFlow"}}}}"#;
        assert!(
            matches!(import_salesforce(bad), Err(LayoutError::Invalid { ref path, .. }) if path == "Inbound.screenPopSettings.NoMatch.screenPopData"),
            "a flow pop without a flow name is named"
        );
        let bad_field = r#"{"Inbound": {"callRelatedFields": ["ANI", "CALLER"]}}"#;
        assert!(
            matches!(import_salesforce(bad_field), Err(LayoutError::Invalid { ref path, .. }) if path == "Inbound.callRelatedFields[1]"),
            "an unknown call-related field is named"
        );
        let bad_shape = r#"{"Inbound": {"objects": {"Contact": [{"displayName": "Name"}]}}}"#;
        assert!(
            matches!(import_salesforce(bad_shape), Err(LayoutError::Syntax { ref path, .. }) if path == "Inbound.objects.Contact[0]"),
            "a field without apiName is a shape error with its path"
        );
    }
}
