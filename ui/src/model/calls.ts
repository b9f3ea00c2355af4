// The event reducer: the engine's UiEvents in, the panel's view model out. Pure: the arrival time
// is passed in, so the timer and the wrap-up countdown are functions of plain values.

import { t } from "../i18n";
import type {
  ApiUsage,
  CallerDisplay,
  CallPhase,
  ConnectionState,
  Direction,
  LogStatus,
  Match,
  Popup,
  PopupRecord,
  UiEvent,
} from "../contract";

/** One call as the panel shows it. */
export interface CallView {
  callId: string;
  direction: Direction | null;
  /** Who is calling: from Ringing at once, then from the popup once the lookup is over. */
  caller: CallerDisplay | null;
  phase: CallPhase;
  /** When the call was answered (ms since the epoch), for the call timer. */
  answeredAt: number | null;
  /** When the call ended (ms since the epoch). */
  endedAt: number | null;
  popup: Popup | null;
  /** The Lightning page the layout popped, if any (kept so the agent can open it again). */
  popUrl: string | null;
  /** The record the agent picked or created for this call. */
  chosen: Match | null;
  /** The last action of the agent that failed, as the shell's sentence. */
  error: string | null;
}

/** The panel's whole view model. */
export interface CallsState {
  /** Calls by id, most recent last in `order`. */
  calls: { [callId: string]: CallView | undefined };
  order: string[];
  /** Log states by CallObject (call id or SMS day key). */
  logs: { [callObject: string]: LogStatus | undefined };
  connection: ConnectionState;
  apiUsage: ApiUsage | null;
  /** A failure not tied to a call. */
  error: string | null;
  /** The last change worth announcing to a screen reader (an i18n key and its values). */
  announcement: Announcement | null;
}

/** What an `aria-live` region reads out. */
export interface Announcement {
  key: string;
  values: { [name: string]: string };
  /** Increments so the same text twice is still announced. */
  seq: number;
}

/** How many ended calls stay visible (their log state shown) before they are dropped. */
export const KEEP_ENDED = 5;

export function initialCalls(): CallsState {
  return {
    calls: {},
    order: [],
    logs: {},
    connection: { state: "unknown" },
    apiUsage: null,
    error: null,
    announcement: null,
  };
}

function newCall(callId: string, phase: CallPhase): CallView {
  return {
    callId,
    direction: null,
    caller: null,
    phase,
    answeredAt: null,
    endedAt: null,
    popup: null,
    popUrl: null,
    chosen: null,
    error: null,
  };
}

function announce(state: CallsState, key: string, values: { [name: string]: string }): Announcement {
  return { key, values, seq: (state.announcement?.seq ?? 0) + 1 };
}

/** The caller's name when known, else the number. */
export function callerLabel(call: CallView): string {
  const caller = call.caller;
  if (!caller) return "";
  return caller.name ?? call.chosen?.name ?? caller.number;
}

function withCall(state: CallsState, call: CallView): CallsState {
  const order = state.order.includes(call.callId) ? state.order : [...state.order, call.callId];
  let calls = { ...state.calls, [call.callId]: call };
  // Drop the oldest ended calls beyond KEEP_ENDED.
  const ended = order.filter((id) => calls[id]?.phase.phase === "closed");
  const drop = new Set(ended.slice(0, Math.max(0, ended.length - KEEP_ENDED)));
  if (drop.size > 0) {
    calls = Object.fromEntries(Object.entries(calls).filter(([id]) => !drop.has(id)));
  }
  return { ...state, calls, order: order.filter((id) => !drop.has(id)) };
}

function phaseKey(phase: CallPhase): string {
  switch (phase.phase) {
    case "ringing":
      return phase.direction === "Inbound" ? "live.ringing_in" : "live.ringing_out";
    case "established":
      return "live.established";
    case "held":
      return "live.held";
    case "wrap_up":
      return "live.wrap_up";
    case "closed":
      return "live.closed";
  }
}

/** Applies one engine event, received at `now` (ms since the epoch). */
export function reduce(state: CallsState, event: UiEvent, now: number): CallsState {
  switch (event.event) {
    case "call_state": {
      const prev = state.calls[event.call_id] ?? newCall(event.call_id, event.phase);
      const phase = event.phase;
      const call: CallView = { ...prev, phase, error: null };
      if (phase.phase === "ringing") {
        call.direction = phase.direction;
        call.caller = prev.caller ?? phase.caller;
      }
      if (phase.phase === "established" && call.answeredAt === null) call.answeredAt = now;
      if ((phase.phase === "wrap_up" || phase.phase === "closed") && call.endedAt === null) {
        call.endedAt = now;
      }
      const next = withCall(state, call);
      return {
        ...next,
        announcement: announce(state, phaseKey(phase), { caller: callerLabel(call) }),
      };
    }
    case "popup": {
      const prev = state.calls[event.call_id] ?? newCall(event.call_id, { phase: "established" });
      const caller = event.popup.decision.caller;
      const call: CallView = { ...prev, popup: event.popup, caller };
      return withCall(state, call);
    }
    case "pop": {
      const prev = state.calls[event.call_id];
      if (!prev) return state;
      return withCall(state, { ...prev, popUrl: event.url });
    }
    case "log_state": {
      const logs = { ...state.logs, [event.call_object]: event.state };
      const key =
        event.state.state === "saved"
          ? "live.log_saved"
          : event.state.state === "failed"
            ? "live.log_failed"
            : "live.log_queued";
      return { ...state, logs, announcement: announce(state, key, {}) };
    }
    case "connection":
      return { ...state, connection: event.state };
    case "api_usage":
      return { ...state, apiUsage: { used: event.used, max: event.max } };
    case "sms_stored":
      // The SMS view reads the history again; nothing about calls changes.
      return state;
    case "action_failed": {
      const prev = event.call_id === null ? undefined : state.calls[event.call_id];
      // The sentence in the agent's language; the technical reason as the system gave it.
      const message = t(`action_failed.${event.action}`, { detail: event.message });
      const announcement = announce(state, "live.action_failed", { message });
      if (!prev) return { ...state, error: message, announcement };
      return { ...withCall(state, { ...prev, error: message }), announcement };
    }
  }
}

/** Applies the agent's own choice of record (the engine does not echo it). */
export function choose(state: CallsState, callId: string, record: Match): CallsState {
  const prev = state.calls[callId];
  if (!prev) return state;
  return withCall(state, { ...prev, chosen: record });
}

/** Forgets a failure the agent has read. */
export function dismissError(state: CallsState, callId: string | null): CallsState {
  if (callId === null) return { ...state, error: null };
  const prev = state.calls[callId];
  if (!prev) return state;
  return withCall(state, { ...prev, error: null });
}

/** Live calls (not closed), oldest first. */
export function liveCalls(state: CallsState): CallView[] {
  return state.order
    .map((id) => state.calls[id])
    .filter((c): c is CallView => c !== undefined && c.phase.phase !== "closed");
}

/** Ended calls still shown with their log state, newest first. */
export function endedCalls(state: CallsState): CallView[] {
  return state.order
    .map((id) => state.calls[id])
    .filter((c): c is CallView => c !== undefined && c.phase.phase === "closed")
    .reverse();
}

/** The ringing inbound call the popup window shows (the oldest one). */
export function ringingCall(state: CallsState): CallView | null {
  return (
    liveCalls(state).find((c) => c.phase.phase === "ringing" && c.direction === "Inbound") ?? null
  );
}

/** Seconds talked so far (0 before the answer), frozen once the call ended. */
export function talkSeconds(call: CallView, now: number): number {
  if (call.answeredAt === null) return 0;
  const end = call.endedAt ?? now;
  return Math.max(0, Math.floor((end - call.answeredAt) / 1000));
}

/** Seconds left before the wrap-up auto-save, or null when none will fire. */
export function wrapUpSecondsLeft(call: CallView, now: number): number | null {
  if (call.phase.phase !== "wrap_up" || call.phase.deadline === null) return null;
  const deadline = Date.parse(call.phase.deadline);
  if (Number.isNaN(deadline)) return null;
  return Math.max(0, Math.ceil((deadline - now) / 1000));
}

/** `m:ss`, or `h:mm:ss` past an hour. */
export function clock(seconds: number): string {
  const s = Math.max(0, Math.floor(seconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const ss = String(s % 60).padStart(2, "0");
  return h > 0 ? `${h}:${String(m).padStart(2, "0")}:${ss}` : `${m}:${ss}`;
}

/**
 * The record a chooser entry stands for, as the engine's `Match` (the popup's shown fields become
 * its fields; the engine pins it to the caller's number).
 */
export function matchOf(record: PopupRecord): Match {
  const fields: { [key: string]: string } = {};
  for (const field of record.fields) fields[field.api_name] = field.value;
  return { record: record.record, name: record.name, phones: {}, fields };
}

/** The log state of a call (its CallObject is the call id). */
export function logOf(state: CallsState, callId: string): LogStatus | null {
  return state.logs[callId] ?? null;
}
