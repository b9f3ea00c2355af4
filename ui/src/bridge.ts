// The one seam between the UI and the desktop shell: a typed wrapper for every Tauri command and
// event of the contract. Nothing else in the UI calls `invoke` or `listen`. Tests replace the
// bridge with a fake through `setBridge`.

import { invoke } from "@tauri-apps/api/core";
import { listen } from "@tauri-apps/api/event";
import { openUrl } from "@tauri-apps/plugin-opener";
import { t } from "./i18n";
import type {
  AgentAction,
  AppSettings,
  AudioChoice,
  AudioDevices,
  ConnectionCheck,
  DialTarget,
  Failure,
  HistoryRow,
  Layout,
  Match,
  SalesforceSettings,
  SfEnvironment,
  SipAccount,
  SipStatus,
  SmsItem,
  SmsThread,
  Snapshot,
  UiEvent,
} from "./contract";

/** Stops listening to an event. */
export type Unlisten = () => void;

/** The views the tray may ask for. */
export type ViewName = "panel" | "history" | "sms" | "settings";

/** Every command and event of the desktop contract. A failed command rejects with a sentence. */
export interface Bridge {
  snapshot(): Promise<Snapshot>;
  act(action: AgentAction): Promise<void>;
  dialPreview(input: string): Promise<DialTarget>;
  dial(number: string): Promise<void>;
  searchRecords(query: string): Promise<Match[]>;
  history(limit: number): Promise<HistoryRow[]>;
  retryLog(callObject: string): Promise<void>;
  smsThreads(): Promise<SmsThread[]>;
  smsMessages(number: string): Promise<SmsItem[]>;
  sendSms(to: string, text: string): Promise<void>;
  settings(): Promise<AppSettings>;
  saveSettings(settings: AppSettings): Promise<AppSettings>;
  layout(): Promise<Layout>;
  saveLayout(layout: Layout): Promise<Layout>;
  importLayout(text: string): Promise<Layout>;
  exportLayout(): Promise<string>;
  salesforce(): Promise<SalesforceSettings>;
  sfSignIn(environment: SfEnvironment): Promise<void>;
  sfCheck(): Promise<ConnectionCheck>;
  sfDisconnect(): Promise<void>;
  sipAccount(): Promise<SipAccount>;
  saveSipAccount(account: SipAccount, password: string | null): Promise<SipAccount>;
  audioDevices(): Promise<AudioDevices>;
  saveAudio(choice: AudioChoice): Promise<AudioDevices>;
  testTone(output: string | null): Promise<void>;
  micMonitor(on: boolean): Promise<void>;
  /** Opens a Salesforce page in the system browser (the opener plugin; https only). */
  openPage(url: string): Promise<void>;

  onUiEvent(handler: (event: UiEvent) => void): Promise<Unlisten>;
  onSipStatus(handler: (status: SipStatus) => void): Promise<Unlisten>;
  onDialRequest(handler: (target: DialTarget) => void): Promise<Unlisten>;
  onMicLevel(handler: (level: number) => void): Promise<Unlisten>;
  onNavigate(handler: (view: ViewName) => void): Promise<Unlisten>;
}

/** A command's error as the sentence the shell sent (Tauri rejects with the `Err` string). */
export function errorText(error: unknown): string {
  if (typeof error === "string") return error;
  if (error instanceof Error) return error.message;
  if (isFailure(error)) return failureText(error);
  if (error && typeof error === "object" && "message" in error) {
    return String((error as { message: unknown }).message);
  }
  return String(error);
}

/** Whether a command's rejection is one of the shell's typed failures. */
function isFailure(error: unknown): error is Failure {
  return typeof error === "object" && error !== null && typeof (error as { kind?: unknown }).kind === "string";
}

/**
 * Whether a settings save failed only because a global shortcut could not be registered (another
 * application holds the keys): the settings themselves were saved and applied then.
 */
export function onlyShortcutsRefused(error: unknown): boolean {
  if (!isFailure(error)) return false;
  if (error.kind === "shortcut") return true;
  return error.kind === "several" && error.failures.length > 0 && error.failures.every((f) => f.kind === "shortcut");
}

/** A failure of the shell, in the agent's language (`failure.<kind>`, its fields filled in). */
export function failureText(failure: Failure): string {
  switch (failure.kind) {
    case "several":
      return failure.failures.map(failureText).join(" ");
    case "dial": {
      const { kind: _, problem, ...values } = failure;
      return t(`failure.dial_${problem}`, values);
    }
    case "shortcut":
      return t("failure.shortcut", {
        shortcut: t(`settings.shortcut_${failure.shortcut}`),
        accel: failure.accel,
        detail: failure.detail,
      });
    default: {
      const { kind, ...values } = failure;
      return t(`failure.${kind}`, values);
    }
  }
}

/** An https page, or the local emulator's http page (the demo). */
export function isPageUrl(url: string): boolean {
  return /^https:\/\/[^\s]+$/.test(url) || /^http:\/\/(127\.0\.0\.1|localhost)(:\d+)?\//.test(url);
}

const VIEWS: readonly ViewName[] = ["panel", "history", "sms", "settings"];

function on<T>(name: string, handler: (payload: T) => void): Promise<Unlisten> {
  return listen<T>(name, (event) => handler(event.payload));
}

/** The bridge to the real shell (Tauri 2 `invoke`/`listen`; args in camelCase). */
export function tauriBridge(): Bridge {
  return {
    snapshot: () => invoke("snapshot"),
    act: (action) => invoke("act", { action }),
    dialPreview: (input) => invoke("dial_preview", { input }),
    dial: (number) => invoke("dial", { number }),
    searchRecords: (query) => invoke("search_records", { query }),
    history: (limit) => invoke("history", { limit }),
    retryLog: (callObject) => invoke("retry_log", { callObject }),
    smsThreads: () => invoke("sms_threads"),
    smsMessages: (number) => invoke("sms_messages", { number }),
    sendSms: (to, text) => invoke("send_sms", { to, text }),
    settings: () => invoke("settings"),
    saveSettings: (settings) => invoke("save_settings", { settings }),
    layout: () => invoke("layout"),
    saveLayout: (layout) => invoke("save_layout", { layout }),
    importLayout: (text) => invoke("import_layout", { text }),
    exportLayout: () => invoke("export_layout"),
    salesforce: () => invoke("salesforce"),
    sfSignIn: (environment) => invoke("sf_sign_in", { environment }),
    sfCheck: () => invoke("sf_check"),
    sfDisconnect: () => invoke("sf_disconnect"),
    sipAccount: () => invoke("sip_account"),
    saveSipAccount: (account, password) => invoke("save_sip_account", { account, password }),
    audioDevices: () => invoke("audio_devices"),
    saveAudio: (choice) => invoke("save_audio", { choice }),
    testTone: (output) => invoke("test_tone", { output }),
    micMonitor: (on) => invoke("mic_monitor", { on }),
    openPage: (url) =>
      isPageUrl(url) ? openUrl(url) : Promise.reject(new Error("Only Salesforce web pages open.")),

    onUiEvent: (handler) => on("ui-event", handler),
    onSipStatus: (handler) => on("sip-status", handler),
    onDialRequest: (handler) => on("dial-request", handler),
    onMicLevel: (handler) => on<number>("mic-level", (level) => handler(Math.min(1, Math.max(0, level)))),
    onNavigate: (handler) =>
      on<string>("navigate", (view) => {
        const known = VIEWS.find((v) => v === view);
        if (known) handler(known);
      }),
  };
}

let current: Bridge | null = null;

/** The bridge in use (the real shell unless a test set another). */
export function bridge(): Bridge {
  current ??= tauriBridge();
  return current;
}

/** Replaces the bridge (tests only). */
export function setBridge(next: Bridge | null): void {
  current = next;
}
