// The dialogs on their own (Snippet, History, Share, Rotate, ActivationLink, Confirm, CloseToTray) and as the app opens them, and the
// small components: Modal's focus and Escape, Toasts, ProgressBar, Truncated, DropOverlay.
import { fireEvent, render } from "@testing-library/svelte";
import { emit } from "@tauri-apps/api/event";
import { tick } from "svelte";
import { describe, expect, it, vi } from "vitest";
import DropOverlay from "../src/components/DropOverlay.svelte";
import ProgressBar from "../src/components/ProgressBar.svelte";
import Truncated from "../src/components/Truncated.svelte";
import CloseToTray from "../src/dialogs/CloseToTray.svelte";
import Confirm from "../src/dialogs/Confirm.svelte";
import History from "../src/dialogs/History.svelte";
import ActivationLink from "../src/dialogs/ActivationLink.svelte";
import Rotate from "../src/dialogs/Rotate.svelte";
import Share from "../src/dialogs/Share.svelte";
import Snippet from "../src/dialogs/Snippet.svelte";
import { $, backend, dataset, settle, snippet, start } from "./helpers";

describe("dialogs", () => {
  it("Snippet copies the code of the chosen tab, and Escape closes it", async () => {
    let copied = "";
    Object.assign(navigator, { clipboard: { writeText: async (t: string) => { copied = t; } } });
    const onclose = vi.fn();
    render(Snippet, { props: { snippet, onclose } });
    expect($("#snippet-dialog-title").textContent).toBe(`Notebook snippet for ${snippet.table}`);
    expect(document.activeElement).toBe($("#copy"));
    expect($("#snippet-code").textContent).toBe("print('pandas')");
    await fireEvent.click($("[data-tab=spark]"));
    expect($("[data-tab=spark]").getAttribute("aria-selected")).toBe("true");
    await fireEvent.click($("#copy"));
    await settle();
    expect(copied).toBe("print('spark')");
    expect($("#copied").textContent).toBe("Copied.");
    // Arrow keys move between tabs.
    await fireEvent.keyDown($("[role=tablist]"), { key: "ArrowRight" });
    expect($("#snippet-code").textContent).toBe("print('pandas')");
    await fireEvent.keyDown($("#snippet-dialog"), { key: "Escape" });
    expect(onclose).toHaveBeenCalledTimes(1);
  });

  it("History lists versions newest first", () => {
    const versions = [0, 1, 2].map((version) => ({ version, operation: version ? "append" as const : "create" as const, rows: 1, bytes: 1, filesAdded: 1, rowsAdded: 1, committedAt: "2026-01-01T00:00:00Z" }));
    render(History, { props: { detail: { ...dataset, versions }, onclose: () => {} } });
    expect([...document.querySelectorAll("#history-dialog tbody tr")].map((tr) => tr.querySelector("td")!.textContent)).toEqual(["2", "1", "0"]);
  });

  it("Share offers the history only for a dataset with earlier versions, for the link and new recipients alike", async () => {
    const ipc = backend({ datasets: [{ ...dataset, version: 3 }], share: { shared: true, recipient: "link", startVersion: 0, history: true, snippet }, grant: { grants: [] } });
    const { store } = await start();
    const onclose = vi.fn();
    render(Share, { props: { store, datasetId: dataset.id, onclose } });
    expect($("#share-dialog").textContent).toContain("versions before 3");
    await fireEvent.click($("#share-history"));
    await fireEvent.input($("#share-dialog .recipient-name"), { target: { value: "bo" } });
    await fireEvent.submit($("#share-dialog .recipient-form"));
    await settle();
    expect(ipc.of("grant")).toEqual([{ id: dataset.id, recipients: ["bo"], withHistory: true }]);
    await fireEvent.click($("#share-confirm"));
    await settle();
    expect(ipc.of("share")).toEqual([{ id: dataset.id, withHistory: true }]);
    await fireEvent.keyDown($("#share-dialog"), { key: "Escape" });
    expect(onclose).toHaveBeenCalledTimes(1);
  });

  it("Rotate offers no overlap first, then an hour or a day", async () => {
    const onanswer = vi.fn();
    const onclose = vi.fn();
    render(Rotate, { props: { name: "bo", onanswer, onclose } });
    expect($("#rotate-dialog-title").textContent).toBe("Rotate the credential of bo?");
    const choices = [...document.querySelectorAll<HTMLInputElement>("#rotate-dialog input[type=radio]")];
    expect(choices.map((c) => c.parentElement!.textContent!.trim())).toEqual(["Not at all: it stops now", "1 hour", "1 day"]);
    expect(choices[0].checked).toBe(true);
    expect(document.activeElement).toBe(choices[0]);
    await fireEvent.click(choices[1]);
    await fireEvent.click($("#rotate-dialog .confirm"));
    expect(onanswer).toHaveBeenCalledWith(3600);
    await fireEvent.click($("#rotate-dialog .cancel"));
    expect(onclose).toHaveBeenCalledTimes(1);
  });

  it("ActivationLink shows the link, says it works once and until when, and copies it", async () => {
    let copied = "";
    Object.assign(navigator, { clipboard: { writeText: async (t: string) => { copied = t; } } });
    const link = { url: "http://127.0.0.1:8081/activate/abc", expiresAt: "2026-01-08T00:00:00Z" };
    render(ActivationLink, { props: { name: "bo", link, onclose: () => {} } });
    expect($("#activation-dialog").textContent).toContain(`It works once, until ${new Date(link.expiresAt).toLocaleString()}`);
    expect($<HTMLInputElement>("#activation-url").value).toBe(link.url);
    expect(document.activeElement).toBe($("#activation-copy"));
    await fireEvent.click($("#activation-copy"));
    await settle();
    expect(copied).toBe(link.url);
    expect($("#activation-dialog").textContent).toContain("Copied.");
  });

  it("Confirm answers yes only with its named button", async () => {
    const onanswer = vi.fn();
    const onclose = vi.fn();
    render(Confirm, { props: { title: "Delete sales?", message: "This deletes sales.", confirm: "Delete sales", onanswer, onclose } });
    await fireEvent.keyDown($("#confirm-dialog"), { key: "Escape" });
    expect(onclose).toHaveBeenCalledTimes(1);
    expect(onanswer).not.toHaveBeenCalled();
    await fireEvent.click($("#confirm-dialog .confirm"));
    expect(onanswer).toHaveBeenCalledWith(true);
  });

  it("CloseToTray offers to keep running or quit", async () => {
    const onchoose = vi.fn();
    render(CloseToTray, { props: { onchoose, onclose: () => {} } });
    expect($("#close-dialog-title").textContent).toBe("Keep uploading in the background?");
    await fireEvent.click($("#close-dialog .quit"));
    expect(onchoose).toHaveBeenCalledWith("quit");
  });

  it("asks once what closing does when Rust emits close-requested, and tells Rust the answer", async () => {
    const ipc = backend();
    await start();
    expect(document.querySelector("#close-dialog")).toBeNull();
    await emit("close-requested");
    await emit("close-requested");
    await settle();
    expect(document.querySelectorAll("#close-dialog")).toHaveLength(1);
    await fireEvent.click($("#close-dialog .keep"));
    await settle();
    expect(ipc.of("set_close_behaviour")).toEqual([{ behaviour: "background" }]);
    expect(document.querySelector("#close-dialog")).toBeNull();
  });

  it("gives the focus back to what had it when a dialog closes", async () => {
    backend({ dataset: { ...dataset, versions: [] } });
    await start();
    const history = $(`#datasets tr[data-id="${dataset.id}"] .history`);
    history.focus();
    await fireEvent.click(history);
    await settle();
    expect(document.activeElement).toBe($("#history-close"));
    await fireEvent.keyDown($("#history-dialog"), { key: "Escape" });
    await settle();
    expect(document.querySelector("#history-dialog")).toBeNull();
    expect(document.activeElement).toBe(history);
  });
});

describe("components", () => {
  it("Toasts go away by themselves", async () => {
    backend();
    const { store } = await start();
    store.toastMilliseconds = 50;
    store.toast("Deleted sales.");
    await tick();
    expect($(".toasts").getAttribute("aria-live")).toBe("polite");
    expect($(".toasts").textContent).toContain("Deleted sales.");
    await new Promise((r) => setTimeout(r, 80));
    await settle();
    expect($(".toasts").textContent).not.toContain("Deleted sales.");
  });

  it("ProgressBar is labelled and says its percentage", () => {
    render(ProgressBar, { props: { value: 0.426, label: "Progress of a.csv", text: "uploading" } });
    const bar = $<HTMLProgressElement>("progress");
    expect(bar.getAttribute("aria-label")).toBe("Progress of a.csv");
    expect(bar.getAttribute("aria-valuetext")).toBe("42%");
    expect($(".progress-text").textContent).toBe("42% · uploading");
  });

  it("Truncated keeps the full text in its title", () => {
    const path = "/home/ana/a very/long/path/to/quarterly sales of every shop.csv";
    render(Truncated, { props: { text: path } });
    expect($(".truncated").getAttribute("title")).toBe(path);
    expect($(".truncated").textContent).toBe(path);
  });

  it("DropOverlay shows only while dragging", async () => {
    const view = render(DropOverlay, { props: { visible: false } });
    expect(document.querySelector(".drop-overlay")).toBeNull();
    await view.rerender({ visible: true });
    expect(document.querySelector(".drop-overlay")).not.toBeNull();
  });
});

describe("the entry point", () => {
  it("mounts the app into #app and lets automation add files as a drop does", async () => {
    const ipc = backend();
    document.body.innerHTML = `<div id="app"></div>`;
    await import("../src/main");
    await settle();
    expect(document.querySelector("#drop")).not.toBeNull();
    await (window as unknown as { deltaBridge: { addFiles(paths: string[]): Promise<void> } }).deltaBridge.addFiles(["/data/a.csv", "/data/b.csv"]);
    await settle();
    expect(ipc.of("preview").map((a) => a.path)).toEqual(["/data/a.csv", "/data/b.csv"]);
    expect(document.querySelectorAll("#queue .file")).toHaveLength(2);
  });
});
