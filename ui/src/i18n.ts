// Translations through i18next: English, Japanese, French and Korean. The OS locale
// (`navigator.language`) picks the language unless the agent's `language` setting overrides it.
// Interpolated values are text, never HTML (Preact renders strings as text nodes), so i18next's
// own escaping is off to avoid double escaping.

import i18next, { type i18n } from "i18next";
import type { Language, LanguageChoice } from "./contract";
import { en, type Strings } from "./locales/en";
import { fr } from "./locales/fr";
import { ja } from "./locales/ja";
import { ko } from "./locales/ko";

export const LANGUAGES: readonly Language[] = ["en", "ja", "fr", "ko"];

/** Every language's strings (the English file defines the keys). */
export const RESOURCES: { [L in Language]: Strings } = { en, ja, fr, ko };

/** The supported language closest to a BCP 47 tag (`ja-JP` → `ja`), English otherwise. */
export function languageOf(tag: string | null | undefined): Language {
  const base = (tag ?? "").toLowerCase().split(/[-_]/)[0] ?? "";
  return LANGUAGES.find((l) => l === base) ?? "en";
}

/** The language to show: the setting when chosen, else the OS locale. */
export function effectiveLanguage(choice: LanguageChoice | string | null, osTag: string): Language {
  if (choice && choice !== "system") return languageOf(choice);
  return languageOf(osTag);
}

const instance: i18n = i18next.createInstance();
void instance.init({
  resources: Object.fromEntries(LANGUAGES.map((l) => [l, { translation: RESOURCES[l] }])),
  lng: languageOf(typeof navigator === "undefined" ? "en" : navigator.language),
  fallbackLng: "en",
  initAsync: false,
  interpolation: { escapeValue: false },
  returnNull: false,
});

/** Values interpolated into a string. */
export type Values = { [name: string]: string | number };

/** The string for `key` in the current language. */
export function t(key: string, values?: Values): string {
  return instance.t(key, values ?? {});
}

/** Switches the language (and the document's `lang`). */
export function setLanguage(language: Language): void {
  void instance.changeLanguage(language);
  if (typeof document !== "undefined") document.documentElement.lang = language;
}

/** The language in use. */
export function currentLanguage(): Language {
  return languageOf(instance.language);
}
