// Small building blocks shared by the views: a modal dialog (focus trapped, Esc closes, focus
// returns where it was) and the 12-key keypad (arrow keys move between keys).

import type { ComponentChildren, JSX } from "preact";
import { useEffect, useRef } from "preact/hooks";
import { t } from "../i18n";

const FOCUSABLE =
  'button:not([disabled]), [href], input:not([disabled]), select:not([disabled]), textarea:not([disabled]), [tabindex]:not([tabindex="-1"])';

/** The elements Tab visits inside `root`, in order. */
export function focusables(root: HTMLElement): HTMLElement[] {
  return Array.from(root.querySelectorAll<HTMLElement>(FOCUSABLE));
}

interface DialogProps {
  id: string;
  title: string;
  onClose: () => void;
  children: ComponentChildren;
}

/** A modal dialog: focus moves in (first control), Tab cycles inside, Esc closes. */
export function Dialog({ id, title, onClose, children }: DialogProps) {
  const ref = useRef<HTMLDivElement>(null);
  useEffect(() => {
    const before = document.activeElement as HTMLElement | null;
    const root = ref.current;
    if (root) (focusables(root)[0] ?? root).focus();
    return () => before?.focus?.();
  }, []);
  const onKeyDown = (e: KeyboardEvent) => {
    if (e.key === "Escape") {
      e.preventDefault();
      e.stopPropagation();
      onClose();
      return;
    }
    const root = ref.current;
    if (e.key !== "Tab" || !root) return;
    const items = focusables(root);
    if (items.length === 0) return;
    // Focus moves here rather than by the browser, so it never leaves the dialog.
    e.preventDefault();
    const at = items.indexOf(document.activeElement as HTMLElement);
    const next = e.shiftKey ? (at <= 0 ? items.length - 1 : at - 1) : at === -1 || at === items.length - 1 ? 0 : at + 1;
    items[next]?.focus();
  };
  return (
    <div class="backdrop">
      <div
        id={id}
        class="dialog"
        role="dialog"
        aria-modal="true"
        aria-labelledby={`${id}-title`}
        tabIndex={-1}
        ref={ref}
        onKeyDown={onKeyDown}
      >
        <h2 id={`${id}-title`}>{title}</h2>
        {children}
      </div>
    </div>
  );
}

/** The keys of a phone keypad, row by row. */
export const KEYS: readonly string[] = ["1", "2", "3", "4", "5", "6", "7", "8", "9", "*", "0", "#"];

/** The id suffix of a key (`*` → `star`, `#` → `hash`). */
export function keyId(key: string): string {
  return key === "*" ? "star" : key === "#" ? "hash" : key;
}

/** The key a keyboard key types into a dial string, or null. */
export function dialKey(key: string): string | null {
  return /^[0-9*#+]$/.test(key) ? key : null;
}

interface KeypadProps {
  idPrefix: string;
  label: string;
  onKey: (key: string) => void;
  disabled?: boolean;
}

/**
 * The 12 keys in a grid. One key is in the Tab order; arrow keys, Home and End move between keys,
 * Enter and Space press the focused one (native buttons).
 */
export function Keypad({ idPrefix, label, onKey, disabled }: KeypadProps) {
  const ref = useRef<HTMLDivElement>(null);
  const move = (e: KeyboardEvent) => {
    const root = ref.current;
    if (!root) return;
    const buttons = Array.from(root.querySelectorAll<HTMLButtonElement>("button"));
    const at = buttons.indexOf(document.activeElement as HTMLButtonElement);
    if (at < 0) return;
    const step: { [k: string]: number } = { ArrowRight: 1, ArrowLeft: -1, ArrowDown: 3, ArrowUp: -3 };
    let next = at;
    if (e.key in step) next = at + (step[e.key] ?? 0);
    else if (e.key === "Home") next = 0;
    else if (e.key === "End") next = buttons.length - 1;
    else return;
    e.preventDefault();
    next = Math.min(buttons.length - 1, Math.max(0, next));
    buttons.forEach((b, i) => (b.tabIndex = i === next ? 0 : -1));
    buttons[next]?.focus();
  };
  return (
    <div class="keypad" role="group" aria-label={label} ref={ref} onKeyDown={move}>
      {KEYS.map((key, i) => (
        <button
          type="button"
          key={key}
          id={`${idPrefix}-${keyId(key)}`}
          data-testid={`${idPrefix}-${keyId(key)}`}
          tabIndex={i === 0 ? 0 : -1}
          disabled={disabled}
          aria-label={t("dial.key", { key })}
          onClick={() => onKey(key)}
        >
          {key}
        </button>
      ))}
    </div>
  );
}

/** A labelled on/off switch (a checkbox with role switch). */
export function Toggle(props: {
  id: string;
  label: string;
  checked: boolean;
  onChange: (on: boolean) => void;
}): JSX.Element {
  return (
    <label class="toggle" for={props.id}>
      <input
        type="checkbox"
        role="switch"
        id={props.id}
        data-testid={props.id}
        checked={props.checked}
        onChange={(e) => props.onChange((e.currentTarget as HTMLInputElement).checked)}
      />
      <span>{props.label}</span>
    </label>
  );
}

/** A message for the agent (an error is announced at once). */
export function Notice(props: { id: string; kind: "error" | "info"; text: string | null }) {
  if (!props.text) return null;
  return (
    <p id={props.id} data-testid={props.id} class={`notice ${props.kind}`} role={props.kind === "error" ? "alert" : "status"}>
      {props.text}
    </p>
  );
}
