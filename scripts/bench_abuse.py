#!/usr/bin/env python3
"""Load under abuse (a bench, not a test). Run it with scripts/bench.sh abuse.

Starts the whole stack on loopback (the Firebase Auth emulator, the backend in emulator mode with datasets on
local disk, or on s3s-fs with --s3, and the sharing server on the share.yaml the backend writes), then runs
two phases of --seconds each:

1. --users well-behaved users (each its own account, signed up in the emulator). Each loops: presign a small
   Parquet file for its own dataset, PUT it, /process it (overwrite), list its datasets, query the table it
   shared at setup through the Delta Sharing protocol with the share's bearer token, and GET the first data
   file the query returned; then waits --think seconds (0.5x to 1.5x, at random). Every request's latency is
   recorded; any non-2xx answer or exception is an error.
2. The same, while abusive clients (each with its own account and token; a separate process at a lower
   priority, a few threads, so the load generator is not what slows down) run the whole time:
     presign-5TiB      /presign of one 5 TiB file
     presign-10k       /presign of 10,000 entries totalling 5 TiB (a body of about 4 MiB)
     process-footer    /process, again and again, of an upload whose Parquet footer declares a huge length
                       (a --footer-mb file ending in a 4-byte length of up to ~4 GiB and PAR1)
     process-burst     --burst concurrent /process of another such upload, burst after burst
     hints             sharing queries with a 1.8 MiB body of jsonPredicateHints on a --hint-files table
     flood             sharing queries with one token, as fast as one thread goes
     garbage           requests with no token and with garbage tokens, to both servers
   Heavy abusers wait at least --abuse-interval between requests, so a quick refusal does not turn them
   into floods of their own (the flood and garbage clients do not wait).

The backend's and sharing server's memory is sampled (VmRSS every 50 ms, VmHWM at each phase's end); a server
above --memory-guard-mb is killed (to protect the machine) and reported. Prints, per phase and request kind,
well-behaved requests, errors, p50 and p99 latency; the phase-2/phase-1 p99 ratios; peak memory; what each
abusive client got back; and PASS/MISS for the goals of issue 13: no well-behaved errors, p99 under abuse
within 2x of the p99 without, servers' peak memory under 512 MB. Exits 0 whatever the figures.
Every process it starts and its temporary directory are removed at the end, also on Ctrl-C.

Usage: bench_abuse.py BIN_DIR [WORK_DIR] [--users 50] [--seconds 60] [--s3] [...]  (--help lists all)
  BIN_DIR holds delta-bridge-backend and delta-bridge-sharing; the run's files go to a temporary directory
  under WORK_DIR (default: the system's).
Environment: FIREBASE_BIN (and S3S_FS_BIN with --s3), set by scripts/bench.sh.
"""

import argparse
import collections
import hashlib
import json
import os
import pathlib
import random
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import uuid

import requests

MiB = 1 << 20
TiB = 1 << 40
PROJECT = "demo-delta-bridge-bench"
S3_KEY, S3_SECRET, BUCKET = "AKIDBENCHABUSE", "delta-bridge-bench-abuse-secret-0123456789", "bench"
KINDS = ["presign", "put", "process", "list", "query", "file"]
ABUSERS = ["presign-5TiB", "presign-10k", "process-footer", "process-burst", "hints", "flood", "garbage"]
GOAL_RATIO, GOAL_MB = 2.0, 512


def log(message):
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(predicate, timeout, interval=0.2):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return False


def percentile(values, p):
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def error_code(body):
    """` CODE` from either server's error body ({"error": {"code"}} or {"errorCode"}), else ''."""
    try:
        error = json.loads(body[:4096])
        return " " + (error.get("errorCode") or error["error"]["code"])
    except (ValueError, KeyError, TypeError, AttributeError):
        return ""


def sha256_of(path):
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(8 * MiB):
            digest.update(chunk)
    return digest.hexdigest()


# --- processes ---------------------------------------------------------------------------------------------

class Processes:
    """Every process the bench starts, each in its own session (so a Ctrl-C reaches only this script, which
    stops them in order) and process group (so helpers they spawn are stopped too)."""

    def __init__(self, directory):
        self.directory = directory
        self.started = []

    def start(self, name, argv, env, cwd=None, announce=False, stdin=None, stop_signal=signal.SIGINT):
        log_file = open(self.directory / f"{name}.log", "w")
        proc = subprocess.Popen(argv, stdout=subprocess.PIPE if announce else log_file, stderr=log_file, stdin=stdin,
                                env=env, cwd=cwd, start_new_session=True, text=announce or None)
        self.started.append((proc, log_file, stop_signal))
        if not announce:
            return proc, None
        line = proc.stdout.readline().strip()
        if not line.startswith("listening on "):
            raise SystemExit(f"{name} did not start ({line!r}); its log: {self.tail(name)}")
        # Keep reading what it prints, so a full pipe never blocks it.
        threading.Thread(target=lambda: [log_file.write(l) for l in proc.stdout], daemon=True).start()
        return proc, line.removeprefix("listening on ")

    def tail(self, name, lines=20):
        try:
            return "\n" + "\n".join((self.directory / f"{name}.log").read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def stop_all(self):
        for proc, log_file, stop_signal in reversed(self.started):
            try:
                if proc.poll() is None:
                    os.killpg(proc.pid, stop_signal)
                    try:
                        proc.wait(15)
                    except subprocess.TimeoutExpired:
                        os.killpg(proc.pid, signal.SIGKILL)
                        proc.wait()
                # Whatever it spawned and left behind in its group.
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            log_file.close()
        self.started = []


class MemorySampler(threading.Thread):
    """VmRSS of the servers every 50 ms (peak per phase) and VmHWM on demand; kills a server above the guard."""

    def __init__(self, servers, guard_mb):
        super().__init__(daemon=True)
        self.servers = servers  # name -> Popen
        self.guard = guard_mb * MiB
        self.phase = "setup"
        self.peaks = collections.defaultdict(lambda: collections.defaultdict(int))
        self.hwm = collections.defaultdict(dict)
        self.killed = {}
        self.halt = threading.Event()

    @staticmethod
    def status(pid, field):
        try:
            with open(f"/proc/{pid}/status") as f:
                for line in f:
                    if line.startswith(field + ":"):
                        return int(line.split()[1]) * 1024
        except (OSError, ValueError):
            pass
        return None

    def mark(self, phase):
        """Records each server's VmHWM for the phase that ends, and starts the next."""
        for name, proc in self.servers.items():
            hwm = self.status(proc.pid, "VmHWM")
            if hwm is not None:
                self.hwm[self.phase][name] = hwm
        self.phase = phase

    def run(self):
        while not self.halt.wait(0.05):
            for name, proc in self.servers.items():
                rss = self.status(proc.pid, "VmRSS") if proc.poll() is None else None
                if rss is None:
                    continue
                peaks = self.peaks[self.phase]
                peaks[name] = max(peaks[name], rss)
                if rss > self.guard and name not in self.killed:
                    self.killed[name] = (self.phase, rss)
                    log(f"{name} holds {rss / MiB:.0f} MB, above --memory-guard-mb: killing it to protect the machine")
                    proc.kill()


# --- the stack ---------------------------------------------------------------------------------------------

def start_stack(args, run, procs):
    env = dict(os.environ, DELTA_BRIDGE_LOG="warn", NO_COLOR="1")
    emulator_port = free_port()
    (run / "firebase").mkdir()
    (run / "firebase" / "firebase.json").write_text(json.dumps(
        {"emulators": {"auth": {"host": "127.0.0.1", "port": emulator_port}, "ui": {"enabled": False}, "singleProjectMode": True}}))
    procs.start("emulator", [os.environ.get("FIREBASE_BIN", "firebase"), "emulators:start", "--only", "auth", "--project", PROJECT],
                dict(os.environ, CI="true", FIREBASE_CLI_DISABLE_UPDATE_CHECK="true", NO_UPDATE_NOTIFIER="1"), cwd=run / "firebase")
    emulator = f"http://127.0.0.1:{emulator_port}"

    s3_args = []
    if args.s3:
        (run / "s3" / BUCKET).mkdir(parents=True)
        s3_port = free_port()
        procs.start("s3s-fs", [os.environ.get("S3S_FS_BIN", "s3s-fs"), "--host", "127.0.0.1", "--port", str(s3_port),
                               "--access-key", S3_KEY, "--secret-key", S3_SECRET, str(run / "s3")], env)
        env.update(AWS_ACCESS_KEY_ID=S3_KEY, AWS_SECRET_ACCESS_KEY=S3_SECRET, AWS_REGION="us-east-1")
        s3_args = ["--s3-endpoint", f"http://127.0.0.1:{s3_port}", "--s3-path-style"]

        def s3_up():
            with socket.socket() as s:
                return s.connect_ex(("127.0.0.1", s3_port)) == 0

        if not wait_for(s3_up, 30):
            raise SystemExit(f"s3s-fs did not start: {procs.tail('s3s-fs')}")

    def emulator_ready():
        try:
            return requests.get(emulator + "/", timeout=2).json().get("authEmulator", {}).get("ready", False)
        except (requests.RequestException, ValueError):
            return False

    if not wait_for(emulator_ready, 120, 0.5):
        raise SystemExit(f"the Auth emulator did not start: {procs.tail('emulator')}")

    sharing_port = free_port()
    storage = f"s3://{BUCKET}/datasets" if args.s3 else str(run / "storage")
    backend, backend_url = procs.start(
        "backend",
        [str(args.bin_dir / "delta-bridge-backend"), "--listen", "127.0.0.1:0", "--data-dir", str(run / "data"),
         "--storage", storage, "--firebase-project", PROJECT,
         "--sharing-url", f"http://127.0.0.1:{sharing_port}/delta-sharing", *s3_args],
        dict(env, FIREBASE_AUTH_EMULATOR_HOST=f"127.0.0.1:{emulator_port}"), announce=True)
    sharing, sharing_url = procs.start(
        "sharing",
        [str(args.bin_dir / "delta-bridge-sharing"), "--config", str(run / "data" / "share.yaml"),
         "--listen", f"127.0.0.1:{sharing_port}", *s3_args],
        env, announce=True)
    return {"emulator": emulator, "backend": backend_url, "sharing": sharing_url + "/delta-sharing",
            "procs": {"backend": backend, "sharing": sharing}}


def sign_up(emulator, email):
    response = requests.post(f"{emulator}/identitytoolkit.googleapis.com/v1/accounts:signUp?key=any",
                             json={"email": email, "password": "bench-password", "returnSecureToken": True}, timeout=30)
    response.raise_for_status()
    return response.json()["idToken"]


def call(stack, method, path, token, **kwargs):
    response = requests.request(method, stack["backend"] + path, headers={"Authorization": f"Bearer {token}"}, timeout=300, **kwargs)
    if response.status_code // 100 != 2:
        raise RuntimeError(f"{method} {path}: {response.status_code} {response.text[:300]}")
    return response.json()


def upload(stack, token, name, files, mode="create", process=True):
    """presign, PUT every file (in parts when the backend says so), then /process (unless not `process`).
    `files` holds (name, path, size, sha256). Answers the processed dataset, or the upload id."""
    specs = [{"name": n, "size": size, "sha256": digest} for n, _, size, digest in files]
    presigned = call(stack, "POST", "/presign", token, json={"name": name, "files": specs})
    parts = {}
    for (file_name, path, size, _), target in zip(files, presigned["files"]):
        with open(path, "rb") as f:
            if "url" in target:
                headers = {h["name"]: h["value"] for h in target.get("headers", [])}
                response = requests.put(target["url"], data=f, headers=dict(headers, **{"Content-Length": str(size)}), timeout=600)
                if response.status_code != 200:
                    raise RuntimeError(f"PUT {file_name}: {response.status_code} {response.text[:300]}")
                continue
            etags = []
            for part in target["parts"]:
                f.seek((part["number"] - 1) * target["partSize"])
                chunk = f.read(target["partSize"])
                headers = {h["name"]: h["value"] for h in part.get("headers", [])}
                response = requests.put(part["url"], data=chunk, headers=headers, timeout=600)
                if response.status_code != 200:
                    raise RuntimeError(f"PUT {file_name} part {part['number']}: {response.status_code} {response.text[:300]}")
                etags.append(response.headers.get("ETag", ""))
            parts[file_name] = etags
    if not process:
        return {"uploadId": presigned["uploadId"], "parts": parts}
    return call(stack, "POST", "/process", token, json={"uploadId": presigned["uploadId"], "mode": mode, "parts": parts})


def share(stack, token, dataset_id):
    snippet = call(stack, "POST", "/share", token, json={"datasetId": dataset_id})["snippet"]
    share_name, schema, table = snippet["table"].split(".")
    return {"token": snippet["profile"]["bearerToken"],
            "query": f"{stack['sharing']}/shares/{share_name}/schemas/{schema}/tables/{table}/query"}


def small_parquet(path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.table({"id": pa.array(range(100), pa.int64()), "label": pa.array([f"row {i}" for i in range(100)])}), path)
    return path.stat().st_size, sha256_of(path)


def footer_bomb(path, megabytes):
    """A file whose Parquet footer length is as large as it can be (at most ~4 GiB): zeros, then the
    length and PAR1. Sparse on disk."""
    size = megabytes * MiB
    with open(path, "wb") as f:
        f.write(b"PAR1")
        f.truncate(size - 8)
        f.seek(size - 8)
        f.write(struct.pack("<I", min(0xFFFFFFF0, size - 8)) + b"PAR1")
    return size, sha256_of(path)


def setup(args, stack, run):
    from concurrent.futures import ThreadPoolExecutor

    small = run / "small.parquet"
    small_size, small_sha = small_parquet(small)
    one = [("data.parquet", small, small_size, small_sha)]
    tag = uuid.uuid4().hex[:8]

    def user(i):
        token = sign_up(stack["emulator"], f"user{i}-{tag}@example.com")
        shared = upload(stack, token, f"shared {i}", one)
        work = upload(stack, token, f"work {i}", one)
        return {"token": token, "work": work["id"], **{f"share_{k}": v for k, v in share(stack, token, shared["id"]).items()}}

    log(f"signing up {args.users} users, each uploading two datasets and sharing one")
    pool = ThreadPoolExecutor(8)
    try:
        users = list(pool.map(user, range(args.users)))
    finally:
        pool.shutdown(wait=False, cancel_futures=True)  # on Ctrl-C, no more sign-ups

    log(f"setting up the abusive clients' accounts (a {args.footer_mb} MiB footer bomb, a {args.hint_files}-file table)")
    tokens = {name: sign_up(stack["emulator"], f"{name.lower()}-{tag}@example.com") for name in ABUSERS if name != "garbage"}
    bomb = run / "bomb.parquet"
    bomb_size, bomb_sha = footer_bomb(bomb, args.footer_mb)
    bomb_file = [("bomb.parquet", bomb, bomb_size, bomb_sha)]
    footer = upload(stack, tokens["process-footer"], "footer bomb", bomb_file, process=False)
    burst = upload(stack, tokens["process-burst"], "footer bomb", bomb_file, process=False)
    bomb.unlink()
    many = [(f"part-{i:04}.parquet", small, small_size, small_sha) for i in range(args.hint_files)]
    hints_table = share(stack, tokens["hints"], upload(stack, tokens["hints"], "many files", many)["id"])
    flood_table = share(stack, tokens["flood"], upload(stack, tokens["flood"], "flooded", one)["id"])

    log("waiting for the sharing server to serve every share (and warming each table)")
    def served(target):
        return lambda: requests.post(target["query"], json={}, headers={"Authorization": f"Bearer {target['token']}"}, timeout=30).status_code == 200

    for target in [{"query": u["share_query"], "token": u["share_token"]} for u in users] + [hints_table, flood_table]:
        if not wait_for(served(target), 30):
            raise SystemExit("a share never reached the sharing server")
    child = {
        "backend": stack["backend"], "sharing": stack["sharing"], "tokens": tokens, "interval": args.abuse_interval,
        "burst": args.burst, "footer": footer, "burst_upload": burst, "hints": hints_table, "flood": flood_table,
    }
    return users, small.read_bytes(), small_sha, child


# --- well-behaved users ------------------------------------------------------------------------------------

async def well_behaved(stack, users, data, digest, seconds, think):
    """Runs every user for `seconds` (a round under way is finished); answers [(kind, seconds, ok, status)]
    and how long it took."""
    import asyncio

    import aiohttp

    records = []
    deadline = time.monotonic() + seconds
    timeout = aiohttp.ClientTimeout(total=60)

    async def timed(session, kind, method, url, **kwargs):
        start = time.perf_counter()
        try:
            async with session.request(method, url, **kwargs) as response:
                body = await response.read()
                status = response.status
        except Exception as e:  # noqa: BLE001: a failure of any kind is an error to report
            records.append((kind, time.perf_counter() - start, False, type(e).__name__))
            return None
        elapsed = time.perf_counter() - start
        ok = 200 <= status < 300
        records.append((kind, elapsed, ok, status if ok else f"{status}{error_code(body)}"))
        return body if ok else None

    async def run(user):
        auth = {"Authorization": f"Bearer {user['token']}"}
        bearer = {"Authorization": f"Bearer {user['share_token']}"}
        spec = {"datasetId": user["work"], "files": [{"name": "data.parquet", "size": len(data), "sha256": digest}]}
        async with aiohttp.ClientSession(timeout=timeout) as session:
            await asyncio.sleep(random.uniform(0, think))
            while time.monotonic() < deadline:
                await iteration(session, auth, bearer, spec, user)
                remaining = deadline - time.monotonic()
                if remaining > 0:
                    await asyncio.sleep(min(remaining, think * random.uniform(0.5, 1.5)))

    async def iteration(session, auth, bearer, spec, user):
        """One round; a step that fails skips the steps that need it."""
        body = await timed(session, "presign", "POST", stack["backend"] + "/presign", json=spec, headers=auth)
        if body is not None:
            presigned = json.loads(body)
            target = presigned["files"][0]
            headers = {h["name"]: h["value"] for h in target.get("headers", [])}
            if await timed(session, "put", "PUT", target["url"], data=data, headers=headers) is not None:
                process = {"uploadId": presigned["uploadId"], "mode": "overwrite"}
                await timed(session, "process", "POST", stack["backend"] + "/process", json=process, headers=auth)
        await timed(session, "list", "GET", stack["backend"] + "/datasets", headers=auth)
        body = await timed(session, "query", "POST", user["share_query"], json={}, headers=bearer)
        if body is not None:
            urls = [json.loads(line)["file"]["url"] for line in body.decode().splitlines() if line.startswith('{"file"')]
            if urls:
                await timed(session, "file", "GET", urls[0])
            else:
                records.append(("file", 0.0, False, "no file in the query's answer"))

    start = time.monotonic()
    await asyncio.gather(*(run(user) for user in users))
    return records, time.monotonic() - start


# --- abusive clients (a child process) -----------------------------------------------------------------------

def abuse_child():
    """The abusive clients: reads its settings as one JSON line on stdin, starts at `go`, stops at `stop`
    (or end of input), then prints what each got back as one JSON line."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        os.nice(10)
    except OSError:
        pass
    config = json.loads(sys.stdin.readline())
    stop = threading.Event()
    lock = threading.Lock()
    stats = {name: {"requests": 0, "statuses": collections.Counter(), "latencies": [], "max_bytes": 0, "in_flight": {}} for name in ABUSERS}
    backend, interval = config["backend"], config["interval"]

    def request(name, session, method, url, **kwargs):
        start = time.perf_counter()
        with lock:
            stats[name]["in_flight"][threading.get_ident()] = start
        size = 0
        try:
            with session.request(method, url, stream=True, timeout=(10, 600), **kwargs) as response:
                head = b""
                for chunk in response.iter_content(MiB):
                    size += len(chunk)
                    head = head or chunk[:4096]
                status = str(response.status_code)
                if response.status_code >= 400:
                    status += error_code(head)
        except Exception as e:  # noqa: BLE001: what the client got back, whatever it was
            status = type(e).__name__
        elapsed = time.perf_counter() - start
        with lock:
            entry = stats[name]
            del entry["in_flight"][threading.get_ident()]
            entry["requests"] += 1
            entry["statuses"][status] += 1
            entry["latencies"].append(elapsed)
            entry["max_bytes"] = max(entry["max_bytes"], size)

    def bearer(token):
        return {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}

    def loop(name, body, pause=True):
        def run():
            session = requests.Session()
            while not stop.is_set():
                start = time.monotonic()
                body(session)
                if pause:
                    stop.wait(max(0.0, interval - (time.monotonic() - start)))
        return run

    tokens = config["tokens"]
    sha = "0" * 64
    presign_5tib = json.dumps({"name": "huge", "files": [{"name": "huge.parquet", "size": 5 * TiB, "sha256": sha}]})
    # 10,000 entries of 5 TiB / 10,000 each (as many part URLs as the one 5 TiB file), names padded to make
    # the body about 4 MiB (the backend's limit for JSON bodies).
    entry_size = 5 * TiB // 10_000
    bare = len(json.dumps({"name": "-00000.parquet", "size": entry_size, "sha256": sha})) + 2
    pad = "x" * ((4 * MiB - 4096) // 10_000 - bare)
    presign_10k = json.dumps({"name": "many", "files": [{"name": f"{pad}-{i:05}.parquet", "size": entry_size, "sha256": sha} for i in range(10_000)]})
    assert len(presign_10k) < 4 * MiB
    # An or of `equal` comparisons, as the official client sends them: a body of 1.8 MiB.
    leaf = {"op": "equal", "children": [{"op": "column", "name": "id", "valueType": "long"}, {"op": "literal", "value": "0", "valueType": "long"}]}
    per_leaf = len(json.dumps(json.dumps(leaf))) - 1
    hint = json.dumps({"op": "or", "children": [leaf] * int(1.8 * MiB / per_leaf)})
    hints_body = json.dumps({"jsonPredicateHints": hint})
    footer = json.dumps({"uploadId": config["footer"]["uploadId"], "mode": "create", "parts": config["footer"]["parts"]})
    burst = json.dumps({"uploadId": config["burst_upload"]["uploadId"], "mode": "create", "parts": config["burst_upload"]["parts"]})

    def process_burst(session):
        threads = [threading.Thread(target=request, args=("process-burst", requests.Session(), "POST", backend + "/process"),
                                    kwargs={"data": burst, "headers": bearer(tokens["process-burst"])}, daemon=True)
                   for _ in range(config["burst"])]
        for t in threads:
            t.start()
        for t in threads:
            t.join()

    garbage_token = "eyJhbGciOiJub25lIn0." + "A" * 4000 + "."
    garbage = [
        ("GET", backend + "/datasets", {}),
        ("GET", backend + "/datasets", {"Authorization": "Bearer garbage"}),
        ("POST", backend + "/presign", {"Authorization": f"Bearer {garbage_token}", "Content-Type": "application/json"}),
        ("GET", config["sharing"] + "/shares", {}),
        ("GET", config["sharing"] + "/shares", {"Authorization": "Bearer garbage"}),
        ("POST", config["flood"]["query"], {"Authorization": f"Bearer {garbage_token}", "Content-Type": "application/json"}),
    ]
    garbage_cycle = iter(lambda: random.choice(garbage), None)

    def garbage_request(session):
        method, url, headers = next(garbage_cycle)
        request("garbage", session, method, url, headers=headers, data="{}" if method == "POST" else None)

    runners = {
        "presign-5TiB": loop("presign-5TiB", lambda s: request("presign-5TiB", s, "POST", backend + "/presign", data=presign_5tib, headers=bearer(tokens["presign-5TiB"]))),
        "presign-10k": loop("presign-10k", lambda s: request("presign-10k", s, "POST", backend + "/presign", data=presign_10k, headers=bearer(tokens["presign-10k"]))),
        "process-footer": loop("process-footer", lambda s: request("process-footer", s, "POST", backend + "/process", data=footer, headers=bearer(tokens["process-footer"]))),
        "process-burst": loop("process-burst", process_burst),
        "hints": loop("hints", lambda s: request("hints", s, "POST", config["hints"]["query"], data=hints_body, headers=bearer(config["hints"]["token"]))),
        "flood": loop("flood", lambda s: request("flood", s, "POST", config["flood"]["query"], data="{}", headers=bearer(config["flood"]["token"])), pause=False),
        "garbage": loop("garbage", garbage_request, pause=False),
    }
    print("ready", flush=True)
    if sys.stdin.readline().strip() != "go":
        return
    started = time.monotonic()
    for run in runners.values():
        threading.Thread(target=run, daemon=True).start()
    sys.stdin.readline()  # "stop", or the end of input
    stop.set()
    elapsed = time.monotonic() - started
    time.sleep(1)  # requests about to end may end
    now = time.perf_counter()
    with lock:
        report = {name: {"requests": s["requests"], "statuses": dict(s["statuses"]), "p50": percentile(s["latencies"], 50),
                         "max": max(s["latencies"], default=float("nan")), "max_bytes": s["max_bytes"], "in_flight": len(s["in_flight"]),
                         "oldest": max((now - t for t in s["in_flight"].values()), default=0.0),
                         "rate": s["requests"] / elapsed} for name, s in stats.items()}
    print(json.dumps(report), flush=True)
    os._exit(0)  # threads still waiting for an answer are abandoned


# --- report ------------------------------------------------------------------------------------------------

def report(args, phases, durations, memory, abuse, deaths):
    ms = lambda seconds: f"{seconds * 1000:8.1f}"  # noqa: E731
    one, two = phases
    print(f"\n## well-behaved users: {args.users} users, {args.seconds:g} s per phase, think {args.think:g} s; "
          f"{'s3s-fs' if args.s3 else 'local disk'}; binaries {args.bin_dir}")
    print(f"{'kind':9} | {'phase 1: requests':>17} {'errors':>6} {'p50 ms':>8} {'p99 ms':>8} | "
          f"{'phase 2: requests':>17} {'errors':>6} {'p50 ms':>8} {'p99 ms':>8} | {'p99 2/1':>7}")
    worst = 0.0
    for kind in KINDS + ["all"]:
        row = []
        p99s = []
        for records in (one, two):
            chosen = [r for r in records if kind in ("all", r[0])]
            latencies = [r[1] for r in chosen if r[2]]
            errors = sum(1 for r in chosen if not r[2])
            p99s.append(percentile(latencies, 99))
            row.append(f"{len(chosen):17} {errors:6} {ms(percentile(latencies, 50))} {ms(p99s[-1])}")
        ratio = p99s[1] / p99s[0] if p99s[0] > 0 else float("nan")
        if kind != "all" and p99s[0] == p99s[0]:
            # A kind that succeeded without abuse and never under it is infinitely slower.
            worst = max(worst, ratio if ratio == ratio else float("inf"))
        print(f"{kind:9} | {row[0]} | {row[1]} | {ratio:6.2f}x")
    for number, records in enumerate(phases, 1):
        errors = collections.Counter(f"{r[0]} {r[3]}" for r in records if not r[2])
        if errors:
            print(f"phase {number} errors: " + ", ".join(f"{what} x{n}" for what, n in errors.most_common()))
        print(f"phase {number}: {durations[number - 1]:.1f} s (rounds under way at the end finish), "
              f"{len(records) / durations[number - 1]:.1f} well-behaved requests/s")

    print("\n## servers' memory (MB)")
    print(f"{'server':9} | {'phase 1 peak RSS':>16} {'phase 2 peak RSS':>16} {'VmHWM (whole run)':>18}")
    peak_of = {}
    for name in ("backend", "sharing"):
        hwm = max([memory.hwm[p].get(name, 0) for p in memory.hwm] + [memory.peaks[p].get(name, 0) for p in memory.peaks])
        peak_of[name] = hwm
        print(f"{name:9} | {memory.peaks['phase 1'].get(name, 0) / 1e6:16.0f} {memory.peaks['phase 2'].get(name, 0) / 1e6:16.0f} {hwm / 1e6:18.0f}")
    for name, (phase, rss) in memory.killed.items():
        print(f"{name} was killed by the memory guard in {phase} at {rss / 1e6:.0f} MB")
    for name, text in deaths.items():
        print(f"{name} {text}")

    print("\n## abusive clients (phase 2)")
    if abuse is None:
        print("(no report from the abusive clients)")
    else:
        print("(answered: requests answered during phase 2; in flight: requests still unanswered when it ended, and for how long)")
        print(f"{'client':15} {'answered':>8} {'per s':>7} {'p50 ms':>9} {'max ms':>9} {'biggest answer':>14} {'in flight':>15}  answers")
        for name in ABUSERS:
            a = abuse[name]
            statuses = ", ".join(f"{code} x{n}" for code, n in sorted(a["statuses"].items(), key=lambda kv: -kv[1]))
            waiting = f"{a['in_flight']} for {a['oldest']:.0f} s" if a["in_flight"] else "0"
            print(f"{name:15} {a['requests']:8} {a['rate']:7.1f} {a['p50'] * 1000:9.1f} {a['max'] * 1000:9.1f} "
                  f"{a['max_bytes'] / 1e6:11.1f} MB {waiting:>15}  {statuses or '-'}")

    errors = sum(1 for r in one + two if not r[2])
    verdict = lambda ok: "PASS" if ok else "MISS"  # noqa: E731
    print("\n## goals (issue 13)")
    print(f"{verdict(errors == 0)}  well-behaved errors: {errors} (phase 1: {sum(1 for r in one if not r[2])}, "
          f"phase 2: {sum(1 for r in two if not r[2])}; goal 0)")
    overall = percentile([r[1] for r in two if r[2]], 99) / percentile([r[1] for r in one if r[2]], 99)
    print(f"{verdict(worst <= GOAL_RATIO and not deaths and not memory.killed)}  p99 under abuse / without: worst kind {worst:.2f}x, "
          f"all requests {overall:.2f}x (goal within {GOAL_RATIO:g}x)")
    for name in ("backend", "sharing"):
        ok = peak_of[name] < GOAL_MB * 1e6 and name not in memory.killed
        print(f"{verdict(ok)}  {name} peak memory: {peak_of[name] / 1e6:.0f} MB (goal under {GOAL_MB} MB)")


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "--abuse-child":
        return abuse_child()
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("bin_dir", type=pathlib.Path, help="directory of delta-bridge-backend and delta-bridge-sharing")
    parser.add_argument("work", type=pathlib.Path, nargs="?", help="where the run's temporary directory goes")
    parser.add_argument("--users", type=int, default=50, help="well-behaved users (default 50)")
    parser.add_argument("--seconds", type=float, default=60, help="length of each phase (default 60)")
    parser.add_argument("--think", type=float, default=1.0, help="seconds a user waits between rounds, 0.5x to 1.5x (default 1)")
    parser.add_argument("--s3", action="store_true", help="datasets on s3s-fs instead of local disk")
    parser.add_argument("--footer-mb", type=int, default=512, help="size of the footer bomb, in MiB (default 512; 4097 for a full 4 GiB footer)")
    parser.add_argument("--burst", type=int, default=8, help="concurrent /process of one upload per burst (default 8)")
    parser.add_argument("--hint-files", type=int, default=200, help="files of the table the predicate hints query (default 200)")
    parser.add_argument("--abuse-interval", type=float, default=0.05, help="least seconds between a heavy abuser's requests (default 0.05)")
    parser.add_argument("--memory-guard-mb", type=int, default=4096, help="kill a server above this RSS (default 4096)")
    parser.add_argument("--keep", action="store_true", help="keep the run's directory (logs, data)")
    args = parser.parse_args()
    for binary in ("delta-bridge-backend", "delta-bridge-sharing"):
        if not (args.bin_dir / binary).is_file():
            raise SystemExit(f"{args.bin_dir / binary} is missing")
    if args.work:
        args.work.mkdir(parents=True, exist_ok=True)

    def terminate(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, terminate)
    run = pathlib.Path(tempfile.mkdtemp(prefix="abuse-", dir=args.work))
    procs = Processes(run)
    memory = None
    interrupted = False
    try:
        import asyncio

        log(f"starting the stack in {run}")
        stack = start_stack(args, run, procs)
        users, data, digest, child_config = setup(args, stack, run)
        child, _ = procs.start("abusers", [sys.executable, os.path.abspath(__file__), "--abuse-child"], dict(os.environ),
                               stdin=subprocess.PIPE, stop_signal=signal.SIGTERM)

        def tell(line):
            try:
                child.stdin.write(line.encode() + b"\n")
                child.stdin.flush()
            except BrokenPipeError:
                pass  # it died: its log says why, and the report says it did not answer

        # The child's stdout is its log file: its answers are read from there.
        tell(json.dumps(child_config))
        child_log = run / "abusers.log"
        if not wait_for(lambda: "ready" in child_log.read_text(errors="replace"), 60):
            raise SystemExit(f"the abusive clients did not start: {procs.tail('abusers')}")

        memory = MemorySampler(stack["procs"], args.memory_guard_mb)
        memory.start()
        log("warming up (a few rounds per user, not counted)")
        asyncio.run(well_behaved(stack, users, data, digest, min(args.seconds, 3 * args.think), args.think))
        phases, durations = [], []
        for number in (1, 2):
            memory.mark(f"phase {number}")
            if number == 2:
                tell("go")
            log(f"phase {number}: {args.users} well-behaved users for {args.seconds:g} s" + (" with the abusive clients" if number == 2 else ""))
            records, elapsed = asyncio.run(well_behaved(stack, users, data, digest, args.seconds, args.think))
            phases.append(records)
            durations.append(elapsed)
        memory.mark("end")
        tell("stop")
        abuse = None
        if wait_for(lambda: child.poll() is not None, 15):
            lines = [l for l in child_log.read_text(errors="replace").splitlines() if l.startswith("{")]
            abuse = json.loads(lines[-1]) if lines else None
        if abuse is None:
            log(f"the abusive clients sent no report; their log: {procs.tail('abusers')}")
        deaths = {name: f"exited during the run with status {proc.returncode}" for name, proc in stack["procs"].items()
                  if proc.poll() is not None and name not in memory.killed}
        report(args, phases, durations, memory, abuse, deaths)
    except KeyboardInterrupt:
        log("interrupted: stopping everything")
        interrupted = True
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        if memory:
            memory.halt.set()
        procs.stop_all()
        if args.keep:
            log(f"kept {run}")
        else:
            shutil.rmtree(run, ignore_errors=True)
    if interrupted:
        sys.exit(130)


if __name__ == "__main__":
    main()
