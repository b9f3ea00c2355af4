// The dial pad: a text field that takes typed or pasted numbers in any format, the shell's
// preview of what will be dialed, the 12 keys, and the Dial button.

import { useEffect, useRef, useState } from "preact/hooks";
import { bridge } from "../bridge";
import { t } from "../i18n";
import { cleanDialInput, dialInput, preview, type DialState } from "../model/dial";
import { dialKey, Keypad, Notice } from "./common";

/** How long typing pauses before the preview is asked for. */
const PREVIEW_DELAY_MS = 250;

export function DialPad() {
  const [input, setInput] = useState("");
  const [state, setState] = useState<DialState>({ kind: "empty" });
  const [busy, setBusy] = useState(false);
  const latest = useRef("");
  const field = useRef<HTMLInputElement>(null);

  useEffect(() => {
    latest.current = cleanDialInput(input);
    if (latest.current === "") {
      setState({ kind: "empty" });
      return;
    }
    const asked = latest.current;
    const timer = setTimeout(() => {
      void preview(bridge(), asked).then((s) => {
        if (latest.current === asked) setState(s);
      });
    }, PREVIEW_DELAY_MS);
    return () => clearTimeout(timer);
  }, [input]);

  const press = (key: string) => setInput((v) => v + key);

  const dial = async () => {
    if (busy || cleanDialInput(input) === "") return;
    setBusy(true);
    const result = await dialInput(bridge(), input, state);
    setBusy(false);
    setState(result);
    if (result.kind === "ready") setInput("");
  };

  // Typed digits go to the field wherever the focus is inside the pad.
  const onKeyDown = (e: KeyboardEvent) => {
    if (e.target === field.current || e.ctrlKey || e.metaKey || e.altKey) return;
    const key = dialKey(e.key);
    if (key) {
      e.preventDefault();
      press(key);
    } else if (e.key === "Backspace") {
      e.preventDefault();
      setInput((v) => v.slice(0, -1));
    }
  };

  return (
    <section class="dialpad" aria-labelledby="dialpad-title" onKeyDown={onKeyDown}>
      <h2 id="dialpad-title" class="visually-hidden">
        {t("dial.title")}
      </h2>
      <div class="dial-row">
        <input
          id="dial-input"
          data-testid="dial-input"
          ref={field}
          type="text"
          inputMode="tel"
          autoComplete="off"
          spellcheck={false}
          maxLength={512}
          aria-label={t("dial.input_label")}
          aria-describedby="dial-preview"
          placeholder={t("dial.placeholder")}
          value={input}
          onInput={(e) => setInput((e.currentTarget as HTMLInputElement).value)}
          onKeyDown={(e) => {
            if (e.key === "Enter") {
              e.preventDefault();
              void dial();
            }
          }}
        />
        <button
          type="button"
          id="dial-clear"
          data-testid="dial-clear"
          aria-label={t("dial.clear")}
          disabled={input === ""}
          onClick={() => {
            setInput("");
            field.current?.focus();
          }}
        >
          ⌫
        </button>
      </div>
      <p id="dial-preview" data-testid="dial-preview" class="dial-preview" aria-live="polite">
        {state.kind === "ready"
          ? t(state.target.internal ? "dial.preview_internal" : "dial.preview", {
              display: state.target.display,
            })
          : state.kind === "checking"
            ? t("dial.checking")
            : ""}
      </p>
      <Notice id="dial-error" kind="error" text={state.kind === "invalid" ? state.message : null} />
      <Keypad idPrefix="dial-key" label={t("dial.keypad")} onKey={press} />
      <button
        type="button"
        id="dial-button"
        data-testid="dial-button"
        class="primary call"
        disabled={busy || input.trim() === ""}
        onClick={() => void dial()}
      >
        {t("dial.call")}
      </button>
    </section>
  );
}
