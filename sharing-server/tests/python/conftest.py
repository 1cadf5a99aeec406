"""Fixtures: generated tables, a real S3-compatible server (s3s-fs) and the real sharing-server binary.

Environment (set by scripts/test.sh):
  DELTA_BRIDGE_SHARING_BIN  the delta-bridge-sharing binary
  S3S_FS_BIN                the s3s-fs binary
  DELTA_BRIDGE_FIXTURES     where generated tables are cached between runs
"""

import datetime as dt
import json
import os
import pathlib
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

import pytest
import requests

REPO = pathlib.Path(__file__).resolve().parents[3]
BIN = os.environ.get("DELTA_BRIDGE_SHARING_BIN", str(REPO / "target/debug/delta-bridge-sharing"))
S3S_FS = os.environ.get("S3S_FS_BIN", "s3s-fs")
TABLES = ["plain", "partitioned", "versions", "cdf", "column_mapping", "checkpointed", "large"]
GLOBAL_TOKEN = "global-token-for-tests"
ALICE_TOKEN = "alice-token-0123456789abcdef"  # scoped to share "demo"
BOB_TOKEN = "bob-token-0123456789abcdef"  # scoped to share "other"
EXPIRED_TOKEN = "carol-token-0123456789abcdef"  # scoped to "demo", expired
S3_KEY, S3_SECRET, BUCKET = "AKIDDELTABRIDGE", "delta-bridge-test-secret-0123456789", "delta-bridge"


def token_hash(token):
    import hashlib

    return "sha256:" + hashlib.sha256(token.encode()).hexdigest()


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(predicate, timeout=10.0, interval=0.02):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return False


@pytest.fixture(scope="session")
def tables_dir():
    out = pathlib.Path(os.environ.get("DELTA_BRIDGE_FIXTURES", tempfile.mkdtemp())) / "tables-v1"
    subprocess.run([sys.executable, str(REPO / "scripts/make_tables.py"), str(out)], check=True)
    return out


@pytest.fixture(scope="session")
def s3_root(tables_dir, tmp_path_factory):
    """The directory s3s-fs serves. s3s-fs keeps objects as plain files: a bucket is a directory, so a
    test can put or rewrite objects there directly."""
    root = tmp_path_factory.mktemp("s3root")
    # copytree keeps modification times, which become LastModified and so the commit timestamps the
    # server derives.
    shutil.copytree(tables_dir, root / BUCKET)
    return root


S3_ENV = {"AWS_ACCESS_KEY_ID": S3_KEY, "AWS_SECRET_ACCESS_KEY": S3_SECRET, "AWS_REGION": "us-east-1"}


@pytest.fixture(scope="session")
def s3(s3_root):
    """s3s-fs on loopback with keys (it checks SigV4), holding a copy of every table."""
    root = s3_root
    port = free_port()
    log = open(root.parent / "s3s-fs.log", "w")
    proc = subprocess.Popen(
        [S3S_FS, "--host", "127.0.0.1", "--port", str(port), "--access-key", S3_KEY, "--secret-key", S3_SECRET, str(root)],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    endpoint = f"http://127.0.0.1:{port}"
    assert wait_for(lambda: _port_open(port)), "s3s-fs did not start"
    yield endpoint
    proc.terminate()
    proc.wait(10)


def _port_open(port):
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def share_yaml(locations, extra="", tokens=True, history=True, tables=None):
    """A share.yaml with share "demo" (every table), "other" (plain) and "nohistory" (plain, history not shared)."""
    lines = ["version: 1", "shares:", "- name: demo", "  schemas:", "  - name: default", "    tables:"]
    for name in tables or TABLES:
        lines += [f"    - name: {name}", f"      location: {locations(name)}", f"      historyShared: {'true' if history else 'false'}"]
    lines += ["- name: other", "  schemas:", "  - name: default", "    tables:", "    - name: plain", f"      location: {locations('plain')}"]
    lines += ["- name: nohistory", "  schemas:", "  - name: default", "    tables:", "    - name: plain", f"      location: {locations('plain')}"]
    if tokens:
        past = (dt.datetime.now(dt.timezone.utc) - dt.timedelta(hours=1)).isoformat()
        future = (dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=1)).isoformat()
        lines += [
            "authorization:",
            f"  bearerToken: {GLOBAL_TOKEN}",
            "  tokens:",
            "  - name: alice",
            f"    tokenHash: {token_hash(ALICE_TOKEN)}",
            "    shares: [demo]",
            f"    expiresAt: {future}",
            "  - name: bob",
            f"    tokenHash: {token_hash(BOB_TOKEN)}",
            "    shares: [other]",
            "  - name: carol",
            f"    tokenHash: {token_hash(EXPIRED_TOKEN)}",
            "    shares: [demo]",
            f"    expiresAt: {past}",
        ]
    return "\n".join(lines) + "\n" + extra


# Shared servers serve every test from a few tokens: no rate limit (test_rate_limit.py tests it).
UNLIMITED = ["--token-requests-per-second", "100000"]


class Server:
    """The real delta-bridge-sharing binary on a free loopback port."""

    def __init__(self, directory, config_text, args=(), env=None):
        self.dir = pathlib.Path(directory)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.config = self.dir / "share.yaml"
        self.write_config(config_text)
        self.stderr = open(self.dir / "server.log", "w")
        full_env = dict(os.environ, DELTA_BRIDGE_LOG="info", **(env or {}))
        self.proc = subprocess.Popen(
            [BIN, "--config", str(self.config), "--listen", "127.0.0.1:0", *args],
            stdout=subprocess.PIPE,
            stderr=self.stderr,
            env=full_env,
            text=True,
        )
        line = self.proc.stdout.readline().strip()
        assert line.startswith("listening on "), f"server did not start: {line!r}, see {self.dir / 'server.log'}"
        self.url = line.removeprefix("listening on ")
        self.endpoint = self.url + "/delta-sharing"

    def write_config(self, text):
        """Replaces share.yaml atomically (temporary file + rename), as a config writer should."""
        tmp = self.dir / ".share.yaml.tmp"
        tmp.write_text(text)
        os.replace(tmp, self.config)

    def profile(self, token=GLOBAL_TOKEN, name="profile"):
        path = self.dir / f"{name}.share"
        path.write_text(json.dumps({"shareCredentialsVersion": 1, "endpoint": self.endpoint, "bearerToken": token}))
        return str(path)

    def get(self, path, token=GLOBAL_TOKEN, headers=None, **kwargs):
        h = {"Authorization": f"Bearer {token}"} if token else {}
        return requests.get(self.endpoint + path, headers={**h, **(headers or {})}, timeout=30, **kwargs)

    def post(self, path, body, token=GLOBAL_TOKEN, headers=None):
        h = {"Authorization": f"Bearer {token}", **(headers or {})}
        return requests.post(self.endpoint + path, json=body, headers=h, timeout=30)

    def health(self):
        return requests.get(self.url + "/healthz", timeout=5).json()

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        self.stderr.close()


@pytest.fixture(scope="session")
def local_server(tables_dir, tmp_path_factory):
    server = Server(tmp_path_factory.mktemp("local"), share_yaml(lambda t: f"file://{tables_dir / t}"), args=UNLIMITED)
    yield server
    server.stop()


@pytest.fixture(scope="session")
def s3_server(s3, tmp_path_factory):
    server = Server(
        tmp_path_factory.mktemp("s3"),
        share_yaml(lambda t: f"s3://{BUCKET}/{t}"),
        args=["--s3-endpoint", s3, "--s3-path-style", *UNLIMITED],
        env=S3_ENV,
    )
    yield server
    server.stop()


@pytest.fixture(scope="session", params=["local", "s3"])
def server(request):
    """The sharing server, once with tables on local disk and once on S3."""
    return request.getfixturevalue(f"{request.param}_server")


@pytest.fixture
def fresh_server(tables_dir, tmp_path):
    """A server of the test's own, for tests that rewrite share.yaml."""
    servers = []

    def start(config_text=None, args=(), env=None):
        text = config_text or share_yaml(lambda t: f"file://{tables_dir / t}")
        s = Server(tmp_path / f"server{len(servers)}", text, args=args, env=env)
        servers.append(s)
        return s

    yield start
    for s in servers:
        s.stop()
