// The incoming-call popup window (`index.html#popup`): caller, matched records, answer and decline.

import { bridge, errorText } from "../bridge";
import { t } from "../i18n";
import type { CallView } from "../model/calls";
import { Caller, RecordFields } from "./CallCard";
import { Notice } from "./common";
import { useState } from "preact/hooks";

export function PopupView(props: { call: CallView | null }) {
  const { call } = props;
  const [error, setError] = useState<string | null>(null);
  if (!call) {
    return (
      <main class="popup" aria-live="polite">
        <p class="muted" data-testid="popup-idle">{t("popup.idle")}</p>
      </main>
    );
  }
  const act = (action: "answer" | "decline") =>
    void bridge()
      .act({ action, call_id: call.callId })
      .catch((e: unknown) => setError(errorText(e)));
  const matches = call.popup?.decision.matches ?? [];
  return (
    <main class="popup" aria-labelledby="popup-title">
      <h1 id="popup-title" class="visually-hidden">{t("popup.title")}</h1>
      <Caller call={call} id="popup-caller" />
      <Notice id="popup-error" kind="error" text={error ?? call.error} />
      <div class="controls">
        <button type="button" id="answer" data-testid="answer" class="primary answer" onClick={() => act("answer")}>
          {t("call.answer")}
        </button>
        <button type="button" id="decline" data-testid="decline" class="danger" onClick={() => act("decline")}>
          {t("call.decline")}
        </button>
      </div>
      <div class="popup-records" data-testid="popup-records">
        {call.popup === null ? <p class="muted">{t("records.looking_up")}</p> : null}
        {call.popup !== null && matches.length === 0 ? <p class="muted">{t("records.none")}</p> : null}
        {matches.length > 1 ? <p>{t("records.several", { n: matches.length })}</p> : null}
        {matches.slice(0, 3).map((m) => (
          <RecordFields key={m.record.id} record={m} />
        ))}
      </div>
    </main>
  );
}
