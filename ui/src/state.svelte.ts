// The app's one store: everything the screens show lives here, and the screens render from it alone. Actions
// call the Rust commands (./api.ts) and write their answers back here; an upload in flight finds its queue item
// by id on every progress event, so nothing a screen re-renders can cut it off from what it shows.
import {
  api, onCloseRequested, onDragDrop, onOpenedFiles,
  type Account, type ActivationLink, type CloseBehaviour, type CommandError, type Configuration, type Dataset, type DatasetDetail,
  type Interrupted, type Mode, type UpdateOffer, type Preview, type Read, type ReadOverrides, type Recipient, type Revocation,
  type Settings, type Snippet, type UploadRequest,
} from "./api";
import { copy } from "./clipboard";
import {
  LINK, bytes, datasetName, explain, expiryFromDate, listed, overall, progressText, requestName, setOverride, sinceTime, when,
  type Since,
} from "./format";

/** Which screen is up: nothing configured, nobody signed in, or the main screen. */
export type Phase = "starting" | "configure" | "signIn" | "home";

/** What the main screen shows: the queue and the datasets, the recipients, or the activity on the datasets. */
export type View = "datasets" | "recipients" | "activity";

/** A recipient as the add forms take them: a name, and optionally an email and the date their credential expires
 * ("2026-01-31", as a date input writes it); empty means none. */
export interface NewPerson { name: string; email: string; expires: string }

/** What the Activity view lists: a dataset (id) and a recipient (name; `link` for snippets), empty for any. */
export interface ActivityFilter { dataset: string; recipient: string; since: Since }

/**
 * Where a queue item is:
 * - `ready`: added (its preview can be edited), or back after a failure or a cancel;
 * - `uploading`: its job runs;
 * - `paused`: stopped by the user with its journal kept;
 * - `interrupted`: found at launch, cut off by a crash, a kill or quitting;
 * - `done`: committed.
 */
export type ItemStatus = "ready" | "uploading" | "paused" | "interrupted" | "done";

export interface QueueItem {
  /** The item's own id (not the job's): what actions and progress events find it by. */
  id: number;
  files: string[];
  /** The dataset name, as typed. */
  name: string;
  /** The mode chosen; `Store.modeOf` says which one applies to the name as it stands. */
  mode: Mode;
  share: boolean;
  /** The user's changes to the preview. */
  read: ReadOverrides;
  preview: Preview | null;
  previewing: boolean;
  /** What went wrong with this file (reading it or uploading it), shown on its row only. */
  error: string;
  status: ItemStatus;
  /** The running job, to pause or cancel it. */
  job: number | null;
  /** What the upload was started with: paused and interrupted uploads resume with exactly this. */
  request: UploadRequest | null;
  /** An interrupted upload's journal key (from `api.interrupted`). */
  key: string | null;
  /** Found at launch from its journal alone: no preview, and nothing to go back to if it is cancelled. */
  fromJournal: boolean;
  /** The whole upload's progress, 0 to 1. */
  progress: number;
  /** What the running upload is doing: "uploading 12.0 MB of 40.0 MB, about 7 s left". */
  progressText: string;
  /** The last outcome: uploaded, paused, cancelled. */
  message: string;
  /** Pause or Cancel was pressed and the job has not stopped yet. */
  stopping: "pause" | "cancel" | null;
  /** Counted in the total progress: started in the current batch (since nothing was last running). */
  inTotal: boolean;
}

export type Dialog =
  | { id: number; kind: "snippet"; snippet: Snippet }
  | { id: number; kind: "history"; detail: DatasetDetail }
  | { id: number; kind: "settings" }
  | { id: number; kind: "share"; datasetId: string }
  | { id: number; kind: "rotate"; name: string; answer: (overlapSeconds: number | null) => void }
  | { id: number; kind: "activation"; name: string; link: ActivationLink }
  | { id: number; kind: "confirm"; title: string; message: string; confirm: string; answer: (ok: boolean) => void }
  | { id: number; kind: "closeToTray" };
type NewDialog = Dialog extends infer D ? (D extends Dialog ? Omit<D, "id"> : never) : never;

/** A signed update on offer: shown in a banner until installed or put off. */
export interface UpdateState {
  offer: UpdateOffer;
  /** `offered`, being downloaded and installed (the app restarts when it is done), or refused with `error`. */
  status: "offered" | "installing" | "failed";
  /** The download, 0 to 1 (0 while its size is unknown). */
  progress: number;
  error: string;
}

export interface Toast { id: number; text: string; tone: "info" | "error" }

/** The overall progress of the current batch: the uploads under way or paused, and those done since the batch began. */
export interface Total { value: number; done: number; count: number; running: number }

/** No changes to the preview: every choice left to what Rust detects (a new object each time: items edit theirs). */
const noOverrides = (): ReadOverrides => ({ names: [], types: [], delimiter: null, encoding: null, hasHeader: null });

const SAME = (a: UploadRequest, b: UploadRequest) =>
  requestName(a) === requestName(b) && a.mode === b.mode && a.files.length === b.files.length && a.files.every((f, i) => f === b.files[i]);

export class Store {
  phase = $state<Phase>("starting");
  /** The settings in force and where they come from; without settings the app is unconfigured. */
  configuration = $state<Configuration | null>(null);
  /** Why the settings in force were refused (besides the configuration's own problems). */
  refusal = $state("");
  account = $state<Account | null>(null);
  signInError = $state("");
  queue = $state<QueueItem[]>([]);
  datasets = $state<Dataset[]>([]);
  datasetsLoaded = $state(false);
  datasetsError = $state("");
  /** Open dialogs, the last on top. */
  dialogs = $state<Dialog[]>([]);
  toasts = $state<Toast[]>([]);
  /** Files are being dragged over the window. */
  dragging = $state(false);
  /** A signed update on offer, if any. */
  update = $state<UpdateState | null>(null);
  /** How long an information toast stays (errors stay twice as long). */
  toastMilliseconds = 6000;
  /** What the main screen shows. */
  view = $state<View>("datasets");
  /** The user's recipients, by name: fetched when the Share dialog, the Recipients screen or the Activity view
   * opens, and after an action that changes what the answer does not say. */
  recipients = $state<Recipient[]>([]);
  recipientsLoaded = $state(false);
  recipientsError = $state("");
  /** The reads the Activity view lists, newest first, for `activityFilter`. */
  reads = $state<Read[]>([]);
  readsLoaded = $state(false);
  readsLoading = $state(false);
  readsError = $state("");
  activityFilter = $state<ActivityFilter>({ dataset: "", recipient: "", since: "7d" });
  /** How many reads the Activity view asks for at most. */
  readsLimit = 200;

  private ids = 0;
  /** The latest preview request per item: an older answer arriving late is dropped. */
  private previewTurn = new Map<number, number>();
  /** The latest activity request: an older answer (another filter) arriving late is dropped. */
  private activityTurn = 0;

  /** The dataset names a new version is being uploaded to. */
  uploadingNames = $derived(new Set(this.queue.filter((i) => i.status === "uploading" && i.request).map((i) => requestName(i.request!))));

  total = $derived.by((): Total | null => {
    const counted = this.queue.filter((i) => i.inTotal && (i.status === "uploading" || i.status === "paused" || i.status === "done"));
    const running = counted.filter((i) => i.status === "uploading").length;
    if (running === 0 && !counted.some((i) => i.status === "paused")) return null;
    const value = counted.reduce((sum, i) => sum + (i.status === "done" ? 1 : i.progress), 0) / counted.length;
    return { value, done: counted.filter((i) => i.status === "done").length, count: counted.length, running };
  });

  // ---- launch, configuration and session ----

  /** The first screen: set up, sign in, or the main screen (with the datasets and any interrupted uploads). */
  async start() {
    try {
      this.configuration = await api.configuration();
    } catch (e) {
      this.configuration = { settings: null, source: null, file: null, problems: [explain(e)] };
    }
    void this.checkUpdate();
    await this.enter();
  }

  /** Listens to what Rust and the webview report: a close while uploads run, and files dragged over the window. */
  async connect() {
    try {
      await onCloseRequested(() => {
        if (!this.dialogs.some((d) => d.kind === "closeToTray")) this.openDialog({ kind: "closeToTray" });
      });
      // Signed in, the files are queued now; otherwise they wait in Rust until the user signs in.
      await onOpenedFiles(() => {
        if (this.phase === "home") void this.addOpenedFiles();
      });
    } catch {
      // No event bridge (outside Tauri): nothing will ask.
    }
    await onDragDrop((event) => {
      if (event.type === "enter" || event.type === "over") this.dragging = this.phase === "home";
      else this.dragging = false;
      if (event.type === "drop" && this.phase === "home") void this.addFiles(event.paths);
    });
  }

  /** Looks for a signed update once: a failed look stays quiet (the user has nothing to do about it). */
  async checkUpdate() {
    try {
      const offer = await api.checkUpdate();
      if (offer) this.update = { offer, status: "offered", progress: 0, error: "" };
    } catch (e) {
      console.warn(`No update check: ${explain(e)}`);
    }
  }

  /** Installs the update on offer; the app restarts into it, so only a refusal comes back. */
  async installUpdate() {
    const update = this.update;
    if (!update || update.status === "installing") return;
    update.status = "installing";
    update.error = "";
    try {
      await api.installUpdate((p) => {
        if (this.update) this.update.progress = p.bytesTotal ? p.bytesDone / p.bytesTotal : 0;
      });
    } catch (e) {
      if (this.update) {
        this.update.status = "failed";
        this.update.error = explain(e);
      }
    }
  }

  /** Puts the update off until the next launch. */
  dismissUpdate() {
    if (this.update?.status !== "installing") this.update = null;
  }

  private async enter() {
    if (!this.configuration?.settings) {
      this.phase = "configure";
      return;
    }
    try {
      const account = await api.restoreSession();
      if (account) await this.signedIn(account);
      else this.phase = "signIn";
    } catch (e) {
      // Settings the client refuses (plain http to another machine): back to the form, with the reason.
      const refused = e as Partial<CommandError>;
      if (refused?.kind === "settings") {
        this.refusal = refused.message ?? explain(e);
        this.phase = "configure";
      } else {
        this.signInError = explain(e);
        this.phase = "signIn";
      }
    }
  }

  /** Sends the settings to Rust, which checks and keeps them (a refusal throws, for the form to show). Another
   * backend or sign-in than before starts over with its own session, or none. */
  async saveSettings(settings: Settings) {
    const before = JSON.stringify(this.configuration?.settings ?? null);
    this.configuration = await api.saveSettings(settings);
    this.refusal = "";
    this.dialogs = this.dialogs.filter((d) => d.kind !== "settings");
    if (this.phase === "configure" || JSON.stringify(this.configuration.settings) !== before) await this.enter();
  }

  async signIn(email: string, password: string, signUp: boolean) {
    try {
      const account = await api.signIn(email, password, signUp);
      await this.signedIn(account);
    } catch (e) {
      this.signInError = explain(e);
    }
  }

  private async signedIn(account: Account) {
    this.account = account;
    this.signInError = "";
    this.phase = "home";
    await Promise.all([this.refreshDatasets(), this.loadInterrupted(), this.addOpenedFiles()]);
  }

  /** The files the app was launched with ("Open with" in a file manager), or launched again with while it ran,
   * queued once. */
  private async addOpenedFiles() {
    try {
      const opened = await api.openedFiles();
      if (opened.length > 0) await this.addFiles(opened);
    } catch (e) {
      this.toast(explain(e), "error");
    }
  }

  async signOut() {
    try {
      await api.signOut();
    } catch (e) {
      this.toast(explain(e), "error");
      return;
    }
    this.account = null;
    this.datasets = [];
    this.datasetsLoaded = false;
    this.recipients = [];
    this.recipientsLoaded = false;
    this.reads = [];
    this.readsLoaded = false;
    this.view = "datasets";
    this.phase = "signIn";
  }

  // ---- the queue ----

  item(id: number): QueueItem | undefined {
    return this.queue.find((i) => i.id === id);
  }

  /** The mode that applies: a new name creates; an existing one appends unless overwrite is chosen. */
  modeOf(item: QueueItem): Mode {
    const exists = this.datasets.some((d) => d.name === item.name.trim());
    if (!exists) return "create";
    return item.mode === "create" ? "append" : item.mode;
  }

  private newItem(files: string[], name: string): QueueItem {
    return {
      id: ++this.ids, files, name, mode: "create", share: false, read: noOverrides(),
      preview: null, previewing: false, error: "", status: "ready", job: null, request: null, key: null,
      fromJournal: false, progress: 0, progressText: "", message: "", stopping: null, inTotal: false,
    };
  }

  /** Queues files (dropped, picked, or through `window.deltaBridge.addFiles`), each read for its preview; one
   * bad file shows its error on its own row. `name` names the dataset (a new version of it), else each file's. */
  async addFiles(paths: string[], name?: string) {
    // The queue is on the datasets view: files added from elsewhere show it.
    if (paths.length) this.view = "datasets";
    const ids = paths.map((path) => {
      const item = this.newItem([path], name ?? datasetName(path));
      this.queue.push(item);
      return item.id;
    });
    await Promise.all(ids.map((id) => this.readPreview(id)));
  }

  /** Reads one item's file again with its overrides. */
  private async readPreview(id: number) {
    const item = this.item(id);
    if (!item) return;
    const turn = (this.previewTurn.get(id) ?? 0) + 1;
    this.previewTurn.set(id, turn);
    item.previewing = true;
    let preview: Preview | null = null;
    let error = "";
    try {
      preview = await api.preview(item.files[0], $state.snapshot(item.read) as ReadOverrides);
    } catch (e) {
      error = explain(e);
    }
    if (this.previewTurn.get(id) !== turn) return;
    const now = this.item(id);
    if (!now) return;
    now.previewing = false;
    now.error = error;
    // A refused change keeps the last good preview on screen, with the reason above it.
    if (preview) now.preview = preview;
  }

  /** Whether the item's preview and options can still change: only before its upload starts. */
  editable(item: QueueItem) {
    return item.status === "ready";
  }

  private edit(id: number, change: (item: QueueItem) => void, reread: boolean) {
    const item = this.item(id);
    if (!item || !this.editable(item)) return;
    change(item);
    if (reread) void this.readPreview(id);
  }

  setColumnName(id: number, column: number, name: string) {
    this.edit(id, (i) => { i.read.names = setOverride(i.read.names, column, name.trim()); }, true);
  }
  setColumnType(id: number, column: number, type: string) {
    this.edit(id, (i) => { i.read.types = setOverride(i.read.types, column, type); }, true);
  }
  /** Another delimiter means other columns: their names and types start again from what is inferred. */
  setDelimiter(id: number, delimiter: string) {
    this.edit(id, (i) => { i.read.delimiter = delimiter; i.read.names = []; i.read.types = []; }, true);
  }
  /** Another sheet is another table: its names, types and header row start again from what is inferred. `sheet` is
   * what `ReadText.sheet` takes (see `sheetChoice`). */
  setSheet(id: number, sheet: string) {
    this.edit(id, (i) => { i.read.sheet = sheet; i.read.names = []; i.read.types = []; i.read.hasHeader = null; }, true);
  }
  setHasHeader(id: number, hasHeader: boolean) {
    this.edit(id, (i) => { i.read.hasHeader = hasHeader; }, true);
  }
  setName(id: number, name: string) {
    this.edit(id, (i) => { i.name = name; }, false);
  }
  setMode(id: number, mode: Mode) {
    this.edit(id, (i) => { i.mode = mode; }, false);
  }
  setShare(id: number, share: boolean) {
    this.edit(id, (i) => { i.share = share; }, false);
  }

  canUpload(item: QueueItem) {
    return item.status === "ready" && item.preview !== null && !item.previewing && item.name.trim() !== "";
  }

  /** Starts one item's upload with its options as they stand. */
  async upload(id: number) {
    const item = this.item(id);
    if (!item || !this.canUpload(item)) return;
    const request: UploadRequest = {
      files: [...item.files], name: item.name.trim(), mode: this.modeOf(item), share: item.share,
      read: $state.snapshot(item.read) as ReadOverrides,
    };
    item.request = request;
    await this.run(id, request);
  }

  /** Starts every item that is ready. */
  async uploadAll() {
    await Promise.all(this.queue.filter((i) => this.canUpload(i)).map((i) => this.upload(i.id)));
  }

  /** Resumes a paused or interrupted upload: a new job with the same request, which Rust resumes from its
   * journal. */
  async resume(id: number) {
    const item = this.item(id);
    if (!item || (item.status !== "paused" && item.status !== "interrupted") || !item.request) return;
    await this.run(id, $state.snapshot(item.request) as UploadRequest);
  }

  private async run(id: number, request: UploadRequest) {
    // A new batch when nothing else runs or waits: the total starts again from the uploads in it.
    if (!this.queue.some((i) => i.status === "uploading" || i.status === "paused")) {
      for (const i of this.queue) i.inTotal = false;
    }
    const start = this.item(id)!;
    start.inTotal = true;
    start.status = "uploading";
    start.stopping = null;
    start.error = "";
    start.message = "";
    start.progressText = "starting…";
    let job: number;
    try {
      job = await api.newJob();
    } catch (e) {
      this.failed(id, e);
      return;
    }
    const running = this.item(id);
    if (!running) return;
    running.job = job;
    let stage = "";
    let stageStart = performance.now();
    try {
      const done = await api.upload(job, request, (p) => {
        const item = this.item(id);
        if (!item || item.job !== job) return;
        if (p.stage !== stage) {
          stage = p.stage;
          stageStart = performance.now();
        }
        item.progress = Math.max(item.progress, overall(p));
        item.progressText = progressText(p, (performance.now() - stageStart) / 1000);
      });
      const item = this.item(id);
      if (item) {
        item.status = "done";
        item.job = null;
        item.key = null;
        item.stopping = null;
        item.progress = 1;
        item.progressText = "";
        item.message = `Uploaded ${requestName(request)}: version ${done.dataset.version}, ${done.dataset.rows} rows${done.resumed ? " (resumed)" : ""}.${done.notes.map((n) => ` Note: ${n}`).join("")}`;
      }
      // The answer holds the dataset as committed: no need to fetch the list again.
      this.upsert(done.dataset);
      this.toast(`${requestName(request)} is uploaded${done.snippet ? " and shared" : ""}.`);
      if (done.snippet) this.openDialog({ kind: "snippet", snippet: done.snippet });
    } catch (e) {
      this.failed(id, e);
    }
  }

  /** A job that ended without committing: paused, cancelled, or failed (the error goes on its row). */
  private failed(id: number, e: unknown) {
    const item = this.item(id);
    if (!item) return;
    const kind = (e as Partial<CommandError>)?.kind;
    item.job = null;
    item.stopping = null;
    item.progressText = "";
    if (kind === "paused") {
      item.status = "paused";
      item.message = "Paused. Resume carries on from where it stopped.";
    } else if (kind === "cancelled") {
      this.cancelled(item);
    } else {
      const name = item.request ? requestName(item.request) : item.name;
      if (item.fromJournal) {
        // Nothing to go back to but the journal: it can be resumed again or discarded.
        item.status = "interrupted";
      } else {
        item.status = "ready";
        item.request = null;
        item.progress = 0;
      }
      item.error = explain(e);
      // The reason is on the item's row; the toast tells a user looking elsewhere.
      this.toast(`${name} was not uploaded: see its row in the queue.`, "error");
    }
  }

  private cancelled(item: QueueItem) {
    if (item.fromJournal) {
      this.queue = this.queue.filter((i) => i.id !== item.id);
      this.toast(`The upload of ${item.request ? requestName(item.request) : item.name} was discarded.`);
      return;
    }
    item.status = "ready";
    item.request = null;
    item.key = null;
    item.progress = 0;
    item.message = explain({ kind: "cancelled", message: "cancelled" });
  }

  /** Stops a running upload and keeps its journal. */
  async pause(id: number) {
    const item = this.item(id);
    if (!item || item.status !== "uploading" || item.job === null || item.stopping) return;
    item.stopping = "pause";
    await this.stop(id, () => api.pause(item.job!));
  }

  /** Stops a running upload and discards it; a paused or interrupted one is discarded (its journal forgotten). */
  async cancel(id: number) {
    const item = this.item(id);
    if (!item || item.stopping) return;
    if (item.status === "uploading" && item.job !== null) {
      item.stopping = "cancel";
      await this.stop(id, () => api.cancel(item.job!));
    } else if (item.status === "paused" || item.status === "interrupted") {
      item.stopping = "cancel";
      try {
        const key = item.key ?? (await this.journalKey(item.request));
        if (key) await api.discard(key);
        const now = this.item(id);
        if (now) {
          now.stopping = null;
          this.cancelled(now);
        }
      } catch (e) {
        const now = this.item(id);
        if (now) now.stopping = null;
        this.toast(explain(e), "error");
      }
    }
  }

  /** Asks Rust to stop a job; the upload's promise then rejects (paused or cancelled) and `failed` records it. */
  private async stop(id: number, ask: () => Promise<boolean>) {
    try {
      const stopped = await ask();
      const item = this.item(id);
      if (!stopped && item?.status === "uploading") item.stopping = null;
    } catch (e) {
      const item = this.item(id);
      if (item) item.stopping = null;
      this.toast(explain(e), "error");
    }
  }

  /** A paused upload's journal key: the interrupted upload with the same request. */
  private async journalKey(request: UploadRequest | null) {
    if (!request) return null;
    return (await api.interrupted()).find((i) => SAME(i.request, request))?.key ?? null;
  }

  /** Puts the uploads cut off last time (crash, kill or quit) in the queue, to resume or discard. */
  async loadInterrupted() {
    let found: Interrupted[];
    try {
      found = await api.interrupted();
    } catch (e) {
      this.toast(`Could not look for unfinished uploads: ${explain(e)}`, "error");
      return;
    }
    for (const stopped of found) {
      const known = this.queue.some((i) => i.key === stopped.key || (i.request && i.status !== "done" && SAME(i.request, stopped.request)));
      if (known) continue;
      const item = this.newItem([...stopped.request.files], requestName(stopped.request));
      Object.assign(item, {
        mode: stopped.request.mode, share: stopped.request.share, read: stopped.request.read, request: stopped.request,
        key: stopped.key, fromJournal: true, status: "interrupted",
        // The bar counts the conversion as the first part of the way, as a running upload's does.
        progress: stopped.converted ? overall({ stage: "uploading", bytesDone: stopped.bytesSent, bytesTotal: stopped.bytesTotal }) : 0,
        message: stopped.converted
          ? `Interrupted after converting and uploading ${bytes(stopped.bytesSent)} of ${bytes(stopped.bytesTotal)}: Resume carries on from there.`
          : "Interrupted while converting: Resume converts again, then uploads.",
      } satisfies Partial<QueueItem>);
      this.queue.push(item);
    }
  }

  /** Takes an item off the queue (not while its upload runs or waits to be resumed). */
  remove(id: number) {
    const item = this.item(id);
    if (!item || item.status === "uploading" || item.status === "paused" || item.status === "interrupted") return;
    this.queue = this.queue.filter((i) => i.id !== id);
    this.previewTurn.delete(id);
  }

  clearFinished() {
    this.queue = this.queue.filter((i) => i.status !== "done");
  }

  async pickFiles(name?: string) {
    let files: string[];
    try {
      files = await api.pickFiles();
    } catch (e) {
      this.toast(`The file picker did not open: ${explain(e)}`, "error");
      return;
    }
    if (files.length) await this.addFiles(files, name);
  }

  // ---- datasets ----

  /** Fetches the whole list (on sign-in and with Refresh). */
  async refreshDatasets() {
    try {
      this.datasets = await api.datasets();
      this.datasetsError = "";
      this.datasetsLoaded = true;
    } catch (e) {
      this.datasetsError = explain(e);
    }
  }

  dataset(id: string) {
    return this.datasets.find((d) => d.id === id);
  }

  /** Puts one dataset, as the backend just answered it, in its place (newest first when new). */
  upsert(dataset: Dataset) {
    const { versions: _, ...plain } = dataset as DatasetDetail;
    const at = this.datasets.findIndex((d) => d.id === dataset.id);
    if (at >= 0) this.datasets[at] = plain;
    else this.datasets.unshift(plain);
    this.datasetsLoaded = true;
  }

  /** Fetches one dataset after an action on it, instead of the whole list. */
  private async refreshOne(id: string) {
    try {
      this.upsert(await api.dataset(id));
    } catch (e) {
      // The backend refuses an id it no longer knows (deleted elsewhere).
      if ((e as Partial<CommandError>)?.kind === "input") this.datasets = this.datasets.filter((d) => d.id !== id);
      else this.toast(explain(e), "error");
    }
  }

  private async attempt(action: () => Promise<unknown>) {
    try {
      await action();
    } catch (e) {
      this.toast(explain(e), "error");
    }
  }

  /** Opens a dataset's Share dialog (its link and its recipients), fetching the recipients. */
  async openShare(id: string) {
    if (!this.dataset(id)) return;
    if (!this.dialogs.some((d) => d.kind === "share" && d.datasetId === id)) this.openDialog({ kind: "share", datasetId: id });
    await this.loadRecipients();
  }

  /** Shares a dataset with a link (whoever holds its snippet) and shows the snippet. */
  async shareLink(id: string, withHistory: boolean) {
    await this.attempt(async () => this.openDialog({ kind: "snippet", snippet: (await api.share(id, withHistory)).snippet }));
    await this.refreshOne(id);
  }

  async showSnippet(id: string) {
    await this.attempt(async () => this.openDialog({ kind: "snippet", snippet: (await api.snippet(id)).snippet }));
  }

  /** Stops sharing a dataset with one recipient, or with its link (`link`: the snippet stops working); the
   * other recipients keep reading. */
  async unshareFrom(id: string, name: string) {
    const dataset = this.dataset(id)?.name ?? "The dataset";
    const who = name === LINK ? "its snippet" : `${name}'s credential`;
    let done = false;
    await this.attempt(async () => {
      const answer = await api.unshare(id, [name]);
      done = true;
      this.toast(answer.revocation === "pending"
        ? `${dataset} is unshared, but the sharing server could not be told yet. Delta-Bridge keeps trying by itself: ${who} stops reading it as soon as it can.`
        : name === LINK ? `${dataset} is no longer shared by link: its snippet stopped working.` : `${dataset} is no longer shared with ${name}.`);
    });
    if (!done) return;
    if (name === LINK) {
      await this.refreshOne(id);
    } else {
      const recipient = this.recipient(name);
      if (recipient) recipient.datasets = recipient.datasets.filter((g) => g.datasetId !== id);
    }
  }

  // ---- recipients ----

  /** Fetches the recipients (with the datasets shared with each). */
  async loadRecipients() {
    try {
      this.recipients = await api.recipients();
      this.recipientsError = "";
      this.recipientsLoaded = true;
    } catch (e) {
      this.recipientsError = explain(e);
    }
  }

  recipient(name: string) {
    return this.recipients.find((r) => r.name === name);
  }

  /** The recipients a dataset is shared with. */
  recipientsOf(id: string) {
    return this.recipients.filter((r) => r.datasets.some((g) => g.datasetId === id));
  }

  /** Puts one recipient, as the backend just answered it, in its place (by name). */
  private upsertRecipient(recipient: Recipient) {
    const at = this.recipients.findIndex((r) => r.name === recipient.name);
    if (at >= 0) this.recipients[at] = recipient;
    else this.recipients = [...this.recipients, recipient].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  /** Adds a recipient (nothing is shared with them yet); true when added, for the form to clear. */
  async addRecipient(person: NewPerson): Promise<boolean> {
    const name = person.name.trim();
    if (!name) return false;
    try {
      this.upsertRecipient(await api.addRecipient(name, person.email.trim() || null, expiryFromDate(person.expires)));
    } catch (e) {
      this.toast(explain(e), "error");
      return false;
    }
    this.toast(`Added ${name}. Share datasets with them from a dataset's Share dialog, then send them their snippet or an activation link.`);
    return true;
  }

  /** Shares a dataset with a recipient, adding them first when there is nobody by that name yet (with their email
   * and expiry); true when shared, for the form to clear. */
  async addToDataset(id: string, person: NewPerson, withHistory: boolean): Promise<boolean> {
    const dataset = this.dataset(id);
    const name = person.name.trim();
    if (!dataset || !name) return false;
    const existing = this.recipient(name);
    try {
      if (!existing) this.upsertRecipient(await api.addRecipient(name, person.email.trim() || null, expiryFromDate(person.expires)));
      await api.grant(id, [name], withHistory);
    } catch (e) {
      this.toast(explain(e), "error");
      return false;
    }
    const unchanged = existing && (person.email.trim() || person.expires) ? ` (${name} existed already: their email and expiry are unchanged)` : "";
    this.toast(`${dataset.name} is shared with ${name}${unchanged}. Copy their snippet or an activation link to send them.`);
    await this.loadRecipients();
    return true;
  }

  /** Copies a recipient's snippet of a dataset (`link`: the link snippet), the pandas code; where the clipboard
   * refuses, shows it in the Snippet dialog to copy from there. */
  async copySnippet(id: string, name: string) {
    let snippet: Snippet;
    try {
      snippet = (await api.snippetFor(id, name)).snippet;
    } catch (e) {
      this.toast(explain(e), "error");
      return;
    }
    try {
      await copy(snippet.python);
    } catch {
      this.openDialog({ kind: "snippet", snippet });
      return;
    }
    this.toast(name === LINK
      ? `Copied the link snippet of ${this.dataset(id)?.name ?? snippet.table} (pandas): whoever holds it can read the dataset.`
      : `Copied ${name}'s snippet of ${this.dataset(id)?.name ?? snippet.table} (pandas). It holds ${name}'s credential: send it to ${name} alone.`);
  }

  /** Makes a one-time activation link for a recipient and copies it; where the clipboard refuses, shows it. */
  async copyActivationLink(name: string) {
    let link: ActivationLink;
    try {
      link = await api.activationLink(name);
    } catch (e) {
      this.toast(explain(e), "error");
      return;
    }
    try {
      await copy(link.url);
    } catch {
      this.openDialog({ kind: "activation", name, link });
      return;
    }
    this.toast(`Copied a one-time activation link for ${name}: it works once, until ${when(link.expiresAt)}. Send it to ${name} alone.`);
  }

  /** Revokes a recipient once the user confirms, naming what they lose. */
  async revokeRecipient(name: string) {
    const datasets = this.recipient(name)?.datasets.map((g) => g.datasetName) ?? [];
    const ok = await this.confirm({
      title: `Revoke ${name}?`,
      message: `${name}'s credential stops working${datasets.length ? `: they can no longer read ${listed(datasets)}` : ""}, and their activation links stop working too. This cannot be undone.`,
      confirm: `Revoke ${name}`,
    });
    if (!ok) return;
    await this.attempt(async () => {
      const change = await api.revokeRecipient(name);
      this.recipients = this.recipients.filter((r) => r.name !== name);
      this.toast(pending(change.revocation)
        ? `${name} is revoked, but the sharing server could not be told yet. Delta-Bridge keeps trying by itself: their credential stops working as soon as it can.`
        : `${name} is revoked: their credential stopped working.`);
    });
  }

  /** Gives a recipient a new credential, asking how long the old one keeps working. */
  async rotateRecipient(name: string) {
    const overlap = await new Promise<number | null>((answer) => this.openDialog({ kind: "rotate", name, answer }));
    if (overlap === null) return;
    await this.attempt(async () => {
      const change = await api.rotateRecipient(name, overlap);
      if (change.recipient) this.upsertRecipient(change.recipient);
      const until = change.recipient?.previousUntil;
      const old = until
        ? `Their old credential keeps working until ${when(until)}.`
        : pending(change.revocation)
          ? "Their old credential stops working as soon as the sharing server can be told (Delta-Bridge keeps trying)."
          : "Their old credential stopped working.";
      this.toast(`${name} has a new credential. ${old} Send them their new snippet or an activation link.`);
    });
  }

  /** Answers the Rotate dialog: the overlap in seconds. */
  chooseOverlap(id: number, seconds: number) {
    const dialog = this.dialogs.find((d) => d.id === id);
    if (dialog?.kind !== "rotate") return;
    this.dialogs = this.dialogs.filter((d) => d.id !== id);
    dialog.answer(seconds);
  }

  // ---- the main screen's views and the activity ----

  /** Shows a view of the main screen, fetching what it lists. */
  async show(view: View) {
    this.view = view;
    if (view === "recipients") await this.loadRecipients();
    if (view === "activity") await Promise.all([this.loadActivity(), this.recipientsLoaded ? null : this.loadRecipients()]);
  }

  /** Fetches the reads for the filter as it stands (the newest request wins). */
  async loadActivity() {
    const turn = ++this.activityTurn;
    const filter = this.activityFilter;
    this.readsLoading = true;
    try {
      const answer = await api.activity({
        dataset: filter.dataset || null,
        recipient: filter.recipient || null,
        since: sinceTime(filter.since, Date.now()),
        limit: this.readsLimit,
      });
      if (turn !== this.activityTurn) return;
      this.reads = answer.reads;
      this.readsError = "";
      this.readsLoaded = true;
    } catch (e) {
      if (turn !== this.activityTurn) return;
      this.readsError = explain(e);
    }
    this.readsLoading = false;
  }

  /** Changes the Activity view's filter and fetches again. */
  async filterActivity(change: Partial<ActivityFilter>) {
    this.activityFilter = { ...this.activityFilter, ...change };
    await this.loadActivity();
  }

  async showHistory(id: string) {
    await this.attempt(async () => this.openDialog({ kind: "history", detail: await api.dataset(id) }));
  }

  /** Picks files to upload as a new version of this dataset. */
  async newVersion(id: string) {
    const dataset = this.dataset(id);
    if (dataset) await this.pickFiles(dataset.name);
  }

  /** Deletes a dataset once the user confirms, by name, what goes. */
  async deleteDataset(id: string) {
    const dataset = this.dataset(id);
    if (!dataset) return;
    const ok = await this.confirm({
      title: `Delete ${dataset.name}?`,
      message: `This deletes the dataset ${dataset.name} (version ${dataset.version}, ${dataset.rows} rows, ${bytes(dataset.bytes)}) with all its history${dataset.shared ? ", and its recipients can no longer read it" : ""}. It cannot be undone.`,
      confirm: `Delete ${dataset.name}`,
    });
    if (!ok) return;
    await this.attempt(async () => {
      await api.remove(id);
      this.datasets = this.datasets.filter((d) => d.id !== id);
      this.toast(`Deleted ${dataset.name}.`);
    });
  }

  // ---- dialogs and toasts ----

  openDialog(dialog: NewDialog): number {
    const id = ++this.ids;
    this.dialogs.push({ ...dialog, id } as Dialog);
    return id;
  }

  /** Closes a dialog (Escape, Close, Cancel): a question it asked is answered "no". */
  closeDialog(id: number) {
    const dialog = this.dialogs.find((d) => d.id === id);
    if (!dialog) return;
    this.dialogs = this.dialogs.filter((d) => d.id !== id);
    if (dialog.kind === "confirm") dialog.answer(false);
    if (dialog.kind === "rotate") dialog.answer(null);
  }

  /** Answers a dialog's question and closes it. */
  answer(id: number, value: boolean) {
    const dialog = this.dialogs.find((d) => d.id === id);
    if (!dialog) return;
    this.dialogs = this.dialogs.filter((d) => d.id !== id);
    if (dialog.kind === "confirm") dialog.answer(value);
  }

  confirm(question: { title: string; message: string; confirm: string }): Promise<boolean> {
    return new Promise((answer) => this.openDialog({ kind: "confirm", ...question, answer }));
  }

  openSettings() {
    if (!this.dialogs.some((d) => d.kind === "settings")) this.openDialog({ kind: "settings" });
  }

  /** The answer to "Keep uploading in the background?", asked once: Rust remembers it. */
  async chooseClose(id: number, behaviour: CloseBehaviour) {
    try {
      await api.setCloseBehaviour(behaviour);
      this.dialogs = this.dialogs.filter((d) => d.id !== id);
    } catch (e) {
      this.toast(explain(e), "error");
    }
  }

  toast(text: string, tone: Toast["tone"] = "info") {
    const id = ++this.ids;
    this.toasts.push({ id, text, tone });
    setTimeout(() => this.dismiss(id), this.toastMilliseconds * (tone === "error" ? 2 : 1));
  }

  dismiss(id: number) {
    this.toasts = this.toasts.filter((t) => t.id !== id);
  }
}

const pending = (revocation: Revocation) => revocation === "pending";
