// Event sequences as the engine sends them (serde JSON of `engine::UiEvent`), built per test.

import type { CallerDisplay, PopupRecord, UiEvent } from "../src/contract";

export const SATO: PopupRecord = {
  record: { sobject: "Contact", id: "003000000000001AAA" },
  name: "佐藤 花子",
  fields: [
    { label: "Name", api_name: "Name", value: "佐藤 花子" },
    { label: "Account Name", api_name: "Account.Name", value: "東京商事" },
    { label: "Phone", api_name: "Phone", value: "03-1234-5678" },
  ],
  exact: true,
};

export const DUPONT: PopupRecord = {
  record: { sobject: "Lead", id: "00Q000000000002AAA" },
  name: "Marie Dupont",
  fields: [
    { label: "Name", api_name: "Name", value: "Marie Dupont" },
    { label: "Company", api_name: "Company", value: "Dupont SARL" },
  ],
  exact: false,
};

export function caller(name: string | null = null): CallerDisplay {
  return { number: "03-1234-5678", e164: "+81312345678", name };
}

export function ringing(callId: string, name: string | null = null): UiEvent {
  return {
    event: "call_state",
    call_id: callId,
    phase: { phase: "ringing", direction: "Inbound", caller: caller(name) },
  };
}

export function popup(callId: string, matches: PopupRecord[], name: string | null = null): UiEvent {
  return {
    event: "popup",
    call_id: callId,
    popup: {
      decision: {
        call_type: "Inbound",
        caller: caller(name),
        call_fields: [["Ani", "03-1234-5678"]],
        matches,
        action:
          matches.length === 0
            ? { kind: "NewRecord", sobject: "Contact", defaults: [["Phone", "+81312345678"]] }
            : matches.length === 1
              ? { kind: "Record", sobject: matches[0]!.record.sobject, id: matches[0]!.record.id }
              : { kind: "Search", term: "312345678" },
        open_within: "ExistingWindow",
        handled: true,
      },
      lookup: { status: "salesforce" },
    },
  };
}

export function phase(callId: string, p: "established" | "held"): UiEvent {
  return { event: "call_state", call_id: callId, phase: { phase: p } };
}

export function wrapUp(callId: string, deadline: string | null): UiEvent {
  return { event: "call_state", call_id: callId, phase: { phase: "wrap_up", deadline } };
}

export function closed(callId: string): UiEvent {
  return { event: "call_state", call_id: callId, phase: { phase: "closed", reason: "HungUp" } };
}
