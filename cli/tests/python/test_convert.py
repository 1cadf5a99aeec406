"""CSV in, Delta out, read back with the independent `deltalake` reader: values and types must survive, and
the rows keep the file's order when the data files are read in the order of their add actions."""

import csv
import datetime as dt
import io
import json
import math
import random
import urllib.parse

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from deltalake import DeltaTable

DELTA_TYPES = {"int": "long", "float": "double", "bool": "boolean", "date": "date", "timestamp": "timestamp", "text": "string", "code": "string"}
WORDS = ["Zoë", "O'Brien, Jr.", 'say "hi"', "line\nbreak", "tab\there", "pipe|here", "semi;colon", "naïve café", "a", "日本"]


def random_value(rng, kind):
    if rng.random() < 0.1:
        return None
    if kind == "int":
        return rng.randint(-(10**12), 10**12)
    if kind == "float":
        return round(rng.uniform(-1e6, 1e6), rng.randint(1, 6))
    if kind == "bool":
        return rng.random() < 0.5
    if kind == "date":
        return dt.date(2000, 1, 1) + dt.timedelta(days=rng.randint(0, 20000))
    if kind == "timestamp":
        return dt.datetime(2000, 1, 1, tzinfo=dt.timezone.utc) + dt.timedelta(microseconds=rng.randint(0, 10**15))
    if kind == "code":
        return f"{rng.randint(0, 99999):05d}" if rng.random() < 0.5 else "0" + str(rng.randint(0, 9999))
    return rng.choice(WORDS) + (str(rng.randint(0, 9)) if rng.random() < 0.3 else "")


def text_of(value, kind):
    if value is None:
        return ""
    if kind == "bool":
        return "true" if value else "false"
    if kind == "timestamp":
        return value.isoformat()
    if kind == "float":
        return repr(value)
    return str(value)


def random_table(rng):
    kinds = [rng.choice(list(DELTA_TYPES)) for _ in range(rng.randint(1, 7))]
    rows = [[random_value(rng, k) for k in kinds] for _ in range(rng.randint(1, 300))]
    for i, kind in enumerate(kinds):
        # At least one value per column, so that the type can be seen.
        if all(r[i] is None for r in rows):
            rows[0][i] = random_value(random.Random(i), kind) or random_value(rng, kind)
    return kinds, rows


def normalized(value, kind):
    import pandas as pd

    if value is None or value is pd.NaT or (isinstance(value, float) and math.isnan(value)):
        return None
    if kind == "timestamp":
        return value.to_pydatetime().astimezone(dt.timezone.utc) if hasattr(value, "to_pydatetime") else value.astimezone(dt.timezone.utc)
    if kind == "date":
        return value if isinstance(value, dt.date) else value.date()
    if kind == "int":
        return int(value)
    if kind == "float":
        return float(value)
    if kind == "bool":
        return bool(value)
    return value


@pytest.mark.parametrize("seed", range(30))
def test_random_tables_in_random_dialects_survive(cli, tmp_path, seed):
    rng = random.Random(seed)
    kinds, rows = random_table(rng)
    delimiter = rng.choice([",", ";", "\t", "|"])
    line_ending = rng.choice(["\n", "\r\n"])
    quoting = rng.choice([csv.QUOTE_MINIMAL, csv.QUOTE_ALL])
    encodable = all(v is None or not isinstance(v, str) or v.isascii() or all(ord(c) < 256 for c in v) for r in rows for v in r)
    encoding = rng.choice(["utf-8", "utf-8-sig", "utf-16"] + (["cp1252"] if encodable else []))
    header = [f"col {i} {k}" for i, k in enumerate(kinds)]
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=delimiter, lineterminator=line_ending, quoting=quoting)
    writer.writerow(header)
    for row in rows:
        writer.writerow([text_of(v, k) for v, k in zip(row, kinds)])
    path = tmp_path / "data.csv"
    path.write_bytes(buffer.getvalue().encode(encoding))
    extra = ["--encoding", "windows-1252"] if encoding == "cp1252" else []
    result = cli.convert(path, tmp_path / "table", *extra)
    assert result["rows"] == len(rows)

    table = DeltaTable(str(tmp_path / "table"))
    names = [f.name for f in table.schema().fields]
    assert names == [f"col_{i}_{k}" for i, k in enumerate(kinds)], "documented name mapping"
    types = [str(f.type).split('"')[1] if '"' in str(f.type) else str(f.type) for f in table.schema().fields]
    assert types == [DELTA_TYPES[k] for k in kinds], f"dialect {delimiter!r} {encoding} {quoting}"
    frame = table.to_pandas()
    got = sorted((tuple(normalized(v, k) for v, k in zip(r, kinds)) for r in frame.itertuples(index=False, name=None)), key=repr)
    want = sorted((tuple(normalized(v, k) for v, k in zip(r, kinds)) for r in rows), key=repr)
    assert got == want


def test_zip_codes_and_awkward_exports(cli, tmp_path):
    path = tmp_path / "export.csv"
    path.write_bytes("Code postal;Montant;Jour\r\n01000;12,50;31/01/2024\r\n75001;7;01/02/2024\r\n".encode("cp1252"))
    result = cli.convert(path, tmp_path / "t")
    assert [(c["name"], c["type"]) for c in result["schema"]] == [("Code_postal", "string"), ("Montant", "float64"), ("Jour", "date")]
    assert result["schema"][1]["decimal_comma"] is True
    frame = DeltaTable(str(tmp_path / "t")).to_pandas()
    assert sorted(frame["Code_postal"]) == ["01000", "75001"]
    assert sorted(frame["Montant"]) == [7.0, 12.5]
    assert sorted(frame["Jour"]) == [dt.date(2024, 1, 31), dt.date(2024, 2, 1)]


def test_cli_errors_are_one_line_with_distinct_exit_codes(cli, tmp_path):
    ragged = tmp_path / "ragged.csv"
    ragged.write_text("a,b\n1,2\n3\n")
    result = cli.run("convert", ragged, "--out", tmp_path / "t", check=False)
    assert result.returncode == 3
    assert result.stderr.strip().count("\n") == 0 and "row 3" in result.stderr
    assert not (tmp_path / "t").exists()
    usage = cli.run("convert", ragged, "--out", tmp_path / "t", "--mode", "sideways", check=False)
    assert usage.returncode == 2


def files_in_log_order(table_dir):
    """The table's live data files in the order of their add actions: commits ascending, adds in order."""
    log = table_dir / "_delta_log"
    live = []
    for commit in sorted(log.glob("*.json")):
        for line in commit.read_text().splitlines():
            action = json.loads(line)
            for kind in ("add", "remove"):
                if kind in action:
                    path = urllib.parse.unquote(action[kind]["path"])
                    live = [p for p in live if p != path] + ([path] if kind == "add" else [])
    return live


def rows_in_log_order(table_dir, kinds):
    files = files_in_log_order(table_dir)
    listed = pa.table(DeltaTable(str(table_dir)).get_add_actions(flatten=True))["path"].to_pylist()
    assert sorted(files) == sorted(urllib.parse.unquote(p) for p in listed), "the log replay agrees with deltalake"
    frame = pa.concat_tables([pq.read_table(table_dir / f) for f in files]).to_pandas()
    return [tuple(normalized(v, k) for v, k in zip(r, kinds)) for r in frame.itertuples(index=False, name=None)]


# Seeds 0 to 23 are small (one chunk; the last line alone when it has no line break); 24 and 25 are about
# 10 MB, three chunks of the reader's 4 MiB blocks, and 25 ends with a value that widens its column.
@pytest.mark.parametrize("seed", range(26))
def test_rows_keep_the_files_order(cli, tmp_path, seed):
    rng = random.Random(1000 + seed)
    kinds, rows = random_table(rng)
    if seed >= 24:
        kinds = ["int", "text", "float", "date", "code"]
        rows = [[random_value(rng, k) for k in kinds] for _ in range(180_000)]
        rows[0] = [1, "first", 1.5, dt.date(2020, 1, 1), "00001"]
    line_ending = ["\n", "\r\n", "\r"][seed % 3]
    final_break = seed % 2 == 0
    quoting = rng.choice([csv.QUOTE_MINIMAL, csv.QUOTE_ALL])
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator=line_ending, quoting=quoting)
    writer.writerow([f"c{i}" for i in range(len(kinds))])
    for row in rows:
        writer.writerow([text_of(v, k) for v, k in zip(row, kinds)])
    text = buffer.getvalue()
    if seed == 25:
        # A late value that is not a whole number: the column is widened and the file read again.
        rows.append([2.5, "last", 0.5, dt.date(2020, 1, 2), "00002"])
        text += "2.5,last,0.5,2020-01-02,00002" + line_ending
        kinds = ["float"] + kinds[1:]
    if not final_break:
        text = text[: -len(line_ending)]
    path = tmp_path / "ordered.csv"
    path.write_bytes(text.encode())
    result = cli.convert(path, tmp_path / "table")
    assert result["rows"] == len(rows)
    assert bool(result["widened"]) == (seed == 25)
    got = rows_in_log_order(tmp_path / "table", kinds)
    want = [tuple(normalized(v, k) for v, k in zip(r, kinds)) for r in rows]
    first_difference = next((i for i, (a, b) in enumerate(zip(got, want)) if a != b), None)
    assert len(got) == len(want) and first_difference is None, (
        f"{line_ending!r}, final line break {final_break}, {len(rows)} rows in {result['files']} files: "
        f"first difference at row {first_difference}"
    )
