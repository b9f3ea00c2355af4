// Vite builds the one UI bundle (both windows: `index.html` and `index.html#popup`) into `dist/`
// with relative paths, so the Tauri shell serves it from disk. JSX goes through esbuild's
// automatic runtime with Preact as the import source: no plugin needed.
import { defineConfig } from "vitest/config";

export default defineConfig({
  base: "./",
  esbuild: { jsx: "automatic", jsxImportSource: "preact" },
  build: {
    outDir: "dist",
    emptyOutDir: true,
    target: "es2022",
    // No inline `<script>` or `style=` attributes: the shell's CSP is `default-src 'self'`.
    assetsInlineLimit: 0,
    modulePreload: { polyfill: false },
  },
  server: { strictPort: true, port: 5173 },
  test: {
    environment: "happy-dom",
    globals: true,
    include: ["test/**/*.test.{ts,tsx}"],
  },
});
