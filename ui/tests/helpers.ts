// What the component tests share: fixtures as Rust answers them, a mocked Rust side at the IPC boundary
// (@tauri-apps/api/mocks) that records every call, and the app started on a fresh store.
import { render } from "@testing-library/svelte";
import { mockIPC } from "@tauri-apps/api/mocks";
import type { Account, CommandError, Configuration, DatasetInfo, Preview, Progress, ReadInfo, ReadText, RecipientInfo, Snippet, UploadRequest, Uploaded } from "../src/api";
import App from "../src/App.svelte";
import { Store } from "../src/state.svelte";

export const dataset = { id: "ds0123456789abcdef0123", name: "sales", version: 0, rows: 3, bytes: 1422, schema: [], shared: false, createdAt: "2026-01-01T00:00:00Z", updatedAt: "2026-01-01T00:00:00Z" } satisfies DatasetInfo;
export const configured = { settings: { backendUrl: "http://127.0.0.1:8081", firebaseApiKey: null, firebaseEmulatorHost: "127.0.0.1:9099", insecureHttp: false }, source: "environment", file: null, problems: [] } satisfies Configuration;
export const unconfigured = { settings: null, source: null, file: null, problems: [] } satisfies Configuration;
export const snippet = { datasetId: dataset.id, table: `${dataset.id}.default.sales`, profile: {}, install: "pip install delta-sharing", python: "print('pandas')", spark: "print('spark')" } satisfies Snippet;
export const account = { uid: "u1", email: "ana@example.com", remembered: true } satisfies Account;
/** A recipient the dataset above is shared with, as Rust answers it. */
export const recipient = {
  name: "bo", email: "bo@example.com", expiresAt: "2027-01-31T00:00:00Z", createdAt: "2026-01-01T00:00:00Z",
  lastReadAt: "2026-01-03T10:00:00Z",
  datasets: [{ datasetId: dataset.id, datasetName: dataset.name, table: "rc1.default.sales", startVersion: 0, history: false, grantedAt: "2026-01-02T00:00:00Z" }],
} satisfies RecipientInfo;
/** One read on record, as Rust answers it. */
export const readOnRecord = {
  at: "2026-01-03T10:00:00Z", recipient: "bo", datasetId: dataset.id, datasetName: dataset.name, operation: "query",
  version: 0, files: 2, bytes: 2048, status: 200, userAgent: "delta-sharing/1.4.2", address: "10.0.0.7",
} satisfies ReadInfo;

/** A preview as Rust answers it, for a file with the given columns (all strings unless typed). */
export function preview(file: string, columns: string[] = ["zip"], rows: (string | null)[][] = [["01234"], [null]]): Preview {
  return {
    file, format: "csv", sheets: [], sheet: null, file_size: 60, complete: true, sampled_rows: rows.length, warnings: [],
    dialect: { encoding: "utf8", delimiter: ",", quote: "\"", has_header: true, line_ending: "lf" },
    columns: columns.map((name) => ({ name, header: name, type: "string", nullable: false, ambiguous_dates: false })),
    rows,
  };
}

/** Read options as the UI sends them with nothing changed but `changed` (Rust's `ReadText`, nulls for the rest). */
export function read(changed: Partial<ReadText> = {}): ReadText {
  return { names: [], types: [], delimiter: null, encoding: null, hasHeader: null, ...changed };
}

export type Call = { cmd: string; args: Record<string, unknown> };
type Handler = (args: Record<string, unknown>, calls: Call[]) => unknown;

/** A pending `upload` call: feed it progress through its Channel, then let it finish or fail. */
export interface Pending {
  job: number;
  request: UploadRequest;
  progress(p: Progress): void;
  finish(answer?: Uploaded): void;
  fail(error: CommandError): void;
}

/**
 * Mocks the Rust side: `handlers` answer commands by name (a function gets the arguments), everything else
 * answers null. `upload` stays pending unless a handler is given: each call lands in `uploads`. Jobs count
 * from 1. Returns the calls made and the pending uploads.
 */
export function backend(handlers: Record<string, unknown> = {}) {
  const calls: Call[] = [];
  const uploads: Pending[] = [];
  let jobs = 0;
  const answers: Record<string, unknown> = {
    configuration: configured,
    restore_session: account,
    datasets: [dataset],
    interrupted: [],
    opened_files: [],
    recipients: [],
    activity: { reads: [] },
    // A new recipient as Rust answers it: nothing shared with them yet.
    add_recipient: (args: { name: string; email: string | null; expiresAt: string | null }) =>
      ({ name: args.name, email: args.email ?? undefined, expiresAt: args.expiresAt ?? undefined, createdAt: "2026-01-05T00:00:00Z", datasets: [] }) satisfies RecipientInfo,
    grant: (args: { recipients: string[] }) => ({ grants: args.recipients.map((name) => ({ shared: true, recipient: name, startVersion: 0, history: false, snippet })) }),
    discard: true,
    new_job: () => ++jobs,
    // The preview as Rust reads it again with the user's names and types.
    preview: (args: { path: string; read: ReadText | null }) => {
      const answer = preview(args.path);
      for (const [i, name] of args.read?.names ?? []) answer.columns[i].name = name;
      // A type name without options ("int64", "string") is the column type's tag as Rust answers it.
      for (const [i, type] of args.read?.types ?? []) answer.columns[i] = { ...answer.columns[i], type } as Preview["columns"][number];
      return answer;
    },
    upload: (args: { job: number; request: Pending["request"]; onProgress: { id: number } }) => new Promise((resolve, reject) => {
      let index = 0;
      uploads.push({
        job: args.job,
        request: args.request,
        // Through the Channel's own callback, as Rust's messages arrive.
        progress: (p) => (window as unknown as { __TAURI_INTERNALS__: { runCallback(id: number, data: unknown): void } })
          .__TAURI_INTERNALS__.runCallback(args.onProgress.id, { index: index++, message: p }),
        finish: (answer) => resolve(answer ?? { dataset: { ...dataset, name: args.request.name ?? "data", version: 1, rows: 5, versions: [] }, snippet: null, resumed: false, bytesSent: 100, notes: [] }),
        fail: reject,
      });
    }),
    ...handlers,
  };
  mockIPC((cmd, args) => {
    const given = (args ?? {}) as Record<string, unknown>;
    calls.push({ cmd, args: given });
    const answer = answers[cmd];
    return typeof answer === "function" ? (answer as Handler)(given, calls) : answer ?? null;
  }, { shouldMockEvents: true });
  return { calls, uploads, of: (cmd: string) => calls.filter((c) => c.cmd === cmd).map((c) => c.args) };
}

/** Lets promises and Svelte's updates run. */
export async function settle() {
  for (let i = 0; i < 10; i++) await new Promise((r) => setTimeout(r, 0));
}

/** The app on a fresh store, started (configuration, session, datasets, interrupted uploads) and connected to
 * Rust's events. */
export async function start() {
  const store = new Store();
  const view = render(App, { props: { store } });
  await store.connect();
  await store.start();
  await settle();
  return { store, ...view, root: view.container as HTMLElement };
}

export function $<T extends Element = HTMLElement>(selector: string, root: ParentNode = document): T {
  const found = root.querySelector<T>(selector);
  if (!found) throw new Error(`no element ${selector}`);
  return found;
}
