// The app: loads the shell's snapshot, replays its calls, listens to the shell's events, and shows
// the panel, history, SMS or settings (main window) or the incoming-call popup (popup window).

import { useEffect, useRef, useState } from "preact/hooks";
import { bridge, errorText, type ViewName } from "./bridge";
import type { AppSettings, DialTarget, Match, SipStatus, Theme, UiEvent } from "./contract";
import { effectiveLanguage, setLanguage, t } from "./i18n";
import { choose, dismissError, initialCalls, liveCalls, reduce, ringingCall, type CallsState } from "./model/calls";
import { Dialog, Notice } from "./views/common";
import { HistoryView } from "./views/HistoryView";
import { PanelView, StatusBar } from "./views/Panel";
import { PopupView } from "./views/PopupView";
import { SettingsView } from "./views/SettingsView";
import { SmsView } from "./views/SmsView";

export type Mode = "main" | "popup";

/** Applies the theme: `system` follows `prefers-color-scheme`. */
export function applyTheme(theme: Theme): void {
  document.documentElement.dataset["theme"] = theme;
}

const NAV: Array<[ViewName, string]> = [
  ["panel", "nav.panel"],
  ["history", "nav.history"],
  ["sms", "nav.sms"],
  ["settings", "nav.settings"],
];

function DialRequest(props: { target: DialTarget; onClose: () => void }) {
  const [error, setError] = useState<string | null>(null);
  const call = async () => {
    try {
      await bridge().dial(props.target.number);
      props.onClose();
    } catch (e) {
      setError(errorText(e));
    }
  };
  return (
    <Dialog id="dial-request" title={t("dial.confirm_title")} onClose={props.onClose}>
      <p id="dial-request-text" data-testid="dial-request-text">
        {t("dial.confirm", { display: props.target.display })}
      </p>
      <Notice id="dial-request-error" kind="error" text={error} />
      <div class="actions">
        <button type="button" id="confirm-dial" data-testid="confirm-dial" class="primary call" onClick={() => void call()}>
          {t("dial.call")}
        </button>
        <button type="button" id="cancel-dial" data-testid="cancel-dial" onClick={props.onClose}>
          {t("common.cancel")}
        </button>
      </div>
    </Dialog>
  );
}

export function App(props: { mode: Mode }) {
  const [calls, setCalls] = useState<CallsState>(initialCalls);
  const [sip, setSip] = useState<SipStatus | null>(null);
  const [view, setView] = useState<ViewName>("panel");
  const [settings, setSettings] = useState<AppSettings | null>(null);
  const [dialRequest, setDialRequest] = useState<DialTarget | null>(null);
  const [now, setNow] = useState(() => Date.now());
  const [micLevel, setMicLevel] = useState(0);
  const [, setLang] = useState("");
  const [error, setError] = useState<string | null>(null);
  const ready = useRef(false);
  const pending = useRef<Array<[UiEvent, number]>>([]);

  const language = (lang: string) => {
    const l = effectiveLanguage(lang, navigator.language);
    setLanguage(l);
    setLang(l);
  };

  useEffect(() => {
    const b = bridge();
    const stops: Array<Promise<() => void>> = [
      b.onUiEvent((event) => {
        if (!ready.current) pending.current.push([event, Date.now()]);
        else setCalls((s) => reduce(s, event, Date.now()));
      }),
      b.onSipStatus(setSip),
      b.onDialRequest(setDialRequest),
      b.onMicLevel(setMicLevel),
      b.onNavigate(setView),
    ];
    // The snapshot tells the shell the panel is ready (it then hands over a link Callpop was
    // launched with), so ask for it only once every listener is in place.
    Promise.all(stops)
      .then(() => b.snapshot())
      .then(
        (snap) => {
          const at = Date.now();
          let s = initialCalls();
          s = reduce(s, { event: "connection", state: snap.connection }, at);
          if (snap.api_usage) s = reduce(s, { event: "api_usage", ...snap.api_usage }, at);
          for (const e of snap.calls) s = reduce(s, e, at);
          for (const [e, when] of pending.current) s = reduce(s, e, when);
          pending.current = [];
          ready.current = true;
          setCalls({ ...s, announcement: null });
          setSip(snap.sip);
          language(snap.language);
          applyTheme(snap.theme);
        },
        (e: unknown) => {
          ready.current = true;
          setError(errorText(e));
        },
      );
    b.settings().then(setSettings, () => undefined);
    return () => stops.forEach((p) => void p.then((stop) => stop()));
  }, []);

  const live = liveCalls(calls).length > 0;
  useEffect(() => {
    if (!live) return;
    const timer = setInterval(() => setNow(Date.now()), 1000);
    setNow(Date.now());
    return () => clearInterval(timer);
  }, [live]);

  const onChosen = (callId: string, record: Match) => setCalls((s) => choose(s, callId, record));
  const onSaved = (s: AppSettings) => {
    setSettings(s);
    language(s.language);
    applyTheme(s.theme);
  };

  const a = calls.announcement;
  const live_region = (
    <div class="visually-hidden" aria-live="assertive" role="status" id="announcer" data-testid="announcer">
      {a ? t(a.key, a.values) : ""}
    </div>
  );

  if (props.mode === "popup") {
    return (
      <>
        {live_region}
        <PopupView call={ringingCall(calls)} />
      </>
    );
  }

  return (
    <div class="app">
      {live_region}
      <header class="app-head">
        <StatusBar sip={sip} calls={calls} onSignIn={() => setView("settings")} />
        <nav aria-label={t("nav.label")}>
          {NAV.map(([name, label]) => (
            <button
              type="button"
              key={name}
              id={`nav-${name}`}
              data-testid={`nav-${name}`}
              aria-current={view === name ? "page" : undefined}
              onClick={() => setView(name)}
            >
              {t(label)}
            </button>
          ))}
        </nav>
      </header>
      <main id="main" tabIndex={-1}>
        <Notice id="app-error" kind="error" text={error} />
        {view === "panel" ? (
          <PanelView
            calls={calls}
            now={now}
            behaviour={settings?.behaviour ?? null}
            onChosen={onChosen}
            onDismissError={() => setCalls((s) => dismissError(s, null))}
          />
        ) : null}
        {view === "history" ? <HistoryView logs={calls.logs} /> : null}
        {view === "sms" ? <SmsView /> : null}
        {view === "settings" ? <SettingsView micLevel={micLevel} onSaved={onSaved} /> : null}
      </main>
      {dialRequest ? <DialRequest target={dialRequest} onClose={() => setDialRequest(null)} /> : null}
    </div>
  );
}
