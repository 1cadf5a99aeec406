// The desktop app's screens: first-launch configuration, sign in, add CSVs (drop or pick), preview, upload
// with progress, datasets, the snippet dialog, settings. All work happens in Rust commands (./api.ts); what
// the screens show comes from `state`.
import { api, type Configuration, type Dataset, type DatasetDetail, type Preview, type ReadOverrides, type Settings, type Snippet } from "./api";
import { TYPES, bytes, datasetName, delimiterName, explain, fraction, progressText, setOverride, typeName } from "./format";

interface Queued { path: string; name: string; mode: "create" | "append" | "overwrite"; read: ReadOverrides; preview?: Preview; error?: string }

const state = {
  /** The settings in force and where they come from; without settings the app is unconfigured. */
  configuration: null as Configuration | null,
  queue: [] as Queued[], datasets: [] as Dataset[], email: "", uploading: new Map<string, number>(),
};

const $ = <T extends HTMLElement>(selector: string, root: ParentNode = document) => root.querySelector(selector) as T;
const esc = (text: string) => text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

export async function start(root: HTMLElement) {
  root.innerHTML = `<header><h1>Delta-Bridge</h1><span id="who" class="muted"></span>
      <button id="settings-open">Settings</button><button id="sign-out" hidden>Sign out</button></header>
    <main id="screen"></main>
    <dialog id="snippet-dialog" aria-label="Notebook snippet"></dialog>
    <dialog id="history-dialog" aria-label="Version history"></dialog>
    <dialog id="share-dialog" aria-label="Share"></dialog>
    <dialog id="settings-dialog" aria-label="Settings"></dialog>`;
  $("#settings-open").onclick = openSettings;
  $("#sign-out").onclick = async () => { await api.signOut(); showSignIn(); };
  try {
    state.configuration = await api.configuration();
  } catch (e) {
    state.configuration = { settings: null, source: null, file: null, problems: [explain(e)] };
  }
  await enter();
}

/** The first screen for the configuration in state: set up, sign in, or the main screen. */
async function enter() {
  if (!state.configuration?.settings) { showConfigure(); return; }
  try {
    const account = await api.restoreSession();
    if (account) showMain(account.email ?? account.uid); else showSignIn();
  } catch (e) {
    // Settings the client refuses (plain http to another machine): back to the form, with the reason.
    const refused = e as { kind?: string; message?: string };
    if (refused.kind === "settings") showConfigure(refused.message ?? explain(e)); else showSignIn(explain(e));
  }
}

const SOURCES = { saved: "saved in this app", environment: "from the environment (DELTA_BRIDGE_BACKEND_URL…)", provisioning: "from your organisation's provisioning file" };

/** The settings form, filled from `s`: the backend, then a Firebase Web API key or, chosen explicitly, the Auth emulator. */
function settingsForm(s: Settings | null | undefined, cancel: boolean) {
  const emulator = Boolean(s?.firebaseEmulatorHost);
  return `<form class="settings-form">
      <p><label>Backend URL <input class="backend" size="40" required placeholder="https://delta-bridge.example.com" value="${esc(s?.backendUrl ?? "")}"></label></p>
      <fieldset><legend>Sign-in</legend>
        <p><label><input type="radio" name="firebase" value="key" ${emulator ? "" : "checked"}> Firebase, with the project's Web API key</label>
          <input class="api-key" size="40" aria-label="Firebase Web API key" value="${esc(s?.firebaseApiKey ?? "")}" ${emulator ? "disabled" : ""}></p>
        <p><label><input type="radio" name="firebase" value="emulator" ${emulator ? "checked" : ""}> The Firebase Auth emulator, for local testing only</label>
          <input class="emulator" size="24" aria-label="Auth emulator host" placeholder="127.0.0.1:9099" value="${esc(s?.firebaseEmulatorHost ?? "")}" ${emulator ? "" : "disabled"}></p>
      </fieldset>
      <p><label><input type="checkbox" class="insecure" ${s?.insecureHttp ? "checked" : ""}> Allow plain http:// to other machines (anyone on the network can read your password and tokens)</label></p>
      <p class="error settings-error" aria-live="polite"></p>
      <div class="row"><button class="primary save" type="submit">Save</button>${cancel ? `<button class="cancel" type="button">Cancel</button>` : ""}</div></form>`;
}

/** Wires a settings form: saving sends the settings to Rust, which checks and keeps them; `onSaved` gets the new configuration. */
function bindSettingsForm(root: ParentNode, onSaved: (configuration: Configuration) => void) {
  const form = $<HTMLFormElement>(".settings-form", root);
  const mode = () => form.querySelector<HTMLInputElement>("input[name=firebase]:checked")?.value;
  form.querySelectorAll<HTMLInputElement>("input[name=firebase]").forEach((radio) => {
    radio.onchange = () => {
      $<HTMLInputElement>(".api-key", form).disabled = mode() !== "key";
      $<HTMLInputElement>(".emulator", form).disabled = mode() !== "emulator";
    };
  });
  form.onsubmit = async (event) => {
    event.preventDefault();
    const value = (selector: string) => $<HTMLInputElement>(selector, form).value.trim();
    const settings: Settings = {
      backendUrl: value(".backend"),
      firebaseApiKey: mode() === "key" ? value(".api-key") || null : null,
      firebaseEmulatorHost: mode() === "emulator" ? value(".emulator") || null : null,
      insecureHttp: $<HTMLInputElement>(".insecure", form).checked,
    };
    try {
      onSaved(await api.saveSettings(settings));
    } catch (e) {
      $(".settings-error", form).textContent = (e as { message?: string }).message ?? String(e);
    }
  };
}

/** First launch (or nothing usable configured): nothing signs in until settings are saved. */
function showConfigure(message = "") {
  const c = state.configuration;
  $("#who").textContent = "";
  $("#sign-out").hidden = true;
  $("#settings-open").hidden = true;
  const problems = [...(c?.problems ?? []), ...(message ? [message] : [])];
  $("#screen").innerHTML = `<section id="configure"><h2>Set up Delta-Bridge</h2>
      <p>Which Delta-Bridge backend to use and how to sign in: your organisation gives you these (it can also install them for you in a provisioning file). Nothing is sent anywhere until you save.</p>
      ${problems.map((p) => `<p class="error problem">${esc(p)}</p>`).join("")}
      ${settingsForm(c?.settings, false)}</section>`;
  bindSettingsForm($("#configure"), (configuration) => {
    state.configuration = configuration;
    void enter();
  });
}

function showSignIn(message = "") {
  $("#who").textContent = "";
  $("#sign-out").hidden = true;
  $("#settings-open").hidden = false;
  $("#screen").innerHTML = `<section><h2>Sign in</h2>
      <form id="sign-in" class="row">
        <label>Email <input id="email" type="email" autocomplete="username" required></label>
        <label>Password <input id="password" type="password" autocomplete="current-password" required></label>
        <button class="primary" type="submit">Sign in</button>
        <button id="sign-up" type="button">Create account</button>
      </form><p id="sign-in-error" class="error">${esc(message)}</p></section>`;
  const submit = async (signUp: boolean) => {
    try {
      const account = await api.signIn($<HTMLInputElement>("#email").value, $<HTMLInputElement>("#password").value, signUp);
      showMain(account.email ?? account.uid);
    } catch (e) {
      $("#sign-in-error").textContent = explain(e);
    }
  };
  $<HTMLFormElement>("#sign-in").onsubmit = (event) => { event.preventDefault(); void submit(false); };
  $("#sign-up").onclick = () => void submit(true);
}

function showMain(email: string) {
  state.email = email;
  $("#who").textContent = email;
  $("#sign-out").hidden = false;
  $("#settings-open").hidden = false;
  $("#screen").innerHTML = `<section><h2>Add CSV files</h2>
      <div id="drop" class="drop" tabindex="0">Drop CSV files here, or <button id="pick">choose files…</button></div>
      <div id="queue"></div></section>
    <section><h2>Your datasets</h2><div class="row"><button id="refresh">Refresh</button></div><div id="datasets"></div></section>`;
  $("#pick").onclick = async () => addFiles(await api.pickFiles());
  $("#refresh").onclick = () => void refreshDatasets();
  void listenForDrops();
  void refreshDatasets();
}

async function listenForDrops() {
  try {
    const { getCurrentWebview } = await import("@tauri-apps/api/webview");
    await getCurrentWebview().onDragDropEvent((event) => {
      const drop = document.getElementById("drop");
      if (!drop) return;
      if (event.payload.type === "over" || event.payload.type === "enter") drop.classList.add("over");
      else drop.classList.remove("over");
      if (event.payload.type === "drop") void addFiles(event.payload.paths);
    });
  } catch {
    // Outside Tauri (unit tests): the picker is the only way in.
  }
}

export async function addFiles(paths: string[], name?: string) {
  for (const path of paths) {
    const item: Queued = { path, name: name ?? datasetName(path), mode: "create", read: { names: [], types: [] } };
    if (state.datasets.some((d) => d.name === item.name)) item.mode = "append";
    state.queue.push(item);
    try { item.preview = await api.preview(path); } catch (e) { item.error = explain(e); }
  }
  renderQueue();
}

function renderQueue() {
  $("#queue").innerHTML = state.queue.map((item, i) => {
    const p = item.preview;
    const existing = state.datasets.some((d) => d.name === item.name);
    const header = p ? p.columns.map((c, col) => `<th><input class="col-name" data-col="${col}" value="${esc(c.name)}" aria-label="Name of column ${col + 1}" size="${Math.max(6, c.name.length)}">
        <select class="col-type" data-col="${col}" aria-label="Type of column ${col + 1}">${TYPES.map((t) => `<option ${t === typeName(c) ? "selected" : ""}>${t}</option>`).join("")}</select></th>`).join("") : "";
    const rows = p ? p.rows.slice(0, 20).map((r) => `<tr>${r.map((v) => `<td>${v === null ? '<span class="muted">null</span>' : esc(v)}</td>`).join("")}</tr>`).join("") : "";
    return `<div class="file" data-index="${i}"><h2>${esc(item.path)}</h2>
      ${item.error ? `<p class="error">${esc(item.error)}</p>` : ""}
      ${p ? `<p class="muted row">${esc(p.dialect.encoding)}, ${bytes(p.file_size)},
        <label>delimiter <select class="delimiter">${[",", ";", "tab", "|"].map((d) => `<option ${d === delimiterName(p.dialect.delimiter) ? "selected" : ""}>${d}</option>`).join("")}</select></label>
        <label><input type="checkbox" class="has-header" ${p.dialect.has_header ? "checked" : ""}> header row</label></p>
      <div class="grid"><table><thead><tr>${header}</tr></thead><tbody>${rows}</tbody></table></div>` : ""}
      <div class="row"><label>Dataset name <input class="name" value="${esc(item.name)}"></label>
        <label>Mode <select class="mode">${(existing ? ["append", "overwrite"] : ["create"]).map((m) => `<option ${m === item.mode ? "selected" : ""}>${m}</option>`).join("")}</select></label>
        <label><input type="checkbox" class="share"> Share when done</label>
        <button class="primary upload" ${item.error ? "disabled" : ""}>Upload</button><button class="cancel" hidden>Cancel</button></div>
      <progress value="0" max="1" hidden></progress><p class="status muted" aria-live="polite"></p></div>`;
  }).join("");
  document.querySelectorAll<HTMLElement>(".file").forEach((el) => {
    const item = state.queue[Number(el.dataset.index)];
    $<HTMLInputElement>(".name", el).oninput = (e) => { item.name = (e.target as HTMLInputElement).value; };
    $<HTMLSelectElement>(".mode", el).onchange = (e) => { item.mode = (e.target as HTMLSelectElement).value as Queued["mode"]; };
    $(".upload", el).onclick = () => void upload(item, el);
    const reread = async () => {
      try { item.preview = await api.preview(item.path, item.read); item.error = undefined; } catch (e) { item.error = explain(e); }
      renderQueue();
    };
    el.querySelectorAll<HTMLInputElement>(".col-name").forEach((input) => {
      input.onchange = () => { item.read.names = setOverride(item.read.names, Number(input.dataset.col), input.value.trim()); void reread(); };
    });
    el.querySelectorAll<HTMLSelectElement>(".col-type").forEach((select) => {
      select.onchange = () => { item.read.types = setOverride(item.read.types, Number(select.dataset.col), select.value); void reread(); };
    });
    const delimiter = el.querySelector<HTMLSelectElement>(".delimiter");
    if (delimiter) delimiter.onchange = () => { item.read.delimiter = delimiter.value; item.read.names = []; item.read.types = []; void reread(); };
    const header = el.querySelector<HTMLInputElement>(".has-header");
    if (header) header.onchange = () => { item.read.hasHeader = header.checked; void reread(); };
  });
}

async function upload(item: Queued, el: HTMLElement) {
  const bar = $<HTMLProgressElement>("progress", el);
  const status = $(".status", el);
  const cancel = $(".cancel", el);
  const job = await api.newJob();
  let stage = "";
  let stageStart = performance.now();
  bar.hidden = false;
  cancel.hidden = false;
  cancel.onclick = () => void api.cancel(job);
  $<HTMLButtonElement>(".upload", el).disabled = true;
  const name = item.name;
  state.uploading.set(name, (state.uploading.get(name) ?? 0) + 1);
  renderDatasets();
  try {
    const done = await api.upload(job, { files: [item.path], name: item.name, mode: item.mode, share: $<HTMLInputElement>(".share", el).checked, read: item.read }, (p) => {
      if (p.stage !== stage) { stage = p.stage; stageStart = performance.now(); }
      bar.value = fraction(p);
      status.textContent = progressText(p, (performance.now() - stageStart) / 1000);
    });
    status.textContent = `Uploaded ${item.name}: version ${done.dataset.version}, ${done.dataset.rows} rows${done.resumed ? " (resumed)" : ""}.`;
    if (done.snippet) showSnippet(done.snippet);
    // The answer holds the dataset as committed: no need to fetch the list again. (A long job ends
    // with a desktop notification from the Rust side.)
    upsert(done.dataset);
  } catch (e) {
    status.textContent = explain(e);
    status.className = "status error";
  } finally {
    cancel.hidden = true;
    $<HTMLButtonElement>(".upload", el).disabled = false;
    const left = (state.uploading.get(name) ?? 1) - 1;
    if (left > 0) state.uploading.set(name, left); else state.uploading.delete(name);
    renderDatasets();
  }
}

/** What the Status column says: a new version is on its way, or the dataset is as listed. */
function statusOf(d: Dataset) {
  return state.uploading.has(d.name) ? "new version uploading…" : "ready";
}

/** Fetches the whole list (on sign-in and with Refresh). */
export async function refreshDatasets() {
  try {
    state.datasets = await api.datasets();
  } catch (e) {
    $("#datasets").innerHTML = `<p class="error">${esc(explain(e))}</p>`;
    return;
  }
  renderDatasets();
}

/** Puts one dataset, as the backend just answered it, in its place (newest first when new). */
function upsert(dataset: Dataset) {
  const at = state.datasets.findIndex((d) => d.id === dataset.id);
  if (at >= 0) state.datasets[at] = dataset; else state.datasets.unshift(dataset);
  renderDatasets();
}

/** Fetches one dataset after an action on it, instead of the whole list. */
async function refreshOne(id: string) {
  try {
    upsert(await api.dataset(id));
  } catch (e) {
    if ((e as { kind?: string }).kind === "input") {
      // Gone (deleted elsewhere): the backend refuses the id.
      state.datasets = state.datasets.filter((d) => d.id !== id);
      renderDatasets();
    } else {
      alert(explain(e));
    }
  }
}

function renderDatasets() {
  $("#datasets").innerHTML = state.datasets.length === 0 ? `<p class="muted">No datasets yet.</p>` : `<table><thead><tr>
      <th>Name</th><th>Rows</th><th>Size</th><th>Version</th><th>Status</th><th>Shared</th><th>Updated</th><th></th></tr></thead><tbody>
      ${state.datasets.map((d) => `<tr data-id="${esc(d.id)}"><td>${esc(d.name)}</td><td>${d.rows}</td><td>${bytes(d.bytes)}</td><td>${d.version}</td><td>${statusOf(d)}</td>
        <td>${d.shared ? "yes" : "no"}</td><td>${esc(new Date(d.updatedAt).toLocaleString())}</td>
        <td class="row">${d.shared ? `<button class="snippet">Snippet</button><button class="unshare">Unshare</button>` : `<button class="share">Share</button>`}
        <button class="new-version">New version…</button><button class="history">History</button><button class="delete">Delete</button></td></tr>`).join("")}</tbody></table>`;
  document.querySelectorAll<HTMLElement>("#datasets tr[data-id]").forEach((row) => {
    const id = row.dataset.id!;
    const name = state.datasets.find((d) => d.id === id)?.name ?? "";
    const act = (selector: string, action: () => Promise<unknown>, refresh = true) => {
      const button = row.querySelector<HTMLButtonElement>(selector);
      if (button) button.onclick = async () => {
        try { await action(); } catch (e) { alert(explain(e)); }
        if (refresh) await refreshOne(id);
      };
    };
    act(".share", async () => {
      const dataset = state.datasets.find((d) => d.id === id);
      const withHistory = await askShare(dataset?.name ?? "", dataset?.version ?? 0);
      if (withHistory === null) return;
      showSnippet((await api.share(id, withHistory)).snippet);
    });
    act(".snippet", async () => showSnippet((await api.snippet(id)).snippet), false);
    act(".unshare", async () => {
      const answer = await api.unshare(id);
      if (answer.revocation === "pending") alert("Unshared, but the sharing server could not be told yet. Delta-Bridge keeps trying by itself: the snippet stops working as soon as it can.");
    });
    act(".history", async () => showHistory(await api.dataset(id)), false);
    act(".new-version", async () => { const files = await api.pickFiles(); if (files.length) await addFiles(files, name); }, false);
    act(".delete", async () => {
      if (!confirm("Delete this dataset and stop sharing it?")) return;
      await api.remove(id);
      state.datasets = state.datasets.filter((d) => d.id !== id);
      renderDatasets();
    }, false);
  });
}

/// Asks what a share exposes: resolves to whether to share the history, or null if cancelled.
export function askShare(name: string, version: number): Promise<boolean | null> {
  const dialog = $<HTMLDialogElement>("#share-dialog");
  dialog.innerHTML = `<h2>Share ${esc(name)}</h2>
    <p>Recipients will read version ${version} (the current one) and every later version you upload.
    ${version > 0 ? `Earlier versions stay private, including rows an overwrite replaced.` : ""}</p>
    ${version > 0 ? `<label><input type="checkbox" id="share-history"> Also share the history: versions before ${version}, including rows an overwrite replaced (time travel and the change feed)</label>` : ""}
    <div class="row"><button class="primary" id="share-confirm">Share</button><button id="share-cancel">Cancel</button></div>`;
  return new Promise((resolve) => {
    $("#share-confirm", dialog).onclick = () => { resolve(dialog.querySelector<HTMLInputElement>("#share-history")?.checked ?? false); dialog.close?.(); };
    $("#share-cancel", dialog).onclick = () => { resolve(null); dialog.close?.(); };
    if (!dialog.open) dialog.showModal?.();
  });
}

export function showHistory(detail: DatasetDetail) {
  const dialog = $<HTMLDialogElement>("#history-dialog");
  const versions = [...detail.versions].reverse();
  dialog.innerHTML = `<h2>History of ${esc(detail.name)}</h2>
    <table><thead><tr><th>Version</th><th>Change</th><th>Rows added</th><th>Rows</th><th>Size</th><th>When</th></tr></thead><tbody>
    ${versions.map((v) => `<tr><td>${v.version}</td><td>${esc(v.operation)}</td><td>${v.rowsAdded}</td><td>${v.rows}</td><td>${bytes(v.bytes)}</td><td>${esc(new Date(v.committedAt).toLocaleString())}</td></tr>`).join("")}
    </tbody></table><div class="row"><button id="history-close">Close</button></div>`;
  $("#history-close", dialog).onclick = () => dialog.close();
  if (!dialog.open) dialog.showModal?.();
}

export function showSnippet(snippet: Snippet) {
  const dialog = $<HTMLDialogElement>("#snippet-dialog");
  const code = { pandas: snippet.python, spark: snippet.spark };
  let tab: keyof typeof code = "pandas";
  const render = () => {
    dialog.innerHTML = `<h2>Notebook snippet for ${esc(snippet.table)}</h2>
      <p class="muted">Run <code>${esc(snippet.install)}</code>, then paste this into a notebook. It holds the access token: share it only with the people who should read this table.</p>
      <div class="tabs row" role="tablist">${(Object.keys(code) as (keyof typeof code)[]).map((t) => `<button role="tab" aria-selected="${t === tab}" data-tab="${t}">${t}</button>`).join("")}</div>
      <pre id="snippet-code">${esc(code[tab])}</pre>
      <div class="row"><button class="primary" id="copy">Copy</button><span id="copied" class="muted" aria-live="polite"></span><button id="close">Close</button></div>`;
    dialog.querySelectorAll<HTMLButtonElement>("[data-tab]").forEach((b) => { b.onclick = () => { tab = b.dataset.tab as keyof typeof code; render(); }; });
    $("#copy", dialog).onclick = async () => {
      await copy(code[tab]);
      $("#copied", dialog).textContent = "Copied.";
    };
    $("#close", dialog).onclick = () => dialog.close();
  };
  render();
  if (!dialog.open) dialog.showModal?.();
}

export async function copy(text: string) {
  try {
    await navigator.clipboard.writeText(text);
  } catch {
    const area = document.createElement("textarea");
    area.value = text;
    document.body.append(area);
    area.select();
    document.execCommand("copy");
    area.remove();
  }
}

function openSettings() {
  const dialog = $<HTMLDialogElement>("#settings-dialog");
  const c = state.configuration;
  const from = c?.source ? `<p class="muted">In force: ${SOURCES[c.source]}${c.file ? ` (${esc(c.file)})` : ""}. Saving here takes precedence from now on.</p>` : "";
  dialog.innerHTML = `<h2>Settings</h2>${from}${settingsForm(c?.settings, true)}`;
  $(".cancel", dialog).onclick = () => dialog.close?.();
  bindSettingsForm(dialog, (configuration) => {
    const changed = JSON.stringify(configuration.settings) !== JSON.stringify(state.configuration?.settings);
    state.configuration = configuration;
    dialog.close?.();
    // Another backend or sign-in: its own session (or none) applies.
    if (changed) void enter();
  });
  dialog.showModal?.();
}

// Automation and end-to-end tests add files through the same path a drop takes.
(window as unknown as { deltaBridge: unknown }).deltaBridge = { addFiles };

const root = document.getElementById("app");
if (root) void start(root);
