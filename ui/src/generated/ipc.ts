// The types of the desktop app's commands, generated from the Rust types: do not edit.
// `DELTA_BRIDGE_WRITE_TYPES=1 cargo test -p delta-bridge-desktop typescript` writes it again;
// that test fails while this file differs from what the Rust types make.

export type Mode = "create" | "append" | "overwrite";

export type DatasetId = string;

export type ColumnInfo = { 
/**
 * Name.
 */
name: string, 
/**
 * Delta type: `long`, `double`, `boolean`, `date`, `timestamp` or `string`.
 */
type: string, };

export type DatasetInfo = { 
/**
 * Id.
 */
id: string, 
/**
 * Name.
 */
name: string, 
/**
 * Current version.
 */
version: number, 
/**
 * Rows in it.
 */
rows: number, 
/**
 * Bytes of data in it.
 */
bytes: number, 
/**
 * Columns.
 */
schema: Array<ColumnInfo>, 
/**
 * Whether it is shared.
 */
shared: boolean, 
/**
 * When it was created (RFC 3339).
 */
createdAt: string, 
/**
 * When its last version was committed (RFC 3339).
 */
updatedAt: string, };

export type VersionInfo = { 
/**
 * Delta version.
 */
version: number, 
/**
 * How the version was made: `create`, `append` or `overwrite`.
 */
operation: Mode, 
/**
 * Rows after it.
 */
rows: number, 
/**
 * Bytes after it.
 */
bytes: number, 
/**
 * Files it added.
 */
filesAdded: number, 
/**
 * Rows it added.
 */
rowsAdded: number, 
/**
 * When (RFC 3339).
 */
committedAt: string, };

export type DatasetDetail = { 
/**
 * Versions, oldest first.
 */
versions: Array<VersionInfo>, 
/**
 * Id.
 */
id: string, 
/**
 * Name.
 */
name: string, 
/**
 * Current version.
 */
version: number, 
/**
 * Rows in it.
 */
rows: number, 
/**
 * Bytes of data in it.
 */
bytes: number, 
/**
 * Columns.
 */
schema: Array<ColumnInfo>, 
/**
 * Whether it is shared.
 */
shared: boolean, 
/**
 * When it was created (RFC 3339).
 */
createdAt: string, 
/**
 * When its last version was committed (RFC 3339).
 */
updatedAt: string, };

export type Snippet = { 
/**
 * The dataset.
 */
datasetId: string, 
/**
 * `share.schema.table`, the part after `#` in a table URL.
 */
table: string, 
/**
 * The profile file's JSON.
 */
profile: Record<string, unknown>, 
/**
 * The install line.
 */
install: string, 
/**
 * Python that loads the table into pandas.
 */
python: string, 
/**
 * Python for Spark (with the delta-sharing-spark package).
 */
spark: string, };

export type ShareResponse = { 
/**
 * Whether it is shared (always true here).
 */
shared: boolean, 
/**
 * Who it is shared with: `link` (whoever holds the snippet), or a named recipient.
 */
recipient: RecipientName, 
/**
 * The first version recipients can reach.
 */
startVersion: number, 
/**
 * Whether the versions before the one current when it was shared are shared too.
 */
history: boolean, 
/**
 * The snippet.
 */
snippet: Snippet, };

export type Revocation = "inForce" | "pending";

export type UnshareResponse = { 
/**
 * The dataset.
 */
datasetId: string, 
/**
 * Whether it is still shared with anyone (false after unsharing from everyone).
 */
shared: boolean, 
/**
 * Whether this call stopped a share (false if it was not shared).
 */
wasShared: boolean, 
/**
 * Whether the sharing configuration that refuses the token is written (`inForce`), or not yet
 * (`pending`: it lands by itself once the fault clears; asking again says where it stands).
 */
revocation: Revocation, };

export type RecipientName = string;

export type GrantInfo = { 
/**
 * The dataset.
 */
datasetId: string, 
/**
 * Its name.
 */
datasetName: string, 
/**
 * `share.schema.table` in the recipient's profile.
 */
table: string, 
/**
 * The first version the recipient reaches.
 */
startVersion: number, 
/**
 * Whether the versions before the one current when granted are shared too.
 */
history: boolean, 
/**
 * When it was granted (RFC 3339).
 */
grantedAt: string, };

export type RecipientInfo = { 
/**
 * The name.
 */
name: RecipientName, 
/**
 * The email, if given.
 */
email?: string, 
/**
 * When the credential stops working (RFC 3339); none: never.
 */
expiresAt?: string, 
/**
 * Until when the credential a rotation replaced still works (RFC 3339), while it does.
 */
previousUntil?: string, 
/**
 * When it was created (RFC 3339).
 */
createdAt: string, 
/**
 * Its last read on record (RFC 3339).
 */
lastReadAt?: string, 
/**
 * The datasets granted to it.
 */
datasets: Array<GrantInfo>, };

export type RecipientChange = { 
/**
 * The recipient after the change (none once revoked).
 */
recipient?: RecipientInfo, 
/**
 * Whether the change is in the sharing configuration (`pending`: it lands by itself).
 */
revocation: Revocation, };

export type ActivationLink = { 
/**
 * The page to open in a browser (it holds a one-time code, never the credential).
 */
url: string, 
/**
 * When it stops working if unused (RFC 3339).
 */
expiresAt: string, };

export type GrantResponse = { 
/**
 * In the order asked.
 */
grants: Array<ShareResponse>, };

export type ReadInfo = { 
/**
 * When the sharing server answered (RFC 3339).
 */
at: string, 
/**
 * Who read (`link` for a dataset's snippet).
 */
recipient: RecipientName, 
/**
 * The dataset, when the request named one of the owner's.
 */
datasetId?: string, 
/**
 * Its name.
 */
datasetName?: string, 
/**
 * What was asked: `query`, `metadata`, `version`, `changes`, `file`, `listShares`, ...
 */
operation: string, 
/**
 * The table version answered.
 */
version?: number, 
/**
 * Data files in the answer.
 */
files?: number, 
/**
 * Bytes the sharing server served itself (local files).
 */
bytes?: number, 
/**
 * The HTTP status answered.
 */
status: number, 
/**
 * The client's `User-Agent`.
 */
userAgent?: string, 
/**
 * The client's address.
 */
address?: string, };

export type Activity = { 
/**
 * At most the limit asked (default 200, at most 1,000).
 */
reads: Array<ReadInfo>, };

export type Encoding = "utf8" | "utf8-bom" | "utf16-le" | "utf16-be" | "windows1252";

export type LineEnding = "lf" | "crlf" | "cr";

export type Dialect = { 
/**
 * Text encoding.
 */
encoding: Encoding, 
/**
 * Field delimiter: `,`, `;`, tab or `|`.
 */
delimiter: string, 
/**
 * Quote character.
 */
quote: string, 
/**
 * Whether the first row holds column names.
 */
has_header: boolean, 
/**
 * Line endings.
 */
line_ending: LineEnding, };

export type DateOrder = "ymd" | "dmy" | "mdy";

export type ColumnType = { "type": "int64" } | { "type": "float64", 
/**
 * Written with a decimal comma (`12,50`), as spreadsheets in many locales export with `;`.
 */
decimal_comma: boolean, } | { "type": "boolean" } | { "type": "date", 
/**
 * Field order.
 */
order: DateOrder, } | { "type": "timestamp" } | { "type": "string" };

export type Column = { 
/**
 * Name in the table.
 */
name: string, 
/**
 * The header cell it came from (empty without a header).
 */
header: string, 
/**
 * Whether empty fields (nulls) were seen.
 */
nullable: boolean, 
/**
 * Every date read both day-first and month-first; the column was left as text until the user chooses.
 */
ambiguous_dates: boolean, } & ({ "type": "int64" } | { "type": "float64", 
/**
 * Written with a decimal comma (`12,50`), as spreadsheets in many locales export with `;`.
 */
decimal_comma: boolean, } | { "type": "boolean" } | { "type": "date", 
/**
 * Field order.
 */
order: DateOrder, } | { "type": "timestamp" } | { "type": "string" });

export type Format = "csv" | "tsv" | "csv.gz" | "zip" | "xlsx" | "xlsm" | "xlsb" | "xls" | "ods" | "json" | "ndjson" | "parquet";

export type Sheet = { 
/**
 * Its name.
 */
name: string, 
/**
 * Hidden in the workbook (it can still be chosen).
 */
hidden: boolean, };

export type Preview = { 
/**
 * The file.
 */
file: string, 
/**
 * What kind of file it is.
 */
format: Format, 
/**
 * A workbook's sheets, in workbook order (empty for other formats).
 */
sheets: Array<Sheet>, 
/**
 * The sheet previewed (workbooks only).
 */
sheet: string | null, 
/**
 * Size of the file in bytes.
 */
file_size: number, 
/**
 * How the file is written (CSV text; for other formats, UTF-8 and whether there is a header row).
 */
dialect: Dialect, 
/**
 * Columns, in file order.
 */
columns: Array<Column>, 
/**
 * The first rows (`None` is an empty field, a null).
 */
rows: Array<Array<string | null>>, 
/**
 * Rows the types were inferred from.
 */
sampled_rows: number, 
/**
 * Whether the whole file was read (small files).
 */
complete: boolean, 
/**
 * Things the user should know (ambiguous dates, ...).
 */
warnings: Array<string>, };

export type ReadText = { 
/**
 * Column names by 0-based position.
 */
names: Array<[number, string]>, 
/**
 * Column types by 0-based position (`int64`, `date:dmy`, ...).
 */
types: Array<[number, string]>, 
/**
 * The delimiter (`;`, `tab`, `\t`).
 */
delimiter: string | null, 
/**
 * The encoding (`windows-1252`).
 */
encoding: string | null, 
/**
 * The quote character.
 */
quote?: string | null, 
/**
 * Whether the first row holds column names.
 */
hasHeader: boolean | null, 
/**
 * A workbook's sheet: its name or its 1-based position (default: the first visible one with data).
 */
sheet?: string | null, };

export type Account = { 
/**
 * Firebase user id.
 */
uid: string, 
/**
 * Email.
 */
email: string | null, 
/**
 * Whether the sign-in is kept in the OS keyring; false: there is no keyring service, and the
 * sign-in lasts only as long as this process.
 */
remembered: boolean, };

export type Stage = "converting" | "uploading" | "committing" | "sharing";

export type Progress = { 
/**
 * Stage.
 */
stage: Stage, 
/**
 * Bytes done in this stage.
 */
bytesDone: number, 
/**
 * Bytes in this stage.
 */
bytesTotal: number, };

export type Uploaded = { 
/**
 * The dataset after the commit.
 */
dataset: DatasetDetail, 
/**
 * The snippet, if shared.
 */
snippet: Snippet | null, 
/**
 * Whether an interrupted upload was resumed.
 */
resumed: boolean, 
/**
 * Bytes sent by this run (not counting what an earlier run sent).
 */
bytesSent: number, 
/**
 * What the conversion noted: columns widened, workbook error cells made nulls, JSON keys first seen late.
 */
notes: Array<string>, };

export type UploadRequest = { 
/**
 * CSV files; with several, they must have the same columns and become one version. A single
 * directory holding a Delta table (made by `delta-bridge convert`) is uploaded as it is.
 */
files: Array<string>, 
/**
 * Dataset name (default: the first file's name without extension).
 */
name: string | null, 
/**
 * Create the dataset, append to it or overwrite it.
 */
mode: Mode, 
/**
 * Share it once committed (and answer the snippet).
 */
share: boolean, 
/**
 * How to read the CSV files instead of what is detected (dialect, column names and types), as
 * text: parsed by the ingest library's rules when the upload starts.
 */
read: ReadText, };

export type Interrupted = { 
/**
 * Its journal's key, for [`Client::discard`].
 */
key: string, 
/**
 * The upload as it was asked.
 */
request: UploadRequest, 
/**
 * Bytes storage holds of it.
 */
bytesSent: number, 
/**
 * Bytes to send (before the conversion finished: the CSV files' size).
 */
bytesTotal: number, 
/**
 * Whether the conversion had finished (if not, resuming converts again).
 */
converted: boolean, };

export type SettingsFile = { 
/**
 * The backend's URL.
 */
backendUrl: string, 
/**
 * The Firebase project's Web API key (real Firebase).
 */
firebaseApiKey: string | null, 
/**
 * The Firebase Auth emulator (`127.0.0.1:9099`), chosen explicitly for local use.
 */
firebaseEmulatorHost: string | null, 
/**
 * Send the password and tokens over plain `http://` to hosts other than this machine too.
 */
insecureHttp: boolean, 
/**
 * Where the app looks for signed updates (an update manifest's URL, `https://`, or `http://` to this
 * machine), instead of the one its package was built with. Usually set by a provisioning file.
 */
updateUrl?: string, };

export type Source = "saved" | "environment" | "provisioning";

export type Configuration = { 
/**
 * The settings in force; none: the app is unconfigured and signs nobody in until settings are saved.
 */
settings: SettingsFile | null, 
/**
 * Where they come from.
 */
source: Source | null, 
/**
 * The file they come from (saved or provisioning).
 */
file: string | null, 
/**
 * Settings found but not used, and why (a provisioning file that cannot be read, an environment that
 * names a backend but no way to sign in).
 */
problems: Array<string>, };

export type CommandError = { 
/**
 * `auth`, `input`, `network`, `cancelled`, `paused`, `settings`, `update` or `other`.
 */
kind: "auth" | "input" | "network" | "cancelled" | "paused" | "settings" | "update" | "other", 
/**
 * For people.
 */
message: string, 
/**
 * The input file the error is about.
 */
file?: string, 
/**
 * The row, 1-based with the header.
 */
row?: number, 
/**
 * The column's name.
 */
column?: string, };

export type UpdateOffer = { 
/**
 * The version offered.
 */
version: string, 
/**
 * The version running.
 */
currentVersion: string, 
/**
 * The release notes, if the manifest has any.
 */
notes: string | null, };

export type UpdateProgress = { bytesDone: number, bytesTotal: number | null, };
