// Rendering helpers: mount into a fresh container, let effects and promises run, and act like
// the agent (type, click, press keys).

import { render, type ComponentChild } from "preact";
import { act } from "preact/test-utils";

let root: HTMLElement | null = null;

export async function mount(node: ComponentChild): Promise<HTMLElement> {
  unmount();
  root = document.createElement("div");
  document.body.appendChild(root);
  const at = root;
  await act(() => {
    render(node, at);
  });
  await settle();
  return at;
}

export function unmount(): void {
  if (root) {
    const at = root;
    void act(() => render(null, at));
    at.remove();
    root = null;
  }
}

/** Lets pending promises, effects and `ms` of timers run. */
export async function settle(ms = 0): Promise<void> {
  for (let i = 0; i < 3; i++) {
    await act(async () => {
      await new Promise((r) => setTimeout(r, i === 0 ? ms : 0));
    });
  }
}

export function $(selector: string): HTMLElement {
  const el = document.querySelector<HTMLElement>(selector);
  if (!el) throw new Error(`nothing matches ${selector}`);
  return el;
}

export async function click(selector: string | HTMLElement): Promise<void> {
  const el = typeof selector === "string" ? $(selector) : selector;
  await act(() => {
    el.click();
  });
  await settle();
}

export async function type(selector: string, value: string): Promise<void> {
  const el = $(selector) as HTMLInputElement;
  await act(() => {
    el.value = value;
    el.dispatchEvent(new Event("input", { bubbles: true }));
  });
  await settle();
}

export async function change(selector: string, value: string): Promise<void> {
  const el = $(selector) as HTMLInputElement | HTMLSelectElement;
  await act(() => {
    el.value = value;
    el.dispatchEvent(new Event("input", { bubbles: true }));
    el.dispatchEvent(new Event("change", { bubbles: true }));
  });
  await settle();
}

export async function key(target: HTMLElement | Element | null, k: string, init: KeyboardEventInit = {}): Promise<KeyboardEvent> {
  const el = (target ?? document.body) as HTMLElement;
  const event = new KeyboardEvent("keydown", { key: k, bubbles: true, cancelable: true, ...init });
  await act(() => {
    el.dispatchEvent(event);
  });
  await settle();
  return event;
}

export function text(selector: string): string {
  return $(selector).textContent ?? "";
}
