#!/usr/bin/env python3
"""From drop to shared over a throttled link (a bench, not a test). Run it with scripts/bench.sh link.

A "laptop" and the "storage" are two network namespaces joined by a veth pair, throttled with `tc tbf` on
both ends (`--rates`, Mbit/s). The storage side runs s3s-fs, the Firebase Auth emulator and the backend; the
laptop side runs the clients. A generated mixed CSV of about --size-mb MB (ints, floats, dates, timestamps,
repetitive and unique strings, ZIP codes, nulls; cached) goes from the laptop to the storage, for each rate,
side by side in one run:

  ours        delta-bridge upload (convert, upload, commit) then delta-bridge share: until the share exists
  prototype   aws s3 cp of the raw CSV, then, in the storage namespace (as its Lambda did), pandas read_csv
              of the object and deltalake.write_deltalake of a Delta table next to it
  duckdb      COPY (FROM read_csv_auto(...)) TO '....parquet' (FORMAT parquet) on the laptop, then aws s3 cp
  polars      scan_csv(...).sink_parquet(...) on the laptop, then aws s3 cp

It prints, per rate and contender: the time to shared, bytes on the wire (tx_bytes of the laptop's end of the
veth over that contender's run: frames as sent, headers included), peak memory (max RSS) on the laptop and,
for the prototype, of its conversion next to the storage; then ours / the best peer and ours / (our bytes on
the wire / link rate), against the goals of issue 17 (at most 0.5x the best peer at 100 Mbit/s, within 1.15x
of the link's limit). It asserts nothing. Namespaces and processes are removed at the end, also on Ctrl-C.

Needs root (ip netns, tc). Usage: bench_link.py BIN_DIR WORK_DIR [--size-mb N] [--rates 20,100,1000]
  [--only ours,prototype,duckdb,polars] [--keep]
Environment: S3S_FS_BIN, FIREBASE_BIN (set by scripts/bench.sh), and a Secret Service session (with_keyring).
"""

import argparse
import atexit
import binascii
import json
import os
import pathlib
import re
import shutil
import signal
import subprocess
import sys
import time

KEY, SECRET, BUCKET, PROJECT = "AKIDBENCH", "delta-bridge-bench-secret-0123456789", "bench", "demo-bench"
S3_PORT, EMULATOR_PORT, BACKEND_PORT = 9000, 9099, 8081
PREFIX = "dblink"  # namespaces dblink-laptop-<pid> and dblink-store-<pid>, veth dbl<pid>l / dbl<pid>s
PEERS = ["ours", "prototype", "duckdb", "polars"]

# ---------------------------------------------------------------------------------------------- the CSV


def generate(path, megabytes):
    """A mixed CSV of about `megabytes` MB, made of distinct rows (no repeated block a compressor could
    find), built in chunks with numpy and pyarrow. Cached: made again only when missing or too small."""
    if path.exists() and path.stat().st_size >= megabytes * 1e6 * 0.98:
        return
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    rng = np.random.default_rng(17)
    words = np.array(("alpha bravo charlie delta echo foxtrot golf hotel india juliett kilo lima mike november oscar papa "
                      "quebec romeo sierra tango uniform victor whiskey xray yankee zulu late early fragile gift return "
                      "damaged refund priority express standard bulk sample invoice paid unpaid pending").split())
    cities = np.array([f"{a}{b}" for a in ("North", "South", "East", "West", "New", "Old", "Port", "Lake", "Mount", "Saint")
                       for b in ("field", "ham", "ton", "bury", "ford", "wick", "stead", "haven", "mouth", "bridge",
                                 "moor", "dale", "worth", "by", "thorpe", "chester", "minster", "well", "gate", "ley")])
    countries = np.array(["DE", "FR", "GB", "US", "ES", "IT", "NL", "PL", "SE", "JP", "BR", "IN"])
    statuses = np.array(["shipped", "delivered", "pending", "cancelled", "returned"])
    firsts = np.array(["Anna", "Bo", "Chloé", "Dmitri", "Eve", "Farid", "Grace", "Hiro", "Ines", "Jonas", "Kofi", "Lena"])
    lasts = np.array(["Smith", "O'Neil", "Müller", "García", "Nguyen", "Kowalski", "Rossi", "Tanaka", "Dubois", "Silva"])
    start = np.datetime64("2020-01-01T00:00:00", "s")
    span = 5 * 365 * 86400
    tmp = path.with_suffix(".partial")
    chunk = 100_000
    row = 0
    with open(tmp, "wb") as sink:
        sink.write(b"id,customer_id,amount,score,qty,day,ts,status,country,city,zip,name,email,token,active,note\n")
        while sink.tell() < megabytes * 1e6:
            n = chunk
            ids = np.arange(row, row + n, dtype=np.int64)
            row += n
            text = lambda values: pc.cast(pa.array(values), pa.string())  # noqa: E731
            pick = lambda choices: pa.array(choices[rng.integers(0, len(choices), n)])  # noqa: E731
            seconds = rng.integers(0, span, n)
            ts = np.datetime_as_string(start + seconds.astype("timedelta64[s]"), unit="s")
            day = np.datetime_as_string((start + rng.integers(0, span, n).astype("timedelta64[s]")).astype("datetime64[D]"))
            token = np.frombuffer(binascii.hexlify(rng.bytes(n * 8)), dtype="S16").astype(str)
            email = pc.binary_join_element_wise(pick(np.char.lower(firsts)), text(ids * 7919 % 1_000_003),
                                                pick(np.array(["@example.com", "@mail.test", "@corp.example"])), "")
            note = pc.binary_join_element_wise(pick(words), pick(words), pick(words), " ")
            note = pc.if_else(pa.array(rng.random(n) < 0.25), pa.scalar(None, pa.string()), note)
            # "Last, First": quoted, with the delimiter inside.
            name = pc.binary_join_element_wise(pa.scalar('"'), pick(lasts), pa.scalar(", "), pick(firsts), pa.scalar('"'), "")
            columns = [
                text(ids),
                text(rng.integers(1, 2_000_000, n)),
                pc.cast(pa.array(np.round(rng.gamma(2.0, 60.0, n), 2)), pa.string()),
                text(rng.random(n)),
                pc.cast(pa.array(rng.integers(0, 500, n), mask=rng.random(n) < 0.08), pa.string()),
                pa.array(day),
                pa.array(np.char.add(ts, "Z")),
                pa.array(statuses[rng.choice(len(statuses), n, p=[0.5, 0.3, 0.1, 0.06, 0.04])]),
                pick(countries),
                pick(cities),
                pa.array(np.char.zfill(rng.integers(0, 100_000, n).astype(str), 5)),
                name,
                email,
                pa.array(token),
                pc.if_else(pa.array(rng.random(n) < 0.7), "true", "false"),
                note,
            ]
            line = pc.binary_join_element_wise(*columns, ",", null_handling="replace", null_replacement="")
            lines = pc.binary_join_element_wise(line, pa.scalar(""), "\n")
            offsets = np.frombuffer(lines.buffers()[1], dtype=np.int32)[lines.offset: lines.offset + n + 1]
            sink.write(memoryview(lines.buffers()[2])[offsets[0]: offsets[-1]])
    tmp.rename(path)


# ------------------------------------------------------------------------------------------ the network


def run(*argv, check=True, **kwargs):
    return subprocess.run([str(a) for a in argv], check=check, capture_output=True, text=True, **kwargs)


class Link:
    """Two network namespaces joined by a veth pair, each end throttled by tbf."""

    def __init__(self, pid):
        self.laptop, self.store = f"{PREFIX}-laptop-{pid}", f"{PREFIX}-store-{pid}"
        self.laptop_dev, self.store_dev = f"dbl{pid}l"[:15], f"dbl{pid}s"[:15]
        self.created = []
        # 10.213.N.1/30 and 10.213.N.2/30, with an N no interface here or in another namespace uses.
        used = run("ip", "-o", "-4", "addr", "show").stdout + "".join(
            run("ip", "-n", ns, "-o", "-4", "addr", "show", check=False).stdout for ns in namespaces())
        third = next(n % 256 for n in range(pid, pid + 256) if f" 10.213.{n % 256}." not in used)
        self.laptop_ip, self.store_ip = f"10.213.{third}.1", f"10.213.{third}.2"

    def up(self):
        for ns in (self.laptop, self.store):
            run("ip", "netns", "add", ns)
            self.created.append(ns)
            run("ip", "-n", ns, "link", "set", "lo", "up")
        run("ip", "link", "add", self.laptop_dev, "netns", self.laptop, "type", "veth", "peer", "name", self.store_dev, "netns", self.store)
        run("ip", "-n", self.laptop, "addr", "add", f"{self.laptop_ip}/30", "dev", self.laptop_dev)
        run("ip", "-n", self.store, "addr", "add", f"{self.store_ip}/30", "dev", self.store_dev)
        run("ip", "-n", self.laptop, "link", "set", self.laptop_dev, "up")
        run("ip", "-n", self.store, "link", "set", self.store_dev, "up")

    def throttle(self, mbit):
        # The bucket holds 10 ms at the rate (at least 64 KB, so that one GSO burst fits); packets wait at most
        # 100 ms in the queue. The same on both ends: data one way, acknowledgements and answers the other.
        burst = max(64 * 1024, int(mbit * 1e6 / 8 / 100))
        for ns, dev in ((self.laptop, self.laptop_dev), (self.store, self.store_dev)):
            run("tc", "-n", ns, "qdisc", "replace", "dev", dev, "root", "tbf", "rate", f"{mbit}mbit", "burst", str(burst), "latency", "100ms")

    def tx_bytes(self):
        """Bytes the laptop's end of the veth has sent (what crossed the link towards the storage)."""
        info = json.loads(run("ip", "-n", self.laptop, "-j", "-s", "link", "show", "dev", self.laptop_dev).stdout)[0]
        return info["stats64"]["tx"]["bytes"]

    def down(self):
        for ns in reversed(self.created):
            kill_namespace(ns)
        self.created.clear()


def namespaces():
    out = run("ip", "netns", "list", check=False).stdout
    return [line.split()[0] for line in out.splitlines() if line.strip()]


def kill_namespace(ns):
    """Ends what still runs in a namespace this script made, then removes it (the veth goes with it)."""
    pids = run("ip", "netns", "pids", ns, check=False).stdout.split()
    for pid in pids:
        try:
            os.kill(int(pid), signal.SIGKILL)
        except ProcessLookupError:
            pass
    run("ip", "netns", "del", ns, check=False)


def remove_stale():
    """Namespaces a killed earlier run of this script left (its process no longer exists)."""
    for ns in namespaces():
        match = re.fullmatch(rf"{PREFIX}-(laptop|store)-(\d+)", ns)
        if match and not pathlib.Path(f"/proc/{match.group(2)}").exists():
            print(f"removing {ns}, left by an earlier run", file=sys.stderr)
            kill_namespace(ns)


# ------------------------------------------------------------------------------------------- processes


class Services:
    """Long-running processes (each in its own process group), stopped at the end."""

    def __init__(self):
        self.procs = []

    def start(self, name, argv, log_dir, **kwargs):
        log = open(log_dir / f"{name}.log", "w")
        proc = subprocess.Popen([str(a) for a in argv], stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                start_new_session=True, **kwargs)
        self.procs.append((name, proc))
        return proc

    def stop(self):
        for _, proc in self.procs:
            try:
                os.killpg(proc.pid, signal.SIGINT)
            except ProcessLookupError:
                pass
        for _, proc in self.procs:
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                try:
                    os.killpg(proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                proc.wait()
        self.procs.clear()


def wait_port(ns, host, port, timeout=120, proc=None):
    code = f"import socket,sys; s=socket.socket(); s.settimeout(1); sys.exit(s.connect_ex(({host!r},{port})))"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if run("ip", "netns", "exec", ns, sys.executable, "-c", code, check=False).returncode == 0:
            return
        if proc is not None and proc.poll() is not None:
            break
        time.sleep(0.5)
    raise SystemExit(f"nothing listens on {host}:{port} in {ns}")


def measure(argv, env, log):
    """Wall time, peak RSS (bytes) and standard output of one process (argv: `ip netns exec NS cmd ...`);
    raises if it fails. The peak comes from /usr/bin/time run inside the namespace: a child's ru_maxrss
    also counts the memory of the process it was forked from (this script's, after making the CSV)."""
    peak_file = pathlib.Path(log).with_name("peak-rss")
    assert argv[:3] == ["ip", "netns", "exec"]
    argv = [*argv[:4], "/usr/bin/time", "-f", "%M", "-o", peak_file, *argv[4:]]
    start = time.perf_counter()
    with open(log, "a") as err:
        err.write(f"\n$ {' '.join(map(str, argv))}\n")
        err.flush()
        proc = subprocess.run([str(a) for a in argv], stdout=subprocess.PIPE, stderr=err, stdin=subprocess.DEVNULL, env=env)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        raise RuntimeError(f"{pathlib.Path(str(argv[9])).name} exited with {proc.returncode}; see {log}")
    peak = int(peak_file.read_text().split()[-1]) * 1024
    return elapsed, peak, proc.stdout.decode(errors="replace")


# ------------------------------------------------------------------------------------------ contenders


PROTOTYPE = """
import sys, boto3, pandas as pd
from deltalake import write_deltalake
endpoint, key, table = sys.argv[1:4]
body = boto3.client("s3", endpoint_url=endpoint).get_object(Bucket=BUCKET, Key=key)["Body"]
df = pd.read_csv(body)
write_deltalake(f"s3://{BUCKET}/{table}", df, storage_options={
    "AWS_ENDPOINT_URL": endpoint, "AWS_ALLOW_HTTP": "true", "AWS_REGION": "us-east-1",
    "AWS_ACCESS_KEY_ID": KEY, "AWS_SECRET_ACCESS_KEY": SECRET, "AWS_S3_ALLOW_UNSAFE_RENAME": "true"})
"""

DUCKDB = "import duckdb, sys; duckdb.sql(f\"COPY (SELECT * FROM read_csv_auto('{sys.argv[1]}')) TO '{sys.argv[2]}' (FORMAT parquet)\")"
POLARS = "import polars as pl, sys; pl.scan_csv(sys.argv[1]).sink_parquet(sys.argv[2])"


class Bench:
    def __init__(self, args, link, csv, run_dir):
        self.args, self.link, self.csv, self.dir = args, link, csv, run_dir
        self.endpoint = f"http://{link.store_ip}:{S3_PORT}"
        self.s3_env = dict(os.environ, AWS_ACCESS_KEY_ID=KEY, AWS_SECRET_ACCESS_KEY=SECRET, AWS_REGION="us-east-1",
                           AWS_DEFAULT_REGION="us-east-1", AWS_EC2_METADATA_DISABLED="true")
        self.cli_env = dict(os.environ, DELTA_BRIDGE_BACKEND_URL=f"http://{link.store_ip}:{BACKEND_PORT}",
                            FIREBASE_AUTH_EMULATOR_HOST=f"{link.store_ip}:{EMULATOR_PORT}", DELTA_BRIDGE_INSECURE_HTTP="1",
                            DELTA_BRIDGE_STATE_DIR=str(run_dir / "laptop" / "state"), DELTA_BRIDGE_CONFIG=str(run_dir / "none.toml"))
        self.cli = str(args.bin_dir / "delta-bridge")
        self.log = run_dir / "clients.log"

    def on_laptop(self, *argv):
        return ["ip", "netns", "exec", self.link.laptop, *argv]

    def on_store(self, *argv):
        return ["ip", "netns", "exec", self.link.store, *argv]

    def aws_cp(self, path, key):
        return self.on_laptop(sys.executable, "-m", "awscli", "s3", "cp", "--quiet", "--only-show-errors", path,
                              f"s3://{BUCKET}/{key}", "--endpoint-url", self.endpoint)

    def ours(self, rate):
        name = f"link-{rate}"
        upload, peak_upload, out = measure(self.on_laptop(self.cli, "upload", self.csv, "--name", name, "--json"), self.cli_env, self.log)
        uploaded = json.loads(out)
        share, peak_share, out = measure(self.on_laptop(self.cli, "share", name, "--json"), self.cli_env, self.log)
        if json.loads(out).get("shared") is not True:
            raise RuntimeError(f"delta-bridge share did not say it shared {name}: {out[:200]}")
        dataset = uploaded.get("dataset", {})
        return {"seconds": upload + share, "laptop": max(peak_upload, peak_share),
                "steps": f"upload {upload:.1f} + share {share:.1f}", "sent": dataset.get("bytes")}

    def prototype(self, rate):
        key = f"raw/{rate}/{self.csv.name}"
        send, peak_send, _ = measure(self.aws_cp(self.csv, key), self.s3_env, self.log)
        code = f"BUCKET, KEY, SECRET = {BUCKET!r}, {KEY!r}, {SECRET!r}\n" + PROTOTYPE
        convert, peak_convert, _ = measure(self.on_store(sys.executable, "-c", code, self.endpoint, key, f"prototype/{rate}"), self.s3_env, self.log)
        return {"seconds": send + convert, "laptop": peak_send, "storage": peak_convert,
                "steps": f"send {send:.1f} + convert {convert:.1f}", "sent": self.csv.stat().st_size}

    def to_parquet(self, rate, name, code):
        out = self.dir / "laptop" / f"{name}-{rate}.parquet"
        out.unlink(missing_ok=True)
        convert, peak_convert, _ = measure(self.on_laptop(sys.executable, "-c", code, self.csv, out), self.s3_env, self.log)
        send, peak_send, _ = measure(self.aws_cp(out, f"{name}/{rate}/{out.name}"), self.s3_env, self.log)
        size = out.stat().st_size
        out.unlink()
        return {"seconds": convert + send, "laptop": max(peak_convert, peak_send),
                "steps": f"convert {convert:.1f} + send {send:.1f}", "sent": size}

    def duckdb(self, rate):
        return self.to_parquet(rate, "duckdb", DUCKDB)

    def polars(self, rate):
        return self.to_parquet(rate, "polars", POLARS)


def start_storage(args, link, run_dir, services, ours):
    store = run_dir / "store"
    (store / "s3" / BUCKET).mkdir(parents=True)
    (store / "firebase").mkdir()
    s3_env = dict(os.environ, AWS_ACCESS_KEY_ID=KEY, AWS_SECRET_ACCESS_KEY=SECRET, AWS_REGION="us-east-1")
    ns = ["ip", "netns", "exec", link.store]
    s3 = services.start("s3s-fs", [*ns, os.environ["S3S_FS_BIN"], "--host", link.store_ip, "--port", S3_PORT, "--access-key", KEY,
                                   "--secret-key", SECRET, store / "s3"], run_dir)
    wait_port(link.store, link.store_ip, S3_PORT, proc=s3)
    if not ours:
        return
    (store / "firebase" / "firebase.json").write_text(json.dumps(
        {"emulators": {"auth": {"host": link.store_ip, "port": EMULATOR_PORT}, "ui": {"enabled": False}, "singleProjectMode": True}}))
    emulator = services.start("firebase", [*ns, os.environ["FIREBASE_BIN"], "emulators:start", "--only", "auth", "--project", PROJECT],
                              run_dir, cwd=store / "firebase", env=dict(os.environ, CI="true", FIREBASE_CLI_DISABLE_UPDATE_CHECK="true"))
    backend = services.start("backend", [*ns, args.bin_dir / "delta-bridge-backend", "--listen", f"{link.store_ip}:{BACKEND_PORT}",
                                         "--data-dir", store / "backend", "--storage", f"s3://{BUCKET}/datasets",
                                         "--s3-endpoint", f"http://{link.store_ip}:{S3_PORT}", "--s3-path-style",
                                         "--firebase-project", PROJECT, "--sharing-url", f"http://{link.store_ip}:8080/delta-sharing"],
                             run_dir, env=dict(s3_env, FIREBASE_AUTH_EMULATOR_HOST=f"{link.store_ip}:{EMULATOR_PORT}"))
    wait_port(link.store, link.store_ip, EMULATOR_PORT, proc=emulator)
    wait_port(link.store, link.store_ip, BACKEND_PORT, proc=backend)


def mb(n):
    return f"{n / 1e6:.0f}" if n is not None else "-"


def report(rate, results, size):
    print(f"\n## {rate} Mbit/s: {size / 1e6:.0f} MB CSV from the laptop namespace to the storage namespace")
    print(f"{'':10} {'to shared':>10} {'file sent':>10} {'on the wire':>12} {'wire/rate':>10} {'laptop peak':>12} {'storage peak':>13}   steps (s)")
    for name, r in results.items():
        if "error" in r:
            print(f"{name:10} {'failed':>10}   {r['error']}")
            continue
        limit = r["wire"] * 8 / (rate * 1e6)
        storage = f"{r['storage'] / 1e6:10.0f} MB" if r.get("storage") else f"{'-':>13}"
        print(f"{name:10} {r['seconds']:9.1f}s {mb(r['sent']):>7} MB {mb(r['wire']):>9} MB {limit:9.1f}s {r['laptop'] / 1e6:9.0f} MB {storage}   {r['steps']}")
    ours = results.get("ours")
    peers = {n: r for n, r in results.items() if n != "ours" and "error" not in r}
    if not ours or "error" in ours:
        return
    limit = ours["wire"] * 8 / (rate * 1e6)
    line = f"ours / (our bytes on the wire / link rate) = {ours['seconds']:.1f} / {limit:.1f} = {ours['seconds'] / limit:.2f}x (goal: at most 1.15x)"
    if peers:
        best = min(peers, key=lambda n: peers[n]["seconds"])
        ratio = ours["seconds"] / peers[best]["seconds"]
        goal = " (goal at 100 Mbit/s: at most 0.5x)" if rate == 100 else ""
        print(f"ours / best peer ({best}) = {ours['seconds']:.1f} / {peers[best]['seconds']:.1f} = {ratio:.2f}x{goal}")
    print(line)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("bin_dir", type=pathlib.Path)
    parser.add_argument("work", type=pathlib.Path)
    parser.add_argument("--size-mb", type=int, default=1000, help="size of the generated CSV (cached), MB")
    parser.add_argument("--rates", default="20,100,1000", help="link rates to measure, Mbit/s, comma-separated")
    parser.add_argument("--only", default=",".join(PEERS), help="contenders, comma-separated: " + ",".join(PEERS))
    parser.add_argument("--keep", action="store_true", help="keep the run directory (logs, storage) at the end")
    args = parser.parse_args()
    if os.geteuid() != 0:
        sys.exit("bench_link.py needs root (ip netns, tc)")
    rates = [int(r) for r in args.rates.split(",") if r]
    chosen = [p for p in args.only.split(",") if p]
    unknown = set(chosen) - set(PEERS)
    if unknown:
        sys.exit(f"unknown contenders: {', '.join(sorted(unknown))}")

    work = args.work / "link"
    work.mkdir(parents=True, exist_ok=True)
    csv = work / f"mixed-{args.size_mb}mb.csv"
    print(f"generating {csv} (cached) ...", file=sys.stderr, flush=True)
    started = time.perf_counter()
    generate(csv, args.size_mb)
    print(f"{csv.stat().st_size / 1e6:.0f} MB CSV ready ({time.perf_counter() - started:.0f} s)", file=sys.stderr, flush=True)

    remove_stale()
    run_dir = work / f"run-{os.getpid()}"
    shutil.rmtree(run_dir, ignore_errors=True)
    (run_dir / "laptop").mkdir(parents=True)
    link = Link(os.getpid())
    services = Services()

    def cleanup():
        services.stop()
        link.down()
        if not args.keep:
            shutil.rmtree(run_dir, ignore_errors=True)

    atexit.register(cleanup)
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, lambda number, _frame: sys.exit(128 + number))
    try:
        link.up()
        print(f"laptop {link.laptop} ({link.laptop_ip}), storage {link.store} ({link.store_ip}); logs in {run_dir}", file=sys.stderr, flush=True)
        start_storage(args, link, run_dir, services, "ours" in chosen)
        bench = Bench(args, link, csv, run_dir)
        time.sleep(1)
        link.throttle(1000)
        if "ours" in chosen:
            run(*bench.on_laptop(bench.cli, "login", "--email", "bench@example.com", "--sign-up"), input="bench-password\n", env=bench.cli_env)
        everything = {}
        for rate in rates:
            link.throttle(rate)
            results = {}
            for name in chosen:
                print(f"{rate} Mbit/s: {name} ...", file=sys.stderr, flush=True)
                before = link.tx_bytes()
                try:
                    results[name] = getattr(bench, name)(rate)
                except Exception as e:  # a peer that fails is reported, not fatal
                    results[name] = {"error": str(e)[-200:]}
                    continue
                results[name]["wire"] = link.tx_bytes() - before
            everything[rate] = results
            report(rate, results, csv.stat().st_size)
            sys.stdout.flush()
        load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
        print(f"\n{os.cpu_count()} cores (load average at the end {load}); tbf on both ends of the veth; on the wire: tx_bytes of"
              f" the laptop's end (frames, headers included); wire/rate: those bytes at the link rate, the physical limit;"
              f" the run took {time.perf_counter() - started:.0f} s.")
        (work / f"last-run-{args.size_mb}mb.json").write_text(json.dumps({"size": csv.stat().st_size, "results": everything}, indent=1))
    finally:
        cleanup()
        atexit.unregister(cleanup)


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        sys.exit("interrupted: the namespaces and processes were removed")
