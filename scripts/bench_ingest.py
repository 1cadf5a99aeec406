#!/usr/bin/env python3
"""Benchmark of CSV-to-Delta conversion (a bench, not a test). Run it with scripts/bench.sh ingest.

Generates a mixed CSV of about --megabytes MB (ints, floats, quoted strings with commas, booleans, dates,
timestamps, ZIP codes with leading zeros, nulls), then converts it, each contender in its own process, in
one run: ours (delta-bridge convert), pandas read_csv + deltalake.write_deltalake (what the prototype did),
polars read_csv().write_delta(), pyarrow csv.read_csv + write_deltalake, and DuckDB CSV to Parquet.
Prints wall-clock time and peak memory (max RSS of the process) of each, the ratio to the fastest peer,
and the type each gave the ZIP code column.

Usage: bench_ingest.py DELTA_BRIDGE_BINARY WORK_DIR [--megabytes N] [--repeat N]
"""

import argparse
import os
import random
import shutil
import subprocess
import sys
import time

CONTENDERS = {
    "pandas + deltalake": "import pandas as pd; from deltalake import write_deltalake; write_deltalake(OUT, pd.read_csv(CSV))",
    "polars": "import polars as pl; pl.read_csv(CSV).write_delta(OUT)",
    "pyarrow + deltalake": "import pyarrow.csv as c; from deltalake import write_deltalake; write_deltalake(OUT, c.read_csv(CSV))",
    "duckdb (to parquet)": "import duckdb, os; os.makedirs(OUT); duckdb.sql(f\"COPY (SELECT * FROM read_csv_auto('{CSV}')) TO '{OUT}/data.parquet' (FORMAT PARQUET)\")",
}


def generate(path, megabytes):
    if os.path.exists(path) and os.path.getsize(path) >= megabytes * 1e6 * 0.95:
        return
    rng = random.Random(1)
    firsts = ["Anna", "Bo", "Chloé", "Dmitri", "Eve", "Farid", "Grace", "Hiro"]
    lasts = ["Smith", "O'Neil", "Müller", "García", "Nguyen", "Kowalski"]
    lines = []
    for i in range(200_000):
        note = "" if rng.random() < 0.3 else rng.choice(["ok", "\"late, again\"", "fragile", "gift"])
        qty = "" if rng.random() < 0.1 else str(rng.randint(0, 500))
        lines.append(
            f"{i},{rng.uniform(0, 10000):.2f},\"{rng.choice(lasts)}, {rng.choice(firsts)}\",{'true' if rng.random() < 0.5 else 'false'},"
            f"2024-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d},2024-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}T{rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}:{rng.randint(0, 59):02d}Z,"
            f"{rng.randint(0, 99999):05d},{note},{qty}\n"
        )
    block = "".join(lines).encode()
    with open(path, "wb") as f:
        f.write(b"id,amount,name,active,day,ts,zip,note,qty\n")
        written = 0
        while written < megabytes * 1e6:
            f.write(block)
            written += len(block)


def measure(command):
    """Wall time and peak resident memory (bytes) of a child process."""
    start = time.perf_counter()
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - start
    stderr = proc.stderr.read().decode(errors="replace")
    if status != 0:
        raise RuntimeError(f"{command[0]} failed: {stderr[-2000:]}")
    return elapsed, usage.ru_maxrss * 1024


def zip_type(out):
    import pyarrow.parquet as pq

    if os.path.exists(os.path.join(out, "_delta_log")):
        from deltalake import DeltaTable

        field = next(f for f in DeltaTable(out).schema().fields if f.name == "zip")
        return str(field.type).replace("PrimitiveType(", "").replace(")", "").strip('"')
    return str(pq.read_schema(os.path.join(out, "data.parquet")).field("zip").type)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("binary")
    parser.add_argument("workdir")
    parser.add_argument("--megabytes", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=1, help="rounds; each contender once per round, best kept")
    args = parser.parse_args()
    os.makedirs(args.workdir, exist_ok=True)
    csv_path = os.path.join(args.workdir, f"mixed-{args.megabytes}mb.csv")
    print(f"generating {csv_path} (cached) ...", file=sys.stderr)
    generate(csv_path, args.megabytes)
    size = os.path.getsize(csv_path)
    results = {}
    rounds_seen = []  # per round: {name: seconds}
    runs = [("delta-bridge", None)] + list(CONTENDERS.items())
    for number, (name, code) in enumerate([run for _ in range(args.repeat) for run in runs]):
        if number % len(runs) == 0:
            rounds_seen.append({})
        out = os.path.join(args.workdir, "out-" + name.split()[0])
        shutil.rmtree(out, ignore_errors=True)
        if code is None:
            command = [args.binary, "convert", csv_path, "--out", out, "--json"]
        else:
            command = [sys.executable, "-c", f"CSV={csv_path!r}; OUT={out!r}; {code}"]
        print(f"running {name} ...", file=sys.stderr)
        try:
            seconds, peak = measure(command)
            rounds_seen[-1][name] = seconds
            # Over rounds: the best time and the highest peak memory.
            best, highest, _ = results.get(name, (None, None, None))
            results[name] = (min(seconds, best or seconds), max(peak, highest or 0), zip_type(out))
        except Exception as e:  # a peer that is not installed or fails is reported, not fatal
            results.setdefault(name, (None, None, f"failed: {str(e).splitlines()[-1][:80]}"))
        shutil.rmtree(out, ignore_errors=True)
    peers = [r[0] for n, r in results.items() if n != "delta-bridge" and r[0] is not None]
    fastest = min(peers) if peers else None
    rounds = "one run" if args.repeat == 1 else f"best of {args.repeat} interleaved rounds"
    print(f"\n## CSV to Delta: {size / 1e9:.2f} GB mixed CSV, {os.cpu_count()} cores, {rounds}")
    print(f"{'':22s} {'wall':>8s} {'vs fastest peer':>16s} {'peak memory':>12s}   zip column")
    for name, (seconds, peak, zip_column) in results.items():
        if seconds is None:
            print(f"{name:22s} {'-':>8s} {'-':>16s} {'-':>12s}   {zip_column}")
            continue
        ratio = f"{seconds / fastest:.2f} x" if fastest else "-"
        print(f"{name:22s} {seconds:7.2f}s {ratio:>16s} {peak / 1e6:9.0f} MB   {zip_column}")
    # The same ratio within each round, so that the spread of a noisy machine shows.
    per_round = []
    for times in rounds_seen:
        peer_times = [t for n, t in times.items() if n != "delta-bridge"]
        if "delta-bridge" in times and peer_times:
            per_round.append(f"{times['delta-bridge'] / min(peer_times):.2f}")
    if len(per_round) > 1:
        print(f"delta-bridge vs the fastest peer of the same round: {', '.join(per_round)}")


if __name__ == "__main__":
    main()
