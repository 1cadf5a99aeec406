"""The log as it is now: rows come back in table order (files in log order), and a log entry that was
rewritten or removed after the server read it is served as it is now, never from the server's cache."""

import json
import os
import time
import uuid

import delta_sharing
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import requests
from deltalake import write_deltalake

from conftest import BUCKET, GLOBAL_TOKEN, S3_ENV


def one_table(location):
    return (
        "version: 1\nshares:\n- name: s\n  schemas:\n  - name: d\n    tables:\n    - name: t\n"
        f"      location: {location}\n      historyShared: true\nauthorization:\n  bearerToken: {GLOBAL_TOKEN}\n"
    )


def ids(start, end):
    return pa.table({"id": pa.array(range(start, end), pa.int64())})


def data_file(table, name, start, end):
    """A parquet file of ids start..end-1 and its add action."""
    pq.write_table(ids(start, end), table / name)
    return {"add": {"path": name, "partitionValues": {}, "size": (table / name).stat().st_size, "modificationTime": int(time.time() * 1000), "dataChange": True}}


def write_commit(table, version, actions):
    with open(table / "_delta_log" / f"{version:020}.json", "w") as f:
        f.write("".join(json.dumps(a) + "\n" for a in actions))


def actions(table, version):
    return [json.loads(line) for line in (table / "_delta_log" / f"{version:020}.json").read_text().splitlines() if line]


def read_ids(url, **kwargs):
    return [int(v) for v in delta_sharing.load_as_pandas(url, **kwargs)["id"]]


@pytest.mark.parametrize("use_delta_format", [False, True], ids=["parquet", "delta"])
def test_rows_come_back_in_table_order(fresh_server, tmp_path, use_delta_format):
    table = tmp_path / "ordered"
    for start in (0, 30, 60):
        write_deltalake(str(table), ids(start, start + 30), mode="append")
    # One commit adding three files whose names sort (and hash) in another order than the log's.
    write_commit(table, 3, [data_file(table, name, start, start + 10) for name, start in [("part-c.parquet", 90), ("part-a.parquet", 100), ("part-b.parquet", 110)]])
    server = fresh_server(one_table(f"file://{table}"))
    url = server.profile() + "#s.d.t"
    assert read_ids(url, use_delta_format=use_delta_format) == list(range(120))

    # The first file removed, then added again: it now comes after every other file.
    first = next(a for a in actions(table, 0) if "add" in a)
    write_commit(table, 4, [{"remove": {"path": first["add"]["path"], "deletionTimestamp": int(time.time() * 1000), "dataChange": True}}])
    write_commit(table, 5, [first])
    assert read_ids(url, use_delta_format=use_delta_format) == list(range(30, 120)) + list(range(30))
    assert read_ids(url, use_delta_format=use_delta_format, version=4) == list(range(30, 120))
    assert read_ids(url, use_delta_format=use_delta_format, version=3) == list(range(120))


@pytest.mark.parametrize("where", ["local", "s3"])
def test_a_log_entry_rewritten_in_place_is_served_new_and_a_removed_one_is_not(fresh_server, tmp_path, request, where):
    if where == "local":
        table = tmp_path / "rewritten"
        location, args, env = f"file://{table}", (), None
    else:
        name = f"rewritten-{uuid.uuid4().hex}"
        table = request.getfixturevalue("s3_root") / BUCKET / name
        location = f"s3://{BUCKET}/{name}"
        args, env = ["--s3-endpoint", request.getfixturevalue("s3"), "--s3-path-style"], S3_ENV
    write_deltalake(str(table), ids(0, 10))
    write_deltalake(str(table), ids(10, 20), mode="append")
    server = fresh_server(one_table(location), args=args, env=env)
    url = server.profile() + "#s.d.t"
    assert read_ids(url) == list(range(20))
    assert delta_sharing.get_table_version(url) == 1

    # Version 1 written again with other content (a writer whose commit failed after the entry landed,
    # then committed something else as the same version): the server reads the entry as it is now.
    write_commit(table, 1, [data_file(table, "replacement.parquet", 100, 105)])
    assert read_ids(url) == list(range(10)) + list(range(100, 105))
    assert read_ids(url, use_delta_format=True) == list(range(10)) + list(range(100, 105))

    # Version 1 removed: it is not served any more, by any route.
    os.remove(table / "_delta_log" / f"{1:020}.json")
    assert delta_sharing.get_table_version(url) == 0
    assert read_ids(url) == list(range(10))
    with pytest.raises(requests.HTTPError, match="400"):
        delta_sharing.load_as_pandas(url, version=1)
