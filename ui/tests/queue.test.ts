// The queue: many files at once, each with its own preview, progress and actions; the total progress; uploads
// paused, resumed, cancelled, and interrupted ones found at launch.
import { fireEvent } from "@testing-library/svelte";
import { emit } from "@tauri-apps/api/event";
import { describe, expect, it } from "vitest";
import type { Interrupted, UploadRequest } from "../src/api";
import { $, backend, dataset, preview, read, settle, start } from "./helpers";

const items = () => [...document.querySelectorAll<HTMLElement>("#queue .file")];
const progressOf = (item: HTMLElement) => $<HTMLProgressElement>("progress", item).value;
const button = (item: HTMLElement, name: string) => item.querySelector<HTMLButtonElement>(`.${name}`);

describe("the queue", () => {
  it("says it is empty, then takes several files at once, each with its own preview", async () => {
    backend();
    const { store } = await start();
    expect($("#queue .empty").textContent).toContain("No files yet");
    await store.addFiles(["/data/a.csv", "/data/b.csv", "/data/c.csv"]);
    await settle();
    expect(items()).toHaveLength(3);
    expect(items().map((i) => $(".truncated", i).getAttribute("title"))).toEqual(["/data/a.csv", "/data/b.csv", "/data/c.csv"]);
    expect(items().map((i) => $<HTMLInputElement>(".name", i).value)).toEqual(["a", "b", "c"]);
    expect(document.querySelector("#queue .empty")).toBeNull();
    expect($(".upload-all").textContent).toBe("Upload all (3)");
  });

  it("previews an added file with its inferred types, lets types be changed, and suggests append for an existing name", async () => {
    const ipc = backend({
      preview: (args: { path: string }) => ({ ...preview(args.path), dialect: { encoding: "windows1252", delimiter: ";", quote: "\"", has_header: true, line_ending: "crlf" } }),
    });
    const { store } = await start();
    await store.addFiles(["/tmp/sales.csv"]);
    await settle();
    const queue = $("#queue");
    expect($<HTMLSelectElement>(".delimiter", queue).value).toBe(";");
    expect($(".dialect", queue).textContent).toContain("Windows-1252");
    expect($<HTMLInputElement>(".col-name", queue).value).toBe("zip");
    expect($<HTMLSelectElement>(".col-type", queue).value).toBe("string");
    expect($("td", queue).textContent).toBe("01234");
    expect($<HTMLSelectElement>(".mode", queue).value).toBe("append");
    // Changing a column's type reads the file again with that choice, and the upload carries it.
    await fireEvent.change($(".col-type", queue), { target: { value: "int64" } });
    await settle();
    expect(ipc.of("preview").at(-1)).toEqual({ path: "/tmp/sales.csv", rows: 100, read: read({ types: [[0, "int64"]] }) });
    await fireEvent.click($(".upload", queue));
    await settle();
    expect(ipc.uploads[0].request).toEqual({ files: ["/tmp/sales.csv"], name: "sales", mode: "append", share: false, read: read({ types: [[0, "int64"]] }) });
    // While it goes up, the dataset's row says so; once committed, the row shows the new version.
    const row = () => $(`#datasets tr[data-id="${dataset.id}"]`);
    expect(row().textContent).toContain("new version uploading");
    ipc.uploads[0].finish();
    await settle();
    const cells = [...row().querySelectorAll("td")].map((td) => td.textContent);
    expect([cells[0], cells[1], cells[3], cells[4]]).toEqual(["sales", "5", "1", "ready"]);
    expect(ipc.of("datasets")).toHaveLength(1);
    expect($(".status", items()[0]).textContent).toBe("Uploaded sales: version 1, 5 rows.");
  });

  // The bug this rewrite fixes (issue 14): editing one file's preview while another uploads used to rebuild the
  // queue, and the running upload lost its progress, its Cancel button, and its disabled Upload button.
  it("editing one item's preview while another uploads leaves the running upload alone", async () => {
    const ipc = backend();
    const { store } = await start();
    await store.addFiles(["/data/a.csv", "/data/b.csv"]);
    await settle();
    const [a, b] = items();
    await fireEvent.click(button(a, "upload")!);
    await settle();
    expect(ipc.uploads.map((u) => u.job)).toEqual([1]);
    ipc.uploads[0].progress({ stage: "uploading", bytesDone: 50, bytesTotal: 100 });
    await settle();
    expect(progressOf(a)).toBeCloseTo(0.675);
    expect(a.textContent).toContain("uploading 50 B of 100 B");

    // Edit B's column name (a new preview of B), then drop another file, while A uploads.
    await fireEvent.change($(".col-name", b), { target: { value: "postcode" } });
    await settle();
    expect(ipc.of("preview").at(-1)).toEqual({ path: "/data/b.csv", rows: 100, read: read({ names: [[0, "postcode"]] }) });
    expect($<HTMLInputElement>(".col-name", b).value).toBe("postcode");
    await store.addFiles(["/data/c.csv"]);
    await settle();

    // A is the same element, with its progress, its Cancel and Pause buttons, and its Upload still disabled.
    expect(items()[0]).toBe(a);
    expect(items()).toHaveLength(3);
    expect(progressOf(a)).toBeCloseTo(0.675);
    expect(a.textContent).toContain("uploading 50 B of 100 B");
    expect(button(a, "upload")!.disabled).toBe(true);
    expect(button(a, "cancel")!.disabled).toBe(false);
    expect(button(a, "pause")!.disabled).toBe(false);
    // Its preview cannot change under it either.
    expect($<HTMLInputElement>(".col-name", a).disabled).toBe(true);
    // Later progress still reaches A's bar, and B can be uploaded with its edit.
    ipc.uploads[0].progress({ stage: "uploading", bytesDone: 100, bytesTotal: 100 });
    await settle();
    expect(progressOf(a)).toBeCloseTo(0.9);
    expect(button(b, "upload")!.disabled).toBe(false);
    expect(b.querySelector("progress")).toBeNull();

    // Cancel stops A's job only.
    await fireEvent.click(button(a, "cancel")!);
    expect(ipc.of("cancel")).toEqual([{ job: 1 }]);
    ipc.uploads[0].fail({ kind: "cancelled", message: "cancelled" });
    await settle();
    expect(button(a, "upload")!.disabled).toBe(false);
    expect(button(a, "cancel")).toBeNull();
    expect(a.querySelector("progress")).toBeNull();
    expect($(".status", a).textContent).toContain("Cancelled");
    expect($<HTMLInputElement>(".col-name", b).value).toBe("postcode");
  });

  it("pauses an upload, keeps its progress, and resumes it with the same request", async () => {
    const ipc = backend({ pause: true });
    const { store } = await start();
    await store.addFiles(["/data/a.csv"]);
    await settle();
    const [a] = items();
    await fireEvent.click($<HTMLInputElement>(".share", a));
    await fireEvent.click(button(a, "upload")!);
    await settle();
    ipc.uploads[0].progress({ stage: "converting", bytesDone: 100, bytesTotal: 100 });
    ipc.uploads[0].progress({ stage: "uploading", bytesDone: 20, bytesTotal: 100 });
    await settle();
    await fireEvent.click(button(a, "pause")!);
    expect(ipc.of("pause")).toEqual([{ job: 1 }]);
    expect(button(a, "pause")!.disabled).toBe(true);
    ipc.uploads[0].fail({ kind: "paused", message: "paused" });
    await settle();
    expect($(".badge", a).textContent).toBe("paused");
    expect(progressOf(a)).toBeCloseTo(0.54);
    expect(button(a, "upload")).toBeNull();
    expect(button(a, "pause")).toBeNull();
    expect(button(a, "cancel")).not.toBeNull();
    expect($(".status", a).textContent).toContain("Paused");
    // The total counts the paused upload where it stopped.
    expect($<HTMLProgressElement>(".total progress").value).toBeCloseTo(0.54);

    await fireEvent.click(button(a, "resume")!);
    await settle();
    expect(ipc.uploads.map((u) => u.job)).toEqual([1, 2]);
    expect(ipc.uploads[1].request).toEqual(ipc.uploads[0].request);
    expect(ipc.uploads[1].request.share).toBe(true);
    expect(progressOf(a)).toBeCloseTo(0.54);
    ipc.uploads[1].finish({ dataset: { ...dataset, name: "a", version: 0, rows: 3, versions: [] }, snippet: null, resumed: true, bytesSent: 80, notes: ["a.json: column 'x' first appears on row 20001"] });
    await settle();
    // What the conversion noted is said with the result.
    expect($(".status", a).textContent).toBe("Uploaded a: version 0, 3 rows (resumed). Note: a.json: column 'x' first appears on row 20001");
    expect($(".badge", a).textContent).toBe("uploaded");
    expect(document.querySelector(".total")).toBeNull();
  });

  it("cancelling a paused upload discards its journal", async () => {
    const request: UploadRequest = { files: ["/data/a.csv"], name: "a", mode: "create", share: false, read: read() };
    const ipc = backend({ pause: true, interrupted: (_: unknown, calls: { cmd: string }[]) => calls.some((c) => c.cmd === "pause") ? [{ key: "j-a", request, bytesSent: 5, bytesTotal: 10, converted: true }] : [] });
    const { store } = await start();
    await store.addFiles(["/data/a.csv"]);
    await settle();
    const [a] = items();
    await fireEvent.click(button(a, "upload")!);
    await settle();
    await fireEvent.click(button(a, "pause")!);
    ipc.uploads[0].fail({ kind: "paused", message: "paused" });
    await settle();
    await fireEvent.click(button(a, "cancel")!);
    await settle();
    expect(ipc.of("discard")).toEqual([{ key: "j-a" }]);
    expect(button(a, "upload")!.disabled).toBe(false);
    expect($(".status", a).textContent).toContain("Cancelled");
  });

  it("shows the total progress of several uploads", async () => {
    const ipc = backend();
    const { store } = await start();
    await store.addFiles(["/data/a.csv", "/data/b.csv"]);
    await settle();
    await fireEvent.click($(".upload-all"));
    await settle();
    expect(ipc.uploads.map((u) => u.request.name).sort()).toEqual(["a", "b"]);
    ipc.uploads[0].progress({ stage: "converting", bytesDone: 10, bytesTotal: 10 });
    await settle();
    expect($<HTMLProgressElement>(".total progress").value).toBeCloseTo(0.225);
    expect($(".total").textContent).toContain("0 of 2 done, 2 uploading");
    ipc.uploads[1].finish();
    await settle();
    expect($<HTMLProgressElement>(".total progress").value).toBeCloseTo(0.725);
    expect($(".total").textContent).toContain("1 of 2 done, 1 uploading");
    ipc.uploads[0].finish();
    await settle();
    expect(document.querySelector(".total")).toBeNull();
    // The next upload starts a new total, without the finished ones.
    await store.addFiles(["/data/c.csv"]);
    await settle();
    await fireEvent.click(button(items()[2], "upload")!);
    await settle();
    expect($(".total").textContent).toContain("0 of 1 done, 1 uploading");
    await fireEvent.click($(".clear-finished"));
    expect(items()).toHaveLength(1);
  });

  it("shows a bad file's error on its row only, naming file, row and column", async () => {
    const ipc = backend({
      preview: (args: { path: string }) => {
        if (args.path.endsWith("bad.csv")) throw { kind: "input", message: "not a number: \"12,5,\"", file: args.path, row: 12, column: "amount" };
        return preview(args.path);
      },
    });
    const { store } = await start();
    await store.addFiles(["/data/good.csv", "/data/bad.csv", "/data/other.csv"]);
    await settle();
    const [good, bad, other] = items();
    expect($(".error", bad).textContent).toBe("bad.csv, row 12, column amount: not a number: \"12,5,\"");
    expect(button(bad, "upload")!.disabled).toBe(true);
    expect(bad.querySelector("table")).toBeNull();
    for (const fine of [good, other]) {
      expect(fine.querySelector(".error")).toBeNull();
      expect(fine.querySelector("table")).not.toBeNull();
      expect(button(fine, "upload")!.disabled).toBe(false);
    }
    // A failed upload also reports on its own row, and can be tried again.
    await fireEvent.click(button(other, "upload")!);
    await settle();
    ipc.uploads[0].fail({ kind: "input", message: "expected a date", file: "/data/other.csv", row: 3, column: "day" });
    await settle();
    expect($(".error", other).textContent).toBe("other.csv, row 3, column day: expected a date");
    expect(button(other, "upload")!.disabled).toBe(false);
    expect(good.querySelector(".error")).toBeNull();
    // Removing the bad file leaves the others.
    await fireEvent.click(button(bad, "remove")!);
    expect(items()).toEqual([good, other]);
  });

  it("shows an upload interrupted last time with Resume, which resumes it as it was", async () => {
    const request: UploadRequest = { files: ["/data/big.csv"], name: "big", mode: "create", share: true, read: read({ names: [[0, "id"]], delimiter: "\t" }) };
    const ipc = backend({ interrupted: [
      { key: "j-big", request, bytesSent: 40e6, bytesTotal: 100e6, converted: true },
      { key: "j-early", request: { ...request, files: ["/data/early.csv"], name: "early" }, bytesSent: 0, bytesTotal: 51.1e6, converted: false },
    ] });
    await start();
    const [big, early] = items();
    expect($(".badge", big).textContent).toBe("interrupted");
    expect(big.textContent).toContain("Interrupted after converting and uploading 40.0 MB of 100.0 MB");
    // Cut off while converting: nothing of the way is done, and the row says so (bar and words agree).
    expect(progressOf(early)).toBe(0);
    expect(early.textContent).toContain("Interrupted while converting: Resume converts again, then uploads.");
    expect(progressOf(big)).toBeCloseTo(0.63);
    expect(button(big, "upload")).toBeNull();
    expect(button(big, "discard")).not.toBeNull();
    expect($<HTMLInputElement>(".share", big).checked).toBe(true);
    expect(ipc.of("preview")).toHaveLength(0);
    await fireEvent.click(button(big, "resume")!);
    await settle();
    expect(ipc.uploads[0].request).toEqual(request);
    ipc.uploads[0].progress({ stage: "uploading", bytesDone: 50e6, bytesTotal: 100e6 });
    await settle();
    expect(progressOf(big)).toBeCloseTo(0.675);
    ipc.uploads[0].finish({ dataset: { ...dataset, id: "ds_big", name: "big", versions: [] }, snippet: null, resumed: true, bytesSent: 60e6, notes: [] });
    await settle();
    expect($(".status", big).textContent).toContain("(resumed)");
    expect($(`#datasets tr[data-id="ds_big"]`).textContent).toContain("big");
  });

  it("discards an interrupted upload", async () => {
    const request: UploadRequest = { files: ["/data/big.csv"], name: "big", mode: "create", share: false, read: read() };
    const ipc = backend({ interrupted: [{ key: "j-big", request, bytesSent: 1, bytesTotal: 2, converted: true }] });
    await start();
    await fireEvent.click(button(items()[0], "discard")!);
    await settle();
    expect(ipc.of("discard")).toEqual([{ key: "j-big" }]);
    expect(items()).toHaveLength(0);
    expect($(".toasts").textContent).toContain("The upload of big was discarded.");
  });

  // Rust's UploadRequest.name is an Option: a journal may hold a request without a name (the dataset is then
  // named after the first file). Such an upload is listed under that name and resumes with its request untouched.
  it("lists an interrupted upload whose request has no name under its first file's name", async () => {
    const request: UploadRequest = { files: ["/data/2026/orders.csv"], name: null, mode: "append", share: false, read: read() };
    const stopped: Interrupted = { key: "j-orders", request, bytesSent: 1, bytesTotal: 4, converted: true };
    const ipc = backend({ interrupted: [stopped] });
    await start();
    const [orders] = items();
    expect($(".badge", orders).textContent).toBe("interrupted");
    expect($<HTMLInputElement>(".name", orders).value).toBe("orders");
    await fireEvent.click(button(orders, "resume")!);
    await settle();
    expect(ipc.uploads[0].request).toEqual(request);
    ipc.uploads[0].finish({ dataset: { ...dataset, id: "ds_orders", name: "orders", versions: [] }, snippet: null, resumed: true, bytesSent: 3, notes: [] });
    await settle();
    expect($(".status", orders).textContent).toBe("Uploaded orders: version 0, 3 rows (resumed).");
  });

  it("adds dropped files, with an overlay while they are dragged over the window", async () => {
    const { mockWindows } = await import("@tauri-apps/api/mocks");
    const { emit } = await import("@tauri-apps/api/event");
    const ipc = backend();
    mockWindows("main");
    await start();
    expect(document.querySelector(".drop-overlay")).toBeNull();
    await emit("tauri://drag-enter", { paths: ["/data/x.csv", "/data/y.csv"], position: { x: 10, y: 10 } });
    await settle();
    expect(document.querySelector(".drop-overlay")).not.toBeNull();
    await emit("tauri://drag-drop", { paths: ["/data/x.csv", "/data/y.csv"], position: { x: 10, y: 10 } });
    await settle();
    expect(document.querySelector(".drop-overlay")).toBeNull();
    expect(ipc.of("preview").map((a) => a.path)).toEqual(["/data/x.csv", "/data/y.csv"]);
    expect(items()).toHaveLength(2);
  });

  it("picks several files with Choose files…", async () => {
    const ipc = backend({ pick_files: ["/data/one.csv", "/data/two.csv"] });
    await start();
    await fireEvent.click($("#pick"));
    await settle();
    expect(ipc.of("pick_files")).toHaveLength(1);
    expect(items().map((i) => $<HTMLInputElement>(".name", i).value)).toEqual(["one", "two"]);
  });

  it("queues the CSV files the app was opened with, once", async () => {
    const ipc = backend({ opened_files: ["/data/opened.csv"] });
    await start();
    expect(ipc.of("opened_files")).toHaveLength(1);
    expect(items().map((i) => $<HTMLInputElement>(".name", i).value)).toEqual(["opened"]);
  });

  it("queues the files the running app is opened with again (opened-files), from Rust's list", async () => {
    let waiting: string[] = [];
    const ipc = backend({ opened_files: () => { const files = waiting; waiting = []; return files; } });
    await start();
    waiting = ["/data/later.csv"];
    await emit("opened-files");
    await settle();
    expect(ipc.of("opened_files")).toHaveLength(2);
    expect(items().map((i) => $<HTMLInputElement>(".name", i).value)).toEqual(["later"]);
  });
});
