import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { setBridge } from "../src/bridge";
import { failureText } from "../src/bridge";
import type { DialError, Failure } from "../src/contract";
import { LANGUAGES, RESOURCES, setLanguage } from "../src/i18n";
import { myDomainUrl, SettingsView } from "../src/views/SettingsView";
import { SmsView } from "../src/views/SmsView";
import { fakeBridge, type Fake } from "./fakeBridge";
import { $, change, click, mount, settle, text, type, unmount } from "./render";

let fake: Fake;
beforeEach(() => {
  setLanguage("en");
  fake = fakeBridge();
  setBridge(fake.bridge);
});
afterEach(() => {
  unmount();
  setBridge(null);
});

describe("Salesforce settings", () => {
  it("reads a My Domain address typed with or without its scheme", () => {
    expect(myDomainUrl("acme.my.salesforce.com"), "the scheme is added").toEqual({ url: "https://acme.my.salesforce.com" });
    expect(myDomainUrl("https://acme--uat.sandbox.my.salesforce.com/"), "a trailing slash is fine").toEqual({ url: "https://acme--uat.sandbox.my.salesforce.com" });
    expect(myDomainUrl("http://acme.my.salesforce.com"), "plain http is refused").toEqual({ error: "sf.my_domain_invalid" });
    expect(myDomainUrl("https://acme.my.salesforce.com/secur/login"), "a page path is refused").toEqual({ error: "sf.my_domain_invalid" });
  });

  it("signs in on My Domain, lists the check's problems, and disconnects", async () => {
    fake.bridge.sfCheck = async () => ({
      ok: false,
      problems: [{ kind: "session_ended" }, { kind: "rest_unreachable", detail: "HTTP 503" }],
      username: null,
      instance_url: null,
      api_usage: null,
    });
    await mount(<SettingsView micLevel={0} onSaved={() => undefined} />);
    await change("#sf-environment", "my_domain");
    await type("#sf-my-domain-url", "ftp://nope");
    await click("#sf-sign-in");
    expect(text("#sf-error"), "a bad address is explained").toContain("https address");
    expect(fake.bridge.sfSignIn, "nothing opens for a bad address").not.toHaveBeenCalled();
    await type("#sf-my-domain-url", "acme.my.salesforce.com");
    await click("#sf-sign-in");
    expect(fake.bridge.sfSignIn, "the browser login starts on the org's domain").toHaveBeenCalledWith({ kind: "my_domain", url: "https://acme.my.salesforce.com" });
    await click("#sf-check");
    expect([...document.querySelectorAll("#sf-problems li")].map((li) => li.textContent), "every problem is listed").toEqual([
      "The Salesforce session ended: sign in again.",
      "The REST API is not reachable: HTTP 503.",
    ]);
  });

  it("words the shell's failures in the agent's language", async () => {
    setLanguage("ja");
    fake.bridge.testTone = async () => {
      throw { kind: "no_speaker" };
    };
    await mount(<SettingsView micLevel={0} onSaved={() => undefined} />);
    await click("#test-tone");
    expect(text("#audio-error"), "a typed failure is shown in Japanese").toContain("スピーカーまたはヘッドセットが見つかりません");
    expect(
      failureText({
        kind: "several",
        failures: [
          { kind: "shortcut", shortcut: "answer", accel: "Ctrl+Q", detail: "taken" },
          { kind: "dial", problem: "too_long", len: 600 },
        ],
      }),
      "fields fill the sentence; the shortcut is named in Japanese",
    ).toBe("応答のショートカット Ctrl+Q を使用できません: taken。 入力が 600 文字あり、電話番号としては長すぎます。");
  });

  it("has a sentence for every failure the shell can report, in every language", () => {
    // A kind added in Rust and missing here fails type-checking (`npm run lint`).
    const kinds: Record<Exclude<Failure["kind"], "several" | "dial">, true> = {
      not_stored: true, name_too_short: true, search_failed: true, history_unreadable: true,
      sms_history_unreadable: true, empty_message: true, bad_region: true, bad_internal_numbers: true,
      layout_not_saved: true, layout_not_imported: true, bad_login_server: true,
      sign_in_failed: true, engine_stopped: true, disconnect_failed: true, keychain_failed: true,
      sip_account_incomplete: true, bad_ca_file: true, bad_dns_server: true, sip_restart_failed: true, no_speaker: true, no_microphone: true,
      tone_failed: true, mic_failed: true, shortcut: true, not_signed_in: true, session_ended: true,
      user_unknown: true, rest_unreachable: true,
    };
    const dialProblems: Record<DialError["problem"], true> = {
      empty: true, too_long: true, unsupported_link: true, not_a_number: true,
    };
    const keys = [...Object.keys(kinds), ...Object.keys(dialProblems).map((p) => `dial_${p}`)];
    for (const lang of LANGUAGES) {
      const failure = RESOURCES[lang].failure as Record<string, string>;
      for (const kind of keys) {
        expect(failure[kind], `${lang} words failure.${kind}`).toBeTruthy();
      }
    }
  });

  it("meters the microphone only while the test runs", async () => {
    await mount(<SettingsView micLevel={0.6} onSaved={() => undefined} />);
    expect(($("#mic-level") as HTMLMeterElement).value, "the meter rests at 0 before the test").toBe(0);
    await click("#mic-monitor");
    expect(fake.bridge.micMonitor, "the shell starts the monitor").toHaveBeenCalledWith(true);
    expect(($("#mic-level") as HTMLMeterElement).value, "the level shows while monitoring").toBe(0.6);
    expect($("#mic-monitor").getAttribute("aria-pressed"), "the toggle says it is on").toBe("true");
    unmount();
    await settle();
    expect(fake.bridge.micMonitor, "leaving the settings stops the monitor").toHaveBeenLastCalledWith(false);
  });
});

describe("SIP account", () => {
  it("offers TLS with an optional CA certificate file, asked for only with TLS", async () => {
    await mount(<SettingsView micLevel={0} onSaved={() => undefined} />);
    const options = [...($("#sip-transport") as HTMLSelectElement).options].map((o) => o.value);
    expect(options, "the three transports the agent speaks").toEqual(["udp", "tcp", "tls"]);
    expect(document.querySelector("#sip-tls-ca-file"), "no CA file field for UDP").toBeNull();
    await change("#sip-transport", "tls");
    expect(text("#sip-tls-ca-file-help"), "the check is said to be always on").toContain("always checked");
    await type("#sip-tls-ca-file", "/etc/pbx/ca.pem");
    await click("#sip-save");
    expect(fake.bridge.saveSipAccount, "TLS and the CA file are saved").toHaveBeenCalledWith(
      expect.objectContaining({ transport: "tls", tls_ca_file: "/etc/pbx/ca.pem" }),
      null,
    );
    await type("#sip-tls-ca-file", "  ");
    await click("#sip-save");
    expect(fake.bridge.saveSipAccount, "an empty field means the system's CAs only").toHaveBeenLastCalledWith(
      expect.objectContaining({ transport: "tls", tls_ca_file: null }),
      null,
    );
    await change("#sip-transport", "udp");
    expect(document.querySelector("#sip-tls-ca-file"), "the field goes with TLS").toBeNull();
  });
});

describe("SIP account's DNS server", () => {
  it("is optional, saved as typed, and a refusal is named in the agent's language", async () => {
    await mount(<SettingsView micLevel={0} onSaved={() => undefined} />);
    expect(text("#sip-dns-server-help"), "empty means the computer's resolver").toContain("Leave empty");
    await click("#sip-save");
    expect(fake.bridge.saveSipAccount, "no server by default").toHaveBeenLastCalledWith(
      expect.objectContaining({ dns_server: null }),
      null,
    );
    await type("#sip-dns-server", "10.0.0.2:5353");
    await click("#sip-save");
    expect(fake.bridge.saveSipAccount, "the server is saved").toHaveBeenLastCalledWith(
      expect.objectContaining({ dns_server: "10.0.0.2:5353" }),
      null,
    );
    vi.mocked(fake.bridge.saveSipAccount).mockRejectedValueOnce({ kind: "bad_dns_server", given: "dns.corp" });
    await type("#sip-dns-server", "dns.corp");
    await click("#sip-save");
    expect(text("#sip-error"), "the shell's refusal, with what was typed").toContain(
      "The DNS server “dns.corp” is not an IP address",
    );
  });
});

describe("SMS", () => {
  it("opens a thread and sends a reply to its number", async () => {
    fake.bridge.smsThreads = async () => [
      { number: "+82212345678", display_name: null, last_text: "안녕하세요", last_at: "2026-03-02T01:00:00Z", record: null },
    ];
    fake.bridge.smsMessages = async () => [{ direction: "Inbound", text: "안녕하세요", at: "2026-03-02T01:00:00Z" }];
    await mount(<SmsView />);
    await click('[data-testid="sms-thread-+82212345678"]');
    expect(text("#sms-messages"), "the thread's message shows").toContain("안녕하세요");
    await type("#sms-text", "네, 확인했습니다");
    await click("#sms-send");
    expect(fake.bridge.sendSms, "the reply goes to the thread's number").toHaveBeenCalledWith("+82212345678", "네, 확인했습니다");
    expect(($("#sms-text") as HTMLTextAreaElement).value, "the field empties after sending").toBe("");
    // The shell says the sent SMS is in the history: the open thread is read again and shows it.
    fake.bridge.smsMessages = async () => [
      { direction: "Inbound", text: "안녕하세요", at: "2026-03-02T01:00:00Z" },
      { direction: "Outbound", text: "네, 확인했습니다", at: "2026-03-02T01:01:00Z" },
    ];
    fake.emit.ui({ event: "sms_stored", number: "+33123456789" });
    await settle();
    expect(text("#sms-messages"), "another number's SMS does not change this thread").not.toContain("확인했습니다");
    fake.emit.ui({ event: "sms_stored", number: "+82212345678" });
    await settle();
    expect(text("#sms-messages"), "the reply shows once it is stored").toContain("네, 확인했습니다");
  });
});
