// The Datasets list and what it does: share by link (from the Share dialog), snippet, unshare the link, history,
// a new version, and delete after a confirmation that names the dataset.
import { fireEvent } from "@testing-library/svelte";
import { describe, expect, it } from "vitest";
import { $, backend, dataset, settle, snippet, start } from "./helpers";

const row = (id = dataset.id) => $(`#datasets tr[data-id="${id}"]`);
const click = async (selector: string, root: ParentNode = document) => {
  await fireEvent.click($(selector, root));
  await settle();
};

describe("the datasets", () => {
  it("says when there are none yet", async () => {
    backend({ datasets: [] });
    await start();
    expect($("#datasets .empty").textContent).toContain("No datasets yet");
  });

  it("shows why the list could not be fetched, and Refresh fetches it again", async () => {
    let fail = true;
    const ipc = backend({ datasets: () => { if (fail) throw { kind: "network", message: "cannot reach the backend" }; return [dataset]; } });
    await start();
    expect($("#datasets .error").textContent).toContain("Check your connection");
    fail = false;
    await click("#refresh");
    expect(ipc.of("datasets")).toHaveLength(2);
    expect(document.querySelector("#datasets .error")).toBeNull();
    expect(row().textContent).toContain("sales");
  });

  it("lists each dataset in the columns the end-to-end test reads, long names cut with the full name on hover", async () => {
    const long = { ...dataset, id: "ds_long", name: "quarterly sales of every shop in every region since the beginning", shared: true };
    backend({ datasets: [dataset, long] });
    await start();
    const cells = [...row().querySelectorAll("td")].map((td) => td.textContent!.trim());
    expect(cells.slice(0, 6)).toEqual(["sales", "3", "1.4 KB", "0", "ready", "no"]);
    expect($(".truncated", row("ds_long")).getAttribute("title")).toBe(long.name);
    expect(row("ds_long").querySelectorAll("td")[5].textContent).toBe("yes");
    expect($(".share", row()).getAttribute("aria-label")).toBe("Share sales");
  });

  it("refreshes only the dataset acted on, shows its history, and queues a new version of it", async () => {
    const shared = { ...dataset, shared: true, version: 1 };
    const versions = [
      { version: 0, operation: "create", rows: 3, bytes: 1422, filesAdded: 1, rowsAdded: 3, committedAt: "2026-01-01T00:00:00Z" },
      { version: 1, operation: "append", rows: 5, bytes: 2844, filesAdded: 1, rowsAdded: 2, committedAt: "2026-01-02T00:00:00Z" },
    ];
    const other = { ...dataset, id: "ds_other", name: "costs" };
    const ipc = backend({
      datasets: [dataset, other],
      share: { shared: true, startVersion: 0, history: false, snippet },
      dataset: { ...shared, versions },
      pick_files: ["/data/more sales.csv"],
    });
    await start();
    await click(".share", row());
    // The share dialog says what recipients will see, and sharing the history is a choice.
    const ask = $("#share-dialog");
    expect(ask.textContent).toContain("Recipients will read version 0");
    expect(ask.querySelector("#share-history")).toBeNull();
    expect(ask.textContent).toContain("Not shared by link.");
    await click("#share-confirm", ask);
    expect(ipc.of("share")).toEqual([{ id: dataset.id, withHistory: false }]);
    expect(ipc.of("datasets")).toHaveLength(1);
    expect(ipc.of("dataset")).toEqual([{ id: dataset.id }]);
    // The snippet shows over the Share dialog, which now says the dataset is shared by link.
    expect($("#snippet-dialog").textContent).toContain(snippet.table);
    await click("#close");
    expect(document.querySelector("#snippet-dialog")).toBeNull();
    expect($("#share-dialog").textContent).toContain("Shared by link");
    expect(document.querySelector("#share-confirm")).toBeNull();
    await click("#share-close");
    expect(document.querySelector("#share-dialog")).toBeNull();
    expect(row().querySelectorAll("td")[5].textContent).toBe("yes");
    expect(row().querySelector(".unshare")).not.toBeNull();
    expect(row("ds_other").textContent).toContain("costs");

    await click(".history", row());
    const history = $("#history-dialog");
    expect(history.textContent).toContain("History of sales");
    const lines = [...history.querySelectorAll("tbody tr")].map((tr) => tr.textContent);
    expect(lines[0]).toContain("append");
    expect(lines[1]).toContain("create");
    await click("#history-close", history);

    await click(".new-version", row());
    const file = $("#queue .file");
    expect($<HTMLInputElement>(".name", file).value).toBe("sales");
    expect($<HTMLSelectElement>(".mode", file).value).toBe("append");
    expect([...$<HTMLSelectElement>(".mode", file).options].map((o) => o.value)).toEqual(["append", "overwrite"]);
    expect(ipc.of("datasets")).toHaveLength(1);
  });

  it("shares from the current version unless the owner ticks the history, and says when an unshare is pending", async () => {
    const overwritten = { ...dataset, version: 2 };
    const ipc = backend({
      datasets: [overwritten],
      share: { shared: true, startVersion: 0, history: true, snippet },
      unshare: { datasetId: dataset.id, shared: false, wasShared: true, revocation: "pending" },
      dataset: (_: unknown, calls: { cmd: string }[]) => ({ ...overwritten, shared: calls.filter((c) => c.cmd === "share").length > calls.filter((c) => c.cmd === "unshare").length, versions: [] }),
    });
    await start();
    await click(".share", row());
    expect($("#share-dialog").textContent).toContain("Earlier versions stay private");
    await click("#share-close");
    expect(ipc.of("share")).toHaveLength(0);
    expect(document.querySelector("#share-dialog")).toBeNull();
    await click(".share", row());
    await click("#share-history");
    await click("#share-confirm");
    expect(ipc.of("share")).toEqual([{ id: dataset.id, withHistory: true }]);
    await click("#close");
    await click("#share-close");
    // Unshare on the row stops the link only: the recipients keep their own credentials.
    expect($(".unshare", row()).getAttribute("aria-label")).toBe("Unshare the link of sales");
    await click(".unshare", row());
    expect(ipc.of("unshare")).toEqual([{ id: dataset.id, recipients: ["link"] }]);
    expect($(".toasts").textContent).toContain("keeps trying");
    expect(row().querySelectorAll("td")[5].textContent).toBe("no");
  });

  it("deletes only after a confirmation that names the dataset, and Cancel keeps it", async () => {
    const ipc = backend({ datasets: [dataset, { ...dataset, id: "ds_other", name: "costs" }] });
    await start();
    await click(".delete", row());
    const confirm = $("#confirm-dialog");
    expect($("#confirm-dialog-title").textContent).toBe("Delete sales?");
    expect(confirm.textContent).toContain("This deletes the dataset sales");
    expect($(".confirm", confirm).textContent).toBe("Delete sales");
    // The safe answer has the focus.
    expect(document.activeElement).toBe($(".cancel", confirm));
    await click(".cancel", confirm);
    expect(ipc.of("delete")).toHaveLength(0);
    expect(row()).toBeTruthy();

    await click(".delete", row());
    await fireEvent.keyDown($("#confirm-dialog"), { key: "Escape" });
    await settle();
    expect(document.querySelector("#confirm-dialog")).toBeNull();
    expect(ipc.of("delete")).toHaveLength(0);

    await click(".delete", row());
    await click("#confirm-dialog .confirm");
    expect(ipc.of("delete")).toEqual([{ id: dataset.id }]);
    expect(document.querySelector(`#datasets tr[data-id="${dataset.id}"]`)).toBeNull();
    expect(row("ds_other").textContent).toContain("costs");
    expect($(".toasts").textContent).toContain("Deleted sales.");
  });

  it("shows a failed action as a toast instead of an alert", async () => {
    backend({ snippet: () => { throw { kind: "network", message: "cannot reach the backend" }; }, datasets: [{ ...dataset, shared: true }] });
    await start();
    await click(".snippet", row());
    expect($(".toast.error").textContent).toContain("cannot reach the backend");
    await click(".toast .dismiss");
    expect(document.querySelector(".toast")).toBeNull();
  });
});
