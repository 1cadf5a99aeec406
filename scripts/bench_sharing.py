#!/usr/bin/env python3
"""Benchmark of the sharing server (a bench, not a test). Run it with scripts/bench.sh.

1. `query` on a 10,000-file table: queries per second and p50/p99 latency from a loopback load generator
   (asyncio + aiohttp, fixed concurrency, bounded duration), and the first (cold) query against the warm p50.
2. `load_as_pandas` of a table of at least 500 MB through the server (both response formats) against
   pyarrow reading the same files from disk directly, as ratios measured side by side in one run.

Usage: bench_sharing.py SERVER_BINARY WORK_DIR [--seconds N] [--concurrency N] [--megabytes N]
"""

import argparse
import asyncio
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
import uuid

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq


def many_file_table(path, files=10_000):
    """A table of `files` small data files with statistics, written as one commit."""
    if os.path.exists(os.path.join(path, "_delta_log", f"{0:020}.json")):
        return
    shutil.rmtree(path, ignore_errors=True)
    os.makedirs(os.path.join(path, "_delta_log"))
    schema = {"type": "struct", "fields": [{"name": "id", "type": "long", "nullable": True, "metadata": {}}, {"name": "part", "type": "string", "nullable": True, "metadata": {}}]}
    template = os.path.join(path, "template.parquet")
    pq.write_table(pa.table({"id": pa.array(range(10), pa.int64())}), template)
    size = os.path.getsize(template)
    now = int(time.time() * 1000)
    lines = [
        {"protocol": {"minReaderVersion": 1, "minWriterVersion": 2}},
        {"metaData": {"id": str(uuid.uuid4()), "format": {"provider": "parquet", "options": {}}, "schemaString": json.dumps(schema), "partitionColumns": ["part"], "configuration": {}, "createdTime": now}},
    ]
    for i in range(files):
        part = f"p{i % 100:03d}"
        rel = f"part={part}/f-{i:05d}.parquet"
        os.makedirs(os.path.join(path, f"part={part}"), exist_ok=True)
        os.link(template, os.path.join(path, rel))
        stats = {"numRecords": 10, "minValues": {"id": i * 10}, "maxValues": {"id": i * 10 + 9}, "nullCount": {"id": 0}}
        lines.append({"add": {"path": rel.replace("=", "%3D"), "partitionValues": {"part": part}, "size": size, "modificationTime": now, "dataChange": True, "stats": json.dumps(stats)}})
    with open(os.path.join(path, "_delta_log", f"{0:020}.json"), "w") as f:
        f.write("\n".join(json.dumps(line) for line in lines) + "\n")


def big_table(path, megabytes):
    """A table of random numbers (incompressible), about `megabytes` MB of parquet in 16 files."""
    if os.path.exists(os.path.join(path, "_delta_log")):
        return
    from deltalake import write_deltalake

    rng = np.random.default_rng(7)
    files = 16
    rows_per_file = megabytes * 1024 * 1024 // 64 // files
    for i in range(files):
        columns = {"id": pa.array(np.arange(i * rows_per_file, (i + 1) * rows_per_file, dtype=np.int64))}
        for c in range(7):
            columns[f"x{c}"] = pa.array(rng.random(rows_per_file))
        write_deltalake(path, pa.table(columns), mode="append")


def start_server(binary, workdir, tables):
    yaml = ["version: 1", "shares:", "- name: bench", "  schemas:", "  - name: default", "    tables:"]
    for name, location in tables.items():
        yaml += [f"    - name: {name}", f"      location: file://{location}"]
    config = os.path.join(workdir, "share.yaml")
    with open(config, "w") as f:
        f.write("\n".join(yaml) + "\nauthorization:\n  bearerToken: bench\n")
    proc = subprocess.Popen([binary, "--config", config, "--listen", "127.0.0.1:0"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=dict(os.environ, DELTA_BRIDGE_LOG="warn"))
    url = proc.stdout.readline().strip().removeprefix("listening on ")
    profile = os.path.join(workdir, "bench.share")
    with open(profile, "w") as f:
        json.dump({"shareCredentialsVersion": 1, "endpoint": url + "/delta-sharing", "bearerToken": "bench"}, f)
    return proc, url + "/delta-sharing", profile


async def load_query(endpoint, table, seconds, concurrency):
    import aiohttp

    url = f"{endpoint}/shares/bench/schemas/default/tables/{table}/query"
    headers = {"Authorization": "Bearer bench", "Content-Type": "application/json"}
    latencies = []
    sizes = []
    deadline = time.monotonic() + seconds
    async with aiohttp.ClientSession() as session:

        async def worker():
            while time.monotonic() < deadline:
                start = time.perf_counter()
                async with session.post(url, data="{}", headers=headers) as response:
                    body = await response.read()
                    assert response.status == 200, body[:200]
                latencies.append(time.perf_counter() - start)
                sizes.append(len(body))

        start = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - start
    return latencies, sizes, elapsed


def percentile(values, p):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def timed(fn, repeats):
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return min(times), result


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("binary")
    parser.add_argument("workdir")
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--megabytes", type=int, default=512)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    os.makedirs(args.workdir, exist_ok=True)
    many = os.path.join(args.workdir, "many_files")
    big = os.path.join(args.workdir, "big")
    print("generating tables (cached between runs) ...", file=sys.stderr)
    many_file_table(many)
    big_table(big, args.megabytes)
    proc, endpoint, profile = start_server(args.binary, args.workdir, {"many": many, "big": big})
    try:
        import requests

        start = time.perf_counter()
        cold = requests.post(f"{endpoint}/shares/bench/schemas/default/tables/many/query", json={}, headers={"Authorization": "Bearer bench"}, timeout=120)
        cold_seconds = time.perf_counter() - start
        assert cold.status_code == 200 and len(cold.text.splitlines()) == 10_002
        single, _, _ = asyncio.run(load_query(endpoint, "many", min(args.seconds, 5), 1))
        latencies, sizes, elapsed = asyncio.run(load_query(endpoint, "many", args.seconds, args.concurrency))
        p50, p99 = percentile(latencies, 50), percentile(latencies, 99)
        print(f"\n## query on a 10,000-file table ({args.concurrency} concurrent clients, {elapsed:.1f} s, loopback)")
        print(f"queries/s            {len(latencies) / elapsed:8.1f}")
        print(f"p50 latency          {p50 * 1000:8.1f} ms")
        print(f"p99 latency          {p99 * 1000:8.1f} ms")
        print(f"response size        {statistics.mean(sizes) / 1e6:8.2f} MB ({statistics.mean(sizes) / 10_000:.0f} B per file)")
        print(f"files signed/s       {len(latencies) * 10_000 / elapsed:8.0f}")
        single_p50 = percentile(single, 50)
        print(f"one client: p50/p99  {single_p50 * 1000:8.1f} / {percentile(single, 99) * 1000:.1f} ms")
        print(f"first (cold) query   {cold_seconds * 1000:8.1f} ms = {cold_seconds / single_p50:.1f} x a warm one (log replay of 10,000 adds, once)")

        import delta_sharing
        from deltalake import DeltaTable

        files = [u.removeprefix("file://") for u in DeltaTable(big).file_uris()]
        total = sum(os.path.getsize(f) for f in files)

        def direct():
            return pq.read_table(files).to_pandas()

        def shared(fmt):
            return lambda: delta_sharing.load_as_pandas(f"{profile}#bench.default.big", use_delta_format=fmt)

        import fsspec
        import pandas as pd
        import pyarrow.dataset as ds

        def client_read_path(filesystem, sources):
            # What delta_sharing's parquet path does per file (reader.py, _to_pandas), one file after another.
            frames = [
                ds.dataset(source=s, format="parquet", filesystem=filesystem).to_table().to_pandas(date_as_object=True, use_threads=False, split_blocks=False, self_destruct=True)
                for s in sources
            ]
            return pd.concat(frames, ignore_index=True)

        query = requests.post(f"{endpoint}/shares/bench/schemas/default/tables/big/query", json={}, headers={"Authorization": "Bearer bench"}, timeout=60)
        urls = [json.loads(line)["file"]["url"] for line in query.text.splitlines()[2:]]

        def curl_all():
            # One curl process, one connection, every file in turn.
            subprocess.run(["curl", "-s", *[arg for u in urls for arg in ("-o", "/dev/null", u)]], check=True)

        # Run every contender in the same loop so that all see the same machine load.
        results = {}
        contenders = [
            ("direct", direct),
            ("parquet", shared(False)),
            ("delta", shared(True)),
            ("client_local", lambda: client_read_path(fsspec.filesystem("file"), files)),
            ("client_http", lambda: client_read_path(fsspec.filesystem("http"), urls)),
        ]
        if shutil.which("curl"):
            contenders.append(("curl", curl_all))
        for name, fn in contenders:
            results[name] = timed(fn, args.repeats)
        rows = len(results["direct"][1])
        assert len(results["parquet"][1]) == rows and len(results["delta"][1]) == rows
        base = results["direct"][0]
        print(f"\n## load_as_pandas of {total / 1e6:.0f} MB ({len(files)} files, {rows:,} rows), best of {args.repeats}")
        print(f"pyarrow from disk (direct)         {base:7.2f} s   1.00 x")
        print(f"through the server, delta format   {results['delta'][0]:7.2f} s   {results['delta'][0] / base:.2f} x")
        print(f"through the server, parquet format {results['parquet'][0]:7.2f} s   {results['parquet'][0] / base:.2f} x")
        local, http = results["client_local"][0], results["client_http"][0]
        print("\nwhere the time goes (the client's parquet read path, same code, two sources):")
        print(f"  local files                      {local:7.2f} s   1.00 x")
        print(f"  the server's signed URLs         {http:7.2f} s   {http / local:.2f} x  (fsspec over aiohttp, sequential)")
        if "curl" in results:
            curl = results["curl"][0]
            print(f"  the server's bytes, to curl      {curl:7.2f} s   {total / curl / 1e9:.2f} GB/s from the server's file route")
    finally:
        proc.terminate()
        proc.wait(10)


if __name__ == "__main__":
    main()
