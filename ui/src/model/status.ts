// Status lines for the SIP registration and the Salesforce connection.

import type { ApiUsage, ConnectionState, SfTrouble, SipFailure, SipStatus } from "../contract";
import { currentLanguage, t } from "../i18n";

/** The sentence for each kind of registration failure (a kind added in Rust fails type-checking here). */
const SIP_FAILURE: Record<SipFailure, string> = {
  unknown_host: "sip.why_unknown_host",
  unreachable: "sip.why_unreachable",
  certificate: "sip.why_certificate",
  certificate_untrusted: "sip.why_certificate_untrusted",
  certificate_name: "sip.why_certificate_name",
  certificate_expired: "sip.why_certificate_expired",
  certificate_not_yet_valid: "sip.why_certificate_not_yet_valid",
  ca_file: "sip.why_ca_file",
  credentials: "sip.why_credentials",
  unknown_user: "sip.why_unknown_user",
  server_error: "sip.why_server_error",
  other: "sip.why_other",
};

/** The words for each kind of Salesforce trouble (a kind added in Rust fails type-checking here). */
const SF_TROUBLE: Record<SfTrouble, string> = {
  timeout: "sf.why_timeout",
  unreachable: "sf.why_unreachable",
  server_error: "sf.why_server_error",
  bad_response: "sf.why_bad_response",
  refused: "sf.why_refused",
  other: "sf.why_other",
};

/** A Salesforce trouble in the agent's language. */
export function troubleText(kind: SfTrouble): string {
  return t(SF_TROUBLE[kind]);
}

/** The registration's status line: a failure in the agent's language, the stack's words after it. */
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
      return t("sip.failed", { what: t(SIP_FAILURE[sip.kind]), reason: sip.reason });
  }
}

export function connectionText(c: ConnectionState): string {
  switch (c.state) {
    case "unknown":
      return t("sf.unknown");
    case "not_signed_in":
      return t("sf.signed_out");
    case "connected":
      return t("sf.connected");
    case "offline":
      return t("sf.offline", { what: troubleText(c.kind), reason: c.reason });
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
