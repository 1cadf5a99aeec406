// Pure helpers for what the screens show.
import type { ColumnType, CommandError, Encoding, Progress, UploadRequest } from "./api";
import { EXTENSIONS } from "./inputs";

export function bytes(n: number): string {
  const units = ["B", "KB", "MB", "GB", "TB"];
  let value = n;
  let unit = 0;
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit += 1;
  }
  return `${unit === 0 ? value : value.toFixed(1)} ${units[unit]}`;
}

/** "uploading 12.0 MB of 40.0 MB, about 7 s left" from a progress event and the seconds since the stage began. */
export function progressText(p: Progress, elapsedSeconds: number): string {
  const done = `${p.stage} ${bytes(p.bytesDone)} of ${bytes(p.bytesTotal)}`;
  if (p.bytesDone <= 0 || p.bytesDone >= p.bytesTotal || elapsedSeconds <= 0) return done;
  const left = (elapsedSeconds * (p.bytesTotal - p.bytesDone)) / p.bytesDone;
  return `${done}, about ${left < 60 ? `${Math.ceil(left)} s` : `${Math.ceil(left / 60)} min`} left`;
}

export function fraction(p: Progress): number {
  return p.bytesTotal > 0 ? Math.min(1, p.bytesDone / p.bytesTotal) : 0;
}

/** "sales.csv, row 12, column amount" from an error that names where in a file it is (empty when it does not). */
export function where(e: Partial<CommandError>): string {
  const parts = [
    e.file ? basename(e.file) : "",
    typeof e.row === "number" ? `row ${e.row}` : "",
    e.column ? `column ${e.column}` : "",
  ];
  return parts.filter(Boolean).join(", ");
}

/** A plain sentence for an error from a command. */
export function explain(error: unknown): string {
  const e = (error ?? {}) as Partial<CommandError>;
  const place = where(e);
  const message = (place ? `${place}: ` : "") + (typeof e?.message === "string" ? e.message : String(error));
  switch (e?.kind) {
    case "auth": return `Sign-in problem: ${message}`;
    case "network": return `${message}. Check your connection and the backend URL in Settings, then try again.`;
    case "cancelled": return "Cancelled. Nothing was left behind; upload again to start over.";
    case "paused": return "Paused. Resume carries on from where it stopped.";
    case "settings": return `${message}. Change it in Settings.`;
    case "input":
    case "update": return message;
    default: return `Something went wrong: ${message}`;
  }
}

/** A path's last part. */
export function basename(path: string): string {
  return path.split(/[\\/]/).pop() || path;
}

/** How far a whole upload is, from 0 to 1, given its current stage's progress: converting is the first half,
 * uploading the second, committing (and sharing) the last bit. Moves only forward as stages follow each other. */
export function overall(p: Progress): number {
  const at = fraction(p);
  switch (p.stage) {
    case "converting": return 0.45 * at;
    case "uploading": return 0.45 + 0.45 * at;
    case "committing": return 0.9 + 0.05 * at;
    case "sharing": return 0.95 + 0.05 * at;
  }
}

/** "42%" */
export function percent(value: number): string {
  return `${Math.floor(Math.max(0, Math.min(1, value)) * 100)}%`;
}

/** The dataset name a file suggests: its name without directory and without the endings the app takes
 * (`orders.2024.csv.gz` → `orders.2024`), as Rust's `UploadRequest::dataset_name` chooses. */
export function datasetName(path: string): string {
  let stem = basename(path);
  for (;;) {
    const dot = stem.lastIndexOf(".");
    if (dot <= 0 || !EXTENSIONS.includes(stem.slice(dot + 1).toLowerCase())) break;
    stem = stem.slice(0, dot);
  }
  return stem || "data";
}

/** The type names the preview offers, as the ingest library reads them. */
export const TYPES = ["string", "int64", "float64", "float64:comma", "boolean", "date", "date:dmy", "date:mdy", "timestamp"];

/** A preview column's type as one of TYPES. */
export function typeName(column: ColumnType): string {
  switch (column.type) {
    case "date": return column.order === "ymd" ? "date" : `date:${column.order}`;
    case "float64": return column.decimal_comma ? "float64:comma" : "float64";
    default: return column.type;
  }
}

/** An encoding as people name it (Rust's `Encoding::name`): "UTF-8" for `utf8`. */
export function encodingName(encoding: Encoding): string {
  const NAMES: Record<Encoding, string> = {
    "utf8": "UTF-8", "utf8-bom": "UTF-8 (with BOM)", "utf16-le": "UTF-16LE", "utf16-be": "UTF-16BE", "windows1252": "Windows-1252",
  };
  return NAMES[encoding] ?? encoding;
}

/** The dataset an upload request writes: its name, or, when it has none (Rust's `Option<String>`), the first
 * file's name without extension, as Rust's `UploadRequest::dataset_name` chooses. */
export function requestName(request: UploadRequest): string {
  return request.name ?? datasetName(request.files[0] ?? "");
}

/** Sets (or replaces) the entry for one column in a list of overrides. */
export function setOverride<T>(list: [number, T][], column: number, value: T): [number, T][] {
  const next: [number, T][] = [...list.filter(([i]) => i !== column), [column, value]];
  return next.sort((a, b) => a[0] - b[0]);
}

export function delimiterName(delimiter: string): string {
  return delimiter === "\t" ? "tab" : delimiter;
}

/** A time the backend sent (RFC 3339) as the user's locale writes it, or `none` when there is none. */
export function when(time: string | null | undefined, none = "never"): string {
  return time ? new Date(time).toLocaleString() : none;
}

/** Today's date in the user's time zone as a date input writes it ("2026-01-31"). */
export function localDate(now: Date): string {
  const pad = (n: number) => String(n).padStart(2, "0");
  return `${now.getFullYear()}-${pad(now.getMonth() + 1)}-${pad(now.getDate())}`;
}

/** When a credential chosen to expire on a date ("2026-01-31", from a date input) stops working: at the end of
 * that day in the user's time zone, as RFC 3339 (null for no date). */
export function expiryFromDate(date: string): string | null {
  const match = /^(\d{4})-(\d{2})-(\d{2})$/.exec(date.trim());
  if (!match) return null;
  return new Date(Number(match[1]), Number(match[2]) - 1, Number(match[3]) + 1).toISOString();
}

/** How long a rotated recipient's old credential keeps working, as the Rotate dialog offers it. */
export const OVERLAPS = [
  { seconds: 0, label: "Not at all: it stops now" },
  { seconds: 3600, label: "1 hour" },
  { seconds: 86400, label: "1 day" },
] as const;

/** How far back the Activity view looks. */
export type Since = "1d" | "7d" | "30d" | "all";
export const SINCE: { value: Since; label: string }[] = [
  { value: "1d", label: "Last day" },
  { value: "7d", label: "Last 7 days" },
  { value: "30d", label: "Last 30 days" },
  { value: "all", label: "All" },
];

/** The RFC 3339 time a `Since` choice starts at, counted back from `now` (milliseconds), or null for all. */
export function sinceTime(since: Since, now: number): string | null {
  const days = { "1d": 1, "7d": 7, "30d": 30, all: 0 }[since];
  return days ? new Date(now - days * 86_400_000).toISOString() : null;
}

/** The reserved recipient name of a dataset's link snippet (whoever holds it). */
export const LINK = "link";

/** Who a read or a snippet is for, in words: "link" is whoever holds a dataset's link snippet. */
export function recipientLabel(name: string): string {
  return name === LINK ? "link (snippet)" : name;
}

/** "a, b and c" */
export function listed(items: string[]): string {
  if (items.length <= 1) return items.join("");
  return `${items.slice(0, -1).join(", ")} and ${items[items.length - 1]}`;
}
