"""Faults between the backend and S3 during /process, through a fault-injecting proxy in front of s3s-fs
(tests/stack/faults.py): a TCP reset or a 500 after the log entry landed, 500s, delays. The backend and the
sharing server both reach s3s-fs only through the proxy. Whatever /process answers, afterwards the version the backend
reports is the latest the sharing server serves, no log entry is ever written twice, the next /process
succeeds, and the official client (the snippet, as a notebook runs it) reads exactly the reported rows.

Each fault runs DELTA_BRIDGE_FAULT_RUNS times (default 5), but no new run starts once a test has taken
DELTA_BRIDGE_FAULT_BUDGET seconds (default 10; at least 2 runs). A failed run does not stop the others: the test
fails at the end with every run's failure. Each test prints its tally (`-s` shows it).
"""

import collections
import datetime
import hashlib
import json
import os
import re
import threading
import time
import uuid

import pytest
import requests

from conftest import BACKEND, BUCKET, MiB, PROJECT, S3_KEY, S3_SECRET, SHARING, UNLIMITED, Process, convert, free_port, wait_for
from faults import FaultProxy
from test_backend import user, write_csv

RUNS = int(os.environ.get("DELTA_BRIDGE_FAULT_RUNS", "5"))
BUDGET = float(os.environ.get("DELTA_BRIDGE_FAULT_BUDGET", "10"))
SHORT_LEASE = 3  # seconds: the backend waits a third of it for a log entry's write before writing again
ENTRY = re.compile(r"^(\d{20})\.json$")


class FaultStack:
    """The backend and the sharing server (as conftest's Stack), both reaching s3s-fs through a FaultProxy,
    datasets under their own prefix of the session's bucket."""

    def __init__(self, directory, emulator, s3, backend_args=()):
        directory.mkdir(parents=True, exist_ok=True)
        self.dir = directory
        self.emulator = emulator
        self.proxy = FaultProxy(s3["endpoint"])
        self.prefix = f"faults-{uuid.uuid4().hex[:8]}"
        self.storage_dir = s3["root"] / BUCKET / self.prefix
        sharing_port = free_port()
        env = {"DELTA_BRIDGE_LOG": "info", "NO_COLOR": "1",
               "AWS_ACCESS_KEY_ID": S3_KEY, "AWS_SECRET_ACCESS_KEY": S3_SECRET, "AWS_REGION": "us-east-1"}
        s3_args = ["--s3-endpoint", self.proxy.url, "--s3-path-style"]
        self.backend = Process(
            [BACKEND, "--listen", "127.0.0.1:0", "--data-dir", str(directory / "data"),
             "--storage", f"s3://{BUCKET}/{self.prefix}", "--firebase-project", PROJECT,
             "--sharing-url", f"http://127.0.0.1:{sharing_port}/delta-sharing",
             "--multipart-threshold", str(6 * MiB), "--part-size", str(5 * MiB),
             "--maintenance-interval-seconds", "1", *UNLIMITED, *s3_args, *backend_args],
            directory, "backend", dict(env, FIREBASE_AUTH_EMULATOR_HOST=emulator.host),
        )
        self.sharing = Process(
            [SHARING, "--config", str(directory / "data/share.yaml"), "--listen", f"127.0.0.1:{sharing_port}", *s3_args],
            directory, "sharing", env,
        )
        self.url = self.backend.url
        self.sharing_endpoint = f"{self.sharing.url}/delta-sharing"

    def call(self, method, path, token, **kwargs):
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return requests.request(method, self.url + path, headers=headers, timeout=60, **kwargs)

    def put_files(self, token, files, name=None, dataset_id=None):
        """presign and PUT every file (small files: one URL each); answers the upload id."""
        specs = [{"name": f.name, "size": f.stat().st_size, "sha256": hashlib.sha256(f.read_bytes()).hexdigest()} for f in files]
        body = {"files": specs, **({"name": name} if name else {"datasetId": dataset_id})}
        presigned = self.call("POST", "/presign", token, json=body)
        assert presigned.status_code == 200, presigned.text
        presigned = presigned.json()
        for path, upload in zip(files, presigned["files"]):
            headers = {h["name"]: h["value"] for h in upload.get("headers", [])}
            response = requests.put(upload["url"], data=path.read_bytes(), headers=headers, timeout=60)
            assert response.status_code == 200, response.text
        return presigned["uploadId"]

    def process(self, token, upload_id, mode):
        return self.call("POST", "/process", token, json={"uploadId": upload_id, "mode": mode, "parts": {}})

    def reported(self, token, dataset_id):
        """The dataset as the backend reports it (version, rows, versions)."""
        response = self.call("GET", f"/datasets/{dataset_id}", token)
        assert response.status_code == 200, response.text
        return response.json()

    def served_version(self, snippet):
        """The latest version the sharing server serves to the recipient."""
        share, schema, table = snippet["table"].split(".")
        response = requests.get(
            f"{self.sharing_endpoint}/shares/{share}/schemas/{schema}/tables/{table}/version",
            headers={"Authorization": f"Bearer {snippet['profile']['bearerToken']}"}, timeout=10,
        )
        assert response.status_code == 200, response.text
        return int(response.headers["delta-table-version"])

    def served_commits(self, snippet, starting_version):
        """{version: the modificationTime of its added files} as the sharing server serves them from
        `starting_version` on (delta response format, the entries' own actions): an entry served from a
        cache after it changed in storage shows the old entry's time."""
        share, schema, table = snippet["table"].split(".")
        response = requests.post(
            f"{self.sharing_endpoint}/shares/{share}/schemas/{schema}/tables/{table}/query",
            headers={"Authorization": f"Bearer {snippet['profile']['bearerToken']}",
                     "delta-sharing-capabilities": "responseformat=delta"},
            json={"startingVersion": starting_version}, timeout=10,
        )
        assert response.status_code == 200, response.text
        served = {}
        for line in response.text.splitlines():
            file = json.loads(line).get("file") if line.strip() else None
            if file and "add" in file["deltaSingleAction"]:
                served.setdefault(file["version"], set()).add(file["deltaSingleAction"]["add"]["modificationTime"])
        return served

    def log_versions(self, dataset_id):
        """The versions whose log entries s3s-fs holds for a dataset (its files, not through any API)."""
        directory = self.storage_dir / "datasets" / dataset_id / "_delta_log"
        if not directory.exists():
            return []
        return sorted(int(m.group(1)) for p in directory.iterdir() if (m := ENTRY.match(p.name)))

    def backend_log(self, since=0):
        text = (self.dir / "backend.log").read_text(errors="replace")
        return text[since:]

    def stop(self):
        self.sharing.stop()
        self.backend.stop()
        self.proxy.close()


@pytest.fixture(scope="module")
def fault_stack(emulator, s3, tmp_path_factory):
    """The default commit lease (60 s)."""
    stack = FaultStack(tmp_path_factory.mktemp("fault-stack"), emulator, s3)
    yield stack
    stack.stop()


@pytest.fixture(scope="module")
def short_lease_stack(emulator, s3, tmp_path_factory):
    """A 3 s commit lease: a log entry's write is given up after 1.5 s, abandoned entries removed after 6 s."""
    stack = FaultStack(tmp_path_factory.mktemp("short-lease-stack"), emulator, s3,
                       backend_args=["--commit-lease-seconds", str(SHORT_LEASE)])
    yield stack
    stack.stop()


@pytest.fixture(scope="module")
def tables(tmp_path_factory):
    """Parquet files of small tables with distinct ids: `base` (ids 1, 2), then `more1` and `more2`."""
    root = tmp_path_factory.mktemp("fault-tables")
    contents = {"base": [1, 2], "more1": [3, 4], "more2": [5]}
    out = {}
    for name, ids in contents.items():
        csv = write_csv(root, "id,name\n" + "".join(f"{i},row {i}\n" for i in ids), f"{name}.csv")
        out[name] = (convert(csv, root / name), ids)
    return out


def notebook(snippet, directory):
    """Runs the snippet's Python as a notebook does (in this interpreter, to keep runs short) and answers df."""
    directory.mkdir(parents=True, exist_ok=True)
    cwd = os.getcwd()
    os.chdir(directory)
    try:
        scope = {}
        exec(compile(snippet["python"], "<snippet>", "exec"), scope)
        return scope["df"]
    finally:
        os.chdir(cwd)


def rows_of(detail, tables, order):
    """The ids the reported versions hold: the tables appended in `order` up to the reported version."""
    return sorted(i for name in order[: detail["version"] + 1] for i in tables[name][1])


def shared_dataset(stack, token, tables, label):
    """A new dataset at version 0 (no fault), shared; answers (id, snippet)."""
    upload = stack.put_files(token, tables["base"][0], name=f"faults {label} {uuid.uuid4().hex[:6]}")
    created = stack.process(token, upload, "create")
    assert created.status_code == 200, created.text
    dataset_id = created.json()["id"]
    shared = stack.call("POST", "/share", token, json={"datasetId": dataset_id})
    assert shared.status_code == 200, shared.text
    snippet = shared.json()["snippet"]
    assert wait_for(lambda: _served_or_none(stack, snippet) == 0, timeout=5), "the share is not served"
    return dataset_id, snippet


def _served_or_none(stack, snippet):
    try:
        return stack.served_version(snippet)
    except (AssertionError, requests.RequestException):
        return None


def assert_agree(stack, token, dataset_id, snippet, tables, order, tmp_path, context):
    """The backend's version is the sharing server's latest, s3s-fs holds exactly the entries up to it, the
    sharing server serves each version's entry as committed (not an earlier entry of that version from a
    cache), and the notebook reads exactly the reported rows."""
    detail = stack.reported(token, dataset_id)
    served = stack.served_version(snippet)
    held = stack.log_versions(dataset_id)
    assert served == detail["version"], f"{context}: the sharing server serves {served}, the backend reports {detail['version']}"
    assert held == list(range(detail["version"] + 1)), f"{context}: s3s-fs holds entries {held}, the backend reports {detail['version']}"
    if detail["version"] >= 1:
        reported = {v["version"]: {_ms(v["committedAt"])} for v in detail["versions"] if v["version"] >= 1}
        commits = stack.served_commits(snippet, 1)
        assert commits == reported, f"{context}: the sharing server serves commits (version: time) {commits}, the backend reports {reported}"
    df = notebook(snippet, tmp_path)
    assert sorted(df["id"]) == rows_of(detail, tables, order), f"{context}: the notebook read {sorted(df['id'])}"
    assert detail["rows"] == len(df)
    return detail


def _ms(rfc3339):
    return int(datetime.datetime.fromisoformat(rfc3339.replace("Z", "+00:00")).timestamp() * 1000 + 0.5)


def assert_written_once(stack, context):
    twice = {key: n for key, n in stack.proxy.landed().items() if n > 1}
    assert not twice, f"{context}: log entries written more than once: {twice}"


def repeat(name, one_run):
    """Calls `one_run(run, tally)` RUNS times (at least twice; no new run once BUDGET seconds have passed),
    going on after a failed run, then fails with every run's failure. Prints the tally either way."""
    tally = collections.Counter()
    failures = []
    start = time.monotonic()
    try:
        for run in range(RUNS):
            if run >= 2 and time.monotonic() - start > BUDGET:
                break
            tally["runs"] += 1
            try:
                one_run(run, tally)
                tally["passed"] += 1
            except AssertionError as e:
                tally["failed"] += 1
                failures.append(f"run {run}: {e}")
    finally:
        tally["seconds"] = round(time.monotonic() - start, 1)
        print(f"\n{name}: {dict(tally)}")
    assert not failures, f"{name}: {len(failures)} of {tally['runs']} runs failed:\n" + "\n".join(failures)


def describe(events):
    return [(e["key"][-10:], e["fault"], e["status"], round(e.get("done", e["at"]) - e["at"], 2)) for e in events]


def test_an_error_after_the_entry_landed_never_makes_a_version_the_backend_does_not_report(fault_stack, tables, tmp_path):
    """Every PUT of the append's log entry is forwarded and s3s-fs answers (the first lands, the SDK's retries
    are refused as the entry exists), and the backend gets instead a TCP reset (even runs) or a 500 (odd
    runs, an S3 error after the object landed)."""
    stack, proxy = fault_stack, fault_stack.proxy
    token = user(stack.emulator)

    def one_run(run, tally):
        kind = ("reset_after", "error_500_after")[run % 2]
        dataset_id, snippet = shared_dataset(stack, token, tables, f"{kind} {run}")
        upload = stack.put_files(token, tables["more1"][0], dataset_id=dataset_id)
        proxy.clear_events()
        proxy.set_fault(kind)
        try:
            first = stack.process(token, upload, "append")
        finally:
            proxy.clear()
        events = proxy.snapshot()
        tally[f"{kind}: /process {first.status_code}"] += 1
        tally[f"{kind}: {len(events)} PUT attempts"] += 1
        context = f"{kind}: /process answered {first.status_code} {first.text[:300]}; proxy: {describe(events)}"
        assert events and events[0]["fault"] == kind and events[0]["status"] == 200, context
        assert first.status_code == 200 or first.status_code >= 500, context
        assert_agree(stack, token, dataset_id, snippet, tables, ["base", "more1"], tmp_path / f"r{run}a", context)
        # The same upload again, fault off: committed once, whichever attempt did it.
        again = stack.process(token, upload, "append")
        assert again.status_code == 200 and again.json()["version"] == 1, f"{context}; again: {again.status_code} {again.text}"
        # And the next upload.
        upload = stack.put_files(token, tables["more2"][0], dataset_id=dataset_id)
        following = stack.process(token, upload, "append")
        assert following.status_code == 200, f"{context}; next upload: {following.status_code} {following.text}"
        detail = assert_agree(stack, token, dataset_id, snippet, tables, ["base", "more1", "more2"], tmp_path / f"r{run}b", context)
        assert [v["operation"] for v in detail["versions"]] == ["create", "append", "append"], context
        assert_written_once(stack, context)

    repeat("reset_after / error_500_after on every log PUT", one_run)


def test_500s_on_the_log_entry_leave_no_entry_and_the_same_upload_commits_later(fault_stack, tables, tmp_path):
    """Every PUT of the append's log entry is answered 500 by the proxy (nothing forwarded)."""
    stack, proxy = fault_stack, fault_stack.proxy
    token = user(stack.emulator)

    def one_run(run, tally):
        dataset_id, snippet = shared_dataset(stack, token, tables, f"500 {run}")
        upload = stack.put_files(token, tables["more1"][0], dataset_id=dataset_id)
        proxy.clear_events()
        proxy.set_fault("error_500")
        try:
            failed = stack.process(token, upload, "append")
        finally:
            proxy.clear()
        attempts = len(proxy.snapshot())
        tally[f"/process {failed.status_code}"] += 1
        tally[f"{attempts} PUT attempts"] += 1
        context = f"/process answered {failed.status_code} {failed.text[:300]} after {attempts} PUTs answered 500"
        assert 500 <= failed.status_code < 600, context
        assert stack.reported(token, dataset_id)["version"] == 0, context
        assert stack.log_versions(dataset_id) == [0], context
        assert stack.served_version(snippet) == 0, context
        retried = stack.process(token, upload, "append")
        assert retried.status_code == 200 and retried.json()["version"] == 1, f"{context}; fault off: {retried.status_code} {retried.text}"
        assert_agree(stack, token, dataset_id, snippet, tables, ["base", "more1"], tmp_path / f"r{run}", context)
        assert_written_once(stack, context)

    repeat("error_500 on every log PUT", one_run)


def concurrent_processes(stack, token, upload, stagger=0.3):
    """Two /process of one upload, the second `stagger` seconds after the first; answers both responses."""
    answers = [None, None]

    def call(i):
        answers[i] = stack.process(token, upload, "append")

    threads = [threading.Thread(target=call, args=(i,)) for i in range(2)]
    threads[0].start()
    time.sleep(stagger)
    threads[1].start()
    for thread in threads:
        thread.join(60)
    return answers


def test_slow_log_writes_commit_once_and_concurrent_processes_agree(fault_stack, tables, tmp_path):
    """Every log-entry PUT held 2 s (well within the 60 s lease), a second /process of the same upload
    started 0.3 s after the first: both answer the one version committed, the entry is written once."""
    stack, proxy = fault_stack, fault_stack.proxy
    token = user(stack.emulator)

    def one_run(run, tally):
        dataset_id, snippet = shared_dataset(stack, token, tables, f"delay {run}")
        upload = stack.put_files(token, tables["more1"][0], dataset_id=dataset_id)
        proxy.clear_events()
        proxy.set_fault("delay", seconds=2.0)
        try:
            first, second = concurrent_processes(stack, token, upload)
            assert wait_for(proxy.idle, timeout=10), "a delayed PUT never finished"
        finally:
            proxy.clear()
        tally[f"/process {first.status_code} then {second.status_code}"] += 1
        context = (f"first /process {first.status_code} {first.text[:200]}, second {second.status_code} "
                   f"{second.text[:200]}; proxy: {describe(proxy.snapshot())}")
        assert_written_once(stack, context)
        detail = assert_agree(stack, token, dataset_id, snippet, tables, ["base", "more1"], tmp_path / f"r{run}", context)
        assert [v["operation"] for v in detail["versions"]] == ["create", "append"], context
        assert (first.status_code, second.status_code) == (200, 200), context
        assert first.json()["version"] == second.json()["version"] == 1, context

    repeat("delay 2 s on every log PUT, two concurrent /process", one_run)


def test_a_log_write_slower_than_the_backend_waits_commits_once(short_lease_stack, tables, tmp_path):
    """The first log-entry PUT held 2.5 s, longer than the backend waits for it (a third of the 3 s lease;
    the proxy still forwards it then, as S3 completes a request it received whole); a second /process
    of the same upload starts 0.3 s after the first. One version is committed, the entry written once, and
    both answer that version."""
    stack, proxy = short_lease_stack, short_lease_stack.proxy
    token = user(stack.emulator)

    def one_run(run, tally):
        dataset_id, snippet = shared_dataset(stack, token, tables, f"slow {run}")
        upload = stack.put_files(token, tables["more1"][0], dataset_id=dataset_id)
        proxy.clear_events()
        proxy.set_fault("delay", times=1, seconds=SHORT_LEASE / 2 + 1.0)
        try:
            first, second = concurrent_processes(stack, token, upload)
            assert wait_for(proxy.idle, timeout=10), "the delayed PUT never finished"
        finally:
            proxy.clear()
        tally[f"/process {first.status_code} then {second.status_code}"] += 1
        context = (f"first /process {first.status_code} {first.text[:200]}, second {second.status_code} "
                   f"{second.text[:200]}; proxy: {describe(proxy.snapshot())}")
        assert_written_once(stack, context)
        assert 200 in (first.status_code, second.status_code), context
        assert {r.json()["version"] for r in (first, second) if r.status_code == 200} == {1}, context
        detail = assert_agree(stack, token, dataset_id, snippet, tables, ["base", "more1"], tmp_path / f"r{run}", context)
        assert [v["operation"] for v in detail["versions"]] == ["create", "append"], context
        assert (first.status_code, second.status_code) == (200, 200), context

    repeat("delay 2.5 s (lease 3 s) on the first log PUT, two concurrent /process", one_run)


def test_a_log_write_that_lands_after_the_backend_gave_up_is_no_ghost(short_lease_stack, tables, tmp_path):
    """One /process; its log-entry PUT held 2.5 s, longer than the backend waits for it (a third of the 3 s
    lease): the backend writes the entry again, put-if-absent, and commits, and the held PUT lands later and is
    refused (If-None-Match). Whatever /process answered, the sharing server serves only what the backend reports
    (polled as a recipient would, until twice the lease is over and a reconcile has run), and processing the
    same upload again answers the same version, the entry written once."""
    stack, proxy = short_lease_stack, short_lease_stack.proxy
    token = user(stack.emulator)

    def one_run(run, tally):
        dataset_id, snippet = shared_dataset(stack, token, tables, f"ghost {run}")
        upload = stack.put_files(token, tables["more1"][0], dataset_id=dataset_id)
        proxy.clear_events()
        proxy.set_fault("delay", times=1, seconds=SHORT_LEASE / 2 + 1.0)
        log_mark = len(stack.backend_log())
        started = time.monotonic()
        try:
            gave_up = stack.process(token, upload, "append")
            answered = time.monotonic() - started
            assert wait_for(proxy.idle, timeout=10), "the delayed PUT never finished"
        finally:
            proxy.clear()
        events = proxy.snapshot()
        tally[f"/process {gave_up.status_code}"] += 1
        # Poll as a recipient would: the backend's version against the sharing server's latest.
        disagreed = []
        ghost_rows = None
        until = started + 2 * SHORT_LEASE + 2
        while time.monotonic() < until:
            reported = stack.reported(token, dataset_id)["version"]
            served = stack.served_version(snippet)
            if served != reported:
                disagreed.append((round(time.monotonic() - started, 2), reported, served))
                if ghost_rows is None:
                    ghost_rows = sorted(notebook(snippet, tmp_path / f"r{run}-ghost")["id"])
            elif disagreed or time.monotonic() - started > SHORT_LEASE + 1:
                break  # resolved, or no ghost well after the entry landed
            time.sleep(0.2)
        tally["ghost served" if disagreed else "no ghost"] += 1
        landed = [e for e in events if e["status"] == 200]
        context = (f"/process answered {gave_up.status_code} after {answered:.2f} s: {gave_up.text[:200]}; proxy "
                   f"(key, fault, status, seconds held): {describe(events)}, landed {round(landed[0]['done'] - started, 2) if landed else None} s "
                   f"after /process began; (seconds after /process began, backend's version, sharing server's) that "
                   f"disagreed: {disagreed[:2]} .. {disagreed[-1:]} ({len(disagreed)} samples); the notebook read ids "
                   f"{ghost_rows} meanwhile")
        retried = stack.process(token, upload, "append")
        assert retried.status_code == 200 and retried.json()["version"] == 1, f"{context}; retried: {retried.text}"
        context += f"; backend log: {stack.backend_log(log_mark)[-1200:]}"
        assert_agree(stack, token, dataset_id, snippet, tables, ["base", "more1"], tmp_path / f"r{run}", context)
        written = proxy.landed()
        tally["entry written twice" if any(n > 1 for n in written.values()) else "entry written once"] += 1
        assert_written_once(stack, context)
        assert not disagreed, context

    repeat("delay 2.5 s (lease 3 s), the entry landing after /process gave up", one_run)
