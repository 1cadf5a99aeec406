// The Rust commands (src-tauri/src/lib.rs), typed. The UI calls nothing else across the IPC boundary.
import { Channel, invoke } from "@tauri-apps/api/core";

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
export interface Account { uid: string; email?: string | null }
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
export interface CommandError { kind: "auth" | "input" | "network" | "cancelled" | "settings" | "other"; message: string }

export const api = {
  configuration: () => invoke<Configuration>("configuration"),
  saveSettings: (settings: Settings) => invoke<Configuration>("save_settings", { settings }),
  restoreSession: () => invoke<Account | null>("restore_session"),
  signIn: (email: string, password: string, signUp: boolean) => invoke<Account>("sign_in", { email, password, signUp }),
  signOut: () => invoke<void>("sign_out"),
  pickFiles: () => invoke<string[]>("pick_files"),
  preview: (path: string, read?: ReadOverrides, rows = 100) => invoke<Preview>("preview", { path, rows, read: read ?? null }),
  newJob: () => invoke<number>("new_job"),
  upload: (job: number, request: { files: string[]; name: string; mode: string; share: boolean; read: ReadOverrides }, onProgress: (p: Progress) => void) => {
    const channel = new Channel<Progress>();
    channel.onmessage = onProgress;
    return invoke<Uploaded>("upload", { job, request, onProgress: channel });
  },
  cancel: (job: number) => invoke<boolean>("cancel", { job }),
  datasets: () => invoke<Dataset[]>("datasets"),
  dataset: (id: string) => invoke<DatasetDetail>("dataset", { id }),
  share: (id: string, withHistory: boolean) => invoke<{ shared: boolean; startVersion: number; history: boolean; snippet: Snippet }>("share", { id, withHistory }),
  snippet: (id: string) => invoke<{ shared: boolean; snippet: Snippet }>("snippet", { id }),
  unshare: (id: string) => invoke<{ datasetId: string; wasShared: boolean; revocation: "inForce" | "pending" }>("unshare", { id }),
  remove: (id: string) => invoke<void>("delete", { id }),
};
