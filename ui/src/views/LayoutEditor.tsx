// The softphone-layout editor: per call type the call fields, the objects and their fields, and
// the pop rules; import from a file (the shell validates it and names the line and field) and
// export to a file.

import { useEffect, useState } from "preact/hooks";
import { bridge, errorText } from "../bridge";
import type { CallType, FlowTarget, Layout, MultipleMatchAction, NoMatchAction, OpenWithin, SingleMatchAction } from "../contract";
import { t } from "../i18n";
import * as edit from "../model/layout";
import { Notice } from "./common";

function FlowFields(props: { id: string; flow: FlowTarget; onChange: (f: FlowTarget) => void }) {
  const { id, flow } = props;
  return (
    <div class="flow-fields">
      <label for={`${id}-flow-name`}>{t("layout.flow_name")}</label>
      <input id={`${id}-flow-name`} data-testid={`${id}-flow-name`} type="text" value={flow.name} onInput={(e) => props.onChange({ ...flow, name: (e.currentTarget as HTMLInputElement).value })} />
      <label for={`${id}-flow-var`}>{t("layout.flow_var")}</label>
      <input id={`${id}-flow-var`} data-testid={`${id}-flow-var`} type="text" value={flow.input_var} onInput={(e) => props.onChange({ ...flow, input_var: (e.currentTarget as HTMLInputElement).value })} />
    </div>
  );
}

export function LayoutEditor() {
  const [layout, setLayout] = useState<Layout | null>(null);
  const [callType, setCallType] = useState<CallType>("Inbound");
  const [message, setMessage] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [exported, setExported] = useState<string | null>(null);
  const [importText, setImportText] = useState("");
  const [download, setDownload] = useState<string | null>(null);

  const load = async () => {
    try {
      setLayout(await bridge().layout());
    } catch (e) {
      setError(errorText(e));
    }
  };
  useEffect(() => void load(), []);
  useEffect(() => () => void (download && URL.revokeObjectURL(download)), [download]);

  if (!layout) {
    return (
      <section aria-labelledby="layout-title">
        <h2 id="layout-title">{t("layout.title")}</h2>
        <Notice id="layout-error" kind="error" text={error} />
        {error ? null : <p class="muted">{t("common.loading")}</p>}
      </section>
    );
  }
  const ct = layout[edit.keyOf(callType)];
  const change = (next: Layout) => {
    setLayout(next);
    setMessage(null);
  };
  const save = async () => {
    try {
      const saved = await bridge().saveLayout(layout);
      setLayout(saved ?? layout);
      setError(null);
      setMessage(t("layout.saved"));
    } catch (e) {
      setError(errorText(e));
    }
  };
  const importFrom = async (text: string) => {
    try {
      setLayout(await bridge().importLayout(text));
      setError(null);
      setMessage(t("layout.imported"));
      setImportText("");
    } catch (e) {
      setError(errorText(e));
      setMessage(null);
    }
  };
  const exportNow = async () => {
    try {
      const text = await bridge().exportLayout();
      setExported(text);
      if (typeof URL.createObjectURL === "function") {
        setDownload(URL.createObjectURL(new Blob([text], { type: "application/json" })));
      }
      setError(null);
    } catch (e) {
      setError(errorText(e));
    }
  };
  const pop = ct.pop;
  return (
    <section class="layout-editor" aria-labelledby="layout-title">
      <h2 id="layout-title">{t("layout.title")}</h2>
      <label for="layout-call-type">{t("layout.call_type")}</label>
      <select id="layout-call-type" data-testid="layout-call-type" value={callType} onChange={(e) => setCallType((e.currentTarget as HTMLSelectElement).value as CallType)}>
        {edit.CALL_TYPES.map((c) => (
          <option key={c} value={c}>
            {t(c === "Inbound" ? "layout.inbound" : c === "Outbound" ? "layout.outbound" : "layout.internal")}
          </option>
        ))}
      </select>

      <fieldset>
        <legend>{t("layout.call_fields")}</legend>
        {edit.CALL_FIELDS.map((f) => (
          <label key={f} class="inline">
            <input
              type="checkbox"
              id={`layout-call-field-${f}`}
              data-testid={`layout-call-field-${f}`}
              checked={ct.call_fields.includes(f)}
              onChange={(e) => change(edit.toggleCallField(layout, callType, f, (e.currentTarget as HTMLInputElement).checked))}
            />
            {t(f === "Ani" ? "layout.field_ani" : f === "Dnis" ? "layout.field_dnis" : f === "Queue" ? "layout.field_queue" : "layout.field_segment")}
          </label>
        ))}
      </fieldset>

      <fieldset>
        <legend>{t("layout.objects")}</legend>
        {ct.objects.map((o, i) => (
          <div class="layout-object" key={i} data-testid={`layout-object-${i}`}>
            <div class="field-row">
              <label for={`layout-object-${i}-sobject`}>{t("layout.object")}</label>
              <input id={`layout-object-${i}-sobject`} data-testid={`layout-object-${i}-sobject`} type="text" value={o.sobject} onInput={(e) => change(edit.renameObject(layout, callType, i, (e.currentTarget as HTMLInputElement).value))} />
              <button type="button" data-testid={`layout-object-${i}-up`} aria-label={t("layout.move_up_named", { name: o.sobject })} disabled={i === 0} onClick={() => change(edit.moveObject(layout, callType, i, -1))}>↑</button>
              <button type="button" data-testid={`layout-object-${i}-remove`} aria-label={t("layout.remove_named", { name: o.sobject })} onClick={() => change(edit.removeObject(layout, callType, i))}>✕</button>
            </div>
            <table class="layout-fields">
              <thead>
                <tr>
                  <th scope="col">{t("layout.label")}</th>
                  <th scope="col">{t("layout.api_name")}</th>
                  <th scope="col"><span class="visually-hidden">{t("layout.actions")}</span></th>
                </tr>
              </thead>
              <tbody>
                {o.fields.map((f, j) => (
                  <tr key={j}>
                    <td>
                      <input aria-label={t("layout.label")} data-testid={`layout-object-${i}-field-${j}-label`} type="text" value={f.label} onInput={(e) => change(edit.setField(layout, callType, i, j, "label", (e.currentTarget as HTMLInputElement).value))} />
                    </td>
                    <td>
                      <input aria-label={t("layout.api_name")} data-testid={`layout-object-${i}-field-${j}-api`} type="text" value={f.api_name} onInput={(e) => change(edit.setField(layout, callType, i, j, "api_name", (e.currentTarget as HTMLInputElement).value))} />
                    </td>
                    <td>
                      <button type="button" data-testid={`layout-object-${i}-field-${j}-up`} aria-label={t("layout.move_up_named", { name: f.label })} disabled={j === 0} onClick={() => change(edit.moveField(layout, callType, i, j, -1))}>↑</button>
                      <button type="button" data-testid={`layout-object-${i}-field-${j}-remove`} aria-label={t("layout.remove_named", { name: f.label })} onClick={() => change(edit.removeField(layout, callType, i, j))}>✕</button>
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
            <button type="button" data-testid={`layout-object-${i}-add-field`} onClick={() => change(edit.addField(layout, callType, i, "", ""))}>
              {t("layout.add_field")}
            </button>
          </div>
        ))}
        <button type="button" id="layout-add-object" data-testid="layout-add-object" onClick={() => change(edit.addObject(layout, callType, ""))}>
          {t("layout.add_object")}
        </button>
      </fieldset>

      <fieldset>
        <legend>{t("layout.pop_rules")}</legend>
        <label for="layout-open-within">{t("layout.open_within")}</label>
        <select id="layout-open-within" data-testid="layout-open-within" value={pop.open_within} onChange={(e) => change(edit.setOpenWithin(layout, callType, (e.currentTarget as HTMLSelectElement).value as OpenWithin))}>
          <option value="ExistingWindow">{t("layout.existing_window")}</option>
          <option value="NewWindow">{t("layout.new_window")}</option>
        </select>

        <label for="layout-no-match">{t("layout.no_match")}</label>
        <select
          id="layout-no-match"
          data-testid="layout-no-match"
          value={pop.no_match.action}
          onChange={(e) =>
            change(edit.editCallType(layout, callType, (c) => (c.pop.no_match = edit.noMatchOf((e.currentTarget as HTMLSelectElement).value as NoMatchAction["action"], c.pop.no_match))))
          }
        >
          <option value="DontPop">{t("layout.dont_pop")}</option>
          <option value="NewRecord">{t("layout.new_record")}</option>
          <option value="Search">{t("layout.search_page")}</option>
          <option value="Flow">{t("layout.flow")}</option>
        </select>
        {pop.no_match.action === "NewRecord" ? (
          <div class="flow-fields">
            <label for="layout-new-sobject">{t("layout.new_record_object")}</label>
            <input
              id="layout-new-sobject"
              data-testid="layout-new-sobject"
              type="text"
              value={pop.no_match.sobject}
              onInput={(e) => change(edit.editCallType(layout, callType, (c) => c.pop.no_match.action === "NewRecord" && (c.pop.no_match.sobject = (e.currentTarget as HTMLInputElement).value)))}
            />
            <label for="layout-new-prefill">{t("layout.prefill")}</label>
            <input
              id="layout-new-prefill"
              data-testid="layout-new-prefill"
              type="text"
              value={pop.no_match.prefill.join(", ")}
              onChange={(e) => change(edit.editCallType(layout, callType, (c) => c.pop.no_match.action === "NewRecord" && (c.pop.no_match.prefill = edit.listOf((e.currentTarget as HTMLInputElement).value))))}
            />
          </div>
        ) : null}
        {pop.no_match.action === "Flow" ? (
          <FlowFields id="layout-no-match" flow={pop.no_match} onChange={(f) => change(edit.editCallType(layout, callType, (c) => (c.pop.no_match = { action: "Flow", ...f })))} />
        ) : null}

        <label for="layout-single-match">{t("layout.single_match")}</label>
        <select
          id="layout-single-match"
          data-testid="layout-single-match"
          value={pop.single_match.action}
          onChange={(e) =>
            change(edit.editCallType(layout, callType, (c) => (c.pop.single_match = edit.singleOf((e.currentTarget as HTMLSelectElement).value as SingleMatchAction["action"], c.pop.single_match))))
          }
        >
          <option value="Record">{t("layout.record_page")}</option>
          <option value="DontPop">{t("layout.dont_pop")}</option>
          <option value="Flow">{t("layout.flow")}</option>
        </select>
        {pop.single_match.action === "Flow" ? (
          <FlowFields id="layout-single-match" flow={pop.single_match} onChange={(f) => change(edit.editCallType(layout, callType, (c) => (c.pop.single_match = { action: "Flow", ...f })))} />
        ) : null}

        <label for="layout-multiple-matches">{t("layout.multiple_matches")}</label>
        <select
          id="layout-multiple-matches"
          data-testid="layout-multiple-matches"
          value={pop.multiple_matches.action}
          onChange={(e) =>
            change(
              edit.editCallType(layout, callType, (c) => (c.pop.multiple_matches = edit.multipleOf((e.currentTarget as HTMLSelectElement).value as MultipleMatchAction["action"], c.pop.multiple_matches))),
            )
          }
        >
          <option value="Search">{t("layout.search_page")}</option>
          <option value="DontPop">{t("layout.dont_pop")}</option>
          <option value="Flow">{t("layout.flow")}</option>
        </select>
        {pop.multiple_matches.action === "Flow" ? (
          <FlowFields id="layout-multiple-matches" flow={pop.multiple_matches} onChange={(f) => change(edit.editCallType(layout, callType, (c) => (c.pop.multiple_matches = { action: "Flow", ...f })))} />
        ) : null}
      </fieldset>

      <Notice id="layout-error" kind="error" text={error} />
      <Notice id="layout-message" kind="info" text={message} />
      <div class="actions">
        <button type="button" id="layout-save" data-testid="layout-save" class="primary" onClick={() => void save()}>
          {t("layout.save")}
        </button>
        <button type="button" id="layout-reload" data-testid="layout-reload" onClick={() => void load()}>
          {t("layout.reload")}
        </button>
      </div>

      <fieldset>
        <legend>{t("layout.file")}</legend>
        <label for="layout-import-file">{t("layout.import_file")}</label>
        <input
          id="layout-import-file"
          data-testid="layout-import-file"
          type="file"
          accept=".json,application/json"
          onChange={async (e) => {
            const file = (e.currentTarget as HTMLInputElement).files?.[0];
            if (file) await importFrom(await file.text());
          }}
        />
        <label for="layout-import-text">{t("layout.import_text")}</label>
        <textarea id="layout-import-text" data-testid="layout-import-text" rows={3} value={importText} onInput={(e) => setImportText((e.currentTarget as HTMLTextAreaElement).value)} />
        <button type="button" id="layout-import" data-testid="layout-import" disabled={importText.trim() === ""} onClick={() => void importFrom(importText)}>
          {t("layout.import")}
        </button>
        <button type="button" id="layout-export" data-testid="layout-export" onClick={() => void exportNow()}>
          {t("layout.export")}
        </button>
        {download ? (
          <a id="layout-download" data-testid="layout-download" href={download} download="callpop-layout.json">
            {t("layout.download")}
          </a>
        ) : null}
        {exported !== null ? (
          <textarea id="layout-export-text" data-testid="layout-export-text" aria-label={t("layout.exported")} rows={4} readOnly value={exported} />
        ) : null}
      </fieldset>
    </section>
  );
}
