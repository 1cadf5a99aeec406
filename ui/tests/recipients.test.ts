// Recipients: the Share dialog's recipients of one dataset (add, copy their snippet or an activation link, rotate,
// unshare, revoke), the Recipients screen, and the Activity view with its filters.
import { fireEvent, within } from "@testing-library/svelte";
import { afterEach, describe, expect, it } from "vitest";
import { expiryFromDate } from "../src/format";
import { $, backend, dataset, readOnRecord, recipient, settle, snippet, start } from "./helpers";

const costs = { ...dataset, id: "ds_costs", name: "costs" };
/** A recipient of costs only. */
const cy = { ...recipient, name: "cy", email: undefined, expiresAt: undefined, lastReadAt: undefined, datasets: [{ ...recipient.datasets[0], datasetId: costs.id, datasetName: "costs" }] };

const click = async (element: HTMLElement) => {
  await fireEvent.click(element);
  await settle();
};
const type = async (input: HTMLElement, value: string) => {
  await fireEvent.input(input, { target: { value } });
};
const toasts = () => $(".toasts").textContent ?? "";

/** The clipboard as the webview gives it: accepting text, or refusing it (then the old copy command fails too). */
function clipboard(accepts = true) {
  const copied: string[] = [];
  Object.assign(navigator, {
    clipboard: { writeText: async (t: string) => { if (!accepts) throw new Error("NotAllowedError"); copied.push(t); } },
  });
  document.execCommand = () => false;
  return copied;
}

async function openShare() {
  await click($(`#datasets tr[data-id="${dataset.id}"] .share`));
  return $("#share-dialog");
}

afterEach(() => {
  Object.assign(navigator, { clipboard: undefined });
});

describe("the Share dialog's recipients", () => {
  it("lists the recipients of this dataset only, with their expiry and last read, and the link", async () => {
    const ipc = backend({ datasets: [{ ...dataset, shared: true }, costs], recipients: [recipient, cy] });
    await start();
    expect(ipc.of("recipients")).toHaveLength(0);
    const share = await openShare();
    expect(ipc.of("recipients")).toHaveLength(1);
    expect(share.textContent).toContain("Shared by link");
    const rows = [...share.querySelectorAll<HTMLElement>("#share-recipients tbody tr")];
    expect(rows.map((r) => r.dataset.name)).toEqual(["bo"]);
    const cells = [...rows[0].querySelectorAll("td")].map((td) => td.textContent!.trim());
    expect(cells[0]).toContain("bo");
    expect(cells[0]).toContain("bo@example.com");
    expect(cells[1]).toBe(new Date(recipient.expiresAt).toLocaleString());
    expect(cells[2]).toBe(new Date(recipient.lastReadAt).toLocaleString());
    // Every control is named for the recipient it acts on.
    const bo = within(rows[0]);
    for (const label of ["Copy snippet for bo", "Copy activation link for bo", "Rotate the credential of bo", "Unshare from bo", "Revoke bo"]) {
      expect(bo.getByRole("button", { name: label })).toBeTruthy();
    }
    // Recipients of other datasets are offered while typing a name.
    expect([...share.querySelectorAll("#recipient-suggestions option")].map((o) => o.getAttribute("value"))).toEqual(["cy"]);
    // The name field has the focus: adding someone is what the dialog is for.
    expect(document.activeElement).toBe(within(share).getByLabelText("Name"));
  });

  it("says when the dataset is shared with nobody yet, and why the recipients could not be fetched", async () => {
    let fail = true;
    backend({ recipients: () => { if (fail) throw { kind: "network", message: "cannot reach the backend" }; return []; } });
    await start();
    const share = await openShare();
    expect($(".error", share).textContent).toContain("cannot reach the backend");
    fail = false;
    await click($("#share-close"));
    await openShare();
    expect(document.querySelector("#share-dialog .error")).toBeNull();
    expect($("#share-recipients").textContent).toContain("Not shared with any recipient yet.");
  });

  it("adds a new recipient with an email and an expiry and shares the dataset with them", async () => {
    let granted = false;
    const dee = { name: "dee", email: "dee@example.com", createdAt: "2026-01-05T00:00:00Z", datasets: [] as typeof recipient.datasets };
    const ipc = backend({
      recipients: () => (granted ? [recipient, { ...dee, datasets: recipient.datasets }] : [recipient]),
      grant: (args: { recipients: string[] }) => { granted = true; return { grants: args.recipients.map((name) => ({ shared: true, recipient: name, startVersion: 0, history: false, snippet })) }; },
    });
    await start();
    const share = within(await openShare());
    await type(share.getByLabelText("Name"), "  dee ");
    await type(share.getByLabelText("Email (optional)"), "dee@example.com");
    await type(share.getByLabelText("Expires after (optional)"), "2027-03-01");
    await click(share.getByRole("button", { name: "Add and share" }));
    expect(ipc.of("add_recipient")).toEqual([{ name: "dee", email: "dee@example.com", expiresAt: expiryFromDate("2027-03-01") }]);
    expect(ipc.of("grant")).toEqual([{ id: dataset.id, recipients: ["dee"], withHistory: false }]);
    expect(ipc.of("recipients")).toHaveLength(2);
    expect([...document.querySelectorAll<HTMLElement>("#share-recipients tbody tr")].map((r) => r.dataset.name)).toEqual(["bo", "dee"]);
    expect(toasts()).toContain("sales is shared with dee");
    // The form is empty again for the next one.
    expect((share.getByLabelText("Name") as HTMLInputElement).value).toBe("");
  });

  it("shares with an existing recipient without adding them again, and keeps the form when it fails", async () => {
    let fail = true;
    const ipc = backend({
      datasets: [dataset, costs],
      recipients: [recipient, cy],
      grant: () => { if (fail) throw { kind: "network", message: "cannot reach the backend" }; return { grants: [] }; },
    });
    await start();
    const share = within(await openShare());
    await type(share.getByLabelText("Name"), "cy");
    // An existing recipient keeps their email and expiry: those fields are off.
    expect((share.getByLabelText("Email (optional)") as HTMLInputElement).disabled).toBe(true);
    await click(share.getByRole("button", { name: "Add and share" }));
    expect($(".toast.error").textContent).toContain("cannot reach the backend");
    expect((share.getByLabelText("Name") as HTMLInputElement).value).toBe("cy");
    fail = false;
    await click(share.getByRole("button", { name: "Add and share" }));
    expect(ipc.of("add_recipient")).toHaveLength(0);
    expect(ipc.of("grant")).toEqual([{ id: dataset.id, recipients: ["cy"], withHistory: false }, { id: dataset.id, recipients: ["cy"], withHistory: false }]);
  });

  it("copies a recipient's snippet, and shows it in the Snippet dialog where the clipboard refuses", async () => {
    const copied = clipboard();
    const ipc = backend({ recipients: [recipient], snippet_for: { shared: true, recipient: "bo", startVersion: 0, history: false, snippet } });
    await start();
    const share = within(await openShare());
    await click(share.getByRole("button", { name: "Copy snippet for bo" }));
    expect(ipc.of("snippet_for")).toEqual([{ id: dataset.id, recipient: "bo" }]);
    expect(copied).toEqual([snippet.python]);
    expect(toasts()).toContain("Copied bo's snippet of sales");
    expect(document.querySelector("#snippet-dialog")).toBeNull();

    clipboard(false);
    await click(share.getByRole("button", { name: "Copy snippet for bo" }));
    expect($("#snippet-dialog").textContent).toContain(snippet.table);
  });

  it("copies the link snippet of a dataset shared by link, and unshares the link alone", async () => {
    const copied = clipboard();
    const ipc = backend({
      datasets: [{ ...dataset, shared: true }],
      recipients: [recipient],
      snippet_for: { shared: true, recipient: "link", startVersion: 0, history: false, snippet },
      unshare: { datasetId: dataset.id, shared: true, wasShared: true, revocation: "inForce" },
      dataset: { ...dataset, shared: false, versions: [] },
    });
    await start();
    const share = within(await openShare());
    await click(share.getByRole("button", { name: "Copy link snippet" }));
    expect(ipc.of("snippet_for")).toEqual([{ id: dataset.id, recipient: "link" }]);
    expect(copied).toEqual([snippet.python]);
    await click(share.getByRole("button", { name: "Unshare link" }));
    expect(ipc.of("unshare")).toEqual([{ id: dataset.id, recipients: ["link"] }]);
    expect(toasts()).toContain("sales is no longer shared by link");
    expect($("#share-dialog").textContent).toContain("Not shared by link.");
    // bo keeps reading.
    expect(document.querySelector('#share-recipients tr[data-name="bo"]')).not.toBeNull();
  });

  it("copies a one-time activation link saying until when it works, and shows it where the clipboard refuses", async () => {
    const copied = clipboard();
    const link = { url: "http://127.0.0.1:8081/activate/0123", expiresAt: "2026-01-08T00:00:00Z" };
    const ipc = backend({ recipients: [recipient], activation_link: link });
    await start();
    const share = within(await openShare());
    await click(share.getByRole("button", { name: "Copy activation link for bo" }));
    expect(ipc.of("activation_link")).toEqual([{ name: "bo" }]);
    expect(copied).toEqual([link.url]);
    expect(toasts()).toContain(`it works once, until ${new Date(link.expiresAt).toLocaleString()}`);

    clipboard(false);
    await click(share.getByRole("button", { name: "Copy activation link for bo" }));
    expect($<HTMLInputElement>("#activation-url").value).toBe(link.url);
    expect($("#activation-dialog").textContent).toContain("It works once");
  });

  it("unshares the dataset from one recipient only", async () => {
    const other = { ...recipient, name: "eve", email: undefined };
    const ipc = backend({ recipients: [recipient, other], unshare: { datasetId: dataset.id, shared: true, wasShared: true, revocation: "inForce" } });
    await start();
    const share = within(await openShare());
    await click(share.getByRole("button", { name: "Unshare from bo" }));
    expect(ipc.of("unshare")).toEqual([{ id: dataset.id, recipients: ["bo"] }]);
    expect(toasts()).toContain("sales is no longer shared with bo.");
    expect([...document.querySelectorAll<HTMLElement>("#share-recipients tbody tr")].map((r) => r.dataset.name)).toEqual(["eve"]);
    // The recipient stays (with whatever else is shared with them).
    expect(ipc.of("revoke_recipient")).toHaveLength(0);
  });

  it("revokes a recipient only after a confirmation naming what they lose", async () => {
    const ipc = backend({ datasets: [dataset, costs], recipients: [{ ...recipient, datasets: [...recipient.datasets, cy.datasets[0]] }], revoke_recipient: { revocation: "pending" } });
    await start();
    const share = within(await openShare());
    await click(share.getByRole("button", { name: "Revoke bo" }));
    const confirm = $("#confirm-dialog");
    expect($("#confirm-dialog-title").textContent).toBe("Revoke bo?");
    expect(confirm.textContent).toContain("they can no longer read sales and costs");
    expect(document.activeElement).toBe($(".cancel", confirm));
    await click($(".cancel", confirm));
    expect(ipc.of("revoke_recipient")).toHaveLength(0);
    await click(share.getByRole("button", { name: "Revoke bo" }));
    await click($("#confirm-dialog .confirm"));
    expect(ipc.of("revoke_recipient")).toEqual([{ name: "bo" }]);
    expect(document.querySelector('#share-recipients tr[data-name="bo"]')).toBeNull();
    expect(toasts()).toContain("keeps trying");
  });

  it("rotates a credential with the overlap chosen, and Cancel leaves it", async () => {
    const until = "2026-01-06T10:00:00Z";
    const ipc = backend({ recipients: [recipient], rotate_recipient: (args: { overlapSeconds: number }) => ({
      recipient: { ...recipient, previousUntil: args.overlapSeconds ? until : undefined }, revocation: "inForce" }) });
    await start();
    const share = within(await openShare());
    await click(share.getByRole("button", { name: "Rotate the credential of bo" }));
    await click($("#rotate-dialog .cancel"));
    expect(document.querySelector("#rotate-dialog")).toBeNull();
    expect(ipc.of("rotate_recipient")).toHaveLength(0);

    await click(share.getByRole("button", { name: "Rotate the credential of bo" }));
    await click(within($("#rotate-dialog")).getByLabelText("1 day"));
    await click($("#rotate-dialog .confirm"));
    expect(ipc.of("rotate_recipient")).toEqual([{ name: "bo", overlapSeconds: 86400 }]);
    expect(toasts()).toContain(`Their old credential keeps working until ${new Date(until).toLocaleString()}`);
    expect($('#share-recipients tr[data-name="bo"]').textContent).toContain("old credential works until");

    await click(share.getByRole("button", { name: "Rotate the credential of bo" }));
    await click($("#rotate-dialog .confirm"));
    expect(ipc.of("rotate_recipient")[1]).toEqual({ name: "bo", overlapSeconds: 0 });
    expect(toasts()).toContain("Their old credential stopped working.");
  });
});

describe("the Recipients screen", () => {
  it("lists every recipient with email, datasets, expiry and last read, and adds one", async () => {
    const ipc = backend({ datasets: [dataset, costs], recipients: [recipient, cy] });
    const { store } = await start();
    await click($("#nav-recipients"));
    expect($("#nav-recipients").getAttribute("aria-current")).toBe("page");
    expect(document.querySelector("#queue")).toBeNull();
    expect(ipc.of("recipients")).toHaveLength(1);
    const rows = [...document.querySelectorAll<HTMLElement>("#recipients tbody tr")];
    expect(rows.map((r) => r.dataset.name)).toEqual(["bo", "cy"]);
    const cells = (row: HTMLElement) => [...row.querySelectorAll("td")].map((td) => td.textContent!.trim());
    expect(cells(rows[0]).slice(0, 5)).toEqual(["bo", "bo@example.com", "sales", new Date(recipient.expiresAt).toLocaleString(), new Date(recipient.lastReadAt).toLocaleString()]);
    expect(cells(rows[1]).slice(0, 5)).toEqual(["cy", "none", "costs", "never", "never"]);
    const bo = within(rows[0]);
    for (const label of ["Copy activation link for bo", "Rotate the credential of bo", "Revoke bo"]) expect(bo.getByRole("button", { name: label })).toBeTruthy();

    const screen = within($("#screen"));
    await type(screen.getByLabelText("Name"), "ann");
    await click(screen.getByRole("button", { name: "Add recipient" }));
    expect(ipc.of("add_recipient")).toEqual([{ name: "ann", email: null, expiresAt: null }]);
    expect(store.recipients.map((r) => r.name)).toEqual(["ann", "bo", "cy"]);
    expect($('#recipients tr[data-name="ann"]').textContent).toContain("none yet");

    await click($("#recipients-refresh"));
    expect(ipc.of("recipients")).toHaveLength(2);
    await click($("#nav-datasets"));
    expect(document.querySelector("#queue")).not.toBeNull();
  });

  it("says when there are none, shows a refusal, and files dropped meanwhile bring the queue back", async () => {
    backend({ add_recipient: () => { throw { kind: "input", message: "a recipient named \"bo\" exists already" }; } });
    const { store } = await start();
    await click($("#nav-recipients"));
    expect($("#recipients .empty").textContent).toContain("No recipients yet.");
    await type(within($("#screen")).getByLabelText("Name"), "bo");
    await click(within($("#screen")).getByRole("button", { name: "Add recipient" }));
    expect($(".toast.error").textContent).toContain("exists already");
    await store.addFiles(["/data/a.csv"]);
    await settle();
    expect(store.view).toBe("datasets");
    expect(document.querySelectorAll("#queue .file")).toHaveLength(1);
  });
});

describe("the Activity view", () => {
  it("lists reads with every column, filtered by dataset, recipient and time, and Refresh fetches again", async () => {
    const failed = { ...readOnRecord, recipient: "link", status: 403, version: undefined, files: undefined, bytes: undefined, userAgent: undefined, address: undefined, operation: "metadata" };
    const ipc = backend({ datasets: [dataset, costs], recipients: [recipient, cy], activity: { reads: [readOnRecord, failed] } });
    await start();
    const before = Date.now();
    await click($("#nav-activity"));
    const asked = ipc.of("activity");
    expect(asked).toHaveLength(1);
    expect(asked[0]).toMatchObject({ dataset: null, recipient: null, limit: 200 });
    const since = Date.parse(asked[0].since as string);
    expect(Math.abs(before - 7 * 86_400_000 - since)).toBeLessThan(5000);

    const headers = [...document.querySelectorAll("#activity th")].map((th) => th.textContent);
    expect(headers).toEqual(["Time", "Recipient", "Dataset", "Operation", "Version", "Files", "Bytes", "Status", "Client address", "User agent"]);
    const rows = [...document.querySelectorAll("#activity tbody tr")].map((tr) => [...tr.querySelectorAll("td")].map((td) => td.textContent!.trim()));
    expect(rows[0]).toEqual([new Date(readOnRecord.at).toLocaleString(), "bo", "sales", "query", "0", "2", "2.0 KB", "200", "10.0.0.7", "delta-sharing/1.4.2"]);
    expect(rows[1]).toEqual([new Date(readOnRecord.at).toLocaleString(), "link (snippet)", "sales", "metadata", "—", "—", "—", "403", "—", "—"]);

    const view = within($("#screen"));
    const dataset_ = view.getByLabelText("Dataset") as HTMLSelectElement;
    expect([...dataset_.options].map((o) => o.textContent)).toEqual(["All datasets", "sales", "costs"]);
    await fireEvent.change(dataset_, { target: { value: costs.id } });
    await settle();
    expect(ipc.of("activity")[1]).toMatchObject({ dataset: costs.id, recipient: null });
    const recipient_ = view.getByLabelText("Recipient") as HTMLSelectElement;
    expect([...recipient_.options].map((o) => o.value)).toEqual(["", "link", "bo", "cy"]);
    await fireEvent.change(recipient_, { target: { value: "link" } });
    await settle();
    expect(ipc.of("activity")[2]).toMatchObject({ dataset: costs.id, recipient: "link" });
    await fireEvent.change(view.getByLabelText("Since"), { target: { value: "all" } });
    await settle();
    expect(ipc.of("activity")[3]).toMatchObject({ dataset: costs.id, recipient: "link", since: null });
    await fireEvent.change(view.getByLabelText("Since"), { target: { value: "1d" } });
    await settle();
    expect(Math.abs(Date.now() - 86_400_000 - Date.parse(ipc.of("activity")[4].since as string))).toBeLessThan(5000);

    await click(view.getByRole("button", { name: "Refresh" }));
    expect(ipc.of("activity")).toHaveLength(6);
    expect(ipc.of("activity")[5]).toMatchObject({ dataset: costs.id, recipient: "link" });
  });

  it("keeps the answer of the latest filter when an older one arrives late, and shows errors", async () => {
    const answers: ((value: unknown) => void)[] = [];
    const failures: ((error: unknown) => void)[] = [];
    backend({ activity: () => new Promise((resolve, reject) => { answers.push(resolve); failures.push(reject); }) });
    const { store } = await start();
    void store.show("activity");
    await settle();
    expect($("#activity").textContent).toContain("Loading…");
    void store.filterActivity({ since: "30d" });
    await settle();
    answers[1]({ reads: [{ ...readOnRecord, operation: "changes" }] });
    await settle();
    answers[0]({ reads: [readOnRecord] });
    await settle();
    expect(store.reads.map((r) => r.operation)).toEqual(["changes"]);
    expect(store.readsLoading).toBe(false);
    void store.loadActivity();
    await settle();
    failures[2]({ kind: "network", message: "cannot reach the backend" });
    await settle();
    expect($("#activity .error").textContent).toContain("cannot reach the backend");
  });

  it("says when nothing was read, and forgets recipients and reads on sign-out", async () => {
    backend({ recipients: [recipient] });
    const { store } = await start();
    await click($("#nav-activity"));
    expect($("#activity .empty").textContent).toContain("No reads on record");
    expect(store.recipients).toHaveLength(1);
    await click($("#sign-out"));
    expect(store.recipients).toEqual([]);
    expect(store.reads).toEqual([]);
    expect(store.view).toBe("datasets");
  });
});
