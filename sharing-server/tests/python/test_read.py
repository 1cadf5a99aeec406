"""Reading tables with the official client: every table, both response formats, limit, time travel, CDF."""

import datetime as dt
import os

import delta_sharing
import pytest
import requests

from support import KEYS, assert_same_table, rows, written

FORMATS = [None, True, False]
FORMAT_IDS = ["auto", "delta", "parquet"]


def url(server, table, share="demo", token=None):
    profile = server.profile() if token is None else server.profile(token, name="p" + token[:5])
    return f"{profile}#{share}.default.{table}"


def commit_time(tables_dir, table, version):
    path = tables_dir / table / "_delta_log" / f"{version:020}.json"
    return dt.datetime.fromtimestamp(os.stat(path).st_mtime, dt.timezone.utc)


@pytest.mark.parametrize("use_delta_format", FORMATS, ids=FORMAT_IDS)
@pytest.mark.parametrize("table", ["plain", "partitioned", "versions", "cdf", "checkpointed", "large", "column_mapping"])
def test_load_as_pandas_equals_what_was_written(server, tables_dir, table, use_delta_format):
    if table == "column_mapping" and use_delta_format is False:
        with pytest.raises(requests.HTTPError, match="column mapping"):
            delta_sharing.load_as_pandas(url(server, table), use_delta_format=False)
        return
    got = delta_sharing.load_as_pandas(url(server, table), use_delta_format=use_delta_format)
    assert_same_table(got, written(tables_dir, table), KEYS[table])


ALL_TABLES = ["plain", "partitioned", "versions", "cdf", "checkpointed", "large", "column_mapping"]


# Every table in every format, except column-mapped tables in the parquet format (refused, see above).
READABLE = [
    pytest.param(table, fmt, id=f"{table}-{fmt_id}")
    for table in ALL_TABLES
    for fmt, fmt_id in zip(FORMATS, FORMAT_IDS)
    if not (table == "column_mapping" and fmt is False)
]


@pytest.mark.parametrize("table,use_delta_format", READABLE)
def test_limit_returns_that_many_rows_of_the_table(server, tables_dir, table, use_delta_format):
    everything = written(tables_dir, table)
    all_rows = set(rows(everything, KEYS[table]))
    for limit in [1, 3, len(everything) + 1]:
        got = delta_sharing.load_as_pandas(url(server, table), limit=limit, use_delta_format=use_delta_format)
        assert len(got) == min(limit, len(everything))
        assert set(rows(got, KEYS[table], list(everything.columns))) <= all_rows


def test_limit_hint_skips_files(server):
    body = server.post("/shares/demo/schemas/default/tables/plain/query", {"limitHint": 10}).text.splitlines()
    assert len(body) == 2 + 1, "one 50-row file is enough for 10 rows"
    body = server.post("/shares/demo/schemas/default/tables/plain/query", {}).text.splitlines()
    assert len(body) == 2 + 2


def available_versions(tables_dir, table):
    log = tables_dir / table / "_delta_log"
    return sorted(int(p.name.split(".")[0]) for p in log.glob("*.json"))


@pytest.mark.parametrize("table,use_delta_format", READABLE)
def test_time_travel_by_version(server, tables_dir, table, use_delta_format):
    for version in available_versions(tables_dir, table):
        got = delta_sharing.load_as_pandas(url(server, table), version=version, use_delta_format=use_delta_format)
        assert_same_table(got, written(tables_dir, table, version), KEYS[table])


@pytest.mark.parametrize("use_delta_format", [True, False], ids=["delta", "parquet"])
@pytest.mark.parametrize("table", ["versions", "cdf"])
def test_time_travel_by_timestamp(server, tables_dir, table, use_delta_format):
    for version in available_versions(tables_dir, table):
        # Half a second after a commit (they are 1.1 s apart), the table is as that commit left it.
        moment = commit_time(tables_dir, table, version) + dt.timedelta(milliseconds=500)
        got = delta_sharing.load_as_pandas(
            url(server, table), timestamp=moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ"), use_delta_format=use_delta_format
        )
        assert_same_table(got, written(tables_dir, table, version), KEYS[table])


def test_timestamp_before_the_first_commit_is_refused(server, tables_dir):
    early = commit_time(tables_dir, "versions", 0) - dt.timedelta(days=1)
    with pytest.raises(requests.HTTPError, match="400"):
        delta_sharing.load_as_pandas(url(server, "versions"), timestamp=early.strftime("%Y-%m-%dT%H:%M:%SZ"))


def test_table_version_and_starting_timestamp(server, tables_dir):
    assert delta_sharing.get_table_version(url(server, "versions")) == 4
    for version in range(5):
        moment = commit_time(tables_dir, "versions", version) - dt.timedelta(milliseconds=300)
        assert delta_sharing.get_table_version(url(server, "versions"), starting_timestamp=moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")) == version


def cdf_expected(tables_dir, start, end=None):
    from deltalake import DeltaTable

    reader = DeltaTable(str(tables_dir / "cdf")).load_cdf(starting_version=start, ending_version=end)
    import pyarrow as pa

    frame = pa.table(reader).to_pandas()
    return sorted(rows(frame, ["_commit_version", "id", "_change_type"], ["id", "label", "_change_type", "_commit_version"]))


@pytest.mark.parametrize("use_delta_format", [True, False], ids=["delta", "parquet"])
@pytest.mark.parametrize("start,end", [(0, None), (2, 3), (1, 1)])
def test_change_data_feed(server, tables_dir, use_delta_format, start, end):
    got = delta_sharing.load_table_changes_as_pandas(url(server, "cdf"), starting_version=start, ending_version=end, use_delta_format=use_delta_format)
    assert sorted(rows(got, ["_commit_version", "id", "_change_type"], ["id", "label", "_change_type", "_commit_version"])) == cdf_expected(tables_dir, start, end)
    change_types = set(got["_change_type"])
    if start == 0:
        assert change_types == {"insert", "update_preimage", "update_postimage", "delete"}


def test_change_data_feed_by_timestamp(server, tables_dir):
    start = commit_time(tables_dir, "cdf", 2) - dt.timedelta(milliseconds=300)
    got = delta_sharing.load_table_changes_as_pandas(url(server, "cdf"), starting_timestamp=start.strftime("%Y-%m-%dT%H:%M:%S.%fZ"))
    assert set(got["_commit_version"]) == {2, 3}


def test_history_must_be_shared_for_time_travel_and_changes(server):
    with pytest.raises(requests.HTTPError, match="history is not shared"):
        delta_sharing.load_as_pandas(f"{server.profile()}#nohistory.default.plain", version=0)
    with pytest.raises(requests.HTTPError, match="history is not shared"):
        delta_sharing.load_table_changes_as_pandas(f"{server.profile()}#nohistory.default.plain", starting_version=0)


def test_changes_of_a_table_without_cdf_are_refused(server):
    with pytest.raises(requests.HTTPError, match="change data feed is not enabled"):
        delta_sharing.load_table_changes_as_pandas(url(server, "versions"), starting_version=0)


def test_checkpointed_table_reads_from_its_checkpoint(server, tables_dir):
    # Commits 0-9 were deleted: versions 10 and later come from the checkpoint, earlier ones are gone.
    for version in [10, 11, 13]:
        got = delta_sharing.load_as_pandas(url(server, "checkpointed"), version=version)
        assert_same_table(got, written(tables_dir, "checkpointed", version), ["id"])
    with pytest.raises(requests.HTTPError, match="no longer in its log"):
        delta_sharing.load_as_pandas(url(server, "checkpointed"), version=3)


def partition_values(lines):
    import json

    return [json.loads(line)["file"]["partitionValues"] for line in lines[2:]]


def test_json_predicate_hints_skip_partitions(server, tables_dir):
    hint = '{"op":"equal","children":[{"op":"column","name":"country","valueType":"string"},{"op":"literal","value":"FR","valueType":"string"}]}'
    lines = server.post("/shares/demo/schemas/default/tables/partitioned/query", {"jsonPredicateHints": hint}).text.splitlines()
    assert {p["country"] for p in partition_values(lines)} == {"FR"}
    got = delta_sharing.load_as_pandas(url(server, "partitioned"), jsonPredicateHints=hint)
    everything = written(tables_dir, "partitioned")
    assert_same_table(got, everything[everything["country"] == "FR"], ["id"])

    year = '{"op":"and","children":[{"op":"isNull","children":[{"op":"column","name":"country","valueType":"string"}]},{"op":"greaterThan","children":[{"op":"column","name":"year","valueType":"int"},{"op":"literal","value":"2020","valueType":"int"}]}]}'
    lines = server.post("/shares/demo/schemas/default/tables/partitioned/query", {"jsonPredicateHints": year}).text.splitlines()
    assert partition_values(lines) and all(p["country"] is None and int(p["year"]) > 2020 for p in partition_values(lines))


def test_json_predicate_hints_skip_files_by_statistics(server, tables_dir):
    hint = '{"op":"greaterThan","children":[{"op":"column","name":"id","valueType":"long"},{"op":"literal","value":"60","valueType":"long"}]}'
    got = delta_sharing.load_as_pandas(url(server, "plain"), jsonPredicateHints=hint)
    assert sorted(got["id"]) == list(range(50, 100)), "only the file holding ids 50-99 is returned"
    # A hint the server cannot use returns every file: never a wrong answer.
    for unusable in ['{"op":"like"}', "not json", '{"op":"equal","children":[{"op":"column","name":"nope","valueType":"int"},{"op":"literal","value":"1","valueType":"int"}]}']:
        assert len(delta_sharing.load_as_pandas(url(server, "plain"), jsonPredicateHints=unusable)) == 100


def test_large_files_are_read_with_range_requests(server, tables_dir):
    lines = server.post("/shares/demo/schemas/default/tables/large/query", {}).text.splitlines()
    import json

    file = json.loads(lines[2])["file"]
    assert file["size"] > 5 * 1024 * 1024
    if "X-Amz-Credential" not in file["url"]:
        # Local files answer HEAD; presigned S3 URLs are signed for GET only.
        head = requests.head(file["url"], timeout=30)
        assert head.status_code == 200 and int(head.headers["Content-Length"]) == file["size"]
    part = requests.get(file["url"], headers={"Range": "bytes=4-11"}, timeout=30)
    assert part.status_code == 206 and len(part.content) == 8
    assert part.headers["Content-Range"] == f"bytes 4-11/{file['size']}"
    tail = requests.get(file["url"], headers={"Range": "bytes=-8"}, timeout=30)
    assert tail.status_code == 206 and tail.content.endswith(b"PAR1")
