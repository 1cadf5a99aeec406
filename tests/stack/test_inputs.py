"""Files beyond CSV through the whole stack (issue 17): an Excel workbook (a chosen sheet) and an NDJSON file
uploaded by the CLI, shared, and read by the official client exactly as openpyxl and the json module read them."""

import datetime
import gzip
import json
import uuid

import openpyxl
import pandas as pd
import pytest

from test_backend import run_snippet
from test_uploader import PASSWORD, Cli, keyring_available

pytestmark = pytest.mark.skipif(not keyring_available(), reason="needs a Secret Service session (scripts/test.sh starts one)")


def signed_in(stack, tmp_path):
    cli = Cli(stack, tmp_path / "cli")
    cli.json("login", "--email", f"{uuid.uuid4().hex[:10]}@example.com", "--sign-up", stdin=PASSWORD + "\n")
    return cli


def shared_frame(cli, tmp_path, path, *args):
    uploaded = cli.json("upload", path, "--share", *args)
    df, error = run_snippet(uploaded["snippet"], tmp_path / f"notebook-{uuid.uuid4().hex[:6]}")
    assert df is not None, error[-2000:]
    return uploaded, df.reset_index(drop=True)


def test_a_workbook_sheet_reaches_the_notebook_as_excel_shows_it(stack, tmp_path):
    cli = signed_in(stack, tmp_path)
    book = openpyxl.Workbook()
    notes = book.active
    notes.title = "Notes"
    notes["A1"] = "read me"
    sales = book.create_sheet("Ventes 2024 €")
    sales.append(["Code", "Day", "Amount", "Paid", "When"])
    rows = [
        ("00123", datetime.date(2024, 1, 5), 12.5, True, datetime.datetime(2024, 1, 5, 10, 30)),
        ("4567", datetime.date(2024, 2, 29), 3, False, datetime.datetime(2024, 2, 29, 23, 59, 59)),
        ("0009", datetime.date(1999, 12, 31), -1.25, True, datetime.datetime(1999, 12, 31, 0, 0, 1)),
    ]
    for row in rows:
        sales.append(list(row))
    for cell in sales["B"][1:]:
        cell.number_format = "yyyy-mm-dd"
    path = tmp_path / "sales.xlsx"
    book.save(path)

    uploaded, df = shared_frame(cli, tmp_path, path, "--sheet", "Ventes 2024 €", "--name", "ventes")
    assert uploaded["dataset"]["rows"] == 3
    assert list(df.columns) == ["Code", "Day", "Amount", "Paid", "When"]
    # Codes stored as text keep their zeros; dates, numbers, booleans and times keep their types.
    assert list(df["Code"]) == [r[0] for r in rows]
    assert [pd.Timestamp(d).date() for d in df["Day"]] == [r[1] for r in rows]
    assert list(df["Amount"]) == [float(r[2]) for r in rows]
    assert list(df["Paid"]) == [r[3] for r in rows]
    assert [pd.Timestamp(t).tz_localize(None).to_pydatetime() if pd.Timestamp(t).tzinfo else pd.Timestamp(t).to_pydatetime()
            for t in df["When"]] == [r[4] for r in rows]


def test_ndjson_and_gzip_reach_the_notebook_flattened_and_in_order(stack, tmp_path):
    cli = signed_in(stack, tmp_path)
    records = [
        {"id": i, "user": {"name": f"n{i}", "geo": {"city": "Lyon" if i % 2 else "Oslo"}}, "tags": [i, "x"], "code": f"{i:04d}"}
        for i in range(2000)
    ]
    path = tmp_path / "events.ndjson"
    path.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in records) + "\n", encoding="utf-8")
    _, df = shared_frame(cli, tmp_path, path, "--name", "events")
    assert list(df.columns) == ["id", "user_name", "user_geo_city", "tags", "code"]
    assert list(df["id"]) == [r["id"] for r in records]
    assert list(df["user_name"]) == [r["user"]["name"] for r in records]
    assert list(df["user_geo_city"]) == [r["user"]["geo"]["city"] for r in records]
    assert list(df["tags"]) == [json.dumps(r["tags"], separators=(",", ":")) for r in records]
    assert list(df["code"]) == [r["code"] for r in records]

    csv = "id,name\n" + "".join(f"{i},n{i}\n" for i in range(5000))
    gz = tmp_path / "names.csv.gz"
    gz.write_bytes(gzip.compress(csv[:20000].encode()) + gzip.compress(csv[20000:].encode()))
    uploaded, df = shared_frame(cli, tmp_path, gz)
    assert uploaded["dataset"]["name"] == "names"
    assert list(df["id"]) == list(range(5000)) and list(df["name"]) == [f"n{i}" for i in range(5000)]
