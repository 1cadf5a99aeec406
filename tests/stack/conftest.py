"""The whole stack on loopback: the official Firebase Auth emulator, s3s-fs, delta-bridge-backend and
delta-bridge-sharing, driven over plain HTTP and read with the official delta-sharing client.

Environment (set by scripts/test.sh):
  DELTA_BRIDGE_BACKEND_BIN, DELTA_BRIDGE_SHARING_BIN, DELTA_BRIDGE_CLI_BIN   the binaries
  S3S_FS_BIN        the s3s-fs binary
  FIREBASE_BIN      the firebase-tools CLI (firebase emulators:start --only auth)
"""

import hashlib
import json
import os
import pathlib
import signal
import socket
import subprocess
import time

import pytest
import requests

REPO = pathlib.Path(__file__).resolve().parents[2]
TARGET = pathlib.Path(os.environ.get("CARGO_TARGET_DIR", REPO / "target")) / "debug"
BACKEND = os.environ.get("DELTA_BRIDGE_BACKEND_BIN", str(TARGET / "delta-bridge-backend"))
SHARING = os.environ.get("DELTA_BRIDGE_SHARING_BIN", str(TARGET / "delta-bridge-sharing"))
CLI = os.environ.get("DELTA_BRIDGE_CLI_BIN", str(TARGET / "delta-bridge"))
S3S_FS = os.environ.get("S3S_FS_BIN", "s3s-fs")
FIREBASE = os.environ.get("FIREBASE_BIN", "firebase")
PROJECT = "demo-delta-bridge"
S3_KEY, S3_SECRET, BUCKET = "AKIDDELTABRIDGE", "delta-bridge-test-secret-0123456789", "datasets"
MiB = 1 << 20
# Tests poll the backend every 20 ms from one user: no per-user rate limit here (backend/tests/it/limits.rs
# tests it, and ./scripts/bench.sh abuse runs the defaults).
UNLIMITED = ["--user-requests-per-second", "100000"]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_open(port):
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def wait_for(predicate, timeout=10.0, interval=0.02):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return False


def stop(proc):
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


class Emulator:
    """The official Firebase Auth emulator (no Java), with users made through its REST API."""

    def __init__(self, directory):
        self.port = free_port()
        directory.mkdir(parents=True, exist_ok=True)
        (directory / "firebase.json").write_text(json.dumps({
            "emulators": {"auth": {"host": "127.0.0.1", "port": self.port}, "ui": {"enabled": False}, "singleProjectMode": True}
        }))
        self.log = open(directory / "emulator.log", "w")
        env = dict(os.environ, FIREBASE_CLI_DISABLE_UPDATE_CHECK="true", NO_UPDATE_NOTIFIER="1", CI="true")
        self.proc = subprocess.Popen(
            [FIREBASE, "emulators:start", "--only", "auth", "--project", PROJECT],
            cwd=directory, stdout=self.log, stderr=subprocess.STDOUT, env=env,
        )
        self.host = f"127.0.0.1:{self.port}"
        self.url = f"http://{self.host}"
        assert wait_for(self.ready, timeout=120, interval=0.5), f"the Auth emulator did not start, see {directory}/emulator.log"

    def ready(self):
        try:
            return requests.get(self.url + "/", timeout=2).json().get("authEmulator", {}).get("ready", False)
        except (requests.RequestException, ValueError):
            return False

    def sign_up(self, email, password="correct horse battery"):
        """Creates a user and answers their ID token."""
        response = requests.post(
            f"{self.url}/identitytoolkit.googleapis.com/v1/accounts:signUp?key=any",
            json={"email": email, "password": password, "returnSecureToken": True}, timeout=10,
        )
        response.raise_for_status()
        return response.json()["idToken"]


@pytest.fixture(scope="session")
def emulator(tmp_path_factory):
    emulator = Emulator(tmp_path_factory.mktemp("firebase"))
    yield emulator
    stop(emulator.proc)


@pytest.fixture(scope="session")
def s3(tmp_path_factory):
    """s3s-fs on loopback (it checks SigV4 signatures) with an empty bucket."""
    root = tmp_path_factory.mktemp("s3root")
    (root / BUCKET).mkdir()
    port = free_port()
    log_path = root.parent / "s3s-fs.log"
    log = open(log_path, "w")
    proc = subprocess.Popen(
        [S3S_FS, "--host", "127.0.0.1", "--port", str(port), "--access-key", S3_KEY, "--secret-key", S3_SECRET, str(root)],
        stdout=log, stderr=subprocess.STDOUT, env=dict(os.environ, RUST_LOG="s3s_fs=debug", NO_COLOR="1"),
    )
    assert wait_for(lambda: port_open(port)), "s3s-fs did not start"
    yield {"endpoint": f"http://127.0.0.1:{port}", "root": root, "log": log_path}
    stop(proc)


class Process:
    """A binary that prints `listening on <url>` as its first line."""

    def __init__(self, argv, directory, name, env):
        self.log = open(directory / f"{name}.log", "a")
        self.proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=self.log, text=True, env=dict(os.environ, **env))
        line = self.proc.stdout.readline().strip()
        assert line.startswith("listening on "), f"{name} did not start: {line!r}, see {directory}/{name}.log"
        self.url = line.removeprefix("listening on ")

    def stop(self):
        stop(self.proc)


class Stack:
    """The backend (emulator mode) and the sharing server reading the share.yaml the backend writes."""

    def __init__(self, directory, emulator, storage, s3=None, firebase_env=True, backend_args=(), project=PROJECT):
        directory.mkdir(parents=True, exist_ok=True)
        self.dir = directory
        self.emulator = emulator
        self.s3_log = s3["log"] if s3 else None
        # Everything storage holds (s3s-fs keeps multipart parts beside the bucket), and where keys live.
        self.storage_root = s3["root"] if s3 else directory / "storage"
        self.storage_dir = s3["root"] / BUCKET / storage.removeprefix(f"s3://{BUCKET}/") if s3 else directory / "storage"
        sharing_port = free_port()
        env = {"DELTA_BRIDGE_LOG": "info", "NO_COLOR": "1"}
        s3_args = []
        if s3:
            env.update(AWS_ACCESS_KEY_ID=S3_KEY, AWS_SECRET_ACCESS_KEY=S3_SECRET, AWS_REGION="us-east-1")
            s3_args = ["--s3-endpoint", s3["endpoint"], "--s3-path-style"]
        backend_env = dict(env, FIREBASE_AUTH_EMULATOR_HOST=emulator.host) if firebase_env else env
        self.backend_argv = [
            BACKEND, "--listen", "127.0.0.1:0", "--data-dir", str(directory / "data"), "--storage", storage,
            "--firebase-project", project, "--sharing-url", f"http://127.0.0.1:{sharing_port}/delta-sharing",
            "--multipart-threshold", str(6 * MiB), "--part-size", str(5 * MiB),
            # Overwritten files are vacuumed at once unless a share reaches them; share.yaml is checked every second.
            "--retention", "0s", "--maintenance-interval-seconds", "1", *UNLIMITED, *s3_args, *backend_args,
        ]
        # The access log: shipped by the sharing server, collected by the backend (every maintenance pass).
        if s3:
            access = [f"--access-log=s3://{BUCKET}/access-log/{directory.name}"]
            sharing_access = [*access, "--access-journal", str(directory / "access-journal")]
        else:
            access = [f"--access-log={directory / 'data/access-log'}"]
            sharing_access = access
        self.backend_argv += access
        self.backend_env = backend_env
        self.backend = Process(self.backend_argv, directory, "backend", backend_env)
        self.sharing = Process(
            [SHARING, "--config", str(directory / "data/share.yaml"), "--listen", f"127.0.0.1:{sharing_port}", *s3_args,
             *sharing_access, "--access-ship-seconds", "1"],
            directory, "sharing", env,
        )
        self.url = self.backend.url
        self.sharing_endpoint = f"{self.sharing.url}/delta-sharing"

    def restart_backend(self, kill=False):
        """Stops the backend (SIGKILL with `kill`, as a crash) and starts it again on the same data."""
        if kill:
            self.backend.proc.kill()
            self.backend.proc.wait()
        else:
            self.backend.stop()
        self.backend = Process(self.backend_argv, self.dir, "backend", self.backend_env)
        self.url = self.backend.url

    def call(self, method, path, token, **kwargs):
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return requests.request(method, self.url + path, headers=headers, timeout=60, **kwargs)

    def upload(self, token, name, files, mode="create", tamper=None):
        """presign, PUT every file (or part) with plain HTTP, process; answers the process response."""
        specs = [{"name": f.name, "size": f.stat().st_size, "sha256": hashlib.sha256(f.read_bytes()).hexdigest()} for f in files]
        presigned = self.call("POST", "/presign", token, json={"name": name, "files": specs})
        assert presigned.status_code == 200, presigned.text
        presigned = presigned.json()
        parts = {}
        for path, upload in zip(files, presigned["files"]):
            data = path.read_bytes()
            if tamper:
                data = tamper(data)
            if "url" in upload:
                headers = {h["name"]: h["value"] for h in upload.get("headers", [])}
                response = requests.put(upload["url"], data=data, headers=headers, timeout=60)
                if response.status_code != 200:
                    return response
            else:
                size = upload["partSize"]
                etags = []
                for part in upload["parts"]:
                    chunk = data[(part["number"] - 1) * size: part["number"] * size]
                    headers = {h["name"]: h["value"] for h in part.get("headers", [])}
                    response = requests.put(part["url"], data=chunk, headers=headers, timeout=60)
                    assert response.status_code == 200, response.text
                    etags.append(response.headers["ETag"])
                parts[upload["name"]] = etags
        return self.call("POST", "/process", token, json={"uploadId": presigned["uploadId"], "mode": mode, "parts": parts})

    def stop(self):
        self.sharing.stop()
        self.backend.stop()


@pytest.fixture(scope="session")
def local_stack(emulator, tmp_path_factory):
    directory = tmp_path_factory.mktemp("local-stack")
    stack = Stack(directory, emulator, str(directory / "storage"))
    yield stack
    stack.stop()


@pytest.fixture(scope="session")
def s3_stack(emulator, s3, tmp_path_factory):
    stack = Stack(tmp_path_factory.mktemp("s3-stack"), emulator, f"s3://{BUCKET}/prod", s3=s3)
    yield stack
    stack.stop()


@pytest.fixture(scope="session", params=["local", "s3"])
def stack(request):
    """The stack with datasets on local disk, and again on S3."""
    return request.getfixturevalue(f"{request.param}_stack")


def convert(csv_path, out):
    """Converts a CSV with the delta-bridge CLI (as the uploader will) and answers its Parquet files."""
    result = subprocess.run([CLI, "convert", str(csv_path), "--out", str(out), "--json"], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    return sorted(pathlib.Path(out).glob("*.parquet"))


_exit_status = {}


def pytest_sessionfinish(session, exitstatus):
    _exit_status["code"] = int(exitstatus)


@pytest.hookimpl(trylast=True)
def pytest_unconfigure(config):
    # Some tests read with the official client inside this process. pyarrow's scan threads can still be
    # releasing Python buffers when the interpreter finalizes, and CPython 3.11 then aborts the process
    # ("terminate called without an active exception") after every test passed; see run_snippet. Once
    # pytest has reported, leave without finalizing.
    import sys
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(_exit_status.get("code", 0))
