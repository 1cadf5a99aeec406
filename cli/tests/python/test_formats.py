"""Beyond CSV: workbooks, JSON and NDJSON, gzip, zip, TSV and Parquet from the generated corpus (`corpus.py`)
converted by the CLI and read back with the independent `deltalake` reader and pyarrow, in the order of the
add actions: names, types and every value must equal what `openpyxl`, the `json` module, `csv` or pyarrow
read from the file. The bad ones are refused with one line naming the file and the sheet, line, row, column
or member, leaving nothing at `--out`."""

import datetime as dt
import json
import re
import urllib.parse

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from deltalake import DeltaTable

import corpus
from test_convert import files_in_log_order

UTC = dt.timezone.utc
READ_FLAGS = {"--sheet": 1, "--header": 0, "--no-header": 0, "--type": 1, "--rename": 1}


def make(case_function, tmp_path):
    directory = tmp_path / "in"
    directory.mkdir(exist_ok=True)
    return case_function(directory)


def read_flags(args):
    """The arguments a preview takes too (not --strict)."""
    out, i = [], 0
    while i < len(args):
        if args[i] in READ_FLAGS:
            out += args[i : i + 1 + READ_FLAGS[args[i]]]
        i += 1 + READ_FLAGS.get(args[i], 0)
    return out


def delta_type(field):
    text = str(field.type)
    return text.split('"')[1] if '"' in text else text


def normalized(value):
    if isinstance(value, dt.datetime):
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    return value


def rows_in_log_order(table_dir):
    """The table's rows, its data files read in the order of their add actions (as test_convert.py does)."""
    files = files_in_log_order(table_dir)
    listed = pa.table(DeltaTable(str(table_dir)).get_add_actions(flatten=True))["path"].to_pylist()
    assert sorted(files) == sorted(urllib.parse.unquote(p) for p in listed), "the log replay agrees with deltalake"
    data = pa.concat_tables([pq.read_table(table_dir / f) for f in files])
    return [tuple(normalized(v) for v in r.values()) for r in data.to_pylist()]


def first_difference(got, want, names):
    for i, (g, w) in enumerate(zip(got, want)):
        if g != w:
            columns = [f"{n}: got {a!r}, want {b!r}" for n, a, b in zip(names, g, w) if a != b]
            return f"row {i + 1} (of {len(want)}): " + "; ".join(columns)
    if len(got) != len(want):
        return f"{len(got)} rows, want {len(want)}"
    return None


def check_table(table_dir, want):
    table = DeltaTable(str(table_dir))
    fields = table.schema().fields
    assert [f.name for f in fields] == want.names
    assert [delta_type(f) for f in fields] == [corpus.DELTA_TYPES[t] for t in want.types]
    got = rows_in_log_order(table_dir)
    difference = first_difference(got, want.rows, want.names)
    assert difference is None, difference
    # And deltalake's own reader agrees, whatever its order.
    by_deltalake = [tuple(normalized(v) for v in r.values()) for r in table.to_pyarrow_table().to_pylist()]
    assert sorted(by_deltalake, key=repr) == sorted(want.rows, key=repr)


@pytest.mark.parametrize("case_function", corpus.CONVERTED, ids=lambda f: f.__name__)
def test_converted_table_equals_what_the_reference_readers_read(cli, tmp_path, case_function):
    case = make(case_function, tmp_path)
    want = case.want
    result = cli.convert(case.path, tmp_path / "table", *case.args)
    assert [c["name"] for c in result["schema"]] == want.names, case.path.name
    assert [c["type"] for c in result["schema"]] == want.types, case.path.name
    assert result["rows"] == len(want.rows)
    assert result.get("error_cells", 0) == want.error_cells
    if want.error_cells:
        assert result["warnings"], "error cells come with a warning"
    check_table(tmp_path / "table", want)


@pytest.mark.parametrize("case_function", corpus.CONVERTED, ids=lambda f: f.__name__)
def test_preview_shows_the_names_types_and_sheets_the_table_gets(cli, tmp_path, case_function):
    case = make(case_function, tmp_path)
    want = case.want
    # A key first seen past the head is not in a preview: its column is the table's last.
    width = len(want.names) if case.head_has_all_columns else len(want.names) - 1
    preview = json.loads(cli.run("preview", case.path, "--json", *read_flags(case.args)).stdout)
    if case.format:
        assert preview.get("format") == case.format
    assert [c["name"] for c in preview["columns"]] == want.names[:width]
    assert [c["type"] for c in preview["columns"]] == want.types[:width]
    if case.sheets is not None:
        assert [(s["name"], s["hidden"]) for s in preview["sheets"]] == case.sheets
        assert preview["sheet"] == case.sheet
    if case.format == "zip":
        # A zip's preview may show its first member's rows only.
        assert 0 < len(preview["rows"]) <= min(len(want.rows), 100)
    else:
        assert len(preview["rows"]) == min(len(want.rows), 100)
    # Text is shown as it will be stored.
    for i, kind in enumerate(want.types[:width]):
        if kind == "string":
            assert [r[i] for r in preview["rows"]] == [r[i] for r in want.rows[: len(preview["rows"])]], want.names[i]


@pytest.mark.parametrize("case_function", corpus.REFUSED, ids=lambda f: f.__name__)
def test_bad_inputs_are_refused_naming_where(cli, tmp_path, case_function):
    case = make(case_function, tmp_path)
    out = tmp_path / "table"
    result = cli.run("convert", case.path, "--out", out, "--json", *case.args, check=False)
    message = result.stderr.strip()
    assert result.returncode == 3, f"exit {result.returncode}: {message}"
    assert message.startswith("delta-bridge: ") and "\n" not in message, message
    for fragment in case.refused:
        alternatives = fragment if isinstance(fragment, tuple) else (fragment,)
        # As a whole word: "row 7" is not "row 70".
        found = any(re.search(rf"(?<!\w){re.escape(a.lower())}(?!\w)", message.lower()) for a in alternatives)
        assert found, f"{' or '.join(alternatives)} not in: {message}"
    assert not out.exists(), "nothing is left at --out"


def test_both_date_systems_give_the_same_table(cli, tmp_path):
    """The same dates written in the 1900 and the 1904 system (different serial numbers) read alike."""
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    cases = [corpus.dates_1900(tmp_path / "a"), corpus.dates_1904(tmp_path / "b")]
    tables = []
    for case, name in zip(cases, ["t1900", "t1904"]):
        cli.convert(case.path, tmp_path / name)
        tables.append(rows_in_log_order(tmp_path / name))
    assert tables[0] == tables[1]
    assert tables[0][0][:2] == (dt.date(2024, 1, 5), dt.datetime(2024, 1, 5, 10, 30, tzinfo=UTC))


def test_json_layouts_give_one_table(cli, tmp_path):
    """An array, NDJSON in .ndjson, .jsonl and .json: the same records, the same table."""
    tables = []
    for i, case_function in enumerate([corpus.json_array, corpus.json_ndjson, corpus.json_jsonl, corpus.json_lines_in_json]):
        case = make(case_function, tmp_path)
        cli.convert(case.path, tmp_path / f"t{i}")
        tables.append(rows_in_log_order(tmp_path / f"t{i}"))
    assert all(t == tables[0] for t in tables)


def test_late_key_without_strict_is_a_column_at_the_end(cli, tmp_path):
    case = make(corpus.json_late_key, tmp_path)
    result = cli.convert(case.path, tmp_path / "t")
    assert [c["name"] for c in result["schema"]][-1] == "late"


def test_error_cells_are_counted_with_a_warning(cli, tmp_path):
    case = make(corpus.error_cells, tmp_path)
    result = cli.convert(case.path, tmp_path / "t")
    assert result["error_cells"] == 3 == case.want.error_cells
    assert result["warnings"]
