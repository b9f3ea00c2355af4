// Records the agent links by hand, and the log's subject as the engine will write it.

import type { Behaviour, Language, Match } from "../contract";
import type { CallView } from "./calls";

/** Object key prefixes of the standard objects a caller can be (Salesforce's fixed prefixes). */
const PREFIXES: { [prefix: string]: string } = { "003": "Contact", "00Q": "Lead", "001": "Account" };

const ID = /^[a-zA-Z0-9]{15}(?:[a-zA-Z0-9]{3})?$/;

/**
 * The record the agent created, from its Lightning URL (`…/lightning/r/Contact/003…/view`) or its
 * Id (15 or 18 characters of a Contact, Lead or Account), as the engine's `Match`; null when the
 * text is neither.
 */
export function linkedRecord(text: string, name: string): Match | null {
  const s = text.trim();
  let sobject: string | undefined;
  let id: string | undefined;
  const url = /\/lightning\/r\/([A-Za-z][A-Za-z0-9_]*)\/([A-Za-z0-9]{15,18})(?:\/|$|\?)/.exec(s);
  if (url) {
    sobject = url[1];
    id = url[2];
  } else if (ID.test(s)) {
    id = s;
    sobject = PREFIXES[s.slice(0, 3)];
  }
  if (!sobject || !id || !ID.test(id)) return null;
  return { record: { sobject, id }, name: name.trim() || id, phones: {}, fields: {} };
}

/**
 * The new-record page for `sobject` with the same prefilled values as the layout's new-record
 * pop (`/lightning/o/<Object>/new?defaultFieldValues=…`), or null when `popUrl` is another page.
 */
export function newRecordUrl(popUrl: string, sobject: "Contact" | "Lead"): string | null {
  const m = /^(.*\/lightning\/o\/)[A-Za-z][A-Za-z0-9_]*(\/new(?:\?.*)?)$/.exec(popUrl);
  if (!m) return null;
  return `${m[1]}${sobject}${m[2]}`;
}

/** The subject the log gets, from the agent's templates ({number}, {name}; {{ }} for braces). */
export function subjectFor(behaviour: Behaviour, language: Language, call: CallView): string | null {
  const templates = behaviour.subject_templates[behaviour.language] ?? behaviour.subject_templates[language];
  // The engine's default templates are its own; without the agent's, no subject is guessed.
  if (!templates || !call.caller) return null;
  const callType = call.popup?.decision.call_type ?? (call.direction === "Outbound" ? "Outbound" : "Inbound");
  const template =
    callType === "Internal"
      ? templates.internal
      : callType === "Outbound"
        ? templates.outbound
        : call.answeredAt === null
          ? templates.missed
          : templates.inbound;
  const number = call.caller.number;
  // As `cti::compose_call_task`: the record the log is about, else the number.
  const matches = call.popup?.decision.matches ?? [];
  const name = call.chosen?.name ?? (matches.length === 1 ? matches[0]?.name : undefined) ?? number;
  return template
    .replaceAll("{{", "\u0000")
    .replaceAll("}}", "\u0001")
    .replaceAll("{number}", number)
    .replaceAll("{name}", name)
    .replaceAll("\u0000", "{")
    .replaceAll("\u0001", "}");
}
