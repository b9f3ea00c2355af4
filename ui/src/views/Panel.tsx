// The panel: SIP and Salesforce status (with the API usage gauge), the live calls, the dial pad,
// and the last ended calls with their log state.

import type { Behaviour, SipStatus } from "../contract";
import { currentLanguage, t } from "../i18n";
import { callerLabel, endedCalls, liveCalls, type CallsState } from "../model/calls";
import { connectionText, sipText, usagePercent } from "../model/status";
import { CallCard, LogBadge } from "./CallCard";
import { DialPad } from "./DialPad";
import { Notice } from "./common";
import type { Match } from "../contract";

export function StatusBar(props: { sip: SipStatus | null; calls: CallsState; onSignIn: () => void }) {
  const { sip, calls } = props;
  const usage = calls.apiUsage;
  const pct = usage ? usagePercent(usage) : null;
  return (
    <div class="status-bar" role="group" aria-label={t("status.title")}>
      <span id="sip-status" data-testid="sip-status" class={`status sip-${sip?.state ?? "unknown"}`}>
        {sipText(sip)}
      </span>
      <span id="sf-status" data-testid="sf-status" class={`status sf-${calls.connection.state}`}>
        {connectionText(calls.connection)}
      </span>
      {calls.connection.state === "reconnect_needed" || calls.connection.state === "not_signed_in" ? (
        <button type="button" id="sf-reconnect" data-testid="sf-reconnect" class="link" onClick={props.onSignIn}>
          {t(calls.connection.state === "reconnect_needed" ? "status.sign_in" : "status.sign_in_first")}
        </button>
      ) : null}
      {usage && pct !== null ? (
        <label class="usage" for="api-usage">
          <span>{t("status.api_usage", { used: usage.used.toLocaleString(currentLanguage()), max: usage.max.toLocaleString(currentLanguage()) })}</span>
          <meter id="api-usage" data-testid="api-usage" min={0} max={100} low={70} high={90} optimum={0} value={pct} />
        </label>
      ) : null}
    </div>
  );
}

export function PanelView(props: {
  calls: CallsState;
  now: number;
  behaviour: Behaviour | null;
  onChosen: (callId: string, record: Match) => void;
  onDismissError: () => void;
}) {
  const { calls, now } = props;
  const live = liveCalls(calls);
  const ended = endedCalls(calls);
  return (
    <div class="panel">
      {calls.error ? (
        <div class="panel-error">
          <Notice id="panel-error" kind="error" text={calls.error} />
          <button type="button" data-testid="panel-error-dismiss" onClick={props.onDismissError}>
            {t("common.dismiss")}
          </button>
        </div>
      ) : null}
      {live.map((call, i) => (
        <CallCard
          key={call.callId}
          call={call}
          now={now}
          behaviour={props.behaviour}
          log={calls.logs[call.callId] ?? null}
          primary={i === 0}
          onChosen={props.onChosen}
        />
      ))}
      {live.some((c) => c.phase.phase === "established" || c.phase.phase === "held") ? null : <DialPad />}
      {ended.length > 0 ? (
        <section class="recent" aria-labelledby="recent-title">
          <h2 id="recent-title">{t("recent.title")}</h2>
          <ul>
            {ended.map((c) => {
              const log = calls.logs[c.callId];
              return (
                <li key={c.callId} data-testid={`recent-${c.callId}`}>
                  <span>{callerLabel(c)}</span> {log ? <LogBadge log={log} id={`recent-log-${c.callId}`} /> : <span class="muted">{t("log.none")}</span>}
                </li>
              );
            })}
          </ul>
        </section>
      ) : null}
    </div>
  );
}
