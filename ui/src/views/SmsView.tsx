// SMS: the threads (one per number), a thread's messages, and sending.

import { useEffect, useState } from "preact/hooks";
import { bridge, errorText } from "../bridge";
import type { SmsItem, SmsThread } from "../contract";
import { t } from "../i18n";
import { Notice } from "./common";
import { formatTime } from "./HistoryView";

export function SmsView() {
  const [threads, setThreads] = useState<SmsThread[] | null>(null);
  const [open, setOpen] = useState<string | null>(null);
  const [messages, setMessages] = useState<SmsItem[]>([]);
  const [to, setTo] = useState("");
  const [text, setText] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [sending, setSending] = useState(false);
  const loadThreads = async () => {
    try {
      setThreads(await bridge().smsThreads());
    } catch (e) {
      setError(errorText(e));
    }
  };
  const openThread = async (number: string) => {
    setOpen(number);
    setError(null);
    try {
      setMessages(await bridge().smsMessages(number));
    } catch (e) {
      setError(errorText(e));
    }
  };
  useEffect(() => void loadThreads(), []);
  // An SMS received or sent is in the history once the shell says so: the threads, and the
  // open thread when it is that number's, are read again.
  useEffect(() => {
    const stop = bridge().onUiEvent((event) => {
      if (event.event !== "sms_stored") return;
      void loadThreads();
      if (open !== null && open === event.number) {
        bridge()
          .smsMessages(open)
          .then(setMessages, () => undefined);
      }
    });
    return () => void stop.then((unlisten) => unlisten());
  }, [open]);
  const send = async () => {
    const recipient = open ?? to.trim();
    if (recipient === "" || text.trim() === "" || sending) return;
    setSending(true);
    try {
      await bridge().sendSms(recipient, text);
      setText("");
      setError(null);
      await openThread(recipient);
      void loadThreads();
    } catch (e) {
      setError(errorText(e));
    } finally {
      setSending(false);
    }
  };
  const thread = threads?.find((th) => th.number === open);
  const compose = (
    <div class="sms-compose">
      {open === null ? (
        <>
          <label for="sms-to">{t("sms.to")}</label>
          <input id="sms-to" data-testid="sms-to" type="text" inputMode="tel" value={to} onInput={(e) => setTo((e.currentTarget as HTMLInputElement).value)} />
        </>
      ) : null}
      <label for="sms-text">{t("sms.message")}</label>
      <textarea id="sms-text" data-testid="sms-text" rows={3} value={text} onInput={(e) => setText((e.currentTarget as HTMLTextAreaElement).value)} />
      <button type="button" id="sms-send" data-testid="sms-send" class="primary" disabled={sending || text.trim() === "" || (open === null && to.trim() === "")} onClick={() => void send()}>
        {t("sms.send")}
      </button>
    </div>
  );
  return (
    <section class="sms" aria-labelledby="sms-title">
      <div class="view-head">
        <h2 id="sms-title">{open === null ? t("sms.title") : thread?.record?.name ?? thread?.display_name ?? open}</h2>
        {open !== null ? (
          <button type="button" id="sms-back" data-testid="sms-back" onClick={() => { setOpen(null); setMessages([]); }}>
            {t("sms.back")}
          </button>
        ) : null}
      </div>
      <Notice id="sms-error" kind="error" text={error} />
      {open === null ? (
        <>
          {threads?.length === 0 ? <p class="muted">{t("sms.empty")}</p> : null}
          <ul id="sms-threads" data-testid="sms-threads">
            {(threads ?? []).map((th) => (
              <li key={th.number}>
                <button type="button" class="thread" data-testid={`sms-thread-${th.number}`} onClick={() => void openThread(th.number)}>
                  <strong>{th.record?.name ?? th.display_name ?? th.number}</strong>
                  <span class="muted"> {formatTime(th.last_at)}</span>
                  <span class="last-text">{th.last_text}</span>
                </button>
              </li>
            ))}
          </ul>
        </>
      ) : (
        <ol id="sms-messages" data-testid="sms-messages" class="messages" aria-live="polite">
          {messages.map((m, i) => (
            <li key={i} class={m.direction === "Inbound" ? "in" : "out"}>
              <span class="visually-hidden">{t(m.direction === "Inbound" ? "sms.received" : "sms.sent")}</span>
              <span class="text">{m.text}</span>
              <span class="muted time">{formatTime(m.at)}</span>
            </li>
          ))}
        </ol>
      )}
      {compose}
    </section>
  );
}
