#!/usr/bin/env python3
"""Generates the Delta tables the sharing-server tests read (never downloaded, always made here).

Usage: make_tables.py OUT_DIR

Tables, each a directory under OUT_DIR:
  plain           mixed types (ints, floats, unicode strings, booleans, dates, UTC timestamps, ZIP codes,
                  nulls) in two files, so statistics can skip one
  partitioned     partitioned by country (with a null partition) and year
  versions        five versions: create, append, update, delete, append; one second apart
  cdf             change data feed on: create, append, update, delete (writes _change_data files)
  column_mapping  column mapping mode 'name', logical names with spaces (log written by hand)
  checkpointed    14 versions with a checkpoint at 10, commits before it removed
  large           one data file larger than 5 MiB (uncompressed), to exercise HTTP Range reads
Writes OUT_DIR/.complete when done, so callers can skip regeneration.
"""

import datetime as dt
import json
import os
import random
import shutil
import sys
import time
import uuid

import pyarrow as pa
import pyarrow.parquet as pq
from deltalake import DeltaTable, WriterProperties, write_deltalake

UTC = dt.timezone.utc


def mixed_rows(start, count):
    names = ["Zoë", "O'Brien, Jr.", "", None, "line\nbreak", "日本語", "tab\there", 'quote "q"']
    return pa.table(
        {
            "id": pa.array(range(start, start + count), pa.int64()),
            "name": pa.array([names[i % len(names)] for i in range(start, start + count)], pa.string()),
            "score": pa.array([None if i % 7 == 3 else i * 1.5 for i in range(start, start + count)], pa.float64()),
            "active": pa.array([None if i % 11 == 5 else i % 2 == 0 for i in range(start, start + count)], pa.bool_()),
            "day": pa.array([dt.date(2024, 1, 1) + dt.timedelta(days=i) for i in range(start, start + count)], pa.date32()),
            "ts": pa.array(
                [dt.datetime(2024, 1, 1, 12, 0, tzinfo=UTC) + dt.timedelta(minutes=i * 7, microseconds=i) for i in range(start, start + count)],
                pa.timestamp("us", tz="UTC"),
            ),
            "zip": pa.array([f"{(i * 7919) % 100000:05d}" for i in range(start, start + count)], pa.string()),
        }
    )


def plain(path):
    write_deltalake(path, mixed_rows(0, 50))
    write_deltalake(path, mixed_rows(50, 50), mode="append")


def partitioned(path):
    countries = ["FR", "DE", "US", None]
    rows = 60
    table = pa.table(
        {
            "id": pa.array(range(rows), pa.int64()),
            "country": pa.array([countries[i % 4] for i in range(rows)], pa.string()),
            "year": pa.array([2020 + i % 3 for i in range(rows)], pa.int32()),
            "amount": pa.array([i * 10.25 for i in range(rows)], pa.float64()),
        }
    )
    write_deltalake(path, table, partition_by=["country", "year"])


def versions(path):
    def rows(start, count):
        return pa.table({"id": pa.array(range(start, start + count), pa.int64()), "value": pa.array([f"v{i}" for i in range(start, start + count)])})

    write_deltalake(path, rows(0, 10))
    time.sleep(1.1)
    write_deltalake(path, rows(10, 5), mode="append")
    time.sleep(1.1)
    DeltaTable(path).update(updates={"value": "'updated'"}, predicate="id < 3")
    time.sleep(1.1)
    DeltaTable(path).delete("id >= 12")
    time.sleep(1.1)
    write_deltalake(path, rows(100, 3), mode="append")


def cdf(path):
    table = pa.table({"id": pa.array([1, 2, 3, 4], pa.int64()), "label": pa.array(["a", "b", "c", "d"])})
    write_deltalake(path, table, configuration={"delta.enableChangeDataFeed": "true"})
    time.sleep(1.1)
    write_deltalake(path, pa.table({"id": pa.array([5, 6], pa.int64()), "label": pa.array(["e", "f"])}), mode="append")
    time.sleep(1.1)
    DeltaTable(path).update(updates={"label": "'B'"}, predicate="id = 2")
    time.sleep(1.1)
    DeltaTable(path).delete("id = 3")


# The column-mapping table's rows by logical name (the python deltalake reader cannot read this table, so
# tests compare against these values directly).
COLUMN_MAPPING_DATA = {
    "user id": [1, 2, 3, 4],
    "amount (EUR)": [10.5, None, 3.25, 7.0],
    "city": ["Paris", "Zürich", None, "Oslo"],
}


def column_mapping(path):
    """A table whose data files use physical column names, as column mapping mode 'name' writes them."""
    os.makedirs(os.path.join(path, "_delta_log"))
    fields = [("user id", "long", pa.int64()), ("amount (EUR)", "double", pa.float64()), ("city", "string", pa.string())]
    physical = {name: f"col-{uuid.UUID(int=i + 1)}" for i, (name, _, _) in enumerate(fields)}
    data = COLUMN_MAPPING_DATA
    # Physical names and field ids, as a column-mapping writer stores them.
    arrow_schema = pa.schema([pa.field(physical[name], arrow, metadata={"PARQUET:field_id": str(i + 1)}) for i, (name, _, arrow) in enumerate(fields)])
    arrays = [pa.array(data[name], arrow) for name, _, arrow in fields]
    file_name = "part-00000-cm.snappy.parquet"
    pq.write_table(pa.Table.from_arrays(arrays, schema=arrow_schema), os.path.join(path, file_name))
    schema = {
        "type": "struct",
        "fields": [
            {
                "name": name,
                "type": delta_type,
                "nullable": True,
                "metadata": {"delta.columnMapping.id": i + 1, "delta.columnMapping.physicalName": physical[name]},
            }
            for i, (name, delta_type, _) in enumerate(fields)
        ],
    }
    stats = {
        "numRecords": 4,
        "minValues": {physical["user id"]: 1, physical["amount (EUR)"]: 3.25, physical["city"]: "Oslo"},
        "maxValues": {physical["user id"]: 4, physical["amount (EUR)"]: 10.5, physical["city"]: "Zürich"},
        "nullCount": {physical["user id"]: 0, physical["amount (EUR)"]: 1, physical["city"]: 1},
    }
    now = int(time.time() * 1000)
    actions = [
        {"commitInfo": {"timestamp": now, "operation": "WRITE"}},
        {"protocol": {"minReaderVersion": 2, "minWriterVersion": 5}},
        {
            "metaData": {
                "id": str(uuid.uuid4()),
                "format": {"provider": "parquet", "options": {}},
                "schemaString": json.dumps(schema),
                "partitionColumns": [],
                "configuration": {"delta.columnMapping.mode": "name", "delta.columnMapping.maxColumnId": str(len(fields))},
                "createdTime": now,
            }
        },
        {
            "add": {
                "path": file_name,
                "partitionValues": {},
                "size": os.path.getsize(os.path.join(path, file_name)),
                "modificationTime": now,
                "dataChange": True,
                "stats": json.dumps(stats),
            }
        },
    ]
    with open(os.path.join(path, "_delta_log", f"{0:020}.json"), "w") as f:
        f.write("\n".join(json.dumps(a) for a in actions) + "\n")


def checkpointed(path):
    for v in range(11):
        table = pa.table({"id": pa.array(range(v * 10, v * 10 + 10), pa.int64()), "batch": pa.array([v] * 10, pa.int32())})
        write_deltalake(path, table, mode="append")
    DeltaTable(path).create_checkpoint()
    DeltaTable(path).delete("batch = 0")
    for v in range(11, 13):
        table = pa.table({"id": pa.array(range(v * 10, v * 10 + 10), pa.int64()), "batch": pa.array([v] * 10, pa.int32())})
        write_deltalake(path, table, mode="append")
    log = os.path.join(path, "_delta_log")
    # Without the commits before the checkpoint, only a reader of the checkpoint sees the table.
    for name in os.listdir(log):
        if name.endswith(".json") and int(name.split(".")[0]) < 10:
            os.remove(os.path.join(log, name))
    assert any(n.endswith(".checkpoint.parquet") for n in os.listdir(log)), "no checkpoint written"


def large(path):
    rng = random.Random(42)
    rows = 120_000
    table = pa.table(
        {
            "id": pa.array(range(rows), pa.int64()),
            "payload": pa.array([rng.randbytes(24).hex() for _ in range(rows)], pa.string()),
            "x": pa.array([rng.random() for _ in range(rows)], pa.float64()),
        }
    )
    write_deltalake(path, table, writer_properties=WriterProperties(compression="UNCOMPRESSED"))
    files = [f for f in os.listdir(path) if f.endswith(".parquet")]
    assert max(os.path.getsize(os.path.join(path, f)) for f in files) > 5 * 1024 * 1024, "large file is not large"


TABLES = [plain, partitioned, versions, cdf, column_mapping, checkpointed, large]


def main():
    out = sys.argv[1]
    if os.path.exists(os.path.join(out, ".complete")):
        return
    shutil.rmtree(out, ignore_errors=True)
    os.makedirs(out)
    for make in TABLES:
        make(os.path.join(out, make.__name__))
    open(os.path.join(out, ".complete"), "w").close()


if __name__ == "__main__":
    main()
