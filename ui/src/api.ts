// The Rust commands (src-tauri/src/lib.rs) and events, typed. This is the only module that crosses the IPC
// boundary: nothing else imports `invoke`, `listen` or the webview.
//
// What the commands take and answer is typed by ./generated/ipc.ts, generated from the Rust types with ts-rs (a
// Rust test fails while it is stale; never edit it by hand). Those types are re-exported here, under the names the
// rest of the UI uses where they differ, so nothing here can drift from what Rust really sends.
import { Channel, invoke } from "@tauri-apps/api/core";
import { listen } from "@tauri-apps/api/event";
import type {
  Account, ActivationLink, Activity, Configuration, DatasetDetail, DatasetInfo, GrantResponse, Interrupted, Preview,
  Progress, ReadInfo, ReadText, RecipientChange, RecipientInfo, SettingsFile, ShareResponse, UnshareResponse,
  UpdateOffer, UpdateProgress, UploadRequest, Uploaded, VersionInfo,
} from "./generated/ipc";

export type {
  Account, ActivationLink, Activity, Column, ColumnInfo, ColumnType, CommandError, Configuration, DatasetDetail,
  DatasetId, DatasetInfo, DateOrder, Dialect, Encoding, Format, GrantInfo, GrantResponse, Interrupted, LineEnding, Mode,
  Preview, Progress, ReadInfo, ReadText, RecipientChange, RecipientInfo, RecipientName, Revocation, SettingsFile,
  ShareResponse, Sheet, Snippet, Source, Stage, UnshareResponse, UpdateOffer, UpdateProgress, UploadRequest, Uploaded,
  VersionInfo,
} from "./generated/ipc";

/** The settings (and a provisioning file's format): Rust's `SettingsFile`. */
export type Settings = SettingsFile;
/** A dataset as the list shows it: Rust's `DatasetInfo`. */
export type Dataset = DatasetInfo;
/** One version in a dataset's history: Rust's `VersionInfo`. */
export type Version = VersionInfo;
/** A recipient with the datasets shared with them, expiry and last read: Rust's `RecipientInfo`. */
export type Recipient = RecipientInfo;
/** One read on record in the Activity view: Rust's `ReadInfo`. */
export type Read = ReadInfo;

/** Which reads `api.activity` lists: a dataset's (id), a recipient's (`link`: through a dataset's snippet), from a
 * time on (RFC 3339), at most `limit` (the backend's default 200, at most 1,000). Null: any. */
export interface ActivityQuery {
  dataset: string | null;
  recipient: string | null;
  since: string | null;
  limit: number | null;
}
/** What the user changed in the preview (0-based column positions), as text the ingest library parses: Rust's
 * `ReadText`. A choice not made is null. */
export type ReadOverrides = ReadText;

// Written by hand: Rust does not generate these.
/** What closing the window does while uploads run: keep them running in the background (tray), or quit. Rust's
 * `CloseBehaviour` (src-tauri/src/background.rs, serde lowercase) is not among the generated types. */
export type CloseBehaviour = "background" | "quit";
/** A drag over the window, as the webview reports it (Tauri's own event, not a Rust type of ours). */
export type DragDrop = { type: "enter"; paths: string[] } | { type: "over" } | { type: "drop"; paths: string[] } | { type: "leave" };

/** The Rust commands. Plain answers are typed here by hand: file lists (`Vec<String>`), job ids (`u64`, sent as a
 * JSON number, which is exact for any id a session makes), `bool` and `()` (null). */
export const api = {
  configuration: () => invoke<Configuration>("configuration"),
  saveSettings: (settings: SettingsFile) => invoke<Configuration>("save_settings", { settings }),
  restoreSession: () => invoke<Account | null>("restore_session"),
  signIn: (email: string, password: string, signUp: boolean) => invoke<Account>("sign_in", { email, password, signUp }),
  signOut: () => invoke<void>("sign_out"),
  pickFiles: () => invoke<string[]>("pick_files"),
  /** The files the app was launched with (a file manager's "Open with"), answered once. */
  openedFiles: () => invoke<string[]>("opened_files"),
  preview: (path: string, read?: ReadText, rows = 100) => invoke<Preview>("preview", { path, rows, read: read ?? null }),
  /** A signed update to offer, or null (none, or a build that does not update). */
  checkUpdate: () => invoke<UpdateOffer | null>("check_update"),
  /** Downloads the update on offer, verifies its signature, installs it and restarts the app (so this only ever
   * settles by rejecting: a refused signature, a failed download or install). */
  installUpdate: (onProgress: (p: UpdateProgress) => void) => {
    const channel = new Channel<UpdateProgress>();
    channel.onmessage = onProgress;
    return invoke<void>("install_update", { onProgress: channel });
  },
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
  /** Forgets an interrupted upload (its journal and what it sent): false when there was none with that key. */
  discard: (key: string) => invoke<boolean>("discard", { key }),
  /** What closing the window does while uploads run, asked once (after the `close-requested` event). */
  setCloseBehaviour: (behaviour: CloseBehaviour) => invoke<void>("set_close_behaviour", { behaviour }),
  datasets: () => invoke<DatasetInfo[]>("datasets"),
  dataset: (id: string) => invoke<DatasetDetail>("dataset", { id }),
  share: (id: string, withHistory: boolean) => invoke<ShareResponse>("share", { id, withHistory }),
  /** The snippet of a shared dataset: Rust answers the same as `share` does. */
  snippet: (id: string) => invoke<ShareResponse>("snippet", { id }),
  /** Stops sharing a dataset with the named recipients (`link`: its link snippet), or with everyone when none are
   * named. */
  unshare: (id: string, recipients?: string[]) => invoke<UnshareResponse>("unshare", { id, recipients: recipients ?? null }),
  remove: (id: string) => invoke<void>("delete", { id }),
  /** The user's recipients by name, each with the datasets shared with them. */
  recipients: () => invoke<RecipientInfo[]>("recipients"),
  /** Adds a recipient; `expiresAt` (RFC 3339) is when their credential stops working. Null: no email, never. */
  addRecipient: (name: string, email: string | null, expiresAt: string | null) =>
    invoke<RecipientInfo>("add_recipient", { name, email, expiresAt }),
  /** Revokes a recipient: every share with them ends and their credential stops working. */
  revokeRecipient: (name: string) => invoke<RecipientChange>("revoke_recipient", { name }),
  /** A new credential for a recipient; the old one keeps working `overlapSeconds` (0: it stops at once). */
  rotateRecipient: (name: string, overlapSeconds: number) => invoke<RecipientChange>("rotate_recipient", { name, overlapSeconds }),
  /** A new one-time activation link for a recipient. */
  activationLink: (name: string) => invoke<ActivationLink>("activation_link", { name }),
  /** Shares a dataset with recipients (made when they do not exist yet), each answer with their snippet. */
  grant: (id: string, recipients: string[], withHistory: boolean) => invoke<GrantResponse>("grant", { id, recipients, withHistory }),
  /** A recipient's snippet of a dataset shared with them (`link`: the dataset's link snippet). */
  snippetFor: (id: string, recipient: string) => invoke<ShareResponse>("snippet_for", { id, recipient }),
  /** Reads of the user's datasets, newest first. */
  activity: (query: ActivityQuery) => invoke<Activity>("activity", { ...query }),
};

/** Rust emits `close-requested` when the window is closed while uploads run and the user has never chosen what
 * that does; the answer goes back through `api.setCloseBehaviour`. Resolves to a function that stops listening. */
export function onCloseRequested(handler: () => void): Promise<() => void> {
  return listen("close-requested", () => handler());
}

/** Rust emits `opened-files` when the app, already running, is launched again with files ("Open with"): they wait in
 * `api.openedFiles`. Resolves to a function that stops listening. */
export function onOpenedFiles(handler: () => void): Promise<() => void> {
  return listen("opened-files", () => handler());
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
