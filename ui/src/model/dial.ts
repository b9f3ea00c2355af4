// The dial input: what the agent typed or pasted (any format, or a tel:/callto:/sip: link) is
// cleaned of layout characters the shell need not see, and the shell's `dial_preview` says what
// will be dialed. Parsing numbers is the shell's (libphonenumber's) job, not the UI's.

import { errorText, type Bridge } from "../bridge";
import type { DialTarget } from "../contract";

/** The longest input sent for a preview (a pasted paragraph is cut, not sent whole). */
export const MAX_DIAL_INPUT = 256;

/** The input as sent to the shell: one line, trimmed, bounded. */
export function cleanDialInput(raw: string): string {
  return raw
    .replace(/[\r\n\t\u00a0\u200b-\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]+/g, " ")
    .trim()
    .slice(0, MAX_DIAL_INPUT);
}

/** Where the dial input stands. */
export type DialState =
  | { kind: "empty" }
  | { kind: "checking"; input: string }
  | { kind: "ready"; target: DialTarget }
  | { kind: "invalid"; input: string; message: string };

/** Asks the shell what `raw` dials. */
export async function preview(bridge: Bridge, raw: string): Promise<DialState> {
  const input = cleanDialInput(raw);
  if (input === "") return { kind: "empty" };
  try {
    return { kind: "ready", target: await bridge.dialPreview(input) };
  } catch (error) {
    return { kind: "invalid", input, message: errorText(error) };
  }
}

/**
 * Dials what `raw` stands for: the preview already shown when it is for this input, else a fresh
 * one. Nothing is dialed when the shell cannot read the input.
 */
export async function dialInput(bridge: Bridge, raw: string, shown: DialState): Promise<DialState> {
  const input = cleanDialInput(raw);
  const state =
    shown.kind === "ready" && shown.target.input === input ? shown : await preview(bridge, input);
  if (state.kind !== "ready") return state;
  try {
    await bridge.dial(state.target.number);
    return state;
  } catch (error) {
    return { kind: "invalid", input, message: errorText(error) };
  }
}
