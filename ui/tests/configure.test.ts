// The Configure screen and the Settings dialog: nothing signs in until settings are saved; refusals are shown.
import { fireEvent } from "@testing-library/svelte";
import { describe, expect, it } from "vitest";
import { $, backend, configured, settle, start, unconfigured } from "./helpers";

describe("configuration", () => {
  it("on first launch asks for the configuration and signs nothing in until it is saved", async () => {
    const ipc = backend({
      configuration: unconfigured,
      save_settings: (args: { settings: unknown }) => ({ ...configured, settings: args.settings, source: "saved", file: "/home/ana/.config/x/settings.json" }),
      restore_session: null,
    });
    await start();
    const screen = $("#configure");
    expect(document.querySelector("#email")).toBeNull();
    expect(document.querySelector("#settings-open")).toBeNull();
    expect(ipc.calls.map((c) => c.cmd)).toEqual(["configuration", "check_update"]);
    // Real Firebase is the default choice; the emulator is there only when chosen, with no host filled in.
    const firebase = (value: string) => $<HTMLInputElement>(`input[name=firebase][value=${value}]`, screen);
    expect(firebase("key").checked).toBe(true);
    expect(firebase("emulator").checked).toBe(false);
    const host = $<HTMLInputElement>(".emulator", screen);
    expect(host.value).toBe("");
    expect(host.disabled).toBe(true);
    await fireEvent.input($(".backend", screen), { target: { value: " http://127.0.0.1:8081 " } });
    await fireEvent.click(firebase("emulator"));
    expect(host.disabled).toBe(false);
    expect($<HTMLInputElement>(".api-key", screen).disabled).toBe(true);
    await fireEvent.input(host, { target: { value: "127.0.0.1:9099" } });
    await fireEvent.click($(".save", screen));
    await settle();
    expect(ipc.of("save_settings")).toEqual([{ settings: { backendUrl: "http://127.0.0.1:8081", firebaseApiKey: null, firebaseEmulatorHost: "127.0.0.1:9099", insecureHttp: false } }]);
    // Only now does the app look for a session, and it asks to sign in.
    expect(ipc.calls.map((c) => c.cmd)).toEqual(["configuration", "check_update", "save_settings", "restore_session"]);
    expect(document.querySelector("#configure")).toBeNull();
    expect(document.querySelector("#email")).not.toBeNull();
    expect(document.querySelector("#settings-open")).not.toBeNull();
  });

  it("says why settings were not saved, and what was wrong with the ones found", async () => {
    const refusal = "refusing to send passwords or tokens over plain http:// to backend.lan (the backend), which is not this machine: … --insecure-http …";
    const ipc = backend({
      configuration: { ...unconfigured, problems: ["/etc/delta-bridge/provisioning.json: unknown field `firebaseApiKy`"] },
      save_settings: () => { throw { kind: "settings", message: refusal }; },
    });
    await start();
    expect($("#configure .problem").textContent).toContain("firebaseApiKy");
    await fireEvent.input($("#configure .backend"), { target: { value: "http://backend.lan:8081" } });
    await fireEvent.input($("#configure .api-key"), { target: { value: "web-api-key" } });
    await fireEvent.submit($("#configure .settings-form"));
    await settle();
    expect(ipc.of("save_settings")).toEqual([{ settings: { backendUrl: "http://backend.lan:8081", firebaseApiKey: "web-api-key", firebaseEmulatorHost: null, insecureHttp: false } }]);
    expect($("#configure .settings-error").textContent).toBe(refusal);
    expect(document.querySelector("#email")).toBeNull();
    expect(ipc.of("restore_session")).toHaveLength(0);
  });

  it("brings settings the client refuses back to the configuration screen, filled in, with the reason", async () => {
    backend({
      configuration: { ...configured, settings: { backendUrl: "http://backend.lan:8081", firebaseApiKey: "k", firebaseEmulatorHost: null, insecureHttp: false }, source: "provisioning", file: "/etc/delta-bridge/provisioning.json" },
      restore_session: () => { throw { kind: "settings", message: "refusing to send passwords or tokens over plain http:// to backend.lan" }; },
    });
    await start();
    expect($("#configure .problem").textContent).toContain("backend.lan");
    expect($<HTMLInputElement>("#configure .backend").value).toBe("http://backend.lan:8081");
    expect($<HTMLInputElement>("#configure .api-key").value).toBe("k");
    expect($<HTMLInputElement>("#configure .insecure").checked).toBe(false);
  });

  it("shows in the Settings dialog where the settings in force come from, and a change signs in to the new backend", async () => {
    const ipc = backend({
      configuration: { ...configured, source: "provisioning", file: "/etc/delta-bridge/provisioning.json" },
      save_settings: (args: { settings: unknown }) => ({ ...configured, settings: args.settings, source: "saved", file: "/x/settings.json" }),
      restore_session: null,
    });
    await start();
    await fireEvent.click($("#settings-open"));
    const dialog = $("#settings-dialog");
    expect(dialog.getAttribute("aria-labelledby")).toBe("settings-dialog-title");
    expect(dialog.textContent).toContain("provisioning file");
    expect(dialog.textContent).toContain("/etc/delta-bridge/provisioning.json");
    expect($<HTMLInputElement>("input[name=firebase][value=emulator]", dialog).checked).toBe(true);
    await fireEvent.click($(".insecure", dialog));
    await fireEvent.submit($(".settings-form", dialog));
    await settle();
    expect(ipc.of("save_settings")).toEqual([{ settings: { ...configured.settings, insecureHttp: true } }]);
    expect(ipc.of("restore_session")).toHaveLength(2);
    expect(document.querySelector("#settings-dialog")).toBeNull();
  });

  it("closes the Settings dialog with Cancel or Escape without saving", async () => {
    const ipc = backend({ restore_session: null });
    await start();
    await fireEvent.click($("#settings-open"));
    await fireEvent.click($("#settings-dialog .cancel"));
    expect(document.querySelector("#settings-dialog")).toBeNull();
    await fireEvent.click($("#settings-open"));
    await fireEvent.keyDown($("#settings-dialog .backend"), { key: "Escape" });
    expect(document.querySelector("#settings-dialog")).toBeNull();
    expect(ipc.of("save_settings")).toHaveLength(0);
  });
});
