// Status lines for the SIP registration and the Salesforce connection.

import type { ApiUsage, ConnectionState, SipStatus } from "../contract";
import { currentLanguage, t } from "../i18n";

export function sipText(sip: SipStatus | null): string {
  if (!sip) return t("sip.unknown");
  switch (sip.state) {
    case "unregistered":
      return t("sip.unregistered");
    case "registering":
      return t("sip.registering");
    case "registered":
      return t("sip.registered");
    case "failed":
      return t("sip.failed", { reason: sip.reason });
  }
}

export function connectionText(c: ConnectionState): string {
  switch (c.state) {
    case "unknown":
      return t("sf.unknown");
    case "connected":
      return t("sf.connected");
    case "offline":
      return t("sf.offline", { reason: c.reason });
    case "limit_exceeded":
      return t("sf.limit_exceeded", { until: new Date(c.until).toLocaleTimeString(currentLanguage(), { hour: "2-digit", minute: "2-digit" }) });
    case "reconnect_needed":
      return t("sf.reconnect_needed");
  }
}

/** Share of the daily API allocation used, 0..100 (null when the org reports no allocation). */
export function usagePercent(usage: ApiUsage): number | null {
  if (usage.max <= 0) return null;
  return Math.min(100, Math.round((usage.used / usage.max) * 1000) / 10);
}
