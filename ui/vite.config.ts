import { defineConfig } from "vite";

// Tauri serves the built files; no dev server is needed by the app itself.
export default defineConfig({
  build: { outDir: "dist", emptyOutDir: true, target: "safari15" },
  test: { environment: "jsdom" },
} as never);
