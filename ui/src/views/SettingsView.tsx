// Settings: the Salesforce connection, the SIP account (write-only password), audio devices with
// a test tone and a microphone meter, the softphone layout, the behaviour switches, language,
// theme and shortcuts.

import { useEffect, useState } from "preact/hooks";
import { bridge, errorText, failureText, onlyShortcutsRefused } from "../bridge";
import type {
  AppSettings,
  AudioDevices,
  Behaviour,
  BusyPolicy,
  ConnectionCheck,
  LanguageChoice,
  SalesforceSettings,
  SfEnvironment,
  SipAccount,
  Theme,
  Transport,
} from "../contract";
import { t } from "../i18n";
import { listOf } from "../model/layout";
import { LayoutEditor } from "./LayoutEditor";
import { Notice, Toggle } from "./common";

type EnvKind = SfEnvironment["kind"];

/** The My Domain login URL as typed, or an error key. */
export function myDomainUrl(text: string): { url: string } | { error: string } {
  const s = text.trim();
  let url: URL;
  try {
    url = new URL(s.includes("://") ? s : `https://${s}`);
  } catch {
    return { error: "sf.my_domain_invalid" };
  }
  if (url.protocol !== "https:" || url.hostname === "" || url.pathname.length > 1 || url.search || url.hash) {
    return { error: "sf.my_domain_invalid" };
  }
  return { url: `https://${url.host}` };
}

function SalesforceSection() {
  const [sf, setSf] = useState<SalesforceSettings | null>(null);
  const [kind, setKind] = useState<EnvKind>("production");
  const [domain, setDomain] = useState("");
  const [check, setCheck] = useState<ConnectionCheck | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [info, setInfo] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const load = async () => {
    try {
      const s = await bridge().salesforce();
      setSf(s);
      setKind(s.environment.kind);
      if (s.environment.kind === "my_domain") setDomain(s.environment.url);
    } catch (e) {
      setError(errorText(e));
    }
  };
  useEffect(() => void load(), []);
  const run = async (what: () => Promise<void>) => {
    setBusy(true);
    setError(null);
    setInfo(null);
    try {
      await what();
    } catch (e) {
      setError(errorText(e));
    } finally {
      setBusy(false);
    }
  };
  const signIn = () =>
    run(async () => {
      let environment: SfEnvironment;
      if (kind === "my_domain") {
        const parsed = myDomainUrl(domain);
        if ("error" in parsed) {
          setError(t(parsed.error));
          return;
        }
        environment = { kind: "my_domain", url: parsed.url };
      } else {
        environment = { kind };
      }
      setInfo(t("sf.browser_opened"));
      await bridge().sfSignIn(environment);
      setInfo(t("sf.signed_in"));
      await load();
    });
  const signedIn = sf?.username != null;
  return (
    <section aria-labelledby="sf-title" class="settings-section">
      <h2 id="sf-title">{t("sf.title")}</h2>
      {sf?.username ? (
        <p id="sf-username" data-testid="sf-username">
          {t("sf.signed_in_as", { username: sf.username })}
        </p>
      ) : (
        <p class="muted" data-testid="sf-username">{t("sf.not_signed_in")}</p>
      )}
      <label for="sf-environment">{t("sf.environment")}</label>
      <select id="sf-environment" data-testid="sf-environment" value={kind} onChange={(e) => setKind((e.currentTarget as HTMLSelectElement).value as EnvKind)}>
        <option value="production">{t("sf.production")}</option>
        <option value="sandbox">{t("sf.sandbox")}</option>
        <option value="my_domain">{t("sf.my_domain")}</option>
      </select>
      {kind === "my_domain" ? (
        <>
          <label for="sf-my-domain-url">{t("sf.my_domain_url")}</label>
          <input id="sf-my-domain-url" data-testid="sf-my-domain-url" type="url" placeholder="https://example.my.salesforce.com" value={domain} onInput={(e) => setDomain((e.currentTarget as HTMLInputElement).value)} />
        </>
      ) : null}
      {sf ? (
        <p class="muted">
          {t("sf.client_id")} <code>{sf.client_id || t("sf.client_id_missing")}</code>
        </p>
      ) : null}
      <div class="actions">
        <button type="button" id="sf-sign-in" data-testid="sf-sign-in" class="primary" disabled={busy} onClick={() => void signIn()}>
          {t(signedIn ? "sf.reconnect" : "sf.sign_in")}
        </button>
        <button type="button" id="sf-check" data-testid="sf-check" disabled={busy} onClick={() => void run(async () => setCheck(await bridge().sfCheck()))}>
          {t("sf.check")}
        </button>
        <button
          type="button"
          id="sf-disconnect"
          data-testid="sf-disconnect"
          disabled={busy || !signedIn}
          onClick={() =>
            void run(async () => {
              await bridge().sfDisconnect();
              setInfo(t("sf.disconnected"));
              await load();
            })
          }
        >
          {t("sf.disconnect")}
        </button>
      </div>
      <Notice id="sf-error" kind="error" text={error} />
      <Notice id="sf-info" kind="info" text={info} />
      {check ? (
        <div id="sf-check-result" data-testid="sf-check-result" role="status">
          <p>{check.ok ? t("sf.check_ok", { username: check.username ?? "", instance: check.instance_url ?? "" }) : t("sf.check_failed")}</p>
          {check.problems.length > 0 ? (
            <ul id="sf-problems" data-testid="sf-problems">
              {check.problems.map((p, i) => (
                <li key={i}>{failureText(p)}</li>
              ))}
            </ul>
          ) : null}
        </div>
      ) : null}
    </section>
  );
}

function SipSection() {
  const [account, setAccount] = useState<SipAccount | null>(null);
  const [password, setPassword] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [info, setInfo] = useState<string | null>(null);
  useEffect(() => {
    bridge()
      .sipAccount()
      .then(setAccount, (e: unknown) => setError(errorText(e)));
  }, []);
  if (!account) {
    return (
      <section aria-labelledby="sip-title" class="settings-section">
        <h2 id="sip-title">{t("sipacc.title")}</h2>
        <Notice id="sip-error" kind="error" text={error} />
      </section>
    );
  }
  const set = (patch: Partial<SipAccount>) => setAccount({ ...account, ...patch });
  const save = async () => {
    try {
      const saved = await bridge().saveSipAccount(account, password === "" ? null : password);
      setAccount(saved ?? { ...account, has_password: account.has_password || password !== "" });
      setPassword("");
      setError(null);
      setInfo(t("sipacc.saved"));
    } catch (e) {
      setError(errorText(e));
      setInfo(null);
    }
  };
  const text = (id: string, label: string, value: string, on: (v: string) => void) => (
    <>
      <label for={id}>{label}</label>
      <input id={id} data-testid={id} type="text" autoComplete="off" value={value} onInput={(e) => on((e.currentTarget as HTMLInputElement).value)} />
    </>
  );
  // An optional field with its help below: a blank one is none.
  const optional = (id: string, label: string, help: string, value: string | null, on: (v: string | null) => void) => (
    <>
      <label for={id}>{label}</label>
      <input
        id={id}
        data-testid={id}
        type="text"
        autoComplete="off"
        spellcheck={false}
        aria-describedby={`${id}-help`}
        value={value ?? ""}
        onInput={(e) => {
          const v = (e.currentTarget as HTMLInputElement).value;
          on(v.trim() === "" ? null : v);
        }}
      />
      <p id={`${id}-help`} class="muted">
        {help}
      </p>
    </>
  );
  return (
    <section aria-labelledby="sip-title" class="settings-section">
      <h2 id="sip-title">{t("sipacc.title")}</h2>
      <div class="form-grid">
        {text("sip-user", t("sipacc.user"), account.user, (v) => set({ user: v }))}
        {text("sip-domain", t("sipacc.domain"), account.domain, (v) => set({ domain: v }))}
        {text("sip-registrar", t("sipacc.registrar"), account.registrar ?? "", (v) => set({ registrar: v.trim() === "" ? null : v }))}
        <label for="sip-transport">{t("sipacc.transport")}</label>
        <select id="sip-transport" data-testid="sip-transport" value={account.transport} onChange={(e) => set({ transport: (e.currentTarget as HTMLSelectElement).value as Transport })}>
          <option value="udp">UDP</option>
          <option value="tcp">TCP</option>
          <option value="tls">TLS</option>
        </select>
        {account.transport === "tls"
          ? optional("sip-tls-ca-file", t("sipacc.tls_ca_file"), t("sipacc.tls_ca_file_help"), account.tls_ca_file, (v) => set({ tls_ca_file: v }))
          : null}
        {optional("sip-dns-server", t("sipacc.dns_server"), t("sipacc.dns_server_help"), account.dns_server, (v) => set({ dns_server: v }))}
        <label for="sip-busy-policy">{t("sipacc.busy_policy")}</label>
        <select id="sip-busy-policy" data-testid="sip-busy-policy" value={account.busy_policy} onChange={(e) => set({ busy_policy: (e.currentTarget as HTMLSelectElement).value as BusyPolicy })}>
          <option value="ring_waiting">{t("sipacc.ring_waiting")}</option>
          <option value="reject486">{t("sipacc.reject486")}</option>
        </select>
        <label for="sip-password">{t("sipacc.password")}</label>
        <input
          id="sip-password"
          data-testid="sip-password"
          type="password"
          autoComplete="new-password"
          aria-describedby="sip-password-state"
          placeholder={account.has_password ? t("sipacc.password_keep") : ""}
          value={password}
          onInput={(e) => setPassword((e.currentTarget as HTMLInputElement).value)}
        />
      </div>
      <p id="sip-password-state" data-testid="sip-password-state" class="muted">
        {account.has_password ? t("sipacc.password_saved") : t("sipacc.password_none")}
      </p>
      <button type="button" id="sip-save" data-testid="sip-save" class="primary" onClick={() => void save()}>
        {t("sipacc.save")}
      </button>
      <Notice id="sip-error" kind="error" text={error} />
      <Notice id="sip-info" kind="info" text={info} />
    </section>
  );
}

function AudioSection(props: { micLevel: number }) {
  const [devices, setDevices] = useState<AudioDevices | null>(null);
  const [monitor, setMonitor] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [info, setInfo] = useState<string | null>(null);
  useEffect(() => {
    bridge()
      .audioDevices()
      .then(setDevices, (e: unknown) => setError(errorText(e)));
  }, []);
  // Leaving the settings stops the microphone monitor.
  useEffect(() => () => void (monitor && bridge().micMonitor(false).catch(() => undefined)), [monitor]);
  if (!devices) {
    return (
      <section aria-labelledby="audio-title" class="settings-section">
        <h2 id="audio-title">{t("audio.title")}</h2>
        <Notice id="audio-error" kind="error" text={error} />
      </section>
    );
  }
  const choice = devices.choice;
  const select = (id: string, label: string, names: string[], value: string | null, on: (v: string | null) => void) => (
    <>
      <label for={id}>{label}</label>
      <select id={id} data-testid={id} value={value ?? ""} onChange={(e) => on((e.currentTarget as HTMLSelectElement).value || null)}>
        <option value="">{t("audio.system_default")}</option>
        {names.map((n) => (
          <option key={n} value={n}>
            {n}
          </option>
        ))}
      </select>
    </>
  );
  const set = (patch: Partial<typeof choice>) => setDevices({ ...devices, choice: { ...choice, ...patch } });
  const run = async (what: () => Promise<void>, done?: string) => {
    try {
      await what();
      setError(null);
      setInfo(done ?? null);
    } catch (e) {
      setError(errorText(e));
      setInfo(null);
    }
  };
  return (
    <section aria-labelledby="audio-title" class="settings-section">
      <h2 id="audio-title">{t("audio.title")}</h2>
      <div class="form-grid">
        {select("audio-input", t("audio.input"), devices.inputs, choice.input, (v) => set({ input: v }))}
        {select("audio-output", t("audio.output"), devices.outputs, choice.output, (v) => set({ output: v }))}
        {select("audio-ringer", t("audio.ringer"), devices.outputs, choice.ringer, (v) => set({ ringer: v }))}
      </div>
      <div class="actions">
        <button type="button" id="audio-save" data-testid="audio-save" class="primary" onClick={() => void run(async () => void (await bridge().saveAudio(choice)), t("audio.saved"))}>
          {t("audio.save")}
        </button>
        <button type="button" id="test-tone" data-testid="test-tone" onClick={() => void run(() => bridge().testTone(choice.output))}>
          {t("audio.test_tone")}
        </button>
        <button
          type="button"
          id="mic-monitor"
          data-testid="mic-monitor"
          aria-pressed={monitor}
          onClick={() =>
            void run(async () => {
              await bridge().micMonitor(!monitor);
              setMonitor(!monitor);
            })
          }
        >
          {t(monitor ? "audio.mic_stop" : "audio.mic_test")}
        </button>
      </div>
      <label for="mic-level">{t("audio.mic_level")}</label>
      <meter id="mic-level" data-testid="mic-level" min={0} max={1} low={0.1} high={0.9} optimum={0.5} value={monitor ? props.micLevel : 0} />
      <Notice id="audio-error" kind="error" text={error} />
      <Notice id="audio-info" kind="info" text={info} />
    </section>
  );
}

const BEHAVIOUR_SWITCHES: Array<[keyof Behaviour & string, string]> = [
  ["auto_save_call_logs", "behaviour.auto_save_call_logs"],
  ["auto_save_sms", "behaviour.auto_save_sms"],
  ["editable_who", "behaviour.editable_who"],
  ["ignore_internal_calls", "behaviour.ignore_internal_calls"],
  ["log_queue_calls_to_answering_agent", "behaviour.log_queue_calls"],
  ["classic_search_pop", "behaviour.classic_search_pop"],
];

function GeneralSection(props: { onSaved: (s: AppSettings) => void }) {
  const [settings, setSettings] = useState<AppSettings | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [info, setInfo] = useState<string | null>(null);
  const [related, setRelated] = useState("");
  useEffect(() => {
    bridge()
      .settings()
      .then(
        (s) => {
          setSettings(s);
          setRelated(s.behaviour.related_to_objects.join(", "));
        },
        (e: unknown) => setError(errorText(e)),
      );
  }, []);
  if (!settings) {
    return (
      <section aria-labelledby="general-title" class="settings-section">
        <h2 id="general-title">{t("settings.general")}</h2>
        <Notice id="settings-error" kind="error" text={error} />
      </section>
    );
  }
  const b = settings.behaviour;
  const setB = (patch: Partial<Behaviour>) => setSettings({ ...settings, behaviour: { ...b, ...patch } });
  const save = async () => {
    const next: AppSettings = { ...settings, behaviour: { ...b, related_to_objects: listOf(related) } };
    try {
      const saved = (await bridge().saveSettings(next)) ?? next;
      setSettings(saved);
      setError(null);
      setInfo(t("settings.saved"));
      props.onSaved(saved);
    } catch (e) {
      setError(errorText(e));
      // A shortcut another application holds does not undo the save: say both.
      const kept = onlyShortcutsRefused(e);
      setInfo(kept ? t("settings.saved") : null);
      if (kept) props.onSaved(next);
    }
  };
  return (
    <section aria-labelledby="general-title" class="settings-section">
      <h2 id="general-title">{t("settings.general")}</h2>
      <div class="form-grid">
        <label for="language">{t("settings.language")}</label>
        <select id="language" data-testid="language" value={settings.language} onChange={(e) => setSettings({ ...settings, language: (e.currentTarget as HTMLSelectElement).value as LanguageChoice })}>
          <option value="system">{t("settings.language_system")}</option>
          <option value="en">English</option>
          <option value="ja">日本語</option>
          <option value="fr">Français</option>
          <option value="ko">한국어</option>
        </select>
        <label for="theme">{t("settings.theme")}</label>
        <select id="theme" data-testid="theme" value={settings.theme} onChange={(e) => setSettings({ ...settings, theme: (e.currentTarget as HTMLSelectElement).value as Theme })}>
          <option value="system">{t("settings.theme_system")}</option>
          <option value="light">{t("settings.theme_light")}</option>
          <option value="dark">{t("settings.theme_dark")}</option>
        </select>
        <label for="region">{t("settings.region")}</label>
        <input id="region" data-testid="region" type="text" maxLength={2} value={settings.region} onInput={(e) => setSettings({ ...settings, region: (e.currentTarget as HTMLInputElement).value.toUpperCase() })} />
        <label for="shortcut-answer">{t("settings.shortcut_answer")}</label>
        <input id="shortcut-answer" data-testid="shortcut-answer" type="text" value={settings.shortcuts.answer} onInput={(e) => setSettings({ ...settings, shortcuts: { ...settings.shortcuts, answer: (e.currentTarget as HTMLInputElement).value } })} />
        <label for="shortcut-hangup">{t("settings.shortcut_hang_up")}</label>
        <input id="shortcut-hangup" data-testid="shortcut-hangup" type="text" value={settings.shortcuts.hang_up} onInput={(e) => setSettings({ ...settings, shortcuts: { ...settings.shortcuts, hang_up: (e.currentTarget as HTMLInputElement).value } })} />
      </div>
      <fieldset>
        <legend>{t("behaviour.title")}</legend>
        {BEHAVIOUR_SWITCHES.map(([key, label]) => (
          <Toggle key={key} id={`behaviour-${key}`} label={t(label)} checked={b[key] === true} onChange={(on) => setB({ [key]: on })} />
        ))}
        <label for="behaviour-wrap_up_seconds">{t("behaviour.wrap_up_seconds")}</label>
        <input
          id="behaviour-wrap_up_seconds"
          data-testid="behaviour-wrap_up_seconds"
          type="number"
          min={0}
          max={3600}
          value={b.wrap_up_seconds}
          onInput={(e) => {
            const v = Number((e.currentTarget as HTMLInputElement).value);
            if (Number.isFinite(v) && v >= 0) setB({ wrap_up_seconds: Math.floor(v) });
          }}
        />
        <label for="behaviour-related_to_objects">{t("behaviour.related_to_objects")}</label>
        <input id="behaviour-related_to_objects" data-testid="behaviour-related_to_objects" type="text" value={related} onInput={(e) => setRelated((e.currentTarget as HTMLInputElement).value)} />
      </fieldset>
      <button type="button" id="settings-save" data-testid="settings-save" class="primary" onClick={() => void save()}>
        {t("settings.save")}
      </button>
      <Notice id="settings-error" kind="error" text={error} />
      <Notice id="settings-info" kind="info" text={info} />
    </section>
  );
}

export function SettingsView(props: { micLevel: number; onSaved: (s: AppSettings) => void }) {
  return (
    <div class="settings">
      <GeneralSection onSaved={props.onSaved} />
      <SalesforceSection />
      <SipSection />
      <AudioSection micLevel={props.micLevel} />
      <LayoutEditor />
    </div>
  );
}
