// Entry point: one bundle for both windows; `#popup` picks the incoming-call popup.

import { render } from "preact";
import { App } from "./App";

const root = document.getElementById("app");
if (root) render(<App mode={location.hash === "#popup" ? "popup" : "main"} />, root);
