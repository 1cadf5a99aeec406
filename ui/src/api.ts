// The Rust commands (src-tauri/src/lib.rs) and events, typed. This is the only module that crosses the IPC
// boundary: nothing else imports `invoke`, `listen` or the webview.
import { Channel, invoke } from "@tauri-apps/api/core";
import { listen } from "@tauri-apps/api/event";

/** The settings (and a provisioning file's format). */
export interface Settings {
  backendUrl: string;
  firebaseApiKey?: string | null;
  firebaseEmulatorHost?: string | null;
  insecureHttp: boolean;
}
/** What the app runs with: no settings means unconfigured (nothing signs in until settings are saved). */
export interface Configuration {
  settings: Settings | null;
  source: "saved" | "environment" | "provisioning" | null;
  file: string | null;
  problems: string[];
}
/** The signed-in user. `remembered` is false when the session could not be kept (no Secret Service): it lasts
 * until the app quits. */
export interface Account { uid: string; email?: string | null; remembered: boolean }
export interface Column { name: string; header: string; type: string; order?: string; decimal_comma?: boolean; nullable: boolean; ambiguous_dates: boolean }
/** What the user changed in the preview (0-based column positions). */
export interface ReadOverrides { names: [number, string][]; types: [number, string][]; delimiter?: string; hasHeader?: boolean }
export interface Dialect { encoding: string; delimiter: string; quote: string; has_header: boolean; line_ending: string }
export interface Preview {
  file: string; file_size: number; dialect: Dialect; columns: Column[];
  rows: (string | null)[][]; sampled_rows: number; complete: boolean; warnings: string[];
}
export interface ColumnInfo { name: string; type: string }
export interface Dataset {
  id: string; name: string; version: number; rows: number; bytes: number;
  schema: ColumnInfo[]; shared: boolean; createdAt: string; updatedAt: string;
}
export interface Version { version: number; operation: string; rows: number; bytes: number; filesAdded: number; rowsAdded: number; committedAt: string }
export type DatasetDetail = Dataset & { versions: Version[] };
export interface Snippet {
  datasetId: string; table: string; profile: Record<string, unknown>;
  install: string; python: string; spark: string;
}
export interface Progress { stage: "converting" | "uploading" | "committing" | "sharing"; bytesDone: number; bytesTotal: number }
export interface Uploaded { dataset: DatasetDetail; snippet?: Snippet | null; resumed: boolean; bytesSent: number }
/** How an upload writes its dataset. */
export type Mode = "create" | "append" | "overwrite";
/** What `upload` sends: also what an interrupted upload was started with, to resume it as it was. */
export interface UploadRequest { files: string[]; name: string; mode: Mode; share: boolean; read: ReadOverrides }
/** An upload that stopped before it finished (crash, kill, quit or pause): its journal is on disk, and uploading
 * the same `request` again resumes from it. */
export interface Interrupted { key: string; request: UploadRequest; bytesSent: number; bytesTotal: number }
/** A command's failure: `kind` chooses the tone; an ingest error names the file, row and column it is about. */
export interface CommandError {
  kind: "auth" | "input" | "network" | "cancelled" | "paused" | "settings" | "other";
  message: string;
  file?: string;
  row?: number;
  column?: string;
}
/** What closing the window does while uploads run: keep them running in the background (tray), or quit. */
export type CloseBehaviour = "background" | "quit";
/** A drag over the window, as the webview reports it. */
export type DragDrop = { type: "enter"; paths: string[] } | { type: "over" } | { type: "drop"; paths: string[] } | { type: "leave" };

export const api = {
  configuration: () => invoke<Configuration>("configuration"),
  saveSettings: (settings: Settings) => invoke<Configuration>("save_settings", { settings }),
  restoreSession: () => invoke<Account | null>("restore_session"),
  signIn: (email: string, password: string, signUp: boolean) => invoke<Account>("sign_in", { email, password, signUp }),
  signOut: () => invoke<void>("sign_out"),
  pickFiles: () => invoke<string[]>("pick_files"),
  /** The CSV files the app was launched with (a file manager's "Open with"), answered once. */
  openedFiles: () => invoke<string[]>("opened_files"),
  preview: (path: string, read?: ReadOverrides, rows = 100) => invoke<Preview>("preview", { path, rows, read: read ?? null }),
  /** A new job id, to pass to `upload` and then to `pause` or `cancel`. */
  newJob: () => invoke<number>("new_job"),
  /** Converts and uploads; progress streams to `onProgress`. Uploading a request whose journal exists (paused or
   * interrupted) resumes it, and the answer's `resumed` is true. Rejects with kind "paused" after `pause` and
   * "cancelled" after `cancel`. */
  upload: (job: number, request: UploadRequest, onProgress: (p: Progress) => void) => {
    const channel = new Channel<Progress>();
    channel.onmessage = onProgress;
    return invoke<Uploaded>("upload", { job, request, onProgress: channel });
  },
  /** Stops a running upload and keeps its journal, to resume later; false when the job is not running. */
  pause: (job: number) => invoke<boolean>("pause", { job }),
  /** Stops a running upload and discards what it sent; false when the job is not running. */
  cancel: (job: number) => invoke<boolean>("cancel", { job }),
  /** The uploads that stopped before finishing (paused, or cut off by a crash, a kill or quitting). */
  interrupted: () => invoke<Interrupted[]>("interrupted"),
  /** Forgets an interrupted upload (its journal and what it sent). */
  discard: (key: string) => invoke<void>("discard", { key }),
  /** What closing the window does while uploads run, asked once (after the `close-requested` event). */
  setCloseBehaviour: (behaviour: CloseBehaviour) => invoke<void>("set_close_behaviour", { behaviour }),
  datasets: () => invoke<Dataset[]>("datasets"),
  dataset: (id: string) => invoke<DatasetDetail>("dataset", { id }),
  share: (id: string, withHistory: boolean) => invoke<{ shared: boolean; startVersion: number; history: boolean; snippet: Snippet }>("share", { id, withHistory }),
  snippet: (id: string) => invoke<{ shared: boolean; snippet: Snippet }>("snippet", { id }),
  unshare: (id: string) => invoke<{ datasetId: string; wasShared: boolean; revocation: "inForce" | "pending" }>("unshare", { id }),
  remove: (id: string) => invoke<void>("delete", { id }),
};

/** Rust emits `close-requested` when the window is closed while uploads run and the user has never chosen what
 * that does; the answer goes back through `api.setCloseBehaviour`. Resolves to a function that stops listening. */
export function onCloseRequested(handler: () => void): Promise<() => void> {
  return listen("close-requested", () => handler());
}

/** Files dragged over the window. Outside Tauri (unit tests) nothing is reported. */
export async function onDragDrop(handler: (event: DragDrop) => void): Promise<() => void> {
  try {
    const { getCurrentWebview } = await import("@tauri-apps/api/webview");
    return await getCurrentWebview().onDragDropEvent((event) => handler(event.payload as DragDrop));
  } catch {
    return () => {};
  }
}
