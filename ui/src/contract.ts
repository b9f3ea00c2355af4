// The desktop contract's types, as the UI uses them. The Rust side generates them with ts-rs into
// `./bindings/` (owned by the shell's crate `app-api`); until those files exist this module spells
// the same serde JSON shapes, and once they do it re-exports them, so the rest of the UI imports
// from here only.

export type Direction = "Inbound" | "Outbound";
export type EndReason = "HungUp" | "Missed" | "Declined" | { Failed: { reason: string } };
export type CallType = "Inbound" | "Outbound" | "Internal";
export type CallField = "Ani" | "Dnis" | "Segment" | "Queue";
export type OpenWithin = "ExistingWindow" | "NewWindow";

export interface RecordRef {
  sobject: string;
  id: string;
}

export type JsonValue =
  | number
  | string
  | boolean
  | null
  | JsonValue[]
  | { [key in string]?: JsonValue };

export interface Match {
  record: RecordRef;
  name: string;
  phones: { [key in string]?: string };
  fields: { [key in string]?: JsonValue };
}

export interface CallerDisplay {
  number: string;
  e164: string | null;
  name: string | null;
}

export interface PopupField {
  label: string;
  api_name: string;
  value: string;
}

export interface PopupRecord {
  record: RecordRef;
  name: string;
  fields: PopupField[];
  exact: boolean;
}

export type PopAction =
  | { kind: "None" }
  | { kind: "Record"; sobject: string; id: string }
  | { kind: "NewRecord"; sobject: string; defaults: Array<[string, string]> }
  | { kind: "Search"; term: string }
  | { kind: "Flow"; name: string; params: Array<[string, string]> };

export interface PopDecision {
  call_type: CallType;
  caller: CallerDisplay;
  call_fields: Array<[CallField, string]>;
  matches: PopupRecord[];
  action: PopAction;
  open_within: OpenWithin;
  handled: boolean;
}

export type LookupStatus =
  | { status: "pinned" }
  | { status: "cache" }
  | { status: "salesforce" }
  | { status: "failed"; reason: string }
  | { status: "not_connected" };

export interface Popup {
  decision: PopDecision;
  lookup: LookupStatus;
}

export type CallPhase =
  | { phase: "ringing"; direction: Direction; caller: CallerDisplay }
  | { phase: "established" }
  | { phase: "held" }
  | { phase: "wrap_up"; deadline: string | null }
  | { phase: "closed"; reason: EndReason };

export type LogStatus =
  | { state: "queued" }
  | { state: "saved"; task_id: string }
  | { state: "failed"; reason: string };

export type ConnectionState =
  | { state: "unknown" }
  | { state: "connected" }
  | { state: "offline"; reason: string }
  | { state: "limit_exceeded"; until: string }
  | { state: "reconnect_needed" };

export type UiEvent =
  | { event: "call_state"; call_id: string; phase: CallPhase }
  | { event: "popup"; call_id: string; popup: Popup }
  | { event: "pop"; call_id: string; url: string; new_window: boolean }
  | { event: "log_state"; call_object: string; state: LogStatus }
  | { event: "connection"; state: ConnectionState }
  | { event: "api_usage"; used: number; max: number }
  | { event: "action_failed"; call_id: string | null; message: string };

export type AgentAction =
  | { action: "answer"; call_id: string }
  | { action: "decline"; call_id: string }
  | { action: "hang_up"; call_id: string }
  | { action: "hold"; call_id: string }
  | { action: "resume"; call_id: string }
  | { action: "mute"; call_id: string; muted: boolean }
  | { action: "send_dtmf"; call_id: string; digits: string }
  | { action: "transfer"; call_id: string; target: string }
  | { action: "pick_record"; call_id: string; record: Match }
  | { action: "record_created"; call_id: string; record: Match }
  | { action: "notes"; call_id: string; text: string }
  | { action: "disposition"; call_id: string; value: string | null }
  | { action: "related_to"; call_id: string; record: RecordRef | null }
  | { action: "save"; call_id: string }
  | { action: "discard"; call_id: string }
  | { action: "retry_log"; call_object: string }
  | { action: "dial"; number: string }
  | { action: "send_sms"; to: string; text: string };

// ---- layouts ------------------------------------------------------------------------------------

export interface FieldSpec {
  label: string;
  api_name: string;
}

export interface ObjectSpec {
  sobject: string;
  fields: FieldSpec[];
  phone_fields?: string[];
}

export interface FlowTarget {
  name: string;
  input_var: string;
}

export type NoMatchAction =
  | { action: "DontPop" }
  | { action: "NewRecord"; sobject: string; prefill: string[] }
  | { action: "Search" }
  | ({ action: "Flow" } & FlowTarget);

export type SingleMatchAction = { action: "Record" } | { action: "DontPop" } | ({ action: "Flow" } & FlowTarget);

export type MultipleMatchAction = { action: "Search" } | { action: "DontPop" } | ({ action: "Flow" } & FlowTarget);

export interface PopRules {
  open_within: OpenWithin;
  no_match: NoMatchAction;
  single_match: SingleMatchAction;
  multiple_matches: MultipleMatchAction;
}

export interface CallTypeLayout {
  call_fields: CallField[];
  objects: ObjectSpec[];
  pop: PopRules;
}

export interface PanelSize {
  width: number;
  height: number;
}

export interface Layout {
  inbound: CallTypeLayout;
  outbound: CallTypeLayout;
  internal: CallTypeLayout;
  panel: PanelSize;
}

// ---- settings -----------------------------------------------------------------------------------

export type Language = "en" | "ja" | "fr" | "ko";

export interface InternalRule {
  max_digits: number | null;
  patterns: string[];
}

export interface SubjectTemplates {
  inbound: string;
  outbound: string;
  internal: string;
  missed: string;
  sms: string;
}

export interface Behaviour {
  auto_save_call_logs: boolean;
  wrap_up_seconds: number;
  log_queue_calls_to_answering_agent: boolean;
  auto_save_sms: boolean;
  editable_who: boolean;
  ignore_internal_calls: boolean;
  related_to_objects: string[];
  classic_search_pop: boolean;
  default_region: string;
  internal_rule: InternalRule;
  time_zone: string;
  language: Language;
  subject_templates: { [key in Language]?: SubjectTemplates };
}

export type LanguageChoice = "system" | Language;
export type Theme = "system" | "light" | "dark";

export interface Shortcuts {
  answer: string;
  hang_up: string;
}

export interface AppSettings {
  behaviour: Behaviour;
  region: string;
  language: LanguageChoice;
  theme: Theme;
  shortcuts: Shortcuts;
}

// ---- the shell's own DTOs -----------------------------------------------------------------------

export interface ApiUsage {
  used: number;
  max: number;
}

export type SipState =
  | { state: "unregistered" }
  | { state: "registering" }
  | { state: "registered"; expires: number }
  | { state: "failed"; reason: string };

export type SipStatus = SipState & { local_addr: string | null };

export interface Snapshot {
  version: string;
  demo: boolean;
  sip: SipStatus;
  connection: ConnectionState;
  api_usage: ApiUsage | null;
  calls: UiEvent[];
  language: string;
  theme: Theme;
}

export interface DialTarget {
  input: string;
  number: string;
  display: string;
  internal: boolean;
}

export interface HistoryRow {
  call_id: string;
  call_object: string;
  direction: Direction;
  number: string;
  display_name: string | null;
  started_at: string;
  duration_s: number | null;
  record: Match | null;
  disposition: string | null;
  log: LogStatus | null;
}

export interface SmsThread {
  number: string;
  display_name: string | null;
  last_text: string;
  last_at: string;
  record: Match | null;
}

export interface SmsItem {
  direction: Direction;
  text: string;
  at: string;
}

export type SfEnvironment =
  | { kind: "production" }
  | { kind: "sandbox" }
  | { kind: "my_domain"; url: string };

export interface SalesforceSettings {
  environment: SfEnvironment;
  client_id: string;
  username: string | null;
}

export interface ConnectionCheck {
  ok: boolean;
  problems: string[];
  username: string | null;
  instance_url: string | null;
  api_usage: ApiUsage | null;
}

export type Transport = "udp" | "tcp";
export type BusyPolicy = "ring_waiting" | "reject486";

export interface SipAccount {
  user: string;
  domain: string;
  registrar: string | null;
  transport: Transport;
  busy_policy: BusyPolicy;
  has_password: boolean;
}

export interface AudioChoice {
  input: string | null;
  output: string | null;
  ringer: string | null;
}

export interface AudioDevices {
  inputs: string[];
  outputs: string[];
  choice: AudioChoice;
}
