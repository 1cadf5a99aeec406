// What files the app takes and how the preview speaks of them: the formats, and a workbook's sheets. Pure helpers,
// as in ./format.ts. Rust decides a file's format (by its name, and by its first bytes when the name does not say);
// the preview's `format` is what it decided.
import type { Format, Sheet } from "./api";

/** The file name endings the app takes, lower case, without the dot. Mirrors Rust's
 * `delta_bridge_ingest::EXTENSIONS` (crates/ingest/src/source.rs), which the native file picker filters by and
 * `UploadRequest::dataset_name` strips: change both together. Drops are not filtered by it (Rust also reads a file
 * whose name says nothing, by its content); it is what a suggested dataset name leaves out. */
export const EXTENSIONS: readonly string[] = [
  "csv", "txt", "tsv", "tab", "gz", "zip", "xlsx", "xlsm", "xlsb", "xls", "ods", "json", "ndjson", "jsonl", "parquet",
];

/** What the drop zone says it takes. */
export const KINDS = "CSV (plain, gzipped or zipped), TSV, Excel, OpenDocument, JSON, NDJSON or Parquet";

/** The formats read as delimited text: only they have a delimiter, an encoding and a quote to choose. */
const TEXT: readonly Format[] = ["csv", "tsv", "csv.gz", "zip"];

export function isText(format: Format): boolean {
  return TEXT.includes(format);
}

const NAMES: Record<Format, string> = {
  "csv": "CSV", "tsv": "TSV", "csv.gz": "Gzipped CSV", "zip": "Zip of CSV files", "xlsx": "Excel workbook",
  "xlsm": "Excel macro-enabled workbook", "xlsb": "Excel binary workbook",
  "xls": "Excel 97-2003 workbook", "ods": "OpenDocument spreadsheet", "json": "JSON", "ndjson": "NDJSON", "parquet": "Parquet",
};

/** A format as people name it: "Excel workbook" for `xlsx`. */
export function formatName(format: Format): string {
  return NAMES[format] ?? format;
}

/** A sheet as the sheet selector lists it: "Notes (hidden)". */
export function sheetLabel(sheet: Sheet): string {
  return sheet.hidden ? `${sheet.name} (hidden)` : sheet.name;
}

/** What `ReadText.sheet` holds to choose a workbook's sheet at `index` (0-based): its 1-based position as text.
 * Not its name: Rust takes text that reads as a position for one, and trims it, so a sheet named "2" that is not
 * the second, or " Notes" with its space, could not be chosen by name. Positions are how the column overrides
 * name columns too. */
export function sheetChoice(index: number): string {
  return String(index + 1);
}

/** The 0-based index of the sheet chosen: `chosen` (`ReadText.sheet`, found as Rust finds it: a 1-based position,
 * then the exact name, then the name in any case) or, when nothing was chosen, the sheet previewed; -1 for none. */
export function sheetIndex(sheets: Sheet[], chosen: string | null | undefined, previewed: string | null): number {
  const wanted = chosen?.trim();
  if (!wanted) return sheets.findIndex((s) => s.name === previewed);
  const position = /^\+?\d+$/.test(wanted) ? Number(wanted) - 1 : -1;
  if (position >= 0 && position < sheets.length) return position;
  const exact = sheets.findIndex((s) => s.name === wanted);
  return exact >= 0 ? exact : sheets.findIndex((s) => s.name.toLowerCase() === wanted.toLowerCase());
}
