import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { setBridge } from "../src/bridge";
import type { Layout } from "../src/contract";
import { setLanguage } from "../src/i18n";
import { addObject, moveField, removeObject, toggleCallField } from "../src/model/layout";
import { LayoutEditor } from "../src/views/LayoutEditor";
import { defaultLayout, fakeBridge, type Fake } from "./fakeBridge";
import { $, change, click, mount, text, type, unmount } from "./render";

let fake: Fake;
beforeEach(() => {
  setLanguage("en");
  fake = fakeBridge();
  setBridge(fake.bridge);
});
afterEach(() => {
  unmount();
  setBridge(null);
});

describe("layout edits", () => {
  it("never change the layout they are given", () => {
    const before = defaultLayout();
    const copy = structuredClone(before);
    const after = moveField(addObject(before, "Outbound", "Case"), "Inbound", 1, 2, -1);
    expect(before, "the input layout is untouched").toEqual(copy);
    expect(after.outbound.objects.map((o) => o.sobject), "the object is added to outbound only").toEqual(["Account", "Contact", "Case"]);
    expect(after.inbound.objects[1]?.fields.map((f) => f.api_name), "Phone moved above Account.Name").toEqual(["Name", "Phone", "Account.Name"]);
    expect(removeObject(before, "Internal", 0).internal.objects.length, "removing drops one object").toBe(1);
    expect(toggleCallField(before, "Inbound", "Segment", true).inbound.call_fields, "call fields keep a fixed order").toEqual(["Ani", "Dnis", "Queue", "Segment"]);
  });
});

describe("layout editor", () => {
  it("saves what the agent edited, exports it, and imports it back", async () => {
    await mount(<LayoutEditor />);
    await click("#layout-call-field-Segment");
    await click('[data-testid="layout-object-1-add-field"]');
    await type('[data-testid="layout-object-1-field-3-label"]', "Title");
    await type('[data-testid="layout-object-1-field-3-api"]', "Title");
    await change("#layout-no-match", "Flow");
    await type("#layout-no-match-flow-name", "New_Caller");
    await change("#layout-open-within", "NewWindow");
    await click("#layout-save");

    const expected: Layout = defaultLayout();
    expected.inbound.call_fields = ["Ani", "Dnis", "Queue", "Segment"];
    expected.inbound.objects[1]!.fields.push({ label: "Title", api_name: "Title" });
    expected.inbound.pop.no_match = { action: "Flow", name: "New_Caller", input_var: "Phone" };
    expected.inbound.pop.open_within = "NewWindow";
    expect(fake.bridge.saveLayout, "the shell gets exactly the edited layout").toHaveBeenCalledWith(expected);
    expect(text("#layout-message"), "the agent is told it is saved").toBe("Layout saved.");

    await click("#layout-export");
    const file = ($("#layout-export-text") as HTMLTextAreaElement).value;
    expect(JSON.parse(file), "the exported file is the saved layout").toEqual(expected);

    // Someone else's edit of the file, imported back.
    const edited = JSON.parse(file) as Layout;
    edited.outbound.objects = [{ sobject: "Case", fields: [{ label: "Case Number", api_name: "CaseNumber" }] }];
    await type("#layout-import-text", JSON.stringify(edited));
    await click("#layout-import");
    expect(fake.bridge.importLayout, "the file's text goes to the shell as is").toHaveBeenCalledWith(JSON.stringify(edited));
    await change("#layout-call-type", "Outbound");
    expect(($('[data-testid="layout-object-0-sobject"]') as HTMLInputElement).value, "the editor shows the imported layout").toBe("Case");
    expect(text("#layout-message"), "the agent is told it is imported").toBe("Layout imported and saved.");
  });

  it("keeps the current layout and names the line and field when an import fails", async () => {
    fake.bridge.importLayout = async () => {
      throw "layout file, line 3 column 9, at `call_types.Inbound.pop`: unknown field `popp`";
    };
    await mount(<LayoutEditor />);
    await type("#layout-import-text", '{\n "call_types": {\n  "Inbound": {"popp": 1}}}');
    await click("#layout-import");
    expect(text("#layout-error"), "the shell's sentence names line and field").toContain("line 3 column 9");
    expect(($('[data-testid="layout-object-0-sobject"]') as HTMLInputElement).value, "the old layout is still shown").toBe("Account");
  });
});
