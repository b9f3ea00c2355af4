// A fake shell behind the bridge (the one seam tests replace): records every call, answers from
// the values a test sets, and lets the test emit the shell's events.

import { vi } from "vitest";
import type { Bridge, Unlisten, ViewName } from "../src/bridge";
import type {
  AppSettings,
  Behaviour,
  DialTarget,
  Layout,
  SipStatus,
  Snapshot,
  UiEvent,
} from "../src/contract";

type Handlers = {
  ui: Array<(e: UiEvent) => void>;
  sip: Array<(s: SipStatus) => void>;
  dial: Array<(d: DialTarget) => void>;
  mic: Array<(l: number) => void>;
  nav: Array<(v: ViewName) => void>;
};

export function behaviour(patch: Partial<Behaviour> = {}): Behaviour {
  return {
    auto_save_call_logs: true,
    wrap_up_seconds: 60,
    log_queue_calls_to_answering_agent: true,
    auto_save_sms: true,
    editable_who: true,
    ignore_internal_calls: false,
    related_to_objects: ["Account", "Opportunity", "Case"],
    classic_search_pop: false,
    default_region: "JP",
    internal_rule: { max_digits: 4, patterns: [] },
    time_zone: "Asia/Tokyo",
    language: "en",
    subject_templates: {
      en: {
        inbound: "Inbound call from {number}",
        outbound: "Outbound call to {number}",
        internal: "Internal call with {number}",
        missed: "Missed call from {number}",
        sms: "SMS with {number}",
      },
    },
    ...patch,
  };
}

export function appSettings(patch: Partial<AppSettings> = {}): AppSettings {
  return {
    behaviour: behaviour(),
    region: "JP",
    language: "en",
    theme: "system",
    shortcuts: { answer: "CmdOrCtrl+Shift+A", hang_up: "CmdOrCtrl+Shift+H" },
    ...patch,
  };
}

export function defaultLayout(): Layout {
  const objects = [
    { sobject: "Account", fields: [{ label: "Account Name", api_name: "Name" }, { label: "Phone", api_name: "Phone" }] },
    {
      sobject: "Contact",
      fields: [
        { label: "Name", api_name: "Name" },
        { label: "Account Name", api_name: "Account.Name" },
        { label: "Phone", api_name: "Phone" },
      ],
    },
  ];
  const never = {
    open_within: "ExistingWindow" as const,
    no_match: { action: "DontPop" as const },
    single_match: { action: "DontPop" as const },
    multiple_matches: { action: "DontPop" as const },
  };
  return {
    inbound: {
      call_fields: ["Ani", "Dnis", "Queue"],
      objects: structuredClone(objects),
      pop: {
        open_within: "ExistingWindow",
        no_match: { action: "NewRecord", sobject: "Contact", prefill: ["Phone"] },
        single_match: { action: "Record" },
        multiple_matches: { action: "Search" },
      },
    },
    outbound: { call_fields: ["Dnis"], objects: structuredClone(objects), pop: never },
    internal: { call_fields: ["Ani"], objects: structuredClone(objects), pop: never },
    panel: { width: 400, height: 640 },
  };
}

export interface Fake {
  bridge: Bridge;
  emit: {
    ui(e: UiEvent): void;
    sip(s: SipStatus): void;
    dialRequest(d: DialTarget): void;
    micLevel(l: number): void;
    navigate(v: ViewName): void;
  };
  /** The layout the fake shell holds (what `layout` returns, `save_layout` replaces). */
  state: { layout: Layout; settings: AppSettings; snapshot: Snapshot };
}

function subscribe<T>(list: Array<(x: T) => void>, h: (x: T) => void): Promise<Unlisten> {
  list.push(h);
  return Promise.resolve(() => {
    const i = list.indexOf(h);
    if (i >= 0) list.splice(i, 1);
  });
}

/** A fake shell; `overrides` replace single commands. */
export function fakeBridge(overrides: Partial<Bridge> = {}): Fake {
  const handlers: Handlers = { ui: [], sip: [], dial: [], mic: [], nav: [] };
  const state = {
    layout: defaultLayout(),
    settings: appSettings(),
    snapshot: {
      version: "0.1.0",
      demo: true,
      sip: { state: "registered", expires: 300, local_addr: "127.0.0.1:5060" },
      connection: { state: "connected" },
      api_usage: { used: 1200, max: 15000 },
      calls: [],
      language: "en",
      theme: "system",
    } as Snapshot,
  };
  const base: Bridge = {
    snapshot: vi.fn(async () => structuredClone(state.snapshot)),
    act: vi.fn(async () => undefined),
    dialPreview: vi.fn(async (input: string) => {
      throw new Error(`Cannot read "${input}" as a phone number.`);
    }),
    dial: vi.fn(async () => undefined),
    searchRecords: vi.fn(async () => []),
    history: vi.fn(async () => []),
    retryLog: vi.fn(async () => undefined),
    smsThreads: vi.fn(async () => []),
    smsMessages: vi.fn(async () => []),
    sendSms: vi.fn(async () => undefined),
    settings: vi.fn(async () => structuredClone(state.settings)),
    saveSettings: vi.fn(async (s: AppSettings) => {
      state.settings = structuredClone(s);
      return structuredClone(s);
    }),
    layout: vi.fn(async () => structuredClone(state.layout)),
    saveLayout: vi.fn(async (l: Layout) => {
      state.layout = structuredClone(l);
      return structuredClone(l);
    }),
    importLayout: vi.fn(async (text: string) => {
      state.layout = JSON.parse(text) as Layout;
      return structuredClone(state.layout);
    }),
    exportLayout: vi.fn(async () => JSON.stringify(state.layout, null, 2)),
    salesforce: vi.fn(async () => ({ environment: { kind: "production" as const }, client_id: "3MVG9-test", username: null })),
    sfSignIn: vi.fn(async () => undefined),
    sfCheck: vi.fn(async () => ({ ok: true, problems: [], username: null, instance_url: null, api_usage: null })),
    sfDisconnect: vi.fn(async () => undefined),
    sipAccount: vi.fn(async () => ({
      user: "1001",
      domain: "pbx.example.com",
      registrar: null,
      transport: "udp" as const,
      tls_ca_file: null,
      dns_server: null,
      busy_policy: "ring_waiting" as const,
      has_password: true,
    })),
    saveSipAccount: vi.fn(async (a) => a),
    audioDevices: vi.fn(async () => ({ inputs: ["Mic"], outputs: ["Speaker"], choice: { input: null, output: null, ringer: null } })),
    saveAudio: vi.fn(async (choice) => ({ inputs: ["Mic"], outputs: ["Speaker"], choice })),
    testTone: vi.fn(async () => undefined),
    micMonitor: vi.fn(async () => undefined),
    openPage: vi.fn(async () => undefined),
    onUiEvent: (h) => subscribe(handlers.ui, h),
    onSipStatus: (h) => subscribe(handlers.sip, h),
    onDialRequest: (h) => subscribe(handlers.dial, h),
    onMicLevel: (h) => subscribe(handlers.mic, h),
    onNavigate: (h) => subscribe(handlers.nav, h),
  };
  return {
    bridge: { ...base, ...overrides },
    state,
    emit: {
      ui: (e) => handlers.ui.forEach((h) => h(e)),
      sip: (s) => handlers.sip.forEach((h) => h(s)),
      dialRequest: (d) => handlers.dial.forEach((h) => h(d)),
      micLevel: (l) => handlers.mic.forEach((h) => h(l)),
      navigate: (v) => handlers.nav.forEach((h) => h(v)),
    },
  };
}
