// Call history: each call with its log's state (saved, queued, failed with the reason) and a
// retry for failed logs. Log states arriving as events update the rows in place.

import { useEffect, useState } from "preact/hooks";
import { bridge, errorText } from "../bridge";
import type { HistoryRow, LogStatus } from "../contract";
import { currentLanguage, t } from "../i18n";
import { clock } from "../model/calls";
import { LogBadge } from "./CallCard";
import { Notice } from "./common";

/** How many calls the history shows. */
export const HISTORY_LIMIT = 100;

export function formatTime(iso: string): string {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  return new Intl.DateTimeFormat(currentLanguage(), { dateStyle: "short", timeStyle: "short" }).format(d);
}

export function HistoryView(props: { logs: { [callObject: string]: LogStatus | undefined } }) {
  const [rows, setRows] = useState<HistoryRow[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [retrying, setRetrying] = useState<string | null>(null);
  const load = async () => {
    try {
      setRows(await bridge().history(HISTORY_LIMIT));
      setError(null);
    } catch (e) {
      setError(errorText(e));
    }
  };
  useEffect(() => void load(), []);
  const retry = async (callObject: string) => {
    setRetrying(callObject);
    try {
      await bridge().retryLog(callObject);
    } catch (e) {
      setError(errorText(e));
    } finally {
      setRetrying(null);
    }
  };
  return (
    <section class="history" aria-labelledby="history-title">
      <div class="view-head">
        <h2 id="history-title">{t("history.title")}</h2>
        <button type="button" id="history-refresh" data-testid="history-refresh" onClick={() => void load()}>
          {t("common.refresh")}
        </button>
      </div>
      <Notice id="history-error" kind="error" text={error} />
      {rows === null ? <p class="muted">{t("common.loading")}</p> : null}
      {rows?.length === 0 ? <p class="muted" data-testid="history-empty">{t("history.empty")}</p> : null}
      <ul id="history-list" data-testid="history-list">
        {(rows ?? []).map((row) => {
          const log = props.logs[row.call_object] ?? row.log;
          return (
            <li key={row.call_id} data-testid={`history-row-${row.call_id}`} class="history-row">
              <div class="row-main">
                <span class="direction">{t(row.direction === "Inbound" ? "history.inbound" : "history.outbound")}</span>{" "}
                <strong>{row.record?.name ?? row.display_name ?? row.number}</strong>{" "}
                <span class="muted">{row.number}</span>
              </div>
              <div class="row-meta">
                <span>{formatTime(row.started_at)}</span>{" "}
                {row.duration_s !== null ? <span>{clock(row.duration_s)}</span> : <span>{t("history.missed")}</span>}{" "}
                {row.disposition ? <span>{row.disposition}</span> : null}
              </div>
              <div class="row-log">
                {log ? <LogBadge log={log} id={`history-log-${row.call_object}`} /> : <span class="muted">{t("log.none")}</span>}
                {log?.state === "failed" ? (
                  <button
                    type="button"
                    data-testid={`retry-${row.call_object}`}
                    disabled={retrying === row.call_object}
                    aria-label={t("history.retry_named", { name: row.record?.name ?? row.number })}
                    onClick={() => void retry(row.call_object)}
                  >
                    {t("history.retry")}
                  </button>
                ) : null}
              </div>
            </li>
          );
        })}
      </ul>
    </section>
  );
}
