"""Comparing what the official client returns with what was written (read back by `deltalake`)."""

import datetime as dt
import math

import pathlib
import sys

import pandas as pd
from deltalake import DeltaTable

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[3] / "scripts"))
from make_tables import COLUMN_MAPPING_DATA  # noqa: E402

KEYS = {"plain": ["id"], "partitioned": ["id"], "versions": ["id"], "cdf": ["id"], "column_mapping": ["user id"], "checkpointed": ["id"], "large": ["id"]}


def written(tables_dir, table, version=None):
    """The table as the writer sees it, read directly from disk with deltalake."""
    if table == "column_mapping":
        return pd.DataFrame(COLUMN_MAPPING_DATA).astype({"user id": "int64", "amount (EUR)": "float64", "city": "object"})
    return DeltaTable(str(tables_dir / table), version=version).to_pandas()


def cell(value):
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NaT:
        return None
    if isinstance(value, pd.Timestamp):
        return value.tz_convert("UTC").isoformat() if value.tzinfo else value.isoformat()
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    if hasattr(value, "item"):
        return value.item()
    return value


def rows(frame, keys, columns=None):
    columns = columns or list(frame.columns)
    ordered = frame.sort_values(keys, kind="stable").reset_index(drop=True)
    return [tuple(cell(v) for v in record) for record in ordered[columns].itertuples(index=False, name=None)]


def assert_same_table(got, expected, keys, check_dtypes=True):
    assert list(got.columns) == list(expected.columns)
    if check_dtypes:
        assert dict(got.dtypes.astype(str)) == dict(expected.dtypes.astype(str))
    assert len(got) == len(expected)
    assert rows(got, keys) == rows(expected, keys, list(got.columns))
