import { describe, expect, it } from "vitest";
import {
  endedCalls,
  initialCalls,
  liveCalls,
  matchOf,
  reduce,
  ringingCall,
  talkSeconds,
  wrapUpSecondsLeft,
  type CallsState,
} from "../src/model/calls";
import type { UiEvent } from "../src/contract";
import { setLanguage } from "../src/i18n";
import { closed, DUPONT, phase, popup, ringing, SATO, wrapUp } from "./fixtures";

const T0 = Date.parse("2026-03-02T09:00:00Z");

function run(events: Array<[UiEvent, number]>): CallsState {
  return events.reduce((s, [e, at]) => reduce(s, e, at), initialCalls());
}

describe("call reducer", () => {
  it("follows a call from ringing through wrap-up to a saved log", () => {
    const deadline = new Date(T0 + 95_000).toISOString();
    let s = run([
      [ringing("c1", "Hanako"), T0],
      [popup("c1", [SATO], "Hanako"), T0 + 300],
    ]);
    expect(ringingCall(s)?.callId, "an inbound ringing call is what the popup window shows").toBe("c1");
    expect(s.calls.c1?.popup?.decision.matches[0]?.name, "the popup's match is kept").toBe("佐藤 花子");
    expect(s.announcement?.key, "ringing was announced before the popup arrived").toBe("live.ringing_in");

    s = reduce(s, phase("c1", "established"), T0 + 5_000);
    expect(ringingCall(s), "an answered call no longer rings").toBeNull();
    expect(talkSeconds(s.calls.c1!, T0 + 65_000), "the timer counts from the answer").toBe(60);

    s = reduce(s, wrapUp("c1", deadline), T0 + 65_000);
    expect(s.announcement?.key, "the hang-up is announced").toBe("live.wrap_up");
    expect(talkSeconds(s.calls.c1!, T0 + 90_000), "the timer stops at the hang-up").toBe(60);
    expect(wrapUpSecondsLeft(s.calls.c1!, T0 + 65_000), "30 s of wrap-up remain").toBe(30);
    expect(liveCalls(s).map((c) => c.callId), "a call in wrap-up is still worked on").toEqual(["c1"]);

    s = reduce(s, closed("c1"), T0 + 95_000);
    s = reduce(s, { event: "log_state", call_object: "c1", state: { state: "queued" } }, T0 + 95_100);
    s = reduce(s, { event: "log_state", call_object: "c1", state: { state: "saved", task_id: "00T000000000009AAA" } }, T0 + 96_000);
    expect(liveCalls(s), "a closed call is not live").toEqual([]);
    expect(endedCalls(s).map((c) => c.callId), "the ended call stays listed with its log").toEqual(["c1"]);
    expect(s.logs.c1, "the last log state wins").toEqual({ state: "saved", task_id: "00T000000000009AAA" });
    expect(s.announcement?.key, "the saved log is announced").toBe("live.log_saved");
  });

  it("keeps the chooser's matches and turns a pick into the engine's Match", () => {
    const s = run([
      [ringing("c2"), T0],
      [popup("c2", [SATO, DUPONT]), T0 + 200],
    ]);
    expect(s.calls.c2?.popup?.decision.matches.length, "both matches offered").toBe(2);
    const m = matchOf(DUPONT);
    expect(m.record, "the picked record keeps its reference").toEqual({ sobject: "Lead", id: "00Q000000000002AAA" });
    expect(m.fields["Company"], "shown fields become the Match's fields").toBe("Dupont SARL");
  });

  it("records a failed log and its retried success", () => {
    let s = run([[{ event: "log_state", call_object: "c3", state: { state: "failed", reason: "Subject: too long" } }, T0]]);
    expect(s.logs.c3, "the failure keeps Salesforce's reason").toEqual({ state: "failed", reason: "Subject: too long" });
    expect(s.announcement?.key, "a failed log is announced").toBe("live.log_failed");
    s = reduce(s, { event: "log_state", call_object: "c3", state: { state: "saved", task_id: "00T1" } }, T0 + 1);
    expect(s.logs.c3?.state, "after the retry the log is saved").toBe("saved");
  });

  it("ties a failed action to its call, and keeps a free one at the top", () => {
    let s = run([[ringing("c4"), T0]]);
    s = reduce(s, { event: "action_failed", call_id: "c4", action: "hold", message: "488 Not Acceptable Here" }, T0 + 1);
    expect(s.calls.c4?.error, "the call shows what failed and why").toBe(
      "The call could not be put on hold: 488 Not Acceptable Here.",
    );
    s = reduce(s, { event: "action_failed", call_id: null, action: "phone", message: "no SIP account is running" }, T0 + 2);
    expect(s.error, "a failure with no call is shown once for the panel").toBe(
      "The phone is not running: no SIP account is running.",
    );
  });

  it("words a failed action in the agent's language, the technical reason kept as given", () => {
    setLanguage("ja");
    try {
      const s = reduce(
        run([[ringing("c9"), T0]]),
        { event: "action_failed", call_id: "c9", action: "transfer", message: "403 Forbidden" },
        T0 + 1,
      );
      expect(s.calls.c9?.error).toBe("通話を転送できませんでした: 403 Forbidden。");
    } finally {
      setLanguage("en");
    }
  });

  it("shows no wrap-up countdown when auto-save is off", () => {
    const s = run([
      [ringing("c5"), T0],
      [phase("c5", "established"), T0 + 1_000],
      [wrapUp("c5", null), T0 + 2_000],
    ]);
    expect(wrapUpSecondsLeft(s.calls.c5!, T0 + 3_000), "no deadline means no countdown").toBeNull();
  });

  it("drops the oldest ended calls beyond five", () => {
    const events: Array<[UiEvent, number]> = [];
    for (let i = 0; i < 8; i++) {
      events.push([ringing(`k${i}`), T0 + i], [closed(`k${i}`), T0 + i]);
    }
    const s = run(events);
    expect(endedCalls(s).map((c) => c.callId), "the five newest remain, newest first").toEqual(["k7", "k6", "k5", "k4", "k3"]);
  });
});
