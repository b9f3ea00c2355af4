// The layout editor's edits: pure functions from a layout to a new one (the input is never
// changed). The shell validates on save and names the field when something is wrong.

import type {
  CallField,
  CallType,
  CallTypeLayout,
  FlowTarget,
  Layout,
  MultipleMatchAction,
  NoMatchAction,
  OpenWithin,
  SingleMatchAction,
} from "../contract";

export const CALL_TYPES: readonly CallType[] = ["Inbound", "Outbound", "Internal"];
export const CALL_FIELDS: readonly CallField[] = ["Ani", "Dnis", "Queue", "Segment"];

type Key = "inbound" | "outbound" | "internal";

export function keyOf(callType: CallType): Key {
  return callType === "Inbound" ? "inbound" : callType === "Outbound" ? "outbound" : "internal";
}

/** Applies `change` to a copy of one call type's layout. */
export function editCallType(layout: Layout, callType: CallType, change: (c: CallTypeLayout) => void): Layout {
  const next = structuredClone(layout);
  change(next[keyOf(callType)]);
  return next;
}

export function toggleCallField(layout: Layout, callType: CallType, field: CallField, on: boolean): Layout {
  return editCallType(layout, callType, (c) => {
    const has = c.call_fields.includes(field);
    if (on && !has) c.call_fields = CALL_FIELDS.filter((f) => f === field || c.call_fields.includes(f));
    if (!on && has) c.call_fields = c.call_fields.filter((f) => f !== field);
  });
}

export function addObject(layout: Layout, callType: CallType, sobject: string): Layout {
  return editCallType(layout, callType, (c) => {
    c.objects.push({ sobject, fields: [{ label: "Name", api_name: "Name" }] });
  });
}

export function removeObject(layout: Layout, callType: CallType, index: number): Layout {
  return editCallType(layout, callType, (c) => {
    c.objects.splice(index, 1);
  });
}

export function renameObject(layout: Layout, callType: CallType, index: number, sobject: string): Layout {
  return editCallType(layout, callType, (c) => {
    const o = c.objects[index];
    if (o) o.sobject = sobject;
  });
}

export function moveObject(layout: Layout, callType: CallType, index: number, by: -1 | 1): Layout {
  return editCallType(layout, callType, (c) => {
    const to = index + by;
    if (to < 0 || to >= c.objects.length) return;
    const [o] = c.objects.splice(index, 1);
    if (o) c.objects.splice(to, 0, o);
  });
}

export function addField(layout: Layout, callType: CallType, object: number, label: string, apiName: string): Layout {
  return editCallType(layout, callType, (c) => {
    c.objects[object]?.fields.push({ label, api_name: apiName });
  });
}

export function setField(
  layout: Layout,
  callType: CallType,
  object: number,
  field: number,
  part: "label" | "api_name",
  value: string,
): Layout {
  return editCallType(layout, callType, (c) => {
    const f = c.objects[object]?.fields[field];
    if (f) f[part] = value;
  });
}

export function removeField(layout: Layout, callType: CallType, object: number, field: number): Layout {
  return editCallType(layout, callType, (c) => {
    c.objects[object]?.fields.splice(field, 1);
  });
}

export function moveField(layout: Layout, callType: CallType, object: number, field: number, by: -1 | 1): Layout {
  return editCallType(layout, callType, (c) => {
    const fields = c.objects[object]?.fields;
    const to = field + by;
    if (!fields || to < 0 || to >= fields.length) return;
    const [f] = fields.splice(field, 1);
    if (f) fields.splice(to, 0, f);
  });
}

export function setOpenWithin(layout: Layout, callType: CallType, open: OpenWithin): Layout {
  return editCallType(layout, callType, (c) => {
    c.pop.open_within = open;
  });
}

const FLOW: FlowTarget = { name: "", input_var: "Phone" };

/** The no-match rule of the given kind, keeping what the current rule already says. */
export function noMatchOf(kind: NoMatchAction["action"], current: NoMatchAction): NoMatchAction {
  switch (kind) {
    case "DontPop":
      return { action: "DontPop" };
    case "Search":
      return { action: "Search" };
    case "NewRecord":
      return current.action === "NewRecord" ? current : { action: "NewRecord", sobject: "Contact", prefill: ["Phone"] };
    case "Flow":
      return current.action === "Flow" ? current : { action: "Flow", ...FLOW };
  }
}

export function singleOf(kind: SingleMatchAction["action"], current: SingleMatchAction): SingleMatchAction {
  if (kind === "Flow") return current.action === "Flow" ? current : { action: "Flow", ...FLOW };
  return { action: kind };
}

export function multipleOf(kind: MultipleMatchAction["action"], current: MultipleMatchAction): MultipleMatchAction {
  if (kind === "Flow") return current.action === "Flow" ? current : { action: "Flow", ...FLOW };
  return { action: kind };
}

/** A comma-separated list as trimmed, non-empty items. */
export function listOf(text: string): string[] {
  return text
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s !== "");
}
