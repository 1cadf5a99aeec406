// The update banner: a signed update is offered with its version; Install streams the download's progress; a
// refused update says why and that nothing was installed; Later puts it off; no offer, or a failed look, shows nothing.
import { fireEvent } from "@testing-library/svelte";
import { describe, expect, it } from "vitest";
import type { CommandError, UpdateProgress } from "../src/api";
import { $, backend, settle, start } from "./helpers";

const offer = { version: "0.1.1", currentVersion: "0.1.0", notes: "Faster uploads." };
type Install = { progress(p: UpdateProgress): void; fail(e: CommandError): void };

/** `install_update` stays pending, as it does while Rust downloads (it never answers: the app restarts). */
function installing() {
  const pending: Install[] = [];
  const handler = (args: { onProgress: { id: number } }) => new Promise((_resolve, reject) => {
    let index = 0;
    pending.push({
      progress: (p) => (window as unknown as { __TAURI_INTERNALS__: { runCallback(id: number, data: unknown): void } })
        .__TAURI_INTERNALS__.runCallback(args.onProgress.id, { index: index++, message: p }),
      fail: reject,
    });
  });
  return { pending, handler };
}

describe("updates", () => {
  it("offers a signed update, shows its download, and says why a refused one installed nothing", async () => {
    const install = installing();
    const ipc = backend({ check_update: offer, install_update: install.handler });
    await start();
    expect($("#update-offer").textContent).toContain("Delta-Bridge 0.1.1 is available (you have 0.1.0)");
    expect($("#update-offer").textContent).toContain("Faster uploads.");
    // The rest of the app is there beside it.
    $("#drop");

    await fireEvent.click($("#update-install"));
    await settle();
    expect(ipc.of("install_update")).toHaveLength(1);
    expect(document.querySelector("#update-install")).toBeNull();
    install.pending[0].progress({ bytesDone: 20, bytesTotal: 80 });
    await settle();
    expect($("#update progress").getAttribute("value")).toBe("0.25");

    install.pending[0].fail({ kind: "update", message: "The update to 0.1.1 was refused and nothing was installed: it is not signed with Delta-Bridge's release key" });
    await settle();
    expect($("#update-error").textContent).toBe("The update to 0.1.1 was refused and nothing was installed: it is not signed with Delta-Bridge's release key");
    await fireEvent.click($("#update-dismiss"));
    expect(document.querySelector("#update")).toBeNull();
  });

  it("Later puts the offer away", async () => {
    backend({ check_update: offer });
    await start();
    await fireEvent.click($("#update-later"));
    expect(document.querySelector("#update")).toBeNull();
  });

  it("shows nothing when there is no update, or when the look fails", async () => {
    backend({ check_update: null });
    await start();
    expect(document.querySelector("#update")).toBeNull();

    document.body.innerHTML = "";
    backend({ check_update: () => Promise.reject({ kind: "update", message: "Could not look for updates: offline" }) });
    await start();
    expect(document.querySelector("#update")).toBeNull();
    $("#drop");
  });
});
