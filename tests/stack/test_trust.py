"""Trustworthy sharing, as a recipient and an attacker would try it with the official client: a share
publishes from the version current when it was made (the history only when the owner chooses it), what an
overwrite replaced is deleted from storage, a revocation lands by itself once share.yaml can be written
again, and a backend killed at any point comes back agreeing with its log and share.yaml."""

import json
import pathlib
import random
import subprocess
import threading
import time
import uuid

import delta_sharing
import pytest
import requests

from conftest import BUCKET, Stack, convert, wait_for
from test_backend import run_snippet, user, write_csv

MISTAKE = "ssn,amount\n123-45-6789,10\n987-65-4321,20\n"
CORRECTED = "ssn,amount\nredacted,10\nredacted,20\n"


def profile_file(snippet, directory):
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "profile.share"
    path.write_text(json.dumps(snippet["profile"]))
    return str(path)


def table_url(snippet, directory):
    return f"{profile_file(snippet, directory)}#{snippet['table']}"


def query(stack, snippet, body):
    """POST .../query as a client would, with the recipient's token: (status, text)."""
    share, schema, table = snippet["table"].split(".")
    response = requests.post(
        f"{stack.sharing_endpoint}/shares/{share}/schemas/{schema}/tables/{table}/query",
        headers={"Authorization": f"Bearer {snippet['profile']['bearerToken']}", "delta-sharing-capabilities": "responseformat=parquet,delta"},
        json=body, timeout=10,
    )
    return response.status_code, response.text


def data_files(stack, dataset_id):
    """The Parquet files storage holds for a dataset."""
    return sorted(p.name for p in (stack.storage_dir / "datasets" / dataset_id).glob("*.parquet"))


def overwritten(stack, tmp_path, name):
    token = user(stack.emulator)
    first = stack.upload(token, name, convert(write_csv(tmp_path, MISTAKE, "v0.csv"), tmp_path / "v0"))
    assert first.status_code == 200, first.text
    dataset = first.json()
    mistaken = data_files(stack, dataset["id"])
    return token, dataset, mistaken


def test_rows_an_overwrite_replaced_never_reach_a_recipient(stack, tmp_path):
    token, dataset, mistaken = overwritten(stack, tmp_path, "people")
    second = stack.upload(token, "people", convert(write_csv(tmp_path, CORRECTED, "v1.csv"), tmp_path / "v1"), mode="overwrite")
    assert second.status_code == 200 and second.json()["version"] == 1, second.text
    # Nothing reaches version 0 any more, so its file is deleted from storage.
    assert wait_for(lambda: not set(mistaken) & set(data_files(stack, dataset["id"])), timeout=10), data_files(stack, dataset["id"])

    shared = stack.call("POST", "/share", token, json={"datasetId": dataset["id"]}).json()
    assert (shared["startVersion"], shared["history"]) == (1, False)
    snippet = shared["snippet"]
    df, error = run_snippet(snippet, tmp_path / "notebook")
    assert df is not None, error[-2000:]
    assert list(df["ssn"]) == ["redacted", "redacted"]
    url = table_url(snippet, tmp_path / "client")
    # By version, by timestamp, from a starting version, through the change feed: refused, and no file,
    # statistic or value of version 0 in any answer.
    with pytest.raises(Exception, match="version"):
        delta_sharing.load_as_pandas(url, version=0)
    with pytest.raises(Exception):
        delta_sharing.load_as_pandas(url, timestamp="2000-01-01T00:00:00Z")
    with pytest.raises(Exception):
        delta_sharing.load_table_changes_as_pandas(url, starting_version=0)
    for body in ({"version": 0}, {"startingVersion": 0}, {"timestamp": "2000-01-01T00:00:00Z"}):
        status, text = query(stack, snippet, body)
        assert status == 400, (body, status, text)
        assert "123-45-6789" not in text and not any(f in text for f in mistaken)
    status, text = query(stack, snippet, {})
    assert status == 200 and "123-45-6789" not in text and not any(f in text for f in mistaken)


def test_the_history_reaches_recipients_only_when_the_owner_shares_it(stack, tmp_path):
    token, dataset, mistaken = overwritten(stack, tmp_path, "with history")
    shared = stack.call("POST", "/share", token, json={"datasetId": dataset["id"], "withHistory": True}).json()
    assert (shared["startVersion"], shared["history"]) == (0, True)
    second = stack.upload(token, "with history", convert(write_csv(tmp_path, CORRECTED, "v1.csv"), tmp_path / "v1"), mode="overwrite")
    assert second.status_code == 200, second.text
    url = table_url(shared["snippet"], tmp_path / "client")
    # The share reaches version 0, so its file stays, and time travel and startingVersion queries reach it
    # (the change feed too, on tables that enable it; these do not).
    assert list(delta_sharing.load_as_pandas(url, version=0)["ssn"]) == ["123-45-6789", "987-65-4321"]
    status, text = query(stack, shared["snippet"], {"startingVersion": 0})
    assert status == 200 and '"version":0' in text.replace(" ", ""), text[:500]
    assert set(mistaken) <= set(data_files(stack, dataset["id"]))
    # Shared again without history: recipients start at the current version and the old file goes.
    again = stack.call("POST", "/share", token, json={"datasetId": dataset["id"]}).json()
    assert (again["startVersion"], again["snippet"]["profile"]) == (1, shared["snippet"]["profile"])
    assert wait_for(lambda: not set(mistaken) & set(data_files(stack, dataset["id"])), timeout=10)
    assert wait_for(lambda: query(stack, again["snippet"], {"version": 0})[0] == 400, timeout=5)


def test_a_deleted_dataset_is_refused_and_gone_from_storage(stack, tmp_path):
    token, dataset, _ = overwritten(stack, tmp_path, "doomed")
    snippet = stack.call("POST", "/share", token, json={"datasetId": dataset["id"]}).json()["snippet"]
    bearer = {"Authorization": f"Bearer {snippet['profile']['bearerToken']}"}
    deleted = stack.call("DELETE", f"/datasets/{dataset['id']}", token)
    assert deleted.status_code == 204, deleted.text
    assert wait_for(lambda: requests.get(stack.sharing_endpoint + "/shares", headers=bearer, timeout=5).status_code == 401, timeout=2)
    # (s3s-fs may leave empty directories behind: objects are what counts.)
    assert not [p for p in (stack.storage_dir / "datasets" / dataset["id"]).rglob("*") if p.is_file()]


def chattr(flag, path):
    subprocess.run(["chattr", flag, str(path)], check=True)


def test_a_revocation_lands_by_itself_once_share_yaml_can_be_written(local_stack, tmp_path):
    stack = local_stack
    token, dataset, _ = overwritten(stack, tmp_path, "revoked")
    snippet = stack.call("POST", "/share", token, json={"datasetId": dataset["id"]}).json()["snippet"]
    bearer = {"Authorization": f"Bearer {snippet['profile']['bearerToken']}"}
    readable = lambda: requests.get(stack.sharing_endpoint + "/shares", headers=bearer, timeout=5).status_code == 200
    assert wait_for(readable, timeout=2)
    data = stack.dir / "data"
    chattr("+i", data)
    try:
        unshared = stack.call("POST", "/unshare", token, json={"datasetId": dataset["id"]})
        assert unshared.status_code == 202 and unshared.json()["revocation"] == "pending", unshared.text
        # The retry does not pretend either.
        again = stack.call("POST", "/unshare", token, json={"datasetId": dataset["id"]})
        assert again.status_code == 202 and again.json()["revocation"] == "pending", again.text
        health = requests.get(stack.url + "/healthz", timeout=5).json()
        assert health["status"] == "degraded" and health["shareFile"]["lagging"] is True
        time.sleep(2)
    finally:
        chattr("-i", data)
    # No further call: the reconciler writes the file and the sharing server refuses the token.
    assert wait_for(lambda: requests.get(stack.sharing_endpoint + "/shares", headers=bearer, timeout=5).status_code == 401, timeout=6)
    df, error = run_snippet(snippet, tmp_path / "notebook")
    assert df is None
    assert requests.get(stack.url + "/healthz", timeout=5).json()["status"] == "ok"


def log_versions(stack, dataset_id):
    log = stack.storage_dir / "datasets" / dataset_id / "_delta_log"
    return sorted(int(p.name.split(".")[0]) for p in log.glob("*.json")) if log.exists() else []


def test_a_backend_killed_at_any_point_comes_back_agreeing_with_its_log_and_share_yaml(emulator, tmp_path):
    """kill -9 of the backend at random moments of process, share, unshare and delete; after a restart and
    one reconcile interval (plus twice the commit lease), store, log and share.yaml agree, and no revoked
    token is accepted."""
    stack = Stack(tmp_path / "stack", emulator, str(tmp_path / "stack" / "storage"), backend_args=["--commit-lease-seconds", "1"])
    rng = random.Random(12)
    try:
        token = user(emulator)
        files = convert(write_csv(tmp_path, "id,name\n1,a\n2,b\n"), tmp_path / "table")
        names = ["k0", "k1", "k2"]
        issued = {}  # name -> every recipient token seen for it
        deleted = set()  # ids a delete was sent for
        runs = 24
        for run in range(runs):
            name = names[run % len(names)]
            ids = {d["name"]: d["id"] for d in stack.call("GET", "/datasets", token).json()["datasets"]}
            if name not in ids:
                action = lambda: stack.upload(token, name, files)
            else:
                op = rng.choice(["append", "overwrite", "share", "unshare", "delete"])
                did = ids[name]
                if op == "delete":
                    deleted.add(did)
                action = {
                    "append": lambda: stack.upload(token, name, files, mode="append"),
                    "overwrite": lambda: stack.upload(token, name, files, mode="overwrite"),
                    "share": lambda: stack.call("POST", "/share", token, json={"datasetId": did}),
                    "unshare": lambda: stack.call("POST", "/unshare", token, json={"datasetId": did}),
                    "delete": lambda: stack.call("DELETE", f"/datasets/{did}", token),
                }[op]
            worker = threading.Thread(target=lambda: _swallow(action), daemon=True)
            worker.start()
            time.sleep(rng.uniform(0, 0.06))
            stack.restart_backend(kill=True)
            worker.join(30)
            # One reconcile interval, and twice the commit lease for abandoned log entries.
            time.sleep(2.5)
            assert wait_for(lambda: requests.get(stack.url + "/healthz", timeout=5).json()["status"] == "ok", timeout=10)
            datasets = {d["name"]: d for d in stack.call("GET", "/datasets", token).json()["datasets"]}
            known = {d["id"] for d in datasets.values()}
            for d in datasets.values():
                assert wait_for(lambda: log_versions(stack, d["id"])[-1:] == [d["version"]], timeout=5), (
                    run, d["name"], d["version"], log_versions(stack, d["id"]))
                if d["shared"]:
                    snippet = stack.call("GET", f"/snippet?tableId={d['id']}", token).json()["snippet"]
                    issued.setdefault(d["name"], set()).add(snippet["profile"]["bearerToken"])
            # A directory of a dataset the store does not know holds no log entry (no ghost version 0).
            for directory in (stack.storage_dir / "datasets").glob("ds*"):
                if directory.name not in known:
                    assert wait_for(lambda: log_versions(stack, directory.name) == [], timeout=5), (run, directory.name)
            # A deleted dataset leaves nothing in storage, even when the kill came between the store's
            # delete and the storage's.
            for did in deleted - known:
                directory = stack.storage_dir / "datasets" / did
                assert wait_for(lambda: not [p for p in directory.rglob("*") if p.is_file()], timeout=5), (run, did)
            config = (stack.dir / "data" / "share.yaml").read_text()
            for name_, tokens in issued.items():
                d = datasets.get(name_)
                current = None
                if d and d["shared"]:
                    current = stack.call("GET", f"/snippet?tableId={d['id']}", token).json()["snippet"]["profile"]["bearerToken"]
                for t in tokens:
                    expected = 200 if t == current else 401
                    status = lambda: requests.get(stack.sharing_endpoint + "/shares", headers={"Authorization": f"Bearer {t}"}, timeout=5).status_code
                    assert wait_for(lambda: status() == expected, timeout=3), (run, name_, expected, status())
            assert config.startswith("version: 1\ngeneration: ") or "\ngeneration: " in config
    finally:
        stack.stop()


def _swallow(action):
    try:
        action()
    except (requests.RequestException, AssertionError):
        pass


def test_what_the_backend_stores_is_for_its_user_alone(local_stack, tmp_path):
    """The data directory, backend.db, the secret, share.yaml and every stored object: directories 0700 and
    files 0600, whatever the umask the backend was started with."""
    stack = local_stack
    token, dataset, _ = overwritten(stack, tmp_path, "private")
    stack.call("POST", "/share", token, json={"datasetId": dataset["id"]})
    checked = 0
    for root in (stack.dir / "data", stack.storage_dir):
        for path in [root, *root.rglob("*")]:
            mode = path.stat().st_mode & 0o777
            assert mode & 0o077 == 0, f"{path} is {oct(mode)}"
            checked += 1
    names = {p.name for p in (stack.dir / "data").iterdir()}
    assert {"backend.db", "secret", "share.yaml"} <= names and checked > 8
