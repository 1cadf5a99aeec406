"""The corpus of awkward inputs of `test_formats.py`: workbooks, JSON, gzip, zip and Parquet files as people
send them, written by a script (`python corpus.py DIR` writes them all into DIR to look at).

Each function writes one file into a directory and returns a `Case`: the file, the CLI arguments it is
converted with, and either the table it must become or the fragments its one-line error must hold. The
expected table is not written by hand: it is read back from the file with `openpyxl` (data_only, the cached
values Excel shows), the `json` module, `csv`, `gzip`, `zipfile` or `pyarrow`, then put through a small model
of the documented rules (`names.rs` for names; the Excel cell rules; JSON flattening; the CSV value rules
for text) below. The model covers only the shapes the corpus uses and raises `Unmodeled` on anything else,
so that a corpus change cannot silently test a guess.
"""

import csv
import datetime as dt
import decimal
import gzip
import io
import json
import pathlib
import random
import re
import sys
import zipfile
from dataclasses import dataclass, field

import openpyxl
import pyarrow as pa
import pyarrow.parquet as pq
from openpyxl.utils.datetime import CALENDAR_MAC_1904

UTC = dt.timezone.utc
DELTA_TYPES = {"int64": "long", "float64": "double", "boolean": "boolean", "date": "date", "timestamp": "timestamp", "string": "string"}


class Unmodeled(Exception):
    """The corpus holds a shape the model below does not cover: extend the model, do not guess."""


@dataclass
class Table:
    """What a conversion must give: column names, CLI types (int64, ...), and the rows as Python values
    (int, float, bool, date, timezone-aware UTC datetime, str, None)."""

    names: list
    types: list
    rows: list
    error_cells: int = 0


@dataclass
class Case:
    id: str
    path: pathlib.Path
    args: tuple = ()
    want: Table = None
    # A refused file: every fragment must be in the one-line error (case-insensitively).
    refused: tuple = ()
    # The `format` a preview reports.
    format: str = None
    # Workbooks: the sheets a preview lists, as (name, hidden), and the sheet read.
    sheets: list = None
    sheet: str = None
    # Whether a preview, which reads the head, sees every column.
    head_has_all_columns: bool = True
    notes: dict = field(default_factory=dict)


# ---------------------------------------------------------------------------------------------------------
# The model of the documented rules.


def clean(raw):
    """`names::clean`: trim; runs of characters other than letters, digits and `_` become one `_`; no `_`
    at either end; at most 255 characters."""
    out, pending = [], False
    for c in raw.strip():
        if c.isalnum() or c == "_":
            if pending and out:
                out.append("_")
            pending = False
            out.append(c)
        else:
            pending = True
    return "".join(out).strip("_")[:255].rstrip("_")


def column_names(header, count):
    """`names::column_names`: `column_N` for empty cells, `_2`, `_3` for names repeated ignoring case."""
    seen, names = set(), []
    for i in range(count):
        raw = header[i] if header is not None and i < len(header) and header[i] is not None else ""
        base = clean(raw) or f"column_{i + 1}"
        name, n = base, 2
        while name.lower() in seen:
            name, n = f"{base}_{n}", n + 1
        seen.add(name.lower())
        names.append(name)
    return names


INT = re.compile(r"[+-]?(0|[1-9][0-9]*)\Z")
FLOAT = re.compile(r"[+-]?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?\Z")
ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}\Z")
ISO_TIMESTAMP = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]{1,6})?)?(Z|[+-][0-9]{2}:[0-9]{2})?\Z")
OTHER_DATE = re.compile(r"[0-9]{1,4}[-/.][0-9]{1,2}[-/.][0-9]{1,4}\Z")


def looks_like_header(first, data):
    """`sniff::looks_like_header` over texts (None: empty): the first row is a header when a cell of it does
    not fit the type of the column below, or when no cell fits a type other than text and all are text."""
    fits_a_type = False
    for i, name in enumerate(first):
        name = (name or "").strip()
        kind, _ = infer_text([row[i] if i < len(row) else None for row in data])
        if kind == "string" or not name:
            continue
        if infer_text([name])[0] != kind and not (kind == "float64" and infer_text([name])[0] == "int64"):
            return True
        fits_a_type = True
    return not fits_a_type and all(infer_text([c])[0] == "string" for c in first if c and c.strip())


def text_date(text):
    try:
        return dt.date.fromisoformat(text) if ISO_DATE.match(text) else None
    except ValueError:
        return None


def text_timestamp(text):
    if text_date(text):
        return dt.datetime.combine(text_date(text), dt.time(), UTC)
    if not ISO_TIMESTAMP.match(text):
        return None
    value = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def text_int(text):
    return int(text) if INT.match(text) and -(2**63) <= int(text) < 2**63 else None


TEXT_RULES = [
    # In the order `infer.rs` tries them: the first that every non-empty value fits wins.
    ("boolean", lambda t: {"true": True, "false": False}.get(t.lower())),
    ("int64", text_int),
    ("float64", lambda t: float(t) if FLOAT.match(t) else None),
    ("date", text_date),
    ("timestamp", text_timestamp),
]


def infer_text(values):
    """The CSV value rules (`infer.rs`) for a column of texts (None or blank = null): (type, values)."""
    present = [v.strip() for v in values if v is not None and v.strip()]
    for v in present:
        if OTHER_DATE.match(v) and not ISO_DATE.match(v):
            raise Unmodeled(f"non-ISO date {v!r}")
    if present:
        for name, parse in TEXT_RULES:
            if all(parse(v) is not None for v in present):
                return name, [None if v is None or not v.strip() else parse(v.strip()) for v in values]
    return "string", [None if v is None or not v.strip() else v for v in values]


def table_from_text_columns(names, columns):
    typed = [infer_text(c) for c in columns]
    return Table(names, [t for t, _ in typed], [tuple(r) for r in zip(*(v for _, v in typed))])


def csv_table(text, delimiter=","):
    """A CSV text with a header row, by the `csv` module and the value rules."""
    records = list(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter))
    header, body = records[0], [r for r in records[1:] if r]
    if any(len(r) != len(header) for r in body):
        raise Unmodeled("ragged CSV")
    return table_from_text_columns(column_names(header, len(header)), [list(c) for c in zip(*body)])


# Excel cells, as openpyxl reads them (data_only: the cached values of formulas).
EMPTY, TEXT, NUMBER, BOOL, DATETIME, ERROR = "empty", "text", "number", "bool", "datetime", "error"


def cell_of(cell):
    v = cell.value
    if v is None:
        return (EMPTY, None)
    if cell.data_type == "e":
        return (ERROR, v)
    if isinstance(v, bool):
        return (BOOL, v)
    if isinstance(v, dt.datetime):
        return (DATETIME, v)
    if isinstance(v, (dt.date, dt.time, dt.timedelta)):
        raise Unmodeled(f"{cell.coordinate}: {v!r}")
    if isinstance(v, (int, float)):
        return (NUMBER, v)
    if isinstance(v, str):
        if v == "":
            raise Unmodeled(f"{cell.coordinate}: empty text")
        return (TEXT, v)
    raise Unmodeled(f"{cell.coordinate}: {v!r}")


def shortest(number):
    """A number as the shortest decimal that reads back as it ("12", "12.5")."""
    f = float(number)
    if abs(f) >= 1e15 or (f != 0 and abs(f) < 1e-4):
        raise Unmodeled(f"number {number!r} whose shortest form Python and Rust may write differently")
    return str(int(f)) if f.is_integer() else repr(f)


def excel_text(kind, v):
    """A cell in a column that mixes kinds: its text."""
    if kind == NUMBER:
        return shortest(v)
    if kind == BOOL:
        return "true" if v else "false"
    if kind == DATETIME:
        if v.microsecond:
            raise Unmodeled(f"{v!r}: fractional seconds")
        return v.date().isoformat() if v.time() == dt.time() else v.strftime("%Y-%m-%d %H:%M:%S")
    return v


def excel_column(cells, override=None):
    """A column's type and values from its data cells, by the Excel rules of the contract."""
    kinds = {k for k, _ in cells if k not in (EMPTY, ERROR)}
    if override not in (None, "string", "float64"):
        raise Unmodeled(f"override {override}")
    if override == "float64":
        if kinds - {NUMBER}:
            raise Unmodeled("float64 over non-numbers")
        kind = "float64"
    elif override == "string" or len(kinds) > 1 or kinds == {TEXT} or not kinds:
        kind = "string"
    elif kinds == {NUMBER}:
        numbers = [v for k, v in cells if k == NUMBER]
        integral = all(float(v).is_integer() and -(2**63) <= v < 2**63 for v in numbers)
        if any(abs(v) > 2**53 for v in numbers):
            raise Unmodeled("numbers beyond 2^53 (calamine reads doubles)")
        kind = "int64" if integral else "float64"
    elif kinds == {BOOL}:
        kind = "boolean"
    elif kinds == {DATETIME}:
        kind = "date" if all(v.time() == dt.time() for k, v in cells if k == DATETIME) else "timestamp"
    else:
        raise Unmodeled(str(kinds))

    def value(k, v):
        if k in (EMPTY, ERROR):
            return None
        if kind == "string":
            return excel_text(k, v)
        if kind == "int64":
            return int(v)
        if kind == "float64":
            return float(v)
        if kind == "date":
            return v.date()
        if kind == "timestamp":
            return v.replace(tzinfo=UTC)
        return v

    return kind, [value(k, v) for k, v in cells]


def default_sheet(wb):
    """The first visible sheet that holds data."""
    for ws in wb.worksheets:
        if ws.sheet_state == "visible" and any(cell_of(c)[0] != EMPTY for row in ws.iter_rows() for c in row):
            return ws
    raise Unmodeled("no visible sheet with data")


def sheet_grid(ws):
    """The sheet's cells, without empty rows and columns before and after the data."""
    grid = [[cell_of(c) for c in row] for row in ws.iter_rows(min_row=1, min_col=1)]
    filled = lambda cells: any(k != EMPTY for k, _ in cells)  # noqa: E731
    while grid and not filled(grid[-1]):
        grid.pop()
    while grid and not filled(grid[0]):
        grid.pop(0)
    width = max((i + 1 for row in grid for i, (k, _) in enumerate(row) if k != EMPTY), default=0)
    if any(filled([row[0]]) for row in grid) is False and width:
        raise Unmodeled("empty leading column")
    return [row[:width] + [(EMPTY, None)] * (width - len(row)) for row in grid]


def workbook_table(path, sheet=None, header=None, types=None, renames=None):
    """The table a sheet must become (`sheet` a name; None: the default sheet)."""
    wb = openpyxl.load_workbook(path, data_only=True)
    ws = wb[sheet] if sheet is not None else default_sheet(wb)
    grid = sheet_grid(ws)
    if not grid:
        raise Unmodeled("empty sheet")
    first, data = grid[0], grid[1:]
    first_kinds = {k for k, _ in first if k != EMPTY}
    data_kinds = {k for row in data for k, _ in row if k not in (EMPTY, ERROR)}
    if header is None:
        if first_kinds == {TEXT} and data_kinds - {TEXT}:
            header = True
        elif first_kinds - {TEXT}:
            header = False
        elif not data_kinds - {TEXT}:
            header = looks_like_header([v for _, v in first], [[v for _, v in row] for row in data])
        else:
            raise Unmodeled("a text header over text and errors only")
    width = len(first)
    names = column_names([v if k == TEXT else None for k, v in first] if header else None, width)
    for n, name in (renames or {}).items():
        names[n - 1] = name
    body = data if header else grid
    columns = [excel_column([row[i] for row in body], (types or {}).get(i + 1)) for i in range(width)]
    errors = sum(1 for row in body for k, _ in row if k == ERROR)
    return Table(names, [t for t, _ in columns], [tuple(r) for r in zip(*(v for _, v in columns))] if columns else [], errors)


def sheets_of(path):
    wb = openpyxl.load_workbook(path, read_only=False)
    return [(ws.title, ws.sheet_state != "visible") for ws in wb.worksheets]


def compact_json(value):
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def flatten(record, prefix=()):
    """Nested objects to `parent_child` keys up to three levels; deeper objects and every array as JSON text."""
    for key, value in record.items():
        path = prefix + (key,)
        if isinstance(value, dict) and len(path) < 3:
            if not value:
                raise Unmodeled(f"empty object at {path}")
            yield from flatten(value, path)
        elif isinstance(value, (dict, list)):
            yield "_".join(path), ("json", compact_json(value))
        else:
            yield "_".join(path), ("value", value)


def json_records(path):
    """The records of a JSON array or NDJSON file, by the `json` module."""
    text = path.read_text(encoding="utf-8")
    if text.lstrip().startswith("["):
        return json.loads(text)
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def json_table(path):
    records = [dict(flatten(r)) for r in json_records(path)]
    keys = list(dict.fromkeys(k for r in records for k in r))
    names, types, columns = column_names(keys, len(keys)), [], []
    for key in keys:
        cells = [r.get(key, ("value", None)) for r in records]
        present = [(how, v) for how, v in cells if v is not None]
        kinds = {("json" if how == "json" else type(v).__name__) for how, v in present}
        if not kinds:
            raise Unmodeled(f"{key}: all null")
        if kinds == {"bool"}:
            kind, values = "boolean", [v for _, v in cells]
        elif kinds == {"int"} and all(-(2**63) <= v < 2**63 for _, v in present):
            kind, values = "int64", [v for _, v in cells]
        elif kinds <= {"int", "float"}:
            kind, values = "float64", [None if v is None else float(v) for _, v in cells]
        elif kinds == {"str"}:
            kind, values = infer_text([v for _, v in cells])
        elif kinds <= {"str", "json"}:
            kind, values = "string", [v for _, v in cells]
        else:
            # Mixed scalars: each as its text (JSON's), then the CSV rules over the texts.
            texts = [None if v is None else v if how == "json" or isinstance(v, str) else json.dumps(v) for how, v in cells]
            kind, values = infer_text(texts)
        types.append(kind)
        columns.append(values)
    return Table(names, types, [tuple(r) for r in zip(*columns)])


def parquet_table(path):
    """A Parquet file as the CLI must take it: its values, its types widened to the table's six."""
    table = pq.read_table(path)
    widen = [
        (pa.types.is_integer, "int64"),
        (pa.types.is_floating, "float64"),
        (pa.types.is_boolean, "boolean"),
        (pa.types.is_date, "date"),
        (pa.types.is_timestamp, "timestamp"),
        (lambda t: pa.types.is_string(t) or pa.types.is_large_string(t), "string"),
        (lambda t: pa.types.is_dictionary(t) and pa.types.is_string(t.value_type), "string"),
    ]
    types = [next(name for test, name in widen if test(f.type)) for f in table.schema]
    rows = [
        tuple(v.replace(tzinfo=UTC) if isinstance(v, dt.datetime) and v.tzinfo is None else v for v in r.values())
        for r in table.to_pylist()
    ]
    return Table(list(table.column_names), types, rows)


# ---------------------------------------------------------------------------------------------------------
# Workbooks.


def set_cached_values(path, sheet_index, values):
    """openpyxl writes formulas without a cached value (`<f>..</f><v />`): write the ones Excel would have
    (`values`: cell reference to value), as Excel saves them, so the file has what a reader shows."""
    part = f"xl/worksheets/sheet{sheet_index}.xml"
    with zipfile.ZipFile(path) as z:
        members = {name: z.read(name) for name in z.namelist()}
    xml = members[part].decode()
    for ref, value in values.items():
        pattern = re.compile(rf'<c r="{ref}"([^>]*)><f>(.*?)</f><v ?/>(</c>)')
        if isinstance(value, str):
            attrs, cached = ' t="str"', value.replace("&", "&amp;").replace("<", "&lt;")
        elif isinstance(value, bool):
            attrs, cached = ' t="b"', str(int(value))
        else:
            attrs, cached = "", repr(value)
        xml, n = pattern.subn(lambda m: f'<c r="{ref}"{m.group(1)}{attrs}><f>{m.group(2)}</f><v>{cached}</v></c>', xml)
        assert n == 1, f"no formula at {ref}"
    members[part] = xml.encode()
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in members.items():
            z.writestr(name, data)


def workbook_case(id, path, args=(), sheet=None, fmt="xlsx", **model):
    wb = openpyxl.load_workbook(path)
    chosen = sheet if sheet is not None else default_sheet(wb).title
    return Case(id, path, tuple(args), workbook_table(path, sheet, **model), format=fmt, sheets=sheets_of(path), sheet=chosen)


def merged_header(d):
    """A header cell merged over two columns (the second is an empty header cell), names repeated in
    another case, a name that needs cleaning."""
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "Ventes"
    ws.append(["Région", "Sales", None, "Note", "NOTE", "Montant (€)"])
    ws.merge_cells("B1:C1")
    rng = random.Random(1)
    for i in range(12):
        ws.append([rng.choice(["Nord", "Sud", "Île-de-France"]), i * 10, round(rng.uniform(0, 100), 2), f"n{i}", "x" * (i % 3 + 1), i + 0.25])
    path = d / "merged_header.xlsx"
    wb.save(path)
    return workbook_case("merged_header", path)


def dates(d, system):
    """Dates (midnight) and timestamps (with time parts, seconds that are not exact binary fractions of a
    day), a custom date format, in the 1900 or the 1904 date system."""
    wb = openpyxl.Workbook()
    if system == 1904:
        wb.epoch = CALENDAR_MAC_1904
    ws = wb.active
    ws.title = "Dates"
    ws.append(["day", "when", "custom", "amount"])
    days = [dt.date(2024, 1, 5), dt.date(2024, 2, 29), dt.date(1999, 12, 31), dt.date(1904, 1, 2), dt.date(2038, 1, 19), dt.date(1970, 1, 1)]
    times = [
        dt.datetime(2024, 1, 5, 10, 30),
        dt.datetime(2023, 12, 31, 23, 59, 59),
        dt.datetime(2000, 2, 29, 14, 23, 17),
        dt.datetime(1904, 1, 2, 0, 0, 1),
        dt.datetime(2038, 1, 19, 3, 14, 7),
        None,
    ]
    for i, (day, when) in enumerate(zip(days, times)):
        ws.append([day, when, day + dt.timedelta(days=i), i * 1.5])
        ws.cell(ws.max_row, 3).number_format = "d mmm yyyy"
    path = d / f"dates_{system}.xlsx"
    wb.save(path)
    return workbook_case(f"dates_{system}", path)


def dates_1900(d):
    return dates(d, 1900)


def dates_1904(d):
    return dates(d, 1904)


def early_dates_1900(d):
    """Dates before 1900-03-01, where the 1900 system counts Lotus' 29 February 1900."""
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["day", "n"])
    for i, day in enumerate([dt.date(1900, 1, 1), dt.date(1900, 1, 15), dt.date(1900, 2, 28), dt.date(1900, 3, 1), dt.date(1900, 3, 2)]):
        ws.append([day, i])
    path = d / "early_dates_1900.xlsx"
    wb.save(path)
    return workbook_case("early_dates_1900", path)


def codes_as_text(d, no_header=False):
    """Codes with leading zeros and numbers stored as text (text cells stay text), beside real numbers."""
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "Codes"
    ws.append(["code postal", "qty as text", "n", "ref"])
    for code, qty, n, ref in [("01000", "123", 1, "007"), ("75001", "45", 2, "1e3"), ("00123", "0", 3, "12.50"), ("2A004", "-7", 4, "TRUE")]:
        ws.append([code, qty, n, ref])
    path = d / "codes_as_text.xlsx"
    wb.save(path)
    if no_header:
        return workbook_case("codes_no_header", path, ["--no-header"], header=False)
    return workbook_case("codes_as_text", path)


def codes_no_header(d):
    return codes_as_text(d, no_header=True)


def mixed(d):
    """A column mixing numbers, text, booleans, dates and timestamps (string, each as documented), and one
    mixing booleans and numbers."""
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["id", "value", "flag or number"])
    values = [12, 12.5, "abc", True, dt.date(2024, 1, 5), dt.datetime(2024, 1, 5, 10, 30), None, "00123", -3, 0.1, False]
    flags = [True, 1, False, 0, None, 2.5, True, 1, 0, False, True]
    for i, (v, f) in enumerate(zip(values, flags)):
        ws.append([i + 1, v, f])
    path = d / "mixed.xlsx"
    wb.save(path)
    return workbook_case("mixed", path)


def booleans(d, ext="xlsx"):
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["active", "n", "label"])
    for i, b in enumerate([True, False, None, True, True, False]):
        ws.append([b, i, f"row {i}"])
    path = d / f"booleans.{ext}"
    wb.save(path)
    return workbook_case(f"booleans_{ext}", path, fmt=ext)


def booleans_xlsm(d):
    """The same workbook, with the macro-enabled extension."""
    return booleans(d, "xlsm")


def error_cells(d):
    """#DIV/0!, #N/A and #VALUE! cells: nulls, counted, with a warning."""
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["ratio", "label", "n"])
    for ratio, label, n in [(0.5, "a", 1), ("#DIV/0!", "b", 2), (0.25, "#VALUE!", 3), ("#N/A", "d", 4), (1.5, "e", 5)]:
        ws.append([ratio, label, n])
    path = d / "errors.xlsx"
    wb.save(path)
    got = openpyxl.load_workbook(path)
    assert [c.data_type for c in got.active["A"]][1:] == ["n", "e", "n", "e", "n"], "openpyxl wrote error cells"
    return workbook_case("error_cells", path)


def trailing(d):
    """Styled empty cells far below and to the right, a cleared cell, a wide column and a tall row."""
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["a", "b", "c"])
    for i in range(5):
        ws.append([i, f"t{i}", i * 0.5])
    ws.append([99, "last", 1.25])
    ws["H40"].fill = openpyxl.styles.PatternFill("solid", fgColor="FFFF00")
    ws["E3"].border = openpyxl.styles.Border(left=openpyxl.styles.Side(style="thin"))
    ws["F9"] = "temporary"
    ws["F9"] = None
    ws.column_dimensions["G"].width = 40
    ws.row_dimensions[30].height = 40
    path = d / "trailing.xlsx"
    wb.save(path)
    return workbook_case("trailing", path)


def formulas(d):
    """Formulas with the cached values Excel saves (numbers, text, a boolean)."""
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["price", "qty", "total", "label", "big"])
    cached = {}
    for r, (price, qty) in enumerate([(2.5, 4), (10, 3), (0.1, 3)], start=2):
        ws.append([price, qty, f"=A{r}*B{r}", f'=IF(B{r}>3,"many","few")', f"=C{r}>9"])
        cached.update({f"C{r}": price * qty, f"D{r}": "many" if qty > 3 else "few", f"E{r}": price * qty > 9})
    path = d / "formulas.xlsx"
    wb.save(path)
    set_cached_values(path, 1, cached)
    return workbook_case("formulas", path)


def sheets_workbook(d):
    """An empty first sheet, unicode names, a hidden sheet last."""
    wb = openpyxl.Workbook()
    cover = wb.active
    cover.title = "Cover"
    fr = wb.create_sheet("Données 2024")
    fr.append(["nom", "montant"])
    for i in range(4):
        fr.append([f"n{i}", i * 100])
    zh = wb.create_sheet("数据")
    zh.append(["城市", "人口"])
    for city, n in [("北京", 21.9), ("上海", 24.9)]:
        zh.append([city, n])
    hidden = wb.create_sheet("Caché")
    hidden.sheet_state = "hidden"
    hidden.append(["secret", "n"])
    hidden.append(["s", 1])
    path = d / "sheets.xlsx"
    wb.save(path)
    return path


def sheets_default(d):
    """The default: the first visible sheet that holds data (the first is empty)."""
    return workbook_case("sheets_default", sheets_workbook(d))


def sheet_by_unicode_name(d):
    return workbook_case("sheet_by_unicode_name", sheets_workbook(d), ["--sheet", "数据"], sheet="数据")


def sheet_by_index(d):
    """`--sheet 3`: the third sheet of the workbook (1-based)."""
    return workbook_case("sheet_by_index", sheets_workbook(d), ["--sheet", "3"], sheet=openpyxl.load_workbook(sheets_workbook(d)).sheetnames[2])


def hidden_sheet_by_name(d):
    return workbook_case("hidden_sheet_by_name", sheets_workbook(d), ["--sheet", "Caché"], sheet="Caché")


def empty_sheet_chosen(d):
    """An empty sheet chosen with --sheet is refused, naming it."""
    return Case("empty_sheet_chosen", sheets_workbook(d), ("--sheet", "Cover"), refused=("sheets.xlsx", "Cover"))


def missing_sheet(d):
    return Case("missing_sheet", sheets_workbook(d), ("--sheet", "Nowhere"), refused=("sheets.xlsx", "Nowhere"))


def hidden_first(d):
    """The first sheet is hidden: the second is the default."""
    wb = openpyxl.Workbook()
    secret = wb.active
    secret.title = "Hidden"
    secret.sheet_state = "hidden"
    secret.append(["secret", "value"])
    secret.append(["do not take me", 1])
    shown = wb.create_sheet("Shown")
    shown.append(["name", "value"])
    shown.append(["take me", 2])
    shown.append(["and me", 3])
    path = d / "hidden_first.xlsx"
    wb.save(path)
    return workbook_case("hidden_first", path)


def hidden_first_by_index(d):
    """`--sheet 1`: the first sheet of the workbook, hidden as it is."""
    case = hidden_first(d)
    return workbook_case("hidden_first_by_index", case.path, ["--sheet", "1"], sheet="Hidden")


def all_text(d, sheet):
    """Sheets of text cells only: the CSV rule decides whether the first row is a header; text cells stay
    text ("10" is not a number here)."""
    wb = openpyxl.Workbook()
    named = wb.active
    named.title = "Named"
    for row in [["name", "code"], ["Zoë", "001"], ["Li", "002"], ["Ann", "010"]]:
        named.append(row)
    numbers = wb.create_sheet("Numbers as text")
    for row in [["10", "a"], ["20", "b"], ["30", "c"]]:
        numbers.append(row)
    path = d / "all_text.xlsx"
    wb.save(path)
    return workbook_case(f"all_text_{sheet.split()[0].lower()}", path, ["--sheet", sheet], sheet=sheet)


def all_text_forced_header(d):
    """`--header` over a first row the rules take for data."""
    case = all_text(d, "Numbers as text")
    return workbook_case("all_text_forced_header", case.path, ["--sheet", "Numbers as text", "--header"], sheet="Numbers as text", header=True)


def all_text_header(d):
    return all_text(d, "Named")


def all_text_no_header(d):
    return all_text(d, "Numbers as text")


def many_rows(d):
    """Enough rows that the order of the rows matters."""
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["i", "text", "x", "day"])
    rng = random.Random(7)
    for i in range(30_000):
        ws.append([i, f"row {i} {rng.choice(['é', '日本', 'a,b', ''])}", rng.randint(-10**6, 10**6) / 100, dt.date(2000, 1, 1) + dt.timedelta(days=i % 9000)])
    path = d / "many_rows.xlsx"
    wb.save(path)
    return workbook_case("many_rows", path)


def overrides(d):
    """`--type` and `--rename` on a workbook."""
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["code", "n", "amount"])
    for i in range(5):
        ws.append([f"C{i}", i * 7, i * 3])
    path = d / "overrides.xlsx"
    wb.save(path)
    return workbook_case("overrides", path, ["--rename", "1=Code_client", "--type", "2=string", "--type", "3=float64"], types={2: "string", 3: "float64"}, renames={1: "Code_client"})


def bad_cell(d, offset):
    """`--strict --type 2=int64` over a column with a text cell: refused, naming the file, the sheet, the
    row as Excel numbers it and the column. With `offset`, the table starts below two empty rows."""
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "Stock"
    top = 1 + offset
    ws.cell(top, 1, "item")
    ws.cell(top, 2, "qty")
    for i in range(6):
        ws.cell(top + 1 + i, 1, f"item {i}")
        ws.cell(top + 1 + i, 2, "n/a" if i == 4 else i)
    bad_row = top + 1 + 4
    path = d / f"bad_cell_{offset}.xlsx"
    wb.save(path)
    return Case(f"bad_cell_offset_{offset}", path, ("--strict", "--type", "2=int64"), refused=(path.name, "Stock", f"row {bad_row}", "qty"), notes={"bad_row": bad_row})


def bad_cell_top(d):
    return bad_cell(d, 0)


def bad_cell_below_empty_rows(d):
    return bad_cell(d, 2)


def ods(d):
    """An OpenDocument spreadsheet, written by hand (the smallest file LibreOffice writes: content.xml with
    typed cells). The expected table comes from the cells written."""
    rows = [("name", "n", "day", "ok"), ("a", 1, dt.date(2024, 1, 5), True), ("b", 2.5, dt.date(2024, 2, 29), False), ("007", 3, None, True)]

    def cell(v):
        if v is None:
            return "<table:table-cell/>"
        if isinstance(v, bool):
            return f'<table:table-cell office:value-type="boolean" office:boolean-value="{str(v).lower()}"><text:p>{str(v).upper()}</text:p></table:table-cell>'
        if isinstance(v, (int, float)):
            return f'<table:table-cell office:value-type="float" office:value="{v}"><text:p>{v}</text:p></table:table-cell>'
        if isinstance(v, dt.date):
            return f'<table:table-cell office:value-type="date" office:date-value="{v.isoformat()}"><text:p>{v.isoformat()}</text:p></table:table-cell>'
        return f'<table:table-cell office:value-type="string"><text:p>{v}</text:p></table:table-cell>'

    body = "".join("<table:table-row>" + "".join(cell(v) for v in r) + "</table:table-row>" for r in rows)
    ns = (
        'xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
        'xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" '
        'xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0"'
    )
    content = (
        f'<?xml version="1.0" encoding="UTF-8"?><office:document-content {ns} office:version="1.2">'
        f'<office:body><office:spreadsheet><table:table table:name="Feuille1">{body}</table:table>'
        "</office:spreadsheet></office:body></office:document-content>"
    )
    manifest = (
        '<?xml version="1.0" encoding="UTF-8"?><manifest:manifest xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0" manifest:version="1.2">'
        '<manifest:file-entry manifest:full-path="/" manifest:media-type="application/vnd.oasis.opendocument.spreadsheet"/>'
        '<manifest:file-entry manifest:full-path="content.xml" manifest:media-type="text/xml"/></manifest:manifest>'
    )
    path = d / "sheet.ods"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr(zipfile.ZipInfo("mimetype"), "application/vnd.oasis.opendocument.spreadsheet")
        z.writestr("META-INF/manifest.xml", manifest, zipfile.ZIP_DEFLATED)
        z.writestr("content.xml", content, zipfile.ZIP_DEFLATED)
    header, body_rows = rows[0], rows[1:]
    cells = [[(EMPTY, None) if v is None else (BOOL, v) if isinstance(v, bool) else (NUMBER, v) if isinstance(v, (int, float)) else (DATETIME, dt.datetime.combine(v, dt.time())) if isinstance(v, dt.date) else (TEXT, v) for v in r] for r in body_rows]
    columns = [excel_column([r[i] for r in cells]) for i in range(len(header))]
    want = Table(column_names(list(header), len(header)), [t for t, _ in columns], [tuple(r) for r in zip(*(v for _, v in columns))])
    return Case("ods", path, (), want, format="ods", sheets=[("Feuille1", False)], sheet="Feuille1")


# ---------------------------------------------------------------------------------------------------------
# JSON and NDJSON.

RECORDS = [
    {"id": 1, "name": "Zoë", "price": 1, "active": True, "day": "2024-01-05", "code": "007", "count": "12", "when": "2024-01-05T10:30:00Z", "note": None},
    {"id": 2, "name": "O'Brien, \"Jr.\"", "price": 2.5, "active": False, "day": "2024-02-29", "code": "0420", "count": "-3", "when": "2024-01-05 23:59:59", "note": "x"},
    {"id": 3, "name": "日本\nline", "price": 0.1, "active": None, "day": None, "code": "12", "count": "0", "when": "2024-03-01T00:00:00+02:00"},
    {"id": 4, "name": "  padded  ", "price": -7, "active": True, "day": "1999-12-31", "code": "A-1", "count": "9007199254740993", "when": None, "note": "y"},
]


def write_json(path, records, layout):
    if layout == "array":
        path.write_text("[\n" + ",\n".join(json.dumps(r, ensure_ascii=False) for r in records) + "\n]\n", encoding="utf-8")
    elif layout == "pretty":
        path.write_text(json.dumps(records, indent=2, ensure_ascii=False), encoding="utf-8")
    else:
        path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")
    return path


def json_case(id, path, args=(), fmt=None):
    return Case(id, path, tuple(args), json_table(path), format=fmt)


def json_array(d):
    return json_case("json_array", write_json(d / "records.json", RECORDS, "pretty"), fmt="json")


def json_array_many(d):
    """A pretty-printed array of more records than a preview samples (10,000), nested ones among them."""
    rng = random.Random(4)
    records = [{"i": i, "s": rng.choice(["é", "x,y", "日本"]), "o": {"k": i % 7, "l": [i]}} for i in range(12_000)]
    return json_case("json_array_many", write_json(d / "many.json", records, "pretty"), fmt="json")


def json_ndjson(d):
    return json_case("json_ndjson", write_json(d / "records.ndjson", RECORDS, "lines"), fmt="ndjson")


def json_jsonl(d):
    return json_case("json_jsonl", write_json(d / "records.jsonl", RECORDS, "lines"), fmt="ndjson")


def json_lines_in_json(d):
    """NDJSON content in a `.json` file."""
    return json_case("json_lines_in_json", write_json(d / "lines.json", RECORDS, "lines"))


def json_deep(d):
    """Nesting to three levels flattened, deeper objects and arrays as compact JSON text (keys in their
    order, not sorted; non-ASCII as it is)."""
    records = [
        {"id": 1, "user": {"name": "Zoë", "address": {"city": "Paris", "geo": {"lon": 2.35, "lat": 48.85}}}, "tags": ["a", "日本"], "meta": {"empty": [], "n": 1}},
        {"id": 2, "user": {"name": "Li", "address": {"city": "北京", "geo": {"lon": 116.4, "lat": 39.9, "z": {"deep": [1, {"b": None, "a": True}]}}}}, "tags": [], "meta": {"empty": [[]], "n": None}},
        {"id": 3, "user": {"name": None, "address": {"city": None}}, "tags": [1, 2.5, None, "x"], "meta": {"n": 3}},
    ]
    return json_case("json_deep", write_json(d / "deep.json", records, "array"), fmt="json")


def json_late_key(d):
    """A key first seen in the third record: a column at the end, null before."""
    records = [{"b": 1, "a": "x"}, {"a": "y", "b": 2}, {"b": 3, "late": "2024-01-05", "a": "z"}, {"a": "w"}]
    return json_case("json_late_key", write_json(d / "late_key.json", records, "array"), fmt="json")


def json_mixed(d):
    """Numbers, booleans and text in one column: text ("12", "2.5", "true")."""
    records = [{"v": 12}, {"v": "abc"}, {"v": 2.5}, {"v": True}, {"v": None}]
    return json_case("json_mixed", write_json(d / "mixed.ndjson", records, "lines"), fmt="ndjson")


def ndjson_blank_lines(d):
    path = d / "blank_lines.ndjson"
    path.write_text('{"a": 1, "b": "x"}\n\n{"a": 2, "b": "y"}\r\n   \n{"a": 3, "b": "z"}', encoding="utf-8")
    return json_case("ndjson_blank_lines", path, fmt="ndjson")


def ndjson_many(d):
    """Enough lines (about 12 MB) that the file is read in several chunks: the rows keep their order."""
    rng = random.Random(3)
    path = d / "many.ndjson"
    with path.open("w", encoding="utf-8") as f:
        for i in range(150_000):
            f.write(json.dumps({"i": i, "s": rng.choice(["é", "x,y", 'q"q', "日本"]) * rng.randint(1, 3), "f": rng.randint(-10**6, 10**6) / 100, "o": {"k": i % 7}}, ensure_ascii=False) + "\n")
    return json_case("ndjson_many", path, fmt="ndjson")


def ndjson_bad_line(d):
    path = d / "bad_line.ndjson"
    lines = ['{"a": 1}', '{"a": 2}', '{"a": 3}', "", '{"a": 5}', '{"a": 6}', '{"a": 7,', '{"a": 8}']
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return Case("ndjson_bad_line", path, refused=("bad_line.ndjson", ("line 7", "row 7")))


# Past the rows a preview samples (10,000): what the conversion alone sees.
LATE = 25_000


def ndjson_bad_line_late(d):
    path = d / "bad_line_late.ndjson"
    lines = [json.dumps({"a": i, "b": f"v{i}"}) for i in range(1, LATE)] + ['{"a": 1, "b": "unterminated}', '{"a": 2}']
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return Case("ndjson_bad_line_late", path, refused=("bad_line_late.ndjson", (f"line {LATE}", f"row {LATE}")))


def ndjson_not_object(d):
    path = d / "not_object.ndjson"
    path.write_text('{"a": 1}\n{"a": 2}\n[1, 2]\n{"a": 4}\n', encoding="utf-8")
    return Case("ndjson_not_object", path, refused=("not_object.ndjson", ("line 3", "row 3")))


def late_records():
    """Records whose key `late` first appears in record LATE, past the preview's sample."""
    return [{"a": i, "b": f"v{i}"} for i in range(1, LATE)] + [{"b": "w", "late": "2024-01-05", "a": LATE}, {"a": LATE + 1}]


def json_late_key_after_sample(d):
    """A key first seen past the sample: a column at the end, null in the rows before."""
    case = json_case("json_late_key_after_sample", write_json(d / "late_key_far.json", late_records(), "array"), fmt="json")
    case.head_has_all_columns = False
    return case


def ndjson_late_key_after_sample(d):
    case = json_case("ndjson_late_key_after_sample", write_json(d / "late_key_far.ndjson", late_records(), "lines"), fmt="ndjson")
    case.head_has_all_columns = False
    return case


def ndjson_late_key_strict(d):
    """The same with --strict, in NDJSON with a blank line first: refused, naming the line and the key."""
    path = write_json(d / "late_strict.ndjson", late_records(), "lines")
    path.write_text("\n" + path.read_text(encoding="utf-8"), encoding="utf-8")
    return Case("ndjson_late_key_strict", path, ("--strict",), refused=("late_strict.ndjson", (f"line {LATE + 1}", f"row {LATE + 1}"), "late"))


def json_late_key_strict(d):
    """And in a JSON array (rows numbered by position there): refused, naming the file and the key."""
    path = write_json(d / "late_strict.json", late_records(), "array")
    return Case("json_late_key_strict", path, ("--strict",), refused=("late_strict.json", "late"))


# ---------------------------------------------------------------------------------------------------------
# Compressed, bundled, tab-separated, Parquet.


def csv_rows(rng, n, start=0):
    return [[str(start + i), f"{rng.randint(0, 99999):05d}", f"{rng.randint(-10**6, 10**6) / 100}", (dt.date(2020, 1, 1) + dt.timedelta(days=rng.randint(0, 2000))).isoformat(), rng.choice(["Zoë", "a,b", 'say "hi"', "x"])] for i in range(n)]


def csv_text(header, rows, delimiter=",", line_ending="\n"):
    buffer = io.StringIO()
    csv.writer(buffer, delimiter=delimiter, lineterminator=line_ending).writerows([header, *rows])
    return buffer.getvalue()


HEADER = ["id", "code", "amount", "day", "who"]


def csv_gz(d):
    """Two gzip members, concatenated, the second starting in the middle of a record."""
    text = csv_text(HEADER, csv_rows(random.Random(5), 60_000)).encode()
    cut = len(text) // 2 + 3
    path = d / "export.csv.gz"
    path.write_bytes(gzip.compress(text[:cut]) + gzip.compress(text[cut:]))
    return Case("csv_gz", path, (), csv_table(gzip.decompress(path.read_bytes()).decode()), format="csv.gz")


def tsv(d):
    rows = csv_rows(random.Random(6), 50)
    path = d / "data.tsv"
    path.write_text(csv_text(HEADER, rows, "\t", "\r\n"), encoding="utf-8")
    return Case("tsv", path, (), csv_table(path.read_text(encoding="utf-8"), "\t"), format="tsv")


def zip_same_columns(d):
    """Two CSVs of the same columns, stored out of name order: the rows come in member name order."""
    rng = random.Random(8)
    members = {"2024-02.csv": csv_text(HEADER, csv_rows(rng, 40, 100)), "2024-01.csv": csv_text(HEADER, csv_rows(rng, 30, 0), line_ending="\r\n")}
    path = d / "monthly.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for name, text in members.items():
            z.writestr(name, text)
    with zipfile.ZipFile(path) as z:
        records = [list(csv.reader(io.StringIO(z.read(n).decode(), newline=""))) for n in sorted(z.namelist())]
    header, body = records[0][0], [r for member in records for r in member[1:]]
    assert all(member[0] == header for member in records)
    want = table_from_text_columns(column_names(header, len(header)), [list(c) for c in zip(*body)])
    return Case("zip_same_columns", path, (), want, format="zip")


def zip_mismatched(d):
    path = d / "bundle.zip"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("a.csv", "id,name\n1,x\n")
        z.writestr("b.csv", "id,name\n2,y\n")
        z.writestr("odd.csv", "id,label,extra\n3,z,1\n")
    return Case("zip_mismatched", path, refused=("bundle.zip", "odd.csv"))


def parquet(d):
    """int32, float32, timestamp[ms], dictionary-encoded strings and the plain types, nulls, several row
    groups."""
    rng = random.Random(9)
    n = 5000
    table = pa.table(
        {
            "i32": pa.array([None if i % 17 == 0 else rng.randint(-(2**31), 2**31 - 1) for i in range(n)], pa.int32()),
            "f32": pa.array([rng.uniform(-1e3, 1e3) for _ in range(n)], pa.float32()),
            "ts_ms": pa.array([dt.datetime(2020, 1, 1) + dt.timedelta(milliseconds=rng.randint(0, 10**11)) for _ in range(n)], pa.timestamp("ms")),
            "ts_utc": pa.array([dt.datetime(2020, 1, 1, tzinfo=UTC) + dt.timedelta(microseconds=rng.randint(0, 10**14)) for _ in range(n)], pa.timestamp("us", tz="UTC")),
            "city": pa.array([rng.choice(["Paris", "北京", None, "Zoë"]) for _ in range(n)]).dictionary_encode(),
            "i64": pa.array(range(n), pa.int64()),
            "ok": pa.array([rng.random() < 0.5 for _ in range(n)]),
            "day": pa.array([dt.date(2000, 1, 1) + dt.timedelta(days=i) for i in range(n)], pa.date32()),
            "s": pa.array([f"s{i}" for i in range(n)]),
        }
    )
    path = d / "sent.parquet"
    pq.write_table(table, path, row_group_size=700)
    return Case("parquet", path, (), parquet_table(path), format="parquet")


def parquet_refused(d, kind):
    if kind == "decimal":
        column = pa.array([None, decimal.Decimal("1.00"), decimal.Decimal("2.50")], pa.decimal128(10, 2))
    else:
        column = pa.array([[1, 2], None, []], pa.list_(pa.int64()))
    path = d / f"{kind}.parquet"
    pq.write_table(pa.table({"id": pa.array([1, 2, 3]), f"{kind}_col": column}), path)
    return Case(f"parquet_{kind}", path, refused=(path.name, f"{kind}_col"))


def parquet_decimal(d):
    return parquet_refused(d, "decimal")


def parquet_list(d):
    return parquet_refused(d, "list")


CONVERTED = [
    merged_header, dates_1900, dates_1904, early_dates_1900, codes_as_text, codes_no_header, mixed, booleans, booleans_xlsm,
    error_cells, trailing, formulas, sheets_default, sheet_by_unicode_name, sheet_by_index, hidden_sheet_by_name, hidden_first,
    hidden_first_by_index, all_text_header, all_text_no_header, all_text_forced_header, many_rows, overrides, ods,
    json_array, json_array_many, json_ndjson, json_jsonl, json_lines_in_json, json_deep, json_late_key, json_late_key_after_sample,
    ndjson_late_key_after_sample, json_mixed,
    ndjson_blank_lines, ndjson_many, csv_gz, tsv, zip_same_columns, parquet,
]  # fmt: skip
REFUSED = [
    empty_sheet_chosen, missing_sheet, bad_cell_top, bad_cell_below_empty_rows,
    ndjson_bad_line, ndjson_bad_line_late, ndjson_not_object, ndjson_late_key_strict, json_late_key_strict,
    zip_mismatched, parquet_decimal, parquet_list,
]  # fmt: skip


if __name__ == "__main__":
    out = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else "corpus")
    for make in CONVERTED + REFUSED:
        d = out / make.__name__
        d.mkdir(parents=True, exist_ok=True)
        case = make(d)
        print(f"{case.id}: {case.path} {' '.join(case.args)}")
        if case.want:
            print(f"  {list(zip(case.want.names, case.want.types))}, {len(case.want.rows)} rows, first {case.want.rows[:1]}")
        else:
            print(f"  refused: {case.refused}")
