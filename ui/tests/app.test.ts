// The screens with the Rust side mocked at the IPC boundary only (@tauri-apps/api/mocks).
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { clearMocks, mockIPC } from "@tauri-apps/api/mocks";

const dataset = { id: "ds0123456789abcdef0123", name: "sales", version: 0, rows: 3, bytes: 1422, schema: [], shared: false, createdAt: "2026-01-01T00:00:00Z", updatedAt: "2026-01-01T00:00:00Z" };
const configured = { settings: { backendUrl: "http://127.0.0.1:8081", firebaseApiKey: null, firebaseEmulatorHost: "127.0.0.1:9099", insecureHttp: false }, source: "environment", file: null, problems: [] };
const unconfigured = { settings: null, source: null, file: null, problems: [] };
const snippet = { datasetId: dataset.id, table: `${dataset.id}.default.sales`, profile: {}, install: "pip install delta-sharing", python: "print('pandas')", spark: "print('spark')" };

async function settle() {
  for (let i = 0; i < 10; i++) await new Promise((r) => setTimeout(r, 0));
}

/** Starts the app in a fresh root element and waits for its first screen. */
async function mount() {
  const app = await import("../src/main");
  const root = document.createElement("div");
  document.body.append(root);
  await app.start(root);
  await settle();
  return { app, root };
}

describe("the app", () => {
  let calls: { cmd: string; args: unknown }[];
  beforeEach(() => {
    calls = [];
    document.body.innerHTML = "";
  });
  afterEach(() => clearMocks());

  it("asks to sign in when the keyring holds no session, then lists datasets", async () => {
    mockIPC((cmd, args) => {
      if (cmd === "configuration") return configured;
      calls.push({ cmd, args });
      if (cmd === "restore_session") return null;
      if (cmd === "sign_in") return { uid: "u1", email: "ana@example.com" };
      if (cmd === "datasets") return [dataset];
      return null;
    });
    const { root } = await mount();
    (root.querySelector("#email") as HTMLInputElement).value = "ana@example.com";
    (root.querySelector("#password") as HTMLInputElement).value = "secret123";
    (root.querySelector("#sign-in") as HTMLFormElement).requestSubmit();
    await settle();
    expect(calls.find((c) => c.cmd === "sign_in")?.args).toEqual({ email: "ana@example.com", password: "secret123", signUp: false });
    expect(root.querySelector("#who")?.textContent).toBe("ana@example.com");
    expect(root.querySelector("#datasets")?.textContent).toContain("sales");
  });

  it("previews an added file with its inferred types, lets types be changed, and suggests append for an existing name", async () => {
    const previews: unknown[] = [];
    const uploads: unknown[] = [];
    let finish = () => {};
    mockIPC((cmd, args) => {
      if (cmd === "configuration") return configured;
      if (cmd === "preview") previews.push(args);
      if (cmd === "new_job") return 1;
      if (cmd === "upload") { uploads.push(args); return new Promise((done) => { finish = () => done({ dataset: { ...dataset, version: 1, rows: 5, versions: [] }, resumed: false, bytesSent: 1 }); }); }
      if (cmd === "restore_session") return { uid: "u1", email: "ana@example.com" };
      if (cmd === "datasets") return [dataset];
      if (cmd === "preview") return {
        file: "/tmp/sales.csv", file_size: 60, complete: true, sampled_rows: 2, warnings: [],
        dialect: { encoding: "utf-8", delimiter: ";", quote: "\"", has_header: true, line_ending: "Lf" },
        columns: [{ name: "zip", header: "zip", type: "string", nullable: false, ambiguous_dates: false }],
        rows: [["01234"], [null]],
      };
      return null;
    });
    const { app, root } = await mount();
    await app.addFiles(["/tmp/sales.csv"]);
    const queue = root.querySelector("#queue")!;
    expect((queue.querySelector(".delimiter") as HTMLSelectElement).value).toBe(";");
    expect((queue.querySelector(".col-name") as HTMLInputElement).value).toBe("zip");
    expect((queue.querySelector(".col-type") as HTMLSelectElement).value).toBe("string");
    expect(queue.querySelector("td")?.textContent).toBe("01234");
    expect((queue.querySelector(".mode") as HTMLSelectElement).value).toBe("append");
    // Changing a column's type reads the file again with that choice, and the upload carries it.
    const type = queue.querySelector(".col-type") as HTMLSelectElement;
    type.value = "int64";
    type.dispatchEvent(new Event("change"));
    await settle();
    expect(previews.at(-1)).toEqual({ path: "/tmp/sales.csv", rows: 100, read: { names: [], types: [[0, "int64"]] } });
    (root.querySelector("#queue .upload") as HTMLButtonElement).click();
    await settle();
    expect((uploads[0] as { request: { read: unknown } }).request.read).toEqual({ names: [], types: [[0, "int64"]] });
    // While it goes up, the dataset's row says so; once committed, the row shows the new version.
    const row = () => root.querySelector(`#datasets tr[data-id="${dataset.id}"]`)!.textContent;
    expect(row()).toContain("new version uploading");
    finish();
    await settle();
    expect(row()).toContain("ready");
    const cells = [...root.querySelectorAll(`#datasets tr[data-id="${dataset.id}"] td`)].map((td) => td.textContent);
    expect([cells[1], cells[3]]).toEqual(["5", "1"]);
  });

  it("refreshes only the dataset acted on, shows its history, and queues a new version of it", async () => {
    const shared = { ...dataset, shared: true, version: 1 };
    const versions = [
      { version: 0, operation: "create", rows: 3, bytes: 1422, filesAdded: 1, rowsAdded: 3, committedAt: "2026-01-01T00:00:00Z" },
      { version: 1, operation: "append", rows: 5, bytes: 2844, filesAdded: 1, rowsAdded: 2, committedAt: "2026-01-02T00:00:00Z" },
    ];
    const other = { ...dataset, id: "ds_other", name: "costs" };
    mockIPC((cmd, args) => {
      if (cmd === "configuration") return configured;
      calls.push({ cmd, args });
      if (cmd === "restore_session") return { uid: "u1", email: "ana@example.com" };
      if (cmd === "datasets") return [dataset, other];
      if (cmd === "share") return { shared: true, snippet };
      if (cmd === "dataset") return { ...shared, versions };
      if (cmd === "pick_files") return ["/data/more sales.csv"];
      if (cmd === "preview") return {
        file: "/data/more sales.csv", file_size: 60, complete: true, sampled_rows: 1, warnings: [],
        dialect: { encoding: "utf-8", delimiter: ",", quote: "\"", has_header: true, line_ending: "Lf" },
        columns: [{ name: "n", header: "n", type: "int64", nullable: false, ambiguous_dates: false }], rows: [["1"]],
      };
      return null;
    });
    const { root } = await mount();
    const row = () => root.querySelector(`#datasets tr[data-id="${dataset.id}"]`) as HTMLElement;
    (row().querySelector(".share") as HTMLButtonElement).click();
    await settle();
    // The share dialog says what recipients will see, and sharing the history is a choice.
    const ask = root.querySelector("#share-dialog") as HTMLElement;
    expect(ask.textContent).toContain("Recipients will read version 0");
    expect(ask.querySelector("#share-history")).toBeNull();
    (ask.querySelector("#share-confirm") as HTMLButtonElement).click();
    await settle();
    expect(calls.filter((c) => c.cmd === "share").map((c) => c.args)).toEqual([{ id: dataset.id, withHistory: false }]);
    expect(calls.filter((c) => c.cmd === "datasets")).toHaveLength(1);
    expect(calls.filter((c) => c.cmd === "dataset").map((c) => c.args)).toEqual([{ id: dataset.id }]);
    expect(row().textContent).toContain("yes");
    expect(row().querySelector(".unshare")).not.toBeNull();
    expect(root.querySelector(`#datasets tr[data-id="ds_other"]`)?.textContent).toContain("costs");

    (row().querySelector(".history") as HTMLButtonElement).click();
    await settle();
    const history = root.querySelector("#history-dialog") as HTMLElement;
    expect(history.textContent).toContain("History of sales");
    const lines = [...history.querySelectorAll("tbody tr")].map((tr) => tr.textContent);
    expect(lines[0]).toContain("append");
    expect(lines[1]).toContain("create");

    (row().querySelector(".new-version") as HTMLButtonElement).click();
    await settle();
    const file = root.querySelector(".file") as HTMLElement;
    expect((file.querySelector(".name") as HTMLInputElement).value).toBe("sales");
    expect((file.querySelector(".mode") as HTMLSelectElement).value).toBe("append");
    expect(calls.filter((c) => c.cmd === "datasets")).toHaveLength(1);
  });

  it("shares from the current version unless the owner ticks the history, and says when an unshare is pending", async () => {
    const overwritten = { ...dataset, version: 2 };
    const alerts: string[] = [];
    window.alert = (m?: unknown) => { alerts.push(String(m)); };
    mockIPC((cmd, args) => {
      if (cmd === "configuration") return configured;
      calls.push({ cmd, args });
      if (cmd === "restore_session") return { uid: "u1", email: "ana@example.com" };
      if (cmd === "datasets") return [overwritten];
      if (cmd === "share") return { shared: true, startVersion: 0, history: true, snippet };
      if (cmd === "unshare") return { datasetId: dataset.id, wasShared: true, revocation: "pending" };
      if (cmd === "dataset") return { ...overwritten, shared: calls.filter((c) => c.cmd === "share").length > calls.filter((c) => c.cmd === "unshare").length, versions: [] };
      return null;
    });
    const { root } = await mount();
    const row = () => root.querySelector(`#datasets tr[data-id="${dataset.id}"]`) as HTMLElement;
    (row().querySelector(".share") as HTMLButtonElement).click();
    await settle();
    const ask = root.querySelector("#share-dialog") as HTMLElement;
    expect(ask.textContent).toContain("Earlier versions stay private");
    (ask.querySelector("#share-cancel") as HTMLButtonElement).click();
    await settle();
    expect(calls.filter((c) => c.cmd === "share")).toHaveLength(0);
    (row().querySelector(".share") as HTMLButtonElement).click();
    await settle();
    (ask.querySelector("#share-history") as HTMLInputElement).checked = true;
    (ask.querySelector("#share-confirm") as HTMLButtonElement).click();
    await settle();
    expect(calls.filter((c) => c.cmd === "share").map((c) => c.args)).toEqual([{ id: dataset.id, withHistory: true }]);
    (row().querySelector(".unshare") as HTMLButtonElement).click();
    await settle();
    expect(alerts.join()).toContain("keeps trying");
  });

  it("copies the snippet of the chosen tab", async () => {
    let copied = "";
    Object.assign(navigator, { clipboard: { writeText: async (t: string) => { copied = t; } } });
    document.body.innerHTML = `<dialog id="snippet-dialog"></dialog>`;
    const { showSnippet } = await import("../src/main");
    showSnippet(snippet);
    (document.querySelector("[data-tab=spark]") as HTMLButtonElement).click();
    (document.querySelector("#copy") as HTMLButtonElement).click();
    await settle();
    expect(copied).toBe("print('spark')");
  });

  it("on first launch asks for the configuration and signs nothing in until it is saved", async () => {
    let saved = false;
    mockIPC((cmd, args) => {
      calls.push({ cmd, args });
      if (cmd === "configuration") return unconfigured;
      if (cmd === "save_settings") { saved = true; return { ...configured, settings: (args as { settings: unknown }).settings, source: "saved", file: "/home/ana/.config/x/settings.json" }; }
      if (cmd === "restore_session") return null;
      return null;
    });
    const { root } = await mount();
    const screen = root.querySelector("#configure") as HTMLElement;
    expect(screen).not.toBeNull();
    expect(root.querySelector("#email")).toBeNull();
    expect((root.querySelector("#settings-open") as HTMLElement).hidden).toBe(true);
    expect(calls.map((c) => c.cmd)).toEqual(["configuration"]);
    // Real Firebase is the default choice; the emulator is there only when chosen, with no host filled in.
    const firebase = (value: string) => screen.querySelector(`input[name=firebase][value=${value}]`) as HTMLInputElement;
    expect(firebase("key").checked).toBe(true);
    expect(firebase("emulator").checked).toBe(false);
    const host = screen.querySelector(".emulator") as HTMLInputElement;
    expect(host.value).toBe("");
    expect(host.disabled).toBe(true);
    (screen.querySelector(".backend") as HTMLInputElement).value = " http://127.0.0.1:8081 ";
    firebase("emulator").checked = true;
    firebase("emulator").dispatchEvent(new Event("change"));
    expect(host.disabled).toBe(false);
    expect((screen.querySelector(".api-key") as HTMLInputElement).disabled).toBe(true);
    host.value = "127.0.0.1:9099";
    (screen.querySelector(".settings-form") as HTMLFormElement).requestSubmit();
    await settle();
    expect(saved).toBe(true);
    expect(calls.find((c) => c.cmd === "save_settings")?.args).toEqual({ settings: { backendUrl: "http://127.0.0.1:8081", firebaseApiKey: null, firebaseEmulatorHost: "127.0.0.1:9099", insecureHttp: false } });
    // Only now does the app look for a session, and it asks to sign in.
    expect(calls.map((c) => c.cmd)).toEqual(["configuration", "save_settings", "restore_session"]);
    expect(root.querySelector("#configure")).toBeNull();
    expect(root.querySelector("#email")).not.toBeNull();
    expect((root.querySelector("#settings-open") as HTMLElement).hidden).toBe(false);
  });

  it("says why settings were not saved, and what was wrong with the ones found", async () => {
    const refusal = "refusing to send passwords or tokens over plain http:// to backend.lan (the backend), which is not this machine: … --insecure-http …";
    mockIPC((cmd, args) => {
      calls.push({ cmd, args });
      if (cmd === "configuration") return { ...unconfigured, problems: ["/etc/delta-bridge/provisioning.json: unknown field `firebaseApiKy`"] };
      if (cmd === "save_settings") throw { kind: "settings", message: refusal };
      return null;
    });
    const { root } = await mount();
    expect(root.querySelector("#configure .problem")?.textContent).toContain("firebaseApiKy");
    (root.querySelector("#configure .backend") as HTMLInputElement).value = "http://backend.lan:8081";
    (root.querySelector("#configure .api-key") as HTMLInputElement).value = "web-api-key";
    (root.querySelector("#configure .settings-form") as HTMLFormElement).requestSubmit();
    await settle();
    expect(calls.find((c) => c.cmd === "save_settings")?.args).toEqual({ settings: { backendUrl: "http://backend.lan:8081", firebaseApiKey: "web-api-key", firebaseEmulatorHost: null, insecureHttp: false } });
    expect(root.querySelector("#configure .settings-error")?.textContent).toBe(refusal);
    expect(root.querySelector("#email")).toBeNull();
    expect(calls.some((c) => c.cmd === "restore_session")).toBe(false);
  });

  it("brings settings the client refuses back to the configuration screen, filled in, with the reason", async () => {
    const remote = { ...configured, settings: { backendUrl: "http://backend.lan:8081", firebaseApiKey: "k", firebaseEmulatorHost: null, insecureHttp: false }, source: "provisioning", file: "/etc/delta-bridge/provisioning.json" };
    mockIPC((cmd) => {
      if (cmd === "configuration") return remote;
      if (cmd === "restore_session") throw { kind: "settings", message: "refusing to send passwords or tokens over plain http:// to backend.lan" };
      return null;
    });
    const { root } = await mount();
    expect(root.querySelector("#configure .problem")?.textContent).toContain("backend.lan");
    expect((root.querySelector("#configure .backend") as HTMLInputElement).value).toBe("http://backend.lan:8081");
    expect((root.querySelector("#configure .api-key") as HTMLInputElement).value).toBe("k");
    expect((root.querySelector("#configure .insecure") as HTMLInputElement).checked).toBe(false);
  });

  it("shows in Settings where the settings in force come from, and a change signs in to the new backend", async () => {
    mockIPC((cmd, args) => {
      calls.push({ cmd, args });
      if (cmd === "configuration") return { ...configured, source: "provisioning", file: "/etc/delta-bridge/provisioning.json" };
      if (cmd === "save_settings") return { ...configured, settings: (args as { settings: unknown }).settings, source: "saved", file: "/x/settings.json" };
      if (cmd === "restore_session") return null;
      return null;
    });
    const { root } = await mount();
    (root.querySelector("#settings-open") as HTMLButtonElement).click();
    await settle();
    const dialog = root.querySelector("#settings-dialog") as HTMLElement;
    expect(dialog.textContent).toContain("provisioning file");
    expect(dialog.textContent).toContain("/etc/delta-bridge/provisioning.json");
    expect((dialog.querySelector("input[name=firebase][value=emulator]") as HTMLInputElement).checked).toBe(true);
    (dialog.querySelector(".insecure") as HTMLInputElement).checked = true;
    (dialog.querySelector(".settings-form") as HTMLFormElement).requestSubmit();
    await settle();
    expect(calls.find((c) => c.cmd === "save_settings")?.args).toEqual({ settings: { ...configured.settings, insecureHttp: true } });
    expect(calls.filter((c) => c.cmd === "restore_session")).toHaveLength(2);
  });
});
