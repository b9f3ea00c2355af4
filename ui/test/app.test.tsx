import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { App } from "../src/App";
import { setBridge } from "../src/bridge";
import type { AppSettings, HistoryRow } from "../src/contract";
import { setLanguage } from "../src/i18n";
import { fr } from "../src/locales/fr";
import { fakeBridge, type Fake } from "./fakeBridge";
import { closed, DUPONT, phase, popup, ringing, SATO, wrapUp } from "./fixtures";
import { $, change, click, key, mount, settle, text, type, unmount } from "./render";

const XSS = "<img src=x onerror=alert(1)>";

let fake: Fake;
beforeEach(() => {
  setLanguage("en");
  fake = fakeBridge();
  setBridge(fake.bridge);
});
afterEach(() => {
  unmount();
  setBridge(null);
  delete (window as { pwned?: boolean }).pwned;
});

async function emit(...events: Parameters<Fake["emit"]["ui"]>[0][]): Promise<void> {
  for (const e of events) fake.emit.ui(e);
  await settle();
}

describe("panel", () => {
  it("shows the SIP and Salesforce state and the API usage from the snapshot", async () => {
    await mount(<App mode="main" />);
    expect(text("#sip-status"), "registered SIP shows ready").toBe("Phone: ready");
    expect(text("#sf-status"), "the engine's connection state").toBe("Salesforce: connected");
    expect(($("#api-usage") as HTMLMeterElement).getAttribute("value"), "1,200 of 15,000 is 8 %").toBe("8");
    fake.emit.sip({ state: "failed", reason: "403 Forbidden", kind: "credentials", local_addr: null });
    await settle();
    expect(text("#sip-status"), "a failed registration says what is wrong, then the registrar's words").toBe(
      "Phone: the user name or password is refused (403 Forbidden)",
    );
    setLanguage("ja");
    fake.emit.sip({ state: "failed", reason: "nowhere.example not found in DNS (no record)", kind: "unknown_host", local_addr: null });
    await settle();
    expect(text("#sip-status"), "in the agent's language, the technical words kept").toBe(
      "電話: PBX のアドレスが DNS に見つかりません（nowhere.example not found in DNS (no record)）",
    );
    fake.emit.sip({
      state: "failed",
      reason: "TLS to 127.0.0.1:5061: its certificate is not signed by a trusted CA",
      kind: "certificate_untrusted",
      local_addr: null,
    });
    await settle();
    expect(text("#sip-status"), "which certificate problem it is, and what to do, in Japanese").toContain(
      "電話: PBX の証明書は信頼できる認証局の署名がありません（プライベート CA の場合は設定で CA 証明書ファイルを指定してください）",
    );
    setLanguage("ko");
    fake.emit.sip({ state: "failed", reason: "TLS to 127.0.0.1:5061: its certificate has expired", kind: "certificate_expired", local_addr: null });
    await settle();
    expect(text("#sip-status"), "an expired certificate, in Korean").toContain("PBX 인증서가 만료되었습니다");
    setLanguage("en");
    fake.emit.sip({ state: "failed", reason: "403 Forbidden", kind: "credentials", local_addr: null });
    await settle();
    expect(document.querySelector("#sf-reconnect"), "no sign-in prompt while connected").toBeNull();
    await emit({ event: "connection", state: { state: "reconnect_needed" } });
    expect(text("#sf-status"), "an ended session says so").toBe("Salesforce: sign in again");
    await click("#sf-reconnect");
    expect($("#nav-settings").getAttribute("aria-current"), "the prompt leads to the Salesforce settings").toBe("page");
  });

  it("says when nobody is signed in to Salesforce and offers the sign-in", async () => {
    await mount(<App mode="main" />);
    await emit({ event: "connection", state: { state: "not_signed_in" } });
    expect(text("#sf-status"), "no session is not 'checking' for ever").toBe("Salesforce: not signed in");
    expect(text("#sf-reconnect"), "a first sign-in, not 'again'").toBe("Sign in");
    setLanguage("ko");
    await emit({ event: "connection", state: { state: "not_signed_in" } });
    expect(text("#sf-status"), "in the agent's language").toBe("Salesforce: 로그인하지 않음");
    setLanguage("en");
    await click("#sf-reconnect");
    expect($("#nav-settings").getAttribute("aria-current"), "it leads to the Salesforce settings").toBe("page");
    await emit({ event: "connection", state: { state: "connected" } });
    expect(document.querySelector("#sf-reconnect"), "no prompt once connected").toBeNull();
  });

  it("says what kind of Salesforce trouble it is in the agent's language, the stack's words after it", async () => {
    await mount(<App mode="main" />);
    setLanguage("ja");
    await emit({ event: "connection", state: { state: "offline", kind: "timeout", reason: "request timed out: GET /services/data" } });
    expect(text("#sf-status"), "the kind in Japanese, the detail kept").toBe(
      "Salesforce オフライン: 時間内に応答がありません（request timed out: GET /services/data）",
    );
    setLanguage("fr");
    await emit({ event: "connection", state: { state: "offline", kind: "server_error", reason: "Salesforce answered 503: SERVER_UNAVAILABLE" } });
    expect(text("#sf-status"), "an outage, in French").toBe(
      "Salesforce hors ligne : le service est en panne ou en maintenance (Salesforce answered 503: SERVER_UNAVAILABLE)",
    );
    const failed = popup("c9", []);
    if (failed.event !== "popup") throw new Error("fixture");
    failed.popup.lookup = { status: "failed", kind: "unreachable", reason: "connection failed: refused" };
    await emit(ringing("c9"), failed);
    expect(text("#lookup-failed"), "a failed lookup says why in French").toBe(
      "La recherche Salesforce a échoué : injoignable (vérifiez le réseau) (connection failed: refused)",
    );
    setLanguage("ko");
    const withheld = popup("c10", []);
    if (withheld.event !== "popup") throw new Error("fixture");
    withheld.popup.lookup = { status: "no_number" };
    await emit(closed("c9"), ringing("c10"), withheld);
    expect(text("#lookup-failed"), "a withheld number is not a Salesforce failure").toBe(
      "발신 번호가 표시되지 않거나 알 수 없어 검색할 수 없습니다.",
    );
  });

  it("shows a hostile display name as text in the panel and the popup", async () => {
    const root = await mount(<App mode="main" />);
    await emit(ringing("x1", XSS));
    expect(text("#call-caller"), "the panel shows the name literally").toContain(XSS);
    expect(root.querySelector("img"), "no element is made from the name").toBeNull();
    unmount();
    const popupRoot = await mount(<App mode="popup" />);
    await emit(ringing("x1", XSS), popup("x1", [], XSS));
    expect(text("#popup-caller"), "the popup shows the name literally").toContain(XSS);
    expect(popupRoot.querySelector("img"), "no element in the popup either").toBeNull();
  });

  it("answers a ringing call, times it, and saves the log in wrap-up", async () => {
    await mount(<App mode="main" />);
    await emit(ringing("c1", "Hanako"), popup("c1", [SATO], "Hanako"));
    expect(text("#announcer"), "the ringing is announced to screen readers").toBe("Incoming call from Hanako");
    expect(text('[data-testid="record-003000000000001AAA"]'), "the layout's fields are shown").toContain("東京商事");
    await click("#answer");
    expect(fake.bridge.act, "Answer sends the action for this call").toHaveBeenCalledWith({ action: "answer", call_id: "c1" });
    await emit(phase("c1", "established"));
    expect(text("#call-timer"), "the timer starts at 0:00").toBe("0:00");
    await type("#notes", "Wants a callback on Monday");
    await emit(wrapUp("c1", new Date(Date.now() + 45_000).toISOString()));
    expect(text("#wrapup-countdown"), "auto-save counts down").toMatch(/^Saves by itself in 0:4\d$/);
    expect(document.querySelector("#discard-log"), "no discard while auto-save is on").toBeNull();
    await click("#save-log");
    expect(fake.bridge.act, "the notes are sent before the save").toHaveBeenCalledWith({ action: "notes", call_id: "c1", text: "Wants a callback on Monday" });
    expect(fake.bridge.act, "Save sends the save action").toHaveBeenLastCalledWith({ action: "save", call_id: "c1" });
    await emit(
      { event: "call_state", call_id: "c1", phase: { phase: "closed", reason: "HungUp" } },
      { event: "log_state", call_object: "c1", state: { state: "saved", task_id: "00T000000000001AAA" } },
    );
    expect(text('[data-testid="recent-log-c1"]'), "the ended call shows its saved log").toBe("Log saved");
  });

  it("offers save and discard when auto-save is off", async () => {
    await mount(<App mode="main" />);
    await emit(ringing("c2"), phase("c2", "established"), wrapUp("c2", null));
    expect(document.querySelector("#wrapup-countdown"), "no countdown without a deadline").toBeNull();
    await click("#discard-log");
    expect(fake.bridge.act, "Discard sends the discard action").toHaveBeenLastCalledWith({ action: "discard", call_id: "c2" });
  });

  it("lets the agent pick among several matches", async () => {
    await mount(<App mode="main" />);
    await emit(ringing("c3"), popup("c3", [SATO, DUPONT]));
    expect(text("#record-chooser"), "the chooser says how many match").toContain("2 records match");
    await click('[data-testid="pick-00Q000000000002AAA"]');
    expect(fake.bridge.act, "the pick becomes pick_record with the Match").toHaveBeenCalledWith({
      action: "pick_record",
      call_id: "c3",
      record: {
        record: { sobject: "Lead", id: "00Q000000000002AAA" },
        name: "Marie Dupont",
        phones: {},
        fields: { Name: "Marie Dupont", Company: "Dupont SARL" },
      },
    });
    expect(text('[data-testid="chosen-record"]'), "the card says who the call is about").toContain("Marie Dupont");
    expect($('[data-testid="pick-00Q000000000002AAA"]').getAttribute("aria-pressed"), "the picked entry is marked").toBe("true");
  });

  it("links a record created for an unknown caller", async () => {
    await mount(<App mode="main" />);
    await emit(ringing("c4", "New Person"), popup("c4", [], "New Person"), {
      event: "pop",
      call_id: "c4",
      url: "https://acme.lightning.force.com/lightning/o/Contact/new?defaultFieldValues=Phone=%2B81312345678",
      new_window: false,
    });
    await click("#new-lead");
    expect(fake.bridge.openPage, "New Lead opens the lead form with the same prefill").toHaveBeenCalledWith(
      "https://acme.lightning.force.com/lightning/o/Lead/new?defaultFieldValues=Phone=%2B81312345678",
    );
    await type("#created-record", "https://acme.lightning.force.com/lightning/r/Lead/00Q5g00000ABCDEFGH/view");
    await click("#created-record-save");
    expect(fake.bridge.act, "the created record is reported").toHaveBeenCalledWith({
      action: "record_created",
      call_id: "c4",
      record: { record: { sobject: "Lead", id: "00Q5g00000ABCDEFGH" }, name: "New Person", phones: {}, fields: {} },
    });
    await type("#created-record", "not a record");
    await click("#created-record-save");
    expect(text("#created-record-error"), "bad input gets a sentence").toContain("not a link or Id");
  });

  it("holds, resumes, mutes, sends DTMF and transfers during a call", async () => {
    await mount(<App mode="main" />);
    await emit(ringing("t1"), phase("t1", "established"));
    expect(document.querySelector("#dial-input"), "the dial pad gives way to the call's controls").toBeNull();
    await click("#hold");
    expect(fake.bridge.act, "hold").toHaveBeenLastCalledWith({ action: "hold", call_id: "t1" });
    await emit(phase("t1", "held"));
    expect(text('[data-testid="call-phase"]'), "the card says on hold").toBe("On hold");
    await click("#resume");
    expect(fake.bridge.act, "resume").toHaveBeenLastCalledWith({ action: "resume", call_id: "t1" });
    await click("#mute");
    expect(fake.bridge.act, "mute on").toHaveBeenLastCalledWith({ action: "mute", call_id: "t1", muted: true });
    expect($("#mute").getAttribute("aria-pressed"), "the mute button shows it is on").toBe("true");
    await click("#mute");
    expect(fake.bridge.act, "mute off").toHaveBeenLastCalledWith({ action: "mute", call_id: "t1", muted: false });
    await click("#dtmf-toggle");
    await click("#dtmf-key-hash");
    expect(fake.bridge.act, "a keypad press sends the tone").toHaveBeenLastCalledWith({ action: "send_dtmf", call_id: "t1", digits: "#" });
    await type("#transfer-input", " 2001 ");
    await click("#transfer-button");
    expect(fake.bridge.act, "transfer to the typed target").toHaveBeenLastCalledWith({ action: "transfer", call_id: "t1", target: "2001" });
  });

  it("finds another contact by name and picks it", async () => {
    fake.bridge.searchRecords = async (q: string) =>
      q === "Kim"
        ? [{ record: { sobject: "Contact", id: "003000000000077AAA" }, name: "Kim Minjun", phones: {}, fields: {} }]
        : [];
    await mount(<App mode="main" />);
    await emit(ringing("s1"), popup("s1", [SATO]));
    await type("#record-search", "Kim");
    await key($("#record-search"), "Enter");
    await click('[data-testid="pick-003000000000077AAA"]');
    expect(fake.bridge.act, "the found record is picked").toHaveBeenLastCalledWith({
      action: "pick_record",
      call_id: "s1",
      record: { record: { sobject: "Contact", id: "003000000000077AAA" }, name: "Kim Minjun", phones: {}, fields: {} },
    });
    expect(text('[data-testid="chosen-record"]'), "the card names the pick").toContain("Kim Minjun");
  });

  it("shows an action the shell refused on the call's card", async () => {
    fake.bridge.act = async () => {
      throw "The call has already ended.";
    };
    await mount(<App mode="main" />);
    await emit(ringing("c5"));
    await click("#answer");
    expect(text("#call-error"), "the shell's sentence is shown").toBe("The call has already ended.");
  });
});

describe("popup window", () => {
  it("shows the ringing caller with matches, answers, and empties once answered", async () => {
    await mount(<App mode="popup" />);
    expect(text('[data-testid="popup-idle"]'), "nothing rings yet").toBe("No call is ringing.");
    await emit(ringing("p1", "Hanako"));
    expect(text("#popup-caller"), "the caller is shown before the lookup ends").toContain("Hanako");
    expect(text('[data-testid="popup-records"]'), "the lookup is under way").toBe("Looking up the caller…");
    await emit(popup("p1", [SATO, DUPONT], "Hanako"));
    expect(text('[data-testid="popup-records"]'), "both matches with their fields").toContain("Dupont SARL");
    await click("#answer");
    expect(fake.bridge.act, "answer from the popup").toHaveBeenCalledWith({ action: "answer", call_id: "p1" });
    await emit(phase("p1", "established"));
    expect(document.querySelector("#popup-caller"), "an answered call leaves the popup").toBeNull();
  });
});

describe("dial request", () => {
  it("asks before dialing a clicked link, keeps focus inside, and closes with Esc", async () => {
    await mount(<App mode="main" />);
    const before = $("#nav-history");
    before.focus();
    fake.emit.dialRequest({ input: "tel:+81312345678", number: "+81312345678", display: "+81 3-1234-5678", internal: false });
    await settle();
    expect(text("#dial-request-text"), "the agent is asked").toBe("Call +81 3-1234-5678?");
    expect(document.activeElement?.id, "focus moves to Call").toBe("confirm-dial");
    await key(document.activeElement, "Tab");
    expect(document.activeElement?.id, "Tab goes to Cancel").toBe("cancel-dial");
    await key(document.activeElement, "Tab");
    expect(document.activeElement?.id, "Tab wraps inside the dialog").toBe("confirm-dial");
    await key(document.activeElement, "Tab", { shiftKey: true });
    expect(document.activeElement?.id, "Shift+Tab wraps backwards").toBe("cancel-dial");
    await key(document.activeElement, "Escape");
    expect(document.querySelector("#dial-request"), "Esc closes the dialog").toBeNull();
    expect(document.activeElement?.id, "focus returns where it was").toBe("nav-history");
    expect(fake.bridge.dial, "nothing was dialed").not.toHaveBeenCalled();
  });

  it("dials the confirmed number", async () => {
    await mount(<App mode="main" />);
    fake.emit.dialRequest({ input: "callto:1001", number: "1001", display: "1001", internal: true });
    await settle();
    await click("#confirm-dial");
    expect(fake.bridge.dial, "Call dials the shell's number").toHaveBeenCalledWith("1001");
    expect(document.querySelector("#dial-request"), "the dialog closes").toBeNull();
  });
});

describe("history", () => {
  it("shows each log's state and retries a failed one", async () => {
    const rows: HistoryRow[] = [
      {
        call_id: "h1",
        call_object: "h1",
        direction: "Inbound",
        number: "+33 1 23 45 67 89",
        display_name: null,
        started_at: "2026-03-02T09:00:00Z",
        duration_s: 125,
        record: null,
        disposition: "Interested",
        log: { state: "failed", reason: "Subject: data value too large" },
      },
      {
        call_id: "h2",
        call_object: "h2",
        direction: "Outbound",
        number: "+82 2-123-4567",
        display_name: "김민준",
        started_at: "2026-03-02T10:00:00Z",
        duration_s: 30,
        record: null,
        disposition: null,
        log: { state: "queued" },
      },
    ];
    fake.bridge.history = async () => rows;
    await mount(<App mode="main" />);
    await click("#nav-history");
    expect(text('[data-testid="history-log-h1"]'), "the failure and Salesforce's reason").toBe("Log failed: Subject: data value too large");
    expect(text('[data-testid="history-log-h2"]'), "a queued log says so").toBe("Log waiting to be sent");
    expect(document.querySelector('[data-testid="retry-h2"]'), "only failed logs can be retried").toBeNull();
    await click('[data-testid="retry-h1"]');
    expect(fake.bridge.retryLog, "retry sends the CallObject").toHaveBeenCalledWith("h1");
    await emit({ event: "log_state", call_object: "h1", state: { state: "saved", task_id: "00T1" } });
    expect(text('[data-testid="history-log-h1"]'), "the row follows the log's new state").toBe("Log saved");
  });
});

describe("navigation and settings", () => {
  it("follows the tray's navigate event and switches language on save", async () => {
    await mount(<App mode="main" />);
    fake.emit.navigate("settings");
    await settle();
    expect($("#nav-settings").getAttribute("aria-current"), "the tray opened the settings").toBe("page");
    await change("#language", "ja");
    await click("#settings-save");
    expect(fake.state.settings.language, "the choice was saved through the shell").toBe("ja");
    expect(text("#nav-panel"), "the UI now speaks Japanese").toBe("電話");
    expect(document.documentElement.lang, "the document language follows").toBe("ja");
  });

  it("says a save with a shortcut another application holds is saved, and why the shortcut is not", async () => {
    await mount(<App mode="main" />);
    await click("#nav-settings");
    vi.mocked(fake.bridge.saveSettings).mockImplementationOnce(async (s: AppSettings) => {
      fake.state.settings = structuredClone(s);
      throw { kind: "shortcut", shortcut: "answer", accel: "CommandOrControl+Shift+A", detail: "already registered" };
    });
    await change("#language", "fr");
    await click("#settings-save");
    expect(text("#settings-info"), "the settings were saved (said in the language of the moment)").toBe("Settings saved.");
    expect(text("#settings-error"), "and the shortcut's problem is named").toContain("CommandOrControl+Shift+A");
    expect(text("#nav-panel"), "the saved language applies at once").toBe(fr.nav.panel);
    vi.mocked(fake.bridge.saveSettings).mockImplementationOnce(async () => {
      throw { kind: "not_stored", detail: "disk full" };
    });
    await click("#settings-save");
    expect(document.querySelector("#settings-info"), "any other failure is no save").toBeNull();
  });

  it("keeps the SIP password write-only", async () => {
    await mount(<App mode="main" />);
    await click("#nav-settings");
    expect(($("#sip-password") as HTMLInputElement).value, "a saved password is never shown").toBe("");
    expect(text("#sip-password-state"), "only the fact that one is saved").toContain("saved in the system keychain");
    await click("#sip-save");
    expect(fake.bridge.saveSipAccount, "an empty field keeps the saved password (null)").toHaveBeenCalledWith(
      expect.objectContaining({ user: "1001" }),
      null,
    );
  });
});
