import { svelte } from "@sveltejs/vite-plugin-svelte";
import { defineConfig } from "vite";

// Tauri serves the built files; no dev server is needed by the app itself. Under vitest, Svelte resolves to its
// browser build so components mount in jsdom, and the tests may read the Rust list of file name endings the UI
// mirrors (in crates/ingest/src/source.rs).
export default defineConfig({
  plugins: [svelte()],
  build: { outDir: "dist", emptyOutDir: true, target: "safari15" },
  resolve: process.env.VITEST ? { conditions: ["browser"] } : undefined,
  server: process.env.VITEST ? { fs: { allow: [".", "../crates/ingest/src"] } } : undefined,
  test: { environment: "jsdom", setupFiles: ["tests/setup.ts"] },
} as never);
