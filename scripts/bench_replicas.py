#!/usr/bin/env python3
"""Benchmark of sharing-server replicas (a bench, not a test). Run it with scripts/bench.sh replicas.

Reads per second (`query` on the 10,000-file table of bench_sharing.py) through ONE replica and through
TWO replicas of delta-bridge-sharing serving the same table, with p50/p99 latency and the ratio two/one.

"One host per replica" is emulated by giving each replica one core: `taskset -c <core>` and
TOKIO_WORKER_THREADS=1 (the multi-thread runtime that #[tokio::main] builds reads it). The load
generator is bench_sharing.py's `load_query` in --processes processes with --concurrency workers in all;
process i sends to replica i mod replicas, so with two replicas each gets half the workers. The machine
has no core to spare for the load generator, so it is placed two ways:

  shared      not pinned, as any client on this machine: it takes its CPU from the replicas' cores.
              One replica has core 0 to itself (its clients run on core 1); two replicas share both
              cores with their clients, so two/one stays below 2 by the clients' share of the CPU.
  per host    each generator process pinned to the core of the replica it loads: every emulated host
              runs one replica and the clients of that replica, the same per-replica cost either way.
  reference   one replica, not pinned, default worker threads (both cores), shared load generator:
              how much of the gain is replication and how much is simply more CPU.

The CPU time of the replicas, of the load generator and of the rest of the machine (other users) is
measured in every run, and the ratio is explained from it. Configurations run interleaved, --rounds
times; the best round of each is reported (the others are printed too).

Usage: bench_replicas.py SERVER_BINARY WORK_DIR [--seconds N] [--concurrency N] [--processes N] [--rounds N]
"""

import argparse
import asyncio
import multiprocessing
import os
import resource
import statistics
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_sharing import load_query, many_file_table, percentile  # noqa: E402

TICKS = os.sysconf("SC_CLK_TCK")

# key, label, replicas as (cores, tokio worker threads), whether generator processes are pinned with their replica
CONFIGS = [
    ("one", "one replica, core 0", [("0", 1)], False),
    ("two", "two replicas, cores 0 and 1", [("0", 1), ("1", 1)], False),
    ("one_host", "one replica, core 0, per host", [("0", 1)], True),
    ("two_host", "two replicas, cores 0 and 1, per host", [("0", 1), ("1", 1)], True),
    ("ref", "one replica on both cores (reference)", [(None, None)], False),
]


def start_replica(binary, workdir, table, cpus, threads, key_file):
    """One replica serving `table`, pinned to `cpus` with `threads` tokio workers when given."""
    config = os.path.join(workdir, "replicas-share.yaml")
    yaml = ["version: 1", "shares:", "- name: bench", "  schemas:", "  - name: default", "    tables:", "    - name: many", f"      location: file://{table}"]
    with open(config, "w") as f:
        f.write("\n".join(yaml) + "\nauthorization:\n  bearerToken: bench\n")
    env = dict(os.environ, DELTA_BRIDGE_LOG="warn")
    env.pop("TOKIO_WORKER_THREADS", None)
    if threads:
        env["TOKIO_WORKER_THREADS"] = str(threads)
    # Every request carries the same token: lift the per-token rate limit so that it does not cap the bench.
    command = [binary, "--config", config, "--listen", "127.0.0.1:0", "--signing-key-file", key_file, "--token-requests-per-second", "1e9"]
    if cpus is not None:
        command = ["taskset", "-c", cpus, *command]  # taskset execs the server: same pid
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env)
    line = proc.stdout.readline().strip()
    if not line.startswith("listening on "):
        proc.kill()
        raise SystemExit(f"a replica did not start: {line!r}")
    return proc, line.removeprefix("listening on ") + "/delta-sharing"


def process_cpu(pid):
    """CPU seconds (user + system, all threads) used so far by a process."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def machine_busy():
    """CPU seconds the whole machine has spent not idle, all cores (steal included: it is lost to us too)."""
    with open("/proc/stat") as f:
        values = [int(v) for v in f.readline().split()[1:9]]
    return (sum(values) - values[3] - values[4]) / TICKS


def generator(endpoint, cpus, seconds, concurrency, barrier, results):
    """One load generator process: a short warm-up, then the measured run, started with the others."""
    if cpus is not None:
        os.sched_setaffinity(0, {int(c) for c in cpus.split(",")})
    asyncio.run(load_query(endpoint, "many", 1, concurrency))  # warms connections and the replica
    barrier.wait()
    before = resource.getrusage(resource.RUSAGE_SELF)
    latencies, sizes, elapsed = asyncio.run(load_query(endpoint, "many", seconds, concurrency))
    after = resource.getrusage(resource.RUSAGE_SELF)
    cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    results.put((latencies, statistics.mean(sizes), elapsed, cpu))


def first_query(endpoint):
    import requests

    response = requests.post(f"{endpoint}/shares/bench/schemas/default/tables/many/query", json={}, headers={"Authorization": "Bearer bench"}, timeout=120)
    assert response.status_code == 200 and len(response.text.splitlines()) == 10_002, response.text[:200]


def run(config, args, table, key_file):
    key, _, placement, per_host = config
    context = multiprocessing.get_context("fork")
    replicas = [start_replica(args.binary, args.workdir, table, cpus, threads, key_file) for cpus, threads in placement]
    try:
        endpoints = [endpoint for _, endpoint in replicas]
        for endpoint in endpoints:
            first_query(endpoint)  # replays the log: kept out of the figures
        barrier = context.Barrier(args.processes + 1)
        queue = context.Queue()
        workers = [args.concurrency // args.processes + (1 if i < args.concurrency % args.processes else 0) for i in range(args.processes)]
        processes = [
            context.Process(
                target=generator,
                args=(endpoints[i % len(replicas)], placement[i % len(replicas)][0] if per_host else None, args.seconds, workers[i], barrier, queue),
            )
            for i in range(args.processes)
        ]
        for process in processes:
            process.start()
        barrier.wait(120)
        server_before = sum(process_cpu(proc.pid) for proc, _ in replicas)
        busy_before = machine_busy()
        results = [queue.get(timeout=args.seconds + 120) for _ in processes]
        busy = machine_busy() - busy_before
        server = sum(process_cpu(proc.pid) for proc, _ in replicas) - server_before
        for process in processes:
            process.join(30)
            assert process.exitcode == 0, f"a load generator failed (exit code {process.exitcode})"
    finally:
        for proc, _ in replicas:
            proc.terminate()
        for proc, _ in replicas:
            proc.wait(10)
    latencies = [latency for result in results for latency in result[0]]
    elapsed = max(result[2] for result in results)
    generator_cpu = sum(result[3] for result in results)
    return {
        "queries": len(latencies),
        "qps": len(latencies) / elapsed,
        "p50": percentile(latencies, 50),
        "p99": percentile(latencies, 99),
        "size": statistics.mean(result[1] for result in results),
        "elapsed": elapsed,
        # CPU seconds per query, and cores used on average during the run
        "server_ms": server / len(latencies) * 1000,
        "generator_ms": generator_cpu / len(latencies) * 1000,
        "server_cores": server / elapsed,
        "generator_cores": generator_cpu / elapsed,
        "other_cores": max(0.0, busy - server - generator_cpu) / elapsed,
    }


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("binary")
    parser.add_argument("workdir")
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--processes", type=int, default=2, help="load generator processes (even: two replicas get the same share)")
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    args.binary = os.path.abspath(args.binary)
    args.workdir = os.path.abspath(args.workdir)
    cores = os.cpu_count()
    if len(os.sched_getaffinity(0)) < 2 or not {0, 1} <= os.sched_getaffinity(0):
        raise SystemExit("this bench pins replicas to cores 0 and 1: it needs both")
    os.makedirs(args.workdir, exist_ok=True)
    table = os.path.join(args.workdir, "many_files")
    print("generating the 10,000-file table (cached between runs) ...", file=sys.stderr)
    many_file_table(table)
    key_file = os.path.join(args.workdir, "replicas-signing.key")
    with open(key_file, "wb") as f:
        f.write(os.urandom(32))  # one key for every replica, as behind one load balancer

    runs = {config[0]: [] for config in CONFIGS}
    for round_ in range(args.rounds):
        for config in CONFIGS:
            result = run(config, args, table, key_file)
            runs[config[0]].append(result)
            print(f"round {round_ + 1}/{args.rounds}  {config[1]:<40} {result['qps']:7.1f} queries/s  (others used {result['other_cores']:.2f} cores)", file=sys.stderr)
    best = {key: max(results, key=lambda r: r["qps"]) for key, results in runs.items()}

    print(f"\n## query on a 10,000-file table through one and two replicas ({args.concurrency} concurrent clients in {args.processes} processes, "
          f"{args.seconds:.0f} s per run, best of {args.rounds} interleaved rounds, loopback, {cores} cores)")
    print(f"response: {best['one']['size'] / 1e6:.2f} MB (10,000 signed file URLs)\n")
    print(f"{'configuration':<40} {'queries/s':>9} {'p50 ms':>7} {'p99 ms':>7}  {'CPU ms per query':>17}  {'cores used by':>27}  every round")
    print(f"{'':<40} {'':>9} {'':>7} {'':>7}  {'server  load gen':>17}  {'servers  load gen  others':>27}  (queries/s)")
    for key, label, _, _ in CONFIGS:
        r = best[key]
        every = ", ".join(f"{x['qps']:.1f}" for x in runs[key])
        print(f"{label:<40} {r['qps']:9.1f} {r['p50'] * 1000:7.1f} {r['p99'] * 1000:7.1f}  {r['server_ms']:6.2f}  {r['generator_ms']:8.2f}  "
              f"{r['server_cores']:7.2f}  {r['generator_cores']:8.2f}  {r['other_cores']:6.2f}  {every}")

    one, two = best["one"], best["two"]
    print(f"\ntwo replicas / one replica                    {two['qps'] / one['qps']:5.2f} x   (goal 1.7 x; load generator shared, not pinned)")
    print(f"two replicas / one replica, per host          {best['two_host']['qps'] / best['one_host']['qps']:5.2f} x   (each replica's clients on its own core)")
    print(f"one replica on both cores / one replica       {best['ref']['qps'] / one['qps']:5.2f} x   (more CPU, no replication)")
    print(f"two replicas / one replica on both cores      {two['qps'] / best['ref']['qps']:5.2f} x")

    # Throughput = cores the servers got / server CPU per query. The server's CPU per query is the same
    # with one or two replicas (they share nothing but the table's files), so the ratio is the ratio of
    # the cores the servers got, and those are what the load generator and other users left.
    cores_ratio = two["server_cores"] / one["server_cores"]
    cost_ratio = one["server_ms"] / two["server_ms"]
    ceiling = cores * one["server_ms"] / (one["server_ms"] + one["generator_ms"])
    print(f"\nwhy: queries/s = cores the servers got / server CPU per query ({one['server_ms']:.1f} ms with one replica, {two['server_ms']:.1f} ms with two).")
    print(f"  two/one = {two['server_cores']:.2f} / {one['server_cores']:.2f} cores x {one['server_ms']:.2f} / {two['server_ms']:.2f} ms = {cores_ratio:.2f} x {cost_ratio:.2f} = {cores_ratio * cost_ratio:.2f}")
    print(f"  one replica: the load generator ({one['generator_cores']:.2f} cores) ran beside it, mostly on the free core 1 (other users: "
          f"{one['other_cores']:.2f} cores); two replicas: it took {two['generator_cores']:.2f} cores from theirs, and other users {two['other_cores']:.2f}.")
    print(f"  ceiling with the load generator on these {cores} cores and nothing else running: {cores} x {one['server_ms']:.2f} / "
          f"({one['server_ms']:.2f} + {one['generator_ms']:.2f}) ms = {ceiling:.2f} x; with clients on other machines, {cores:.2f} x.")

    disturbed = [label for key, label, _, _ in CONFIGS if best[key]["other_cores"] > 0.15]
    if disturbed:
        print(f"note: other processes used more than 0.15 cores during the reported run of: {', '.join(disturbed)} (a shared machine); "
              "more --rounds give them more chances at a quiet window.")


if __name__ == "__main__":
    main()
