import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { effectiveLanguage, LANGUAGES, languageOf, RESOURCES, setLanguage, t } from "../src/i18n";
import type { FailedAction } from "../src/bindings/FailedAction";

type Tree = { [k: string]: string | Tree };

function flatten(tree: Tree, prefix = ""): Map<string, string> {
  const out = new Map<string, string>();
  for (const [k, v] of Object.entries(tree)) {
    const key = prefix ? `${prefix}.${k}` : k;
    if (typeof v === "string") out.set(key, v);
    else for (const [kk, vv] of flatten(v, key)) out.set(kk, vv);
  }
  return out;
}

function placeholders(s: string): string[] {
  return [...s.matchAll(/\{\{(\w+)\}\}/g)].map((m) => m[1]!).sort();
}

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return name === "locales" ? [] : sources(path);
    return /\.tsx?$/.test(name) ? [readFileSync(path, "utf8")] : [];
  });
}

const english = flatten(RESOURCES.en as unknown as Tree);

describe("translations", () => {
  for (const lang of LANGUAGES) {
    it(`${lang} has every English key, no other, each non-empty with the same placeholders`, () => {
      const strings = flatten(RESOURCES[lang] as unknown as Tree);
      const missing = [...english.keys()].filter((k) => !strings.has(k));
      const extra = [...strings.keys()].filter((k) => !english.has(k));
      expect(missing, `${lang} misses keys`).toEqual([]);
      expect(extra, `${lang} has keys English lacks`).toEqual([]);
      for (const [k, v] of strings) {
        expect(v.trim(), `${lang}:${k} is empty`).not.toBe("");
        expect(placeholders(v), `${lang}:${k} must interpolate the same values as English`).toEqual(placeholders(english.get(k)!));
      }
    });
  }

  it("uses every key somewhere in the UI's code", () => {
    const code = sources(join(__dirname, "..", "src")).join("\n");
    // `failure.<kind>` is looked up by the kind of the shell's failure (see failureText); the
    // settings test checks each kind of the generated `Failure` type has its sentence. So is
    // `action_failed.<action>` by the engine's `FailedAction` (checked below).
    const unused = [...english.keys()].filter(
      (k) => !k.startsWith("failure.") && !k.startsWith("action_failed.") && !code.includes(`"${k}"`),
    );
    expect(unused, "keys no code refers to (remove them or use them)").toEqual([]);
  });

  it("has a sentence for every action the engine can report as failed, in every language", () => {
    // An action added in Rust and missing here fails type-checking (`npm run lint`).
    const actions: Record<FailedAction, true> = {
      answer: true, decline: true, hang_up: true, hold: true, resume: true, mute: true, dtmf: true,
      transfer: true, dial: true, sms: true, audio: true, phone: true, call: true, store: true,
      salesforce: true, number: true,
    };
    for (const lang of LANGUAGES) {
      const sentences = RESOURCES[lang].action_failed as Record<string, string>;
      for (const action of Object.keys(actions)) {
        expect(sentences[action], `${lang} words action_failed.${action}`).toContain("{{detail}}");
      }
      expect(Object.keys(sentences).sort(), `${lang} has no sentence for an action that does not exist`).toEqual(
        Object.keys(actions).sort(),
      );
    }
  });

  it("translates other languages for real, not by copying English", () => {
    for (const lang of ["ja", "fr", "ko"] as const) {
      const strings = flatten(RESOURCES[lang] as unknown as Tree);
      expect(strings.get("call.answer"), `${lang} translates Answer`).not.toBe(english.get("call.answer"));
    }
  });

  it("follows the OS locale unless the setting overrides it", () => {
    expect(languageOf("ja-JP"), "a Japanese OS gets Japanese").toBe("ja");
    expect(languageOf("ko_KR"), "underscore tags work too").toBe("ko");
    expect(languageOf("de-DE"), "an unsupported locale falls back to English").toBe("en");
    expect(effectiveLanguage("system", "fr-CA"), "system follows the OS").toBe("fr");
    expect(effectiveLanguage("ko", "fr-CA"), "the setting wins over the OS").toBe("ko");
  });

  it("interpolates values as plain text", () => {
    setLanguage("ja");
    expect(t("dial.confirm", { display: "+81 3-1234-5678" }), "the Japanese sentence with the number").toBe("+81 3-1234-5678 に発信しますか？");
    setLanguage("en");
    expect(t("live.ringing_in", { caller: "<b>x</b>" }), "values are not HTML-escaped twice (rendering makes them text)").toBe("Incoming call from <b>x</b>");
  });
});
