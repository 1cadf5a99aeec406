"""jsonPredicateHints never lose a row: random predicates, checked against SQL semantics on the written rows."""

import datetime as dt
import json
import math
import random

import delta_sharing
import pytest

from support import written

COLUMNS = {
    "plain": {"id": "long", "score": "double", "name": "string", "active": "boolean", "day": "date", "ts": "timestamp", "zip": "string"},
    "partitioned": {"id": "long", "country": "string", "year": "int", "amount": "double"},
}
OPS = ["equal", "lessThan", "lessThanOrEqual", "greaterThan", "greaterThanOrEqual"]


def literal_text(value, value_type):
    if value_type == "timestamp":
        return value.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    if value_type == "date":
        return value.isoformat()
    if value_type == "boolean":
        return "true" if value else "false"
    return str(value)


def python_value(value):
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if hasattr(value, "to_pydatetime"):
        return value.to_pydatetime()
    if hasattr(value, "item"):
        return value.item()
    return value


def random_leaf(rng, frame, columns):
    column = rng.choice(list(columns))
    value_type = columns[column]
    values = [v for v in (python_value(x) for x in frame[column]) if v is not None]
    value = rng.choice(values)
    if value_type in ("long", "int") and rng.random() < 0.3:
        value += rng.choice([-1, 1])
    col = {"op": "column", "name": column, "valueType": value_type}
    if rng.random() < 0.15:
        return {"op": "isNull", "children": [col]}
    lit = {"op": "literal", "value": literal_text(value, value_type), "valueType": value_type}
    children = [col, lit] if rng.random() < 0.8 else [lit, col]
    return {"op": rng.choice(OPS if value_type != "boolean" else ["equal"]), "children": children}


def random_predicate(rng, frame, columns, depth=0):
    if depth >= 2 or rng.random() < 0.5:
        return random_leaf(rng, frame, columns)
    op = rng.choice(["and", "or", "not"])
    if op == "not":
        return {"op": "not", "children": [random_predicate(rng, frame, columns, depth + 1)]}
    return {"op": op, "children": [random_predicate(rng, frame, columns, depth + 1) for _ in range(rng.choice([2, 3]))]}


def evaluate(node, row, columns):
    """SQL three-valued logic: True, False or None (unknown)."""
    op = node["op"]
    if op == "column":
        return python_value(row[node["name"]])
    if op == "literal":
        text, value_type = node["value"], node["valueType"]
        return {
            "long": int, "int": int, "double": float, "string": str,
            "boolean": lambda t: t == "true",
            "date": dt.date.fromisoformat,
            "timestamp": lambda t: dt.datetime.strptime(t, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=dt.timezone.utc),
        }[value_type](text)
    kids = node["children"]
    if op == "isNull":
        return evaluate(kids[0], row, columns) is None
    if op == "not":
        v = evaluate(kids[0], row, columns)
        return None if v is None else not v
    if op in ("and", "or"):
        values = [evaluate(k, row, columns) for k in kids]
        if op == "and":
            return False if False in values else (None if None in values else True)
        return True if True in values else (None if None in values else False)
    left, right = (evaluate(k, row, columns) for k in kids)
    if left is None or right is None:
        return None
    return {"equal": left == right, "lessThan": left < right, "lessThanOrEqual": left <= right, "greaterThan": left > right, "greaterThanOrEqual": left >= right}[op]


@pytest.mark.parametrize("table", ["plain", "partitioned"])
def test_random_predicates_never_drop_a_matching_row(local_server, tables_dir, table):
    rng = random.Random(20261124)
    frame = written(tables_dir, table)
    columns = COLUMNS[table]
    profile = local_server.profile()
    skipped_something = False
    for _ in range(60):
        predicate = random_predicate(rng, frame, columns)
        expected = {row["id"] for _, row in frame.iterrows() if evaluate(predicate, row, columns) is True}
        got = delta_sharing.load_as_pandas(f"{profile}#demo.default.{table}", jsonPredicateHints=json.dumps(predicate))
        returned = set(got["id"])
        assert expected <= returned, f"rows {sorted(expected - returned)} lost by {json.dumps(predicate)}"
        skipped_something |= len(returned) < len(frame)
    assert skipped_something, "the hints never skipped a file"


def test_a_huge_predicate_is_ignored_and_returns_every_row(local_server, tables_dir):
    """A 1 MiB jsonPredicateHints (12,000 comparisons) is more than the 1,000 leaves a hint may hold: the
    server ignores it, as the protocol allows, and returns every row (the client does not filter again)."""
    frame = written(tables_dir, "plain")
    leaf = lambda i: {"op": "equal", "children": [
        {"op": "column", "name": "id", "valueType": "long"}, {"op": "literal", "value": str(-1 - i), "valueType": "long"}]}
    predicate = json.dumps({"op": "or", "children": [leaf(i) for i in range(12_000)]})
    assert len(predicate) > 1_000_000
    got = delta_sharing.load_as_pandas(f"{local_server.profile()}#demo.default.plain", jsonPredicateHints=predicate)
    assert sorted(got["id"]) == sorted(frame["id"])
