// Files beyond CSV (issue 17): what the drop zone takes and names, a workbook's sheet selector, and the controls
// each format has (a delimiter for delimited text only; the header row, names and types for all).
/// <reference types="vite/client" />
import { fireEvent } from "@testing-library/svelte";
import { describe, expect, it } from "vitest";
import type { Format, Preview, ReadText } from "../src/api";
import { datasetName } from "../src/format";
import { EXTENSIONS, formatName, isText, sheetChoice, sheetIndex, sheetLabel } from "../src/inputs";
import { $, backend, preview, read, settle, start } from "./helpers";
// The Rust source holding the list EXTENSIONS mirrors, as text.
import rust from "../../crates/ingest/src/source.rs?raw";

const items = () => [...document.querySelectorAll<HTMLElement>("#queue .file")];
const options = (select: HTMLSelectElement) => [...select.options].map((o) => [o.value, o.textContent, o.selected]);

const SHEETS = [{ name: "Summary", hidden: false }, { name: "2024", hidden: false }, { name: "Notes", hidden: true }];

/** A preview of `path` as Rust answers it for its format: a workbook lists its sheets and names the one read (by
 * default the first visible sheet with data, here the second; else the one `read.sheet` chooses, by 1-based position
 * or name), with that sheet's columns. */
function previewOf(path: string, r: ReadText | null): Preview {
  const format: Format = path.endsWith(".xlsx") ? "xlsx" : path.endsWith(".ndjson") ? "ndjson" : path.endsWith(".json") ? "json"
    : path.endsWith(".gz") ? "csv.gz" : path.endsWith(".parquet") ? "parquet" : "csv";
  if (format !== "xlsx") return { ...preview(path), format };
  const at = r?.sheet ? sheetIndex(SHEETS, r.sheet, null) : 1;
  if (at < 0) throw { kind: "input", message: `there is no sheet '${r?.sheet}'`, file: path };
  const answer = preview(path, [`${SHEETS[at].name.toLowerCase()}_id`, "amount"], [["1", "2.5"]]);
  for (const [i, name] of r?.names ?? []) answer.columns[i].name = name;
  for (const [i, type] of r?.types ?? []) answer.columns[i] = { ...answer.columns[i], type } as Preview["columns"][number];
  return { ...answer, format, sheets: SHEETS, sheet: SHEETS[at].name };
}

const formats = () => backend({ preview: (args: { path: string; read: ReadText | null }) => previewOf(args.path, args.read) });

describe("the formats the app takes", () => {
  it("lists the same name endings as Rust's delta_bridge_ingest::EXTENSIONS", () => {
    const list = /pub const EXTENSIONS: &\[&str\] = &\[([^\]]*)\]/.exec(rust);
    expect(list).not.toBeNull();
    expect([...list![1].matchAll(/"([^"]+)"/g)].map((m) => m[1])).toEqual([...EXTENSIONS]);
  });

  it("suggests a dataset name without the endings it takes, as Rust's dataset_name does", () => {
    expect(datasetName("/tmp/orders.2024.csv.gz")).toBe("orders.2024");
    expect(datasetName("C:\\Users\\ana\\Book1.XLSX")).toBe("Book1");
    expect(datasetName("/data/events.jsonl")).toBe("events");
    expect(datasetName("/data/bundle.zip")).toBe("bundle");
    expect(datasetName("/data/notes.dat")).toBe("notes.dat");
    expect(datasetName("/data/.csv")).toBe(".csv");
  });

  it("names formats, tells delimited text apart, and finds the sheet chosen as Rust does", () => {
    expect(formatName("xlsx")).toBe("Excel workbook");
    expect(formatName("ndjson")).toBe("NDJSON");
    expect((["csv", "tsv", "csv.gz", "zip"] as Format[]).every(isText)).toBe(true);
    expect((["xlsx", "xls", "ods", "json", "ndjson", "parquet"] as Format[]).some(isText)).toBe(false);
    expect(sheetLabel(SHEETS[2])).toBe("Notes (hidden)");
    expect(sheetLabel(SHEETS[1])).toBe("2024");
    expect(sheetChoice(2)).toBe("3");
    // Nothing chosen: the sheet previewed. A position first, then the name, then the name in any case.
    expect(sheetIndex(SHEETS, undefined, "2024")).toBe(1);
    expect(sheetIndex(SHEETS, "3", "Summary")).toBe(2);
    expect(sheetIndex(SHEETS, "2024", "Summary")).toBe(1);
    expect(sheetIndex(SHEETS, " notes ", null)).toBe(2);
    expect(sheetIndex(SHEETS, "Other", null)).toBe(-1);
  });

  it("queues dropped workbooks, JSON, gzipped CSV and Parquet, each named without its endings", async () => {
    const { mockWindows } = await import("@tauri-apps/api/mocks");
    const { emit } = await import("@tauri-apps/api/event");
    const ipc = formats();
    mockWindows("main");
    await start();
    expect($("#drop").textContent).toContain("Excel");
    expect($("#drop").textContent).toContain("Parquet");
    const paths = ["/data/Book1.xlsx", "/data/events.ndjson", "/data/sales.csv.gz", "/data/trips.parquet"];
    await emit("tauri://drag-drop", { paths, position: { x: 10, y: 10 } });
    await settle();
    expect(ipc.of("preview").map((a) => a.path)).toEqual(paths);
    expect(items().map((i) => $<HTMLInputElement>(".name", i).value)).toEqual(["Book1", "events", "sales", "trips"]);
    expect(items().map((i) => $(".format", i).textContent)).toEqual(["Excel workbook", "NDJSON", "Gzipped CSV", "Parquet"]);
  });
});

describe("a workbook's preview", () => {
  it("lists every sheet, hidden ones marked, the one previewed selected; choosing one previews it again", async () => {
    const ipc = formats();
    const { store } = await start();
    await store.addFiles(["/data/Book1.xlsx"]);
    await settle();
    const [book] = items();
    const sheet = $<HTMLSelectElement>(".sheet", book);
    expect(options(sheet)).toEqual([["1", "Summary", false], ["2", "2024", true], ["3", "Notes (hidden)", false]]);
    // No delimiter or encoding for a workbook; the header row, names and types as for CSV.
    expect(book.querySelector(".delimiter")).toBeNull();
    expect($(".summary", book).textContent).not.toContain("UTF-8");
    expect($<HTMLInputElement>(".has-header", book).checked).toBe(true);
    expect($<HTMLInputElement>(".col-name", book).value).toBe("2024_id");
    await fireEvent.change($(".col-type", book), { target: { value: "int64" } });
    await settle();
    expect(ipc.of("preview").at(-1)).toEqual({ path: "/data/Book1.xlsx", rows: 100, read: read({ types: [[0, "int64"]] }) });

    // Another sheet is another table: the names and types chosen for the first start again.
    await fireEvent.change(sheet, { target: { value: "3" } });
    await settle();
    expect(ipc.of("preview").at(-1)).toEqual({ path: "/data/Book1.xlsx", rows: 100, read: read({ sheet: "3" }) });
    expect(store.queue[0].read.sheet).toBe("3");
    expect($<HTMLSelectElement>(".sheet", book).value).toBe("3");
    expect($<HTMLInputElement>(".col-name", book).value).toBe("notes_id");
    await fireEvent.change($(".col-name", book), { target: { value: "id" } });
    await settle();
    expect(ipc.of("preview").at(-1)).toEqual({ path: "/data/Book1.xlsx", rows: 100, read: read({ sheet: "3", names: [[0, "id"]] }) });
    expect($<HTMLInputElement>(".col-name", book).value).toBe("id");

    // The selector shows the sheet the store holds, whoever changed it.
    store.setSheet(store.queue[0].id, "1");
    await settle();
    expect(ipc.of("preview").at(-1)).toEqual({ path: "/data/Book1.xlsx", rows: 100, read: read({ sheet: "1" }) });
    expect(options($<HTMLSelectElement>(".sheet", book)).map((o) => o[2])).toEqual([true, false, false]);
    store.setSheet(store.queue[0].id, "3");
    await fireEvent.change($(".col-name", book), { target: { value: "id" } });
    await settle();

    // The upload reads the sheet chosen; meanwhile the selector cannot change.
    await fireEvent.click($(".upload", book));
    await settle();
    expect(ipc.uploads[0].request).toEqual({ files: ["/data/Book1.xlsx"], name: "Book1", mode: "create", share: false, read: read({ sheet: "3", names: [[0, "id"]] }) });
    expect($<HTMLSelectElement>(".sheet", book).disabled).toBe(true);
  });

  it("shows why a sheet was refused, with the sheet chosen still selected", async () => {
    const ipc = backend({
      preview: (args: { path: string; read: ReadText | null }) => {
        if (args.read?.sheet === "1") throw { kind: "input", message: "sheet 'Summary' cannot be read", file: args.path };
        return previewOf(args.path, args.read);
      },
    });
    const { store } = await start();
    await store.addFiles(["/data/Book1.xlsx"]);
    await settle();
    const [book] = items();
    store.setSheet(store.queue[0].id, "1");
    await settle();
    expect(ipc.of("preview")).toHaveLength(2);
    expect($(".error", book).textContent).toBe("Book1.xlsx: sheet 'Summary' cannot be read");
    // The last good preview stays, under the sheet chosen: what an upload would read.
    expect($<HTMLInputElement>(".col-name", book).value).toBe("2024_id");
    expect($<HTMLSelectElement>(".sheet", book).value).toBe("1");
    // Another sheet that reads: the error goes.
    await fireEvent.change($(".sheet", book), { target: { value: "3" } });
    await settle();
    expect(book.querySelector(".error")).toBeNull();
    expect($<HTMLInputElement>(".col-name", book).value).toBe("notes_id");
  });
});

describe("the controls each format has", () => {
  it("JSON and Parquet: no sheet, no delimiter, no encoding; header row, names and types stay", async () => {
    const ipc = formats();
    const { store } = await start();
    await store.addFiles(["/data/events.json", "/data/trips.parquet"]);
    await settle();
    for (const [item, name] of items().map((i, n) => [i, ["JSON", "Parquet"][n]] as const)) {
      expect($(".format", item).textContent).toBe(name);
      expect($(".summary", item).textContent).not.toContain("UTF-8");
      expect(item.querySelector(".sheet")).toBeNull();
      expect(item.querySelector(".delimiter")).toBeNull();
      expect(item.querySelector(".has-header")).not.toBeNull();
      expect(item.querySelector(".col-name")).not.toBeNull();
      expect(item.querySelector(".col-type")).not.toBeNull();
    }
    await fireEvent.click($(".has-header", items()[0]));
    await settle();
    expect(ipc.of("preview").at(-1)).toEqual({ path: "/data/events.json", rows: 100, read: read({ hasHeader: false }) });
  });

  it("delimited text, plain or gzipped: its encoding and delimiter, and no sheet", async () => {
    const ipc = formats();
    const { store } = await start();
    await store.addFiles(["/data/sales.csv.gz", "/data/plain.csv"]);
    await settle();
    const [gz, plain] = items();
    expect($(".summary", gz).textContent).toBe("Gzipped CSV, UTF-8, 60 B, 2 rows");
    expect($(".summary", plain).textContent).toBe("CSV, UTF-8, 60 B, 2 rows");
    for (const item of [gz, plain]) {
      expect(item.querySelector(".sheet")).toBeNull();
      expect($<HTMLSelectElement>(".delimiter", item).value).toBe(",");
    }
    await fireEvent.change($(".delimiter", gz), { target: { value: ";" } });
    await settle();
    expect(ipc.of("preview").at(-1)).toEqual({ path: "/data/sales.csv.gz", rows: 100, read: read({ delimiter: ";" }) });
  });
});
