"""presign, upload with plain HTTP, process, share: the official client reads exactly the uploaded rows;
unshare: it is refused. With datasets on local disk and on S3, users signed in with the Firebase Auth
emulator."""

import pickle
import subprocess
import sys
import uuid

import deltalake
import pandas as pd
import pytest
import requests

from conftest import Stack, convert, wait_for

AWKWARD = (
    "ZIP code,City,amount (€),day,active,note\n"
    "01234,Zürich,12.5,2024-01-31,true,\"quoted, with a comma\"\n"
    "98765,São Paulo,,2024-02-29,false,\n"
    "00501,\"New York\",-3,2023-12-01,true,\"a \"\"quote\"\" inside\"\n"
    "10001,東京,4.25,2024-03-15,,日本語\n"
)


def user(emulator):
    return emulator.sign_up(f"{uuid.uuid4().hex[:12]}@example.com")


def run_snippet(snippet, directory):
    """Runs the snippet's Python as a notebook user would and answers its DataFrame (or the failure)."""
    directory.mkdir(parents=True, exist_ok=True)
    # os._exit once the frame is saved: a notebook's kernel lives on, but a script that ends right after
    # the read races pyarrow's worker threads, which still release the scan's Python buffers; one that
    # takes the GIL while the interpreter finalizes is killed by CPython 3.11 (pthread_exit) through
    # a noexcept frame, and the process aborts: "terminate called without an active exception".
    code = snippet["python"] + (
        "\nimport os, pickle, sys\n"
        "with open('df.pkl', 'wb') as f:\n"
        "    pickle.dump(df, f)\n"
        "sys.stdout.flush()\n"
        "sys.stderr.flush()\n"
        "os._exit(0)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=directory, capture_output=True, text=True, timeout=120)
    if result.returncode != 0:
        return None, result.stderr
    with open(directory / "df.pkl", "rb") as f:
        return pickle.load(f), ""


def write_csv(tmp_path, text, name="data.csv"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_the_notebook_reads_exactly_the_uploaded_rows_until_unshared(stack, tmp_path):
    token = user(stack.emulator)
    files = convert(write_csv(tmp_path, AWKWARD), tmp_path / "table")
    expected = deltalake.DeltaTable(str(tmp_path / "table")).to_pandas()

    processed = stack.upload(token, "Awkward sales", files)
    assert processed.status_code == 200, processed.text
    dataset = processed.json()
    assert (dataset["version"], dataset["rows"]) == (0, 4)
    assert [c["name"] for c in dataset["schema"]] == ["ZIP_code", "City", "amount", "day", "active", "note"]

    shared = stack.call("POST", "/share", token, json={"datasetId": dataset["id"]})
    assert shared.status_code == 200, shared.text
    snippet = shared.json()["snippet"]
    assert snippet["install"] == "pip install delta-sharing"
    assert snippet["profile"]["endpoint"] == stack.sharing_endpoint
    assert "deltaSharing" in snippet["spark"]
    # The snippet can be fetched again later, with the same token.
    again = stack.call("GET", f"/snippet?tableId={dataset['id']}", token).json()["snippet"]
    assert again["profile"] == snippet["profile"]

    bearer = {"Authorization": f"Bearer {snippet['profile']['bearerToken']}"}
    assert wait_for(lambda: requests.get(stack.sharing_endpoint + "/shares", headers=bearer, timeout=5).status_code == 200, timeout=1.0)
    df, error = run_snippet(snippet, tmp_path / "notebook")
    assert df is not None, error[-2000:]
    pd.testing.assert_frame_equal(df.reset_index(drop=True), expected.reset_index(drop=True), check_dtype=True)
    assert list(df["ZIP_code"]) == ["01234", "98765", "00501", "10001"]
    assert df["note"][2] == 'a "quote" inside'

    unshared = stack.call("POST", "/unshare", token, json={"datasetId": dataset["id"]})
    assert unshared.status_code == 200 and unshared.json()["wasShared"] is True
    assert wait_for(lambda: requests.get(stack.sharing_endpoint + "/shares", headers=bearer, timeout=5).status_code == 401, timeout=1.0)
    df, error = run_snippet(snippet, tmp_path / "notebook-after")
    assert df is None
    assert "401" in error or "Unauthorized" in error or "UNAUTHENTICATED" in error, error[-2000:]


def test_a_large_file_goes_up_in_parts_and_reads_back(stack, tmp_path):
    token = user(stack.emulator)
    rows = ["id,code,value,label"] + [f"{i},{i % 100000:05d},{i * 0.5},row {i} {uuid.uuid4().hex}{uuid.uuid4().hex}" for i in range(300_000)]
    files = convert(write_csv(tmp_path, "\n".join(rows) + "\n"), tmp_path / "table")
    assert max(f.stat().st_size for f in files) > 6 << 20, "the file must be above the multipart threshold"
    processed = stack.upload(token, "big", files)
    assert processed.status_code == 200, processed.text
    dataset = processed.json()
    assert dataset["rows"] == 300_000
    snippet = stack.call("POST", "/share", token, json={"datasetId": dataset["id"]}).json()["snippet"]
    df, error = run_snippet(snippet, tmp_path / "notebook")
    assert df is not None, error[-2000:]
    assert len(df) == 300_000 and df["code"].iloc[7] == "00007"


def test_append_and_overwrite_are_new_versions_the_notebook_sees(stack, tmp_path):
    token = user(stack.emulator)
    first = convert(write_csv(tmp_path, "id,name\n1,a\n2,b\n", "v0.csv"), tmp_path / "v0")
    more = convert(write_csv(tmp_path, "id,name\n3,c\n", "v1.csv"), tmp_path / "v1")
    dataset = stack.upload(token, "versions", first).json()
    assert stack.upload(token, "versions", more, mode="append").json()["rows"] == 3
    snippet = stack.call("POST", "/share", token, json={"datasetId": dataset["id"]}).json()["snippet"]
    df, error = run_snippet(snippet, tmp_path / "n1")
    assert df is not None, error
    assert sorted(df["id"]) == [1, 2, 3]
    detail = stack.upload(token, "versions", more, mode="overwrite").json()
    assert [v["operation"] for v in detail["versions"]] == ["create", "append", "overwrite"]
    df, error = run_snippet(snippet, tmp_path / "n2")
    assert df is not None, error
    assert list(df["id"]) == [3]


def test_users_see_only_their_own_datasets(stack, tmp_path):
    alice, bob = user(stack.emulator), user(stack.emulator)
    files = convert(write_csv(tmp_path, "id\n1\n"), tmp_path / "table")
    dataset = stack.upload(alice, "mine", files).json()
    assert [d["id"] for d in stack.call("GET", "/datasets", alice).json()["datasets"]] == [dataset["id"]]
    assert stack.call("GET", "/datasets", bob).json()["datasets"] == []
    for method, path, body in [
        ("GET", f"/datasets/{dataset['id']}", None),
        ("DELETE", f"/datasets/{dataset['id']}", None),
        ("POST", "/share", {"datasetId": dataset["id"]}),
        ("GET", f"/snippet?tableId={dataset['id']}", None),
    ]:
        response = stack.call(method, path, bob, json=body)
        assert response.status_code == 404, (method, path, response.text)
        assert response.json()["error"]["code"] == "NOT_FOUND"


def test_uploads_other_than_what_was_presigned_are_refused(stack, tmp_path):
    token = user(stack.emulator)
    files = convert(write_csv(tmp_path, "id,name\n1,a\n"), tmp_path / "table")

    def different(data):
        return data[:20] + bytes([data[20] ^ 1]) + data[21:]

    def larger(data):
        return data + b"extra bytes"

    for tamper in (different, larger):
        response = stack.upload(token, "tampered", files, tamper=tamper)
        assert response.status_code in (400, 403, 413), response.text
    assert stack.call("GET", "/datasets", token).json()["datasets"] == []


def test_emulator_tokens_are_refused_without_emulator_mode(emulator, tmp_path):
    # A backend verifying a real project's tokens (no emulator variable, no demo- project).
    stack = Stack(tmp_path, emulator, str(tmp_path / "storage"), firebase_env=False, project="acme-prod-4711")
    try:
        response = stack.call("GET", "/datasets", user(emulator))
        assert response.status_code == 401
        assert response.json()["error"]["code"] == "UNAUTHENTICATED"
        health = stack.call("GET", "/healthz", None)
        assert health.status_code == 200 and health.json()["auth"] == "google"
    finally:
        stack.stop()
