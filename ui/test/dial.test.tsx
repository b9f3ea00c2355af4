import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { setBridge } from "../src/bridge";
import type { DialTarget } from "../src/contract";
import { setLanguage } from "../src/i18n";
import { cleanDialInput } from "../src/model/dial";
import { DialPad } from "../src/views/DialPad";
import { fakeBridge, type Fake } from "./fakeBridge";
import { $, click, key, mount, settle, text, type, unmount } from "./render";

// The fake shell reads Japanese numbers the way the real one (libphonenumber) would for these.
function shell(): Fake {
  return fakeBridge({
    dialPreview: async (input: string): Promise<DialTarget> => {
      const digits = input.replace(/^tel:/, "").replace(/[^\d+]/g, "");
      if (digits === "+81312345678" || digits === "0312345678") {
        return { input, number: "+81312345678", display: "+81 3-1234-5678", internal: false };
      }
      if (digits === "1001") return { input, number: "1001", display: "1001", internal: true };
      throw new Error("This is not a phone number: use digits, + and an optional extension.");
    },
  });
}

let fake: Fake;
beforeEach(() => {
  setLanguage("en");
  fake = shell();
  setBridge(fake.bridge);
});
afterEach(() => {
  unmount();
  setBridge(null);
});

describe("dial pad", () => {
  it("cleans pasted text to one bounded line", () => {
    expect(cleanDialInput("  +81 (3) 1234-5678\r\n"), "line breaks and outer spaces go").toBe("+81 (3) 1234-5678");
    expect(cleanDialInput("\u202e0312\u200b345678"), "bidi and zero-width characters go").toBe("0312 345678");
    expect(cleanDialInput("9".repeat(1000)).length, "a huge paste is cut").toBe(256);
  });

  it("previews a pasted number in any format, then dials what the shell read", async () => {
    await mount(<DialPad />);
    await type("#dial-input", "tel:+81-3-1234-5678\n");
    await settle(300);
    expect(text("#dial-preview"), "the agent sees what will be dialed").toBe("Will call +81 3-1234-5678");
    await click("#dial-button");
    expect(fake.bridge.dial, "the E.164 number is dialed, not the pasted text").toHaveBeenCalledWith("+81312345678");
    expect(($("#dial-input") as HTMLInputElement).value, "the field is cleared after dialing").toBe("");
  });

  it("dials from Enter without waiting for the preview", async () => {
    await mount(<DialPad />);
    await type("#dial-input", "03-1234-5678");
    await key($("#dial-input"), "Enter");
    expect(fake.bridge.dial, "Enter dials the previewed number").toHaveBeenCalledWith("+81312345678");
  });

  it("shows the shell's sentence and dials nothing for unreadable input", async () => {
    await mount(<DialPad />);
    await type("#dial-input", "call me maybe");
    await click("#dial-button");
    expect(text("#dial-error"), "the reason is shown").toContain("This is not a phone number");
    expect(fake.bridge.dial, "nothing is dialed").not.toHaveBeenCalled();
  });

  it("marks an internal number as an extension", async () => {
    await mount(<DialPad />);
    await type("#dial-input", "1001");
    await settle(300);
    expect(text("#dial-preview"), "an extension is named so").toBe("Will call extension 1001");
  });

  it("takes typed digits and keys, and moves between keys with the arrows", async () => {
    await mount(<DialPad />);
    const one = $("#dial-key-1");
    expect(one.tabIndex, "the first key is the keypad's Tab stop").toBe(0);
    expect($("#dial-key-2").tabIndex, "other keys are reached with arrows, not Tab").toBe(-1);
    one.focus();
    await key(one, "ArrowRight");
    expect(document.activeElement?.id, "right arrow moves to 2").toBe("dial-key-2");
    await key(document.activeElement, "ArrowDown");
    expect(document.activeElement?.id, "down arrow moves to 5").toBe("dial-key-5");
    await key(document.activeElement, "End");
    expect(document.activeElement?.id, "End moves to #").toBe("dial-key-hash");
    await key(document.activeElement, "0");
    await key(document.activeElement, "3");
    await click("#dial-key-star");
    expect(($("#dial-input") as HTMLInputElement).value, "typed digits and the clicked key land in the field").toBe("03*");
    await key(document.activeElement, "Backspace");
    expect(($("#dial-input") as HTMLInputElement).value, "Backspace deletes the last one").toBe("03");
  });
});
