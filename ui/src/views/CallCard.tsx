// The in-call card: who is calling (always as text), the call controls for its phase, the matched
// records with the layout's fields (a chooser when several match, new Contact/Lead when none do,
// a name search when the agent may change the contact), and the after-call work.

import { useEffect, useRef, useState } from "preact/hooks";
import { bridge, errorText, isPageUrl } from "../bridge";
import type { AgentAction, Behaviour, LogStatus, Match, PopupRecord, RecordRef } from "../contract";
import { currentLanguage, t } from "../i18n";
import { clock, matchOf, talkSeconds, wrapUpSecondsLeft, type CallView } from "../model/calls";
import { linkedRecord, newRecordUrl, subjectFor } from "../model/records";
import { troubleText } from "../model/status";
import { Keypad, Notice } from "./common";

export interface CallCardProps {
  call: CallView;
  now: number;
  behaviour: Behaviour | null;
  log: LogStatus | null;
  /** The first live call: its controls carry the stable ids (`#answer`, `#hangup` …). */
  primary: boolean;
  onChosen: (callId: string, record: Match) => void;
}

/** Sends an action; a refusal becomes the sentence shown on the card. */
async function send(action: AgentAction, fail: (m: string) => void): Promise<boolean> {
  try {
    await bridge().act(action);
    return true;
  } catch (error) {
    fail(errorText(error));
    return false;
  }
}

function ids(primary: boolean, callId: string) {
  return (name: string) => (primary ? { id: name, "data-testid": name } : { "data-testid": `${name}-${callId}` });
}

export function phaseText(call: CallView): string {
  switch (call.phase.phase) {
    case "ringing":
      return t(call.direction === "Outbound" ? "call.calling" : "call.ringing");
    case "established":
      return t("call.talking");
    case "held":
      return t("call.on_hold");
    case "wrap_up":
      return t("call.wrap_up");
    case "closed":
      return t("call.ended");
  }
}

/** The caller: name (when known) and number, as text nodes. */
export function Caller(props: { call: CallView; id?: string }) {
  const c = props.call.caller;
  const name = c?.name ?? props.call.chosen?.name ?? null;
  return (
    <div class="caller" id={props.id} data-testid={props.id}>
      <div class="caller-name">{name ?? c?.number ?? t("call.unknown_caller")}</div>
      {name !== null && c ? <div class="caller-number">{c.number}</div> : null}
    </div>
  );
}

/** One record with the layout's fields. */
export function RecordFields(props: { record: PopupRecord }) {
  const r = props.record;
  return (
    <div class="record" data-testid={`record-${r.record.id}`}>
      <div class="record-title">
        <span class="sobject">{r.record.sobject}</span> <strong>{r.name}</strong>
        {r.exact ? null : <span class="inexact"> {t("records.inexact")}</span>}
      </div>
      <dl>
        {r.fields
          .filter((f) => f.value !== "")
          .map((f) => (
            <div key={f.api_name}>
              <dt>{f.label}</dt>
              <dd>{f.value}</dd>
            </div>
          ))}
      </dl>
    </div>
  );
}

function Records(props: CallCardProps & { fail: (m: string) => void }) {
  const { call, behaviour, fail, onChosen } = props;
  const popup = call.popup;
  const [query, setQuery] = useState("");
  const [results, setResults] = useState<Match[] | null>(null);
  const [searching, setSearching] = useState(false);
  const [link, setLink] = useState("");
  const [linkError, setLinkError] = useState<string | null>(null);
  if (!popup) {
    return <p class="muted" data-testid="records-loading">{t("records.looking_up")}</p>;
  }
  const matches = popup.decision.matches;
  const pick = async (record: Match) => {
    if (await send({ action: "pick_record", call_id: call.callId, record }, fail)) onChosen(call.callId, record);
  };
  const search = async () => {
    const q = query.trim();
    if (q === "") return;
    setSearching(true);
    try {
      setResults(await bridge().searchRecords(q));
    } catch (error) {
      fail(errorText(error));
    } finally {
      setSearching(false);
    }
  };
  const created = async () => {
    const name = call.caller?.name ?? call.caller?.number ?? "";
    const record = linkedRecord(link, name);
    if (!record) {
      setLinkError(t("records.link_invalid"));
      return;
    }
    setLinkError(null);
    if (await send({ action: "record_created", call_id: call.callId, record }, fail)) {
      onChosen(call.callId, record);
      setLink("");
    }
  };
  const open = (url: string) => void bridge().openPage(url).catch((e: unknown) => fail(errorText(e)));
  const lookup = popup.lookup;
  return (
    <section class="records" aria-label={t("records.title")}>
      {lookup.status === "failed" ? (
        <Notice id="lookup-failed" kind="info" text={t("records.lookup_failed", { what: troubleText(lookup.kind), reason: lookup.reason })} />
      ) : null}
      {lookup.status === "no_number" ? <Notice id="lookup-failed" kind="info" text={t("records.no_number")} /> : null}
      {lookup.status === "not_connected" ? <Notice id="lookup-failed" kind="info" text={t("records.not_connected")} /> : null}
      {call.chosen ? (
        <p class="chosen" data-testid="chosen-record">
          {t("records.chosen", { name: call.chosen.name, sobject: call.chosen.record.sobject })}
        </p>
      ) : null}
      {matches.length === 1 ? <RecordFields record={matches[0]!} /> : null}
      {matches.length > 1 ? (
        <fieldset class="chooser" id="record-chooser" data-testid="record-chooser">
          <legend>{t("records.several", { n: matches.length })}</legend>
          {matches.map((m) => (
            <div class="choice" key={m.record.id}>
              <RecordFields record={m} />
              <button
                type="button"
                data-testid={`pick-${m.record.id}`}
                aria-pressed={call.chosen?.record.id === m.record.id}
                aria-label={t("records.pick_named", { name: m.name })}
                onClick={() => void pick(matchOf(m))}
              >
                {t("records.pick")}
              </button>
            </div>
          ))}
        </fieldset>
      ) : null}
      {matches.length === 0 && popup.decision.handled ? (
        <div class="no-match" data-testid="no-match">
          <p>{t("records.none")}</p>
          {(["Contact", "Lead"] as const).map((sobject) => {
            const url = call.popUrl ? newRecordUrl(call.popUrl, sobject) : null;
            return (
              <button
                type="button"
                key={sobject}
                id={`new-${sobject.toLowerCase()}`}
                data-testid={`new-${sobject.toLowerCase()}`}
                disabled={url === null || !isPageUrl(url)}
                onClick={() => url && open(url)}
              >
                {t(sobject === "Contact" ? "records.new_contact" : "records.new_lead")}
              </button>
            );
          })}
          <div class="field-row">
            <label for="created-record">{t("records.link_label")}</label>
            <input
              id="created-record"
              data-testid="created-record"
              type="text"
              value={link}
              placeholder={t("records.link_placeholder")}
              onInput={(e) => setLink((e.currentTarget as HTMLInputElement).value)}
            />
            <button type="button" id="created-record-save" data-testid="created-record-save" onClick={() => void created()} disabled={link.trim() === ""}>
              {t("records.link_save")}
            </button>
          </div>
          <Notice id="created-record-error" kind="error" text={linkError} />
        </div>
      ) : null}
      {call.popUrl && isPageUrl(call.popUrl) ? (
        <button type="button" data-testid="open-pop" class="link" onClick={() => open(call.popUrl!)}>
          {t("records.open_pop")}
        </button>
      ) : null}
      {behaviour?.editable_who ? (
        <div class="record-search">
          <label for="record-search">{t("records.search_label")}</label>
          <div class="field-row">
            <input
              id="record-search"
              data-testid="record-search"
              type="search"
              value={query}
              onInput={(e) => setQuery((e.currentTarget as HTMLInputElement).value)}
              onKeyDown={(e) => {
                if (e.key === "Enter") {
                  e.preventDefault();
                  void search();
                }
              }}
            />
            <button type="button" id="record-search-button" data-testid="record-search-button" disabled={searching || query.trim() === ""} onClick={() => void search()}>
              {t("records.search")}
            </button>
          </div>
          {results !== null ? (
            <ul class="search-results" data-testid="search-results" aria-live="polite">
              {results.length === 0 ? <li>{t("records.search_none")}</li> : null}
              {results.map((m) => (
                <li key={m.record.id}>
                  <span class="sobject">{m.record.sobject}</span> {m.name}{" "}
                  <button type="button" data-testid={`pick-${m.record.id}`} aria-label={t("records.pick_named", { name: m.name })} onClick={() => void pick(m)}>
                    {t("records.pick")}
                  </button>
                </li>
              ))}
            </ul>
          ) : null}
        </div>
      ) : null}
    </section>
  );
}

/** Notes, disposition, related-to; save/discard or the auto-save countdown. */
function AfterCall(props: CallCardProps & { fail: (m: string) => void }) {
  const { call, behaviour, fail, now, log } = props;
  const id = ids(props.primary, call.callId);
  const [notes, setNotes] = useState("");
  const [disposition, setDisposition] = useState("");
  const [related, setRelated] = useState("");
  const sentNotes = useRef("");
  const callId = call.callId;
  useEffect(() => {
    if (notes === sentNotes.current) return;
    const timer = setTimeout(() => {
      sentNotes.current = notes;
      void send({ action: "notes", call_id: callId, text: notes }, fail);
    }, 600);
    return () => clearTimeout(timer);
  }, [notes]);
  const flushNotes = async () => {
    if (notes === sentNotes.current) return;
    sentNotes.current = notes;
    await send({ action: "notes", call_id: callId, text: notes }, fail);
  };
  const wrapping = call.phase.phase === "wrap_up";
  const left = wrapUpSecondsLeft(call, now);
  const candidates: RecordRef[] = [];
  const allowed = behaviour?.related_to_objects ?? [];
  for (const m of call.popup?.decision.matches ?? []) {
    if (allowed.includes(m.record.sobject)) candidates.push(m.record);
  }
  const names = new Map((call.popup?.decision.matches ?? []).map((m) => [m.record.id, m.name]));
  const subject = behaviour ? subjectFor(behaviour, currentLanguage(), call) : null;
  return (
    <section class="after-call" aria-label={t("acw.title")}>
      {subject ? (
        <p class="subject" data-testid="subject">
          <span class="muted">{t("acw.subject")}</span> {subject}
        </p>
      ) : null}
      <label for={props.primary ? "notes" : `notes-${callId}`}>{t("acw.notes")}</label>
      <textarea {...id("notes")} id={props.primary ? "notes" : `notes-${callId}`} rows={3} value={notes} onInput={(e) => setNotes((e.currentTarget as HTMLTextAreaElement).value)} onBlur={() => void flushNotes()} />
      <div class="acw-grid">
        <label for={props.primary ? "disposition" : `disposition-${callId}`}>{t("acw.disposition")}</label>
        <input
          {...id("disposition")}
          id={props.primary ? "disposition" : `disposition-${callId}`}
          type="text"
          value={disposition}
          onInput={(e) => setDisposition((e.currentTarget as HTMLInputElement).value)}
          onChange={(e) => {
            const v = (e.currentTarget as HTMLInputElement).value.trim();
            void send({ action: "disposition", call_id: callId, value: v === "" ? null : v }, fail);
          }}
        />
        <label for={props.primary ? "related-to" : `related-to-${callId}`}>{t("acw.related_to")}</label>
        <select
          {...id("related-to")}
          id={props.primary ? "related-to" : `related-to-${callId}`}
          value={related}
          onChange={(e) => {
            const v = (e.currentTarget as HTMLSelectElement).value;
            setRelated(v);
            const record = candidates.find((r) => r.id === v) ?? null;
            void send({ action: "related_to", call_id: callId, record }, fail);
          }}
        >
          <option value="">{t("acw.related_none")}</option>
          {candidates.map((r) => (
            <option key={r.id} value={r.id}>
              {`${r.sobject}: ${names.get(r.id) ?? r.id}`}
            </option>
          ))}
        </select>
      </div>
      {wrapping ? (
        <div class="acw-actions">
          {left !== null ? (
            <p {...id("wrapup-countdown")} class="countdown" role="timer" aria-live="off">
              {t("acw.auto_save_in", { time: clock(left) })}
            </p>
          ) : null}
          <button
            type="button"
            {...id("save-log")}
            class="primary"
            onClick={async () => {
              await flushNotes();
              await send({ action: "save", call_id: callId }, fail);
            }}
          >
            {t(left !== null ? "acw.save_now" : "acw.save")}
          </button>
          {left === null ? (
            <button type="button" {...id("discard-log")} onClick={() => void send({ action: "discard", call_id: callId }, fail)}>
              {t("acw.discard")}
            </button>
          ) : null}
        </div>
      ) : null}
      {log ? <LogBadge log={log} /> : null}
    </section>
  );
}

/** A log's state in words. */
export function LogBadge(props: { log: LogStatus; id?: string }) {
  const l = props.log;
  const text =
    l.state === "saved" ? t("log.saved") : l.state === "queued" ? t("log.queued") : t("log.failed", { reason: l.reason });
  return (
    <span class={`log-badge ${l.state}`} data-testid={props.id ?? "log-state"}>
      {text}
    </span>
  );
}

/** The call controls for the call's phase. */
function Controls(props: CallCardProps & { fail: (m: string) => void }) {
  const { call, fail, now } = props;
  const id = ids(props.primary, call.callId);
  const [muted, setMuted] = useState(false);
  const [keypad, setKeypad] = useState(false);
  const [target, setTarget] = useState("");
  const phase = call.phase.phase;
  const act = (a: AgentAction) => send(a, fail);
  const callId = call.callId;
  if (phase === "ringing") {
    return (
      <div class="controls">
        {call.direction === "Inbound" ? (
          <>
            <button type="button" {...id("answer")} class="primary answer" onClick={() => void act({ action: "answer", call_id: callId })}>
              {t("call.answer")}
            </button>
            <button type="button" {...id("decline")} class="danger" onClick={() => void act({ action: "decline", call_id: callId })}>
              {t("call.decline")}
            </button>
          </>
        ) : (
          <button type="button" {...id("hangup")} class="danger" onClick={() => void act({ action: "hang_up", call_id: callId })}>
            {t("call.cancel")}
          </button>
        )}
      </div>
    );
  }
  if (phase !== "established" && phase !== "held") return null;
  return (
    <div class="in-call">
      <p class="timer" {...id("call-timer")} role="timer" aria-label={t("call.timer")}>
        {clock(talkSeconds(call, now))}
      </p>
      <div class="controls">
        <button type="button" {...id("hangup")} class="danger" onClick={() => void act({ action: "hang_up", call_id: callId })}>
          {t("call.hang_up")}
        </button>
        {phase === "held" ? (
          <button type="button" {...id("resume")} onClick={() => void act({ action: "resume", call_id: callId })}>
            {t("call.resume")}
          </button>
        ) : (
          <button type="button" {...id("hold")} onClick={() => void act({ action: "hold", call_id: callId })}>
            {t("call.hold")}
          </button>
        )}
        <button
          type="button"
          {...id("mute")}
          aria-pressed={muted}
          onClick={async () => {
            if (await act({ action: "mute", call_id: callId, muted: !muted })) setMuted(!muted);
          }}
        >
          {t(muted ? "call.unmute" : "call.mute")}
        </button>
        <button type="button" {...id("dtmf-toggle")} aria-expanded={keypad} aria-controls={`dtmf-${callId}`} onClick={() => setKeypad(!keypad)}>
          {t("call.keypad")}
        </button>
      </div>
      {keypad ? (
        <div id={`dtmf-${callId}`}>
          <Keypad idPrefix={props.primary ? "dtmf-key" : `dtmf-key-${callId}`} label={t("call.keypad")} onKey={(digits) => void act({ action: "send_dtmf", call_id: callId, digits })} />
        </div>
      ) : null}
      <div class="field-row transfer">
        <label for={props.primary ? "transfer-input" : `transfer-input-${callId}`}>{t("call.transfer_to")}</label>
        <input
          {...id("transfer-input")}
          id={props.primary ? "transfer-input" : `transfer-input-${callId}`}
          type="text"
          inputMode="tel"
          value={target}
          onInput={(e) => setTarget((e.currentTarget as HTMLInputElement).value)}
        />
        <button
          type="button"
          {...id("transfer-button")}
          disabled={target.trim() === ""}
          onClick={async () => {
            if (await act({ action: "transfer", call_id: callId, target: target.trim() })) setTarget("");
          }}
        >
          {t("call.transfer")}
        </button>
      </div>
    </div>
  );
}

export function CallCard(props: CallCardProps) {
  const { call } = props;
  const [failure, setFailure] = useState<string | null>(null);
  const error = failure ?? call.error;
  const phase = call.phase.phase;
  return (
    <article class={`call-card ${phase}`} data-testid={`call-${call.callId}`} aria-labelledby={`caller-${call.callId}`}>
      <header>
        <div id={`caller-${call.callId}`}>
          <Caller call={call} id={props.primary ? "call-caller" : undefined} />
        </div>
        <span class="phase" data-testid="call-phase">
          {phaseText(call)}
        </span>
      </header>
      <Notice id={props.primary ? "call-error" : `call-error-${call.callId}`} kind="error" text={error} />
      <Controls {...props} fail={setFailure} />
      <Records {...props} fail={setFailure} />
      {phase === "established" || phase === "held" || phase === "wrap_up" ? <AfterCall {...props} fail={setFailure} /> : null}
    </article>
  );
}
