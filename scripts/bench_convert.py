#!/usr/bin/env python3
"""Benchmark of the desktop app's conversion against `delta-bridge convert` (a bench, not a test). Run it with
scripts/bench.sh convert.

Generates (once, cached in WORK_DIR) the mixed CSV of scripts/bench_ingest.py, about --megabytes MB, then, in one
run, alternately: `delta-bridge convert FILE --out DIR` (the release CLI, wall time of the process) and an upload
of the same file in the release desktop app (under Xvfb through tauri-driver, against the Auth emulator and the
backend with datasets on local disk), each under a fresh dataset name. One warm-up of each, then --runs of each
(5); the best and the median of each are printed, and ratios of the bests (other work on a shared machine can
only lengthen a run). The app runs twice, one launch after the other: as launched (WebKit composites the page
with OpenGL, which under Xvfb, without a GPU, is Mesa's software rasterizer llvmpipe, on the same cores as the
conversion) and with WEBKIT_DISABLE_COMPOSITING_MODE=1 (the page painted without OpenGL), with the web view
process's CPU time printed for each.

The app's time runs from the click on the item's Upload button, taken inside the page, to the moment the
conversion's Delta commit is written in the app's staging directory (the mtime of its
_delta_log/00000000000000000000.json, caught by polling the directory while the upload runs: the app removes the
staged copy once uploaded). Also printed, from a MutationObserver on the queue (the page is not polled while it
converts): when the first "converting" progress showed, when the bar reached 45% (the converting stage's end: the
reader reached the end of the file, while the last row groups are still being encoded), and when the "uploading"
stage began (after the app hashed the converted files with SHA-256 and presigned them, which the CLI's convert
does not do). CPU times: the CLI's from wait4, the app's and its web view process's from /proc, from the click to
the commit.

Usage: bench_convert.py BIN_DIR WORK_DIR [--megabytes N] [--runs N]
Environment: FIREBASE_BIN, TAURI_DRIVER_BIN, a Secret Service session (set by scripts/bench.sh).
"""

import argparse
import os
import pathlib
import shutil
import statistics
import subprocess
import sys
import threading
import time
import uuid

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests" / "stack"))

from bench_ingest import generate  # noqa: E402 (the same CSV as the ingest benchmark)

# In the page: the queue item of dataset `name`; marks (epoch milliseconds) of its stages, set by a
# MutationObserver; then a click on its Upload button.
START = """
const item = [...document.querySelectorAll('#queue .file')].find(i => i.querySelector('.name')?.value === arguments[0]);
const now = () => performance.timeOrigin + performance.now();
const marks = {};
window.__bench = marks;
const look = () => {
  const t = now();
  const bar = item.querySelector('progress');
  const text = item.querySelector('.progress-text')?.textContent ?? '';
  if (!marks.converting && text.includes('converting')) marks.converting = t;
  if (!marks.full && bar && bar.value >= 0.45) marks.full = t;
  if (!marks.uploading && text.includes('uploading')) marks.uploading = t;
  const status = item.dataset.status;
  if (!marks.end && (status === 'done' || !item.isConnected || item.querySelector('.error'))) {
    marks.end = t;
    marks.status = item.isConnected ? status : 'gone';
    marks.error = item.querySelector('.error')?.innerText ?? '';
    window.__benchObserver.disconnect();
  }
};
window.__benchObserver?.disconnect();
window.__benchObserver = new MutationObserver(look);
window.__benchObserver.observe(document.querySelector('#queue'), {subtree: true, childList: true, attributes: true, characterData: true});
marks.click = now();
item.querySelector('.upload').click();
"""

READY = """
const item = [...document.querySelectorAll('#queue .file')].find(i => i.querySelector('.name')?.value === arguments[0]);
if (!item) return false;
const button = item.querySelector('.upload');
return item.querySelectorAll('tbody tr').length > 0 && !!button && !button.disabled;
"""


class CommitWatch(threading.Thread):
    """Polls the app's staging directory for a new table's first commit and keeps that file's mtime, and what
    `sample()` answers once it is seen."""

    def __init__(self, staging, sample):
        super().__init__(daemon=True)
        self.staging = staging
        self.sample = sample
        self.before = set(self.tables())
        self.mtime = self.sampled = None
        self.stop = threading.Event()

    def tables(self):
        try:
            return os.listdir(self.staging)
        except FileNotFoundError:
            return []

    def run(self):
        while not self.stop.is_set():
            for key in self.tables():
                if key in self.before:
                    continue
                try:
                    self.mtime = os.stat(self.staging / key / "_delta_log" / f"{0:020}.json").st_mtime_ns / 1e6
                    self.sampled = self.sample()
                    return
                except OSError:
                    pass
            time.sleep(0.002)


TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid):
    """User and system CPU time of a process, its ended threads included."""
    try:
        fields = pathlib.Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / TICK
    except OSError:
        return 0.0


def web_views(pid):
    """The WebKit web processes the app `pid` started (they render its page)."""
    found = []
    for task in pathlib.Path(f"/proc/{pid}/task").glob("*/children"):
        for child in task.read_text().split():
            try:
                if pathlib.Path(f"/proc/{child}/comm").read_text().startswith("WebKitWebProces"):
                    found.append(int(child))
            except OSError:
                pass
    return found


def quiet():
    """Between measured runs: written data flushed, the machine settled."""
    os.sync()
    time.sleep(1.5)


def cli_run(cli, csv, out):
    """The wall time and CPU time of `delta-bridge convert`."""
    shutil.rmtree(out, ignore_errors=True)
    quiet()
    start = time.perf_counter()
    proc = subprocess.Popen([cli, "convert", str(csv), "--out", str(out), "--json"], stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        sys.exit(f"delta-bridge convert failed ({proc.returncode})")
    shutil.rmtree(out, ignore_errors=True)
    return seconds, usage.ru_utime + usage.ru_stime


def app_run(app, csv, name, staging, links, pid):
    """Adds a link to `csv` named after `name`, uploads it, and answers its marks in seconds from the click, and
    the CPU time the app (`pid`) and its web view process used from the click until the conversion's commit."""
    from conftest import wait_for

    link = links / f"{name}.csv"
    os.link(csv, link)
    app.run("window.deltaBridge.addFiles(arguments[0]);", [str(link)])
    assert wait_for(lambda: app.run(READY, name), timeout=60, interval=0.2), f"{name} was not ready to upload"
    quiet()
    processes = {"app": [pid], "web view": web_views(pid)}
    sample = lambda: {k: sum(map(cpu_seconds, pids)) for k, pids in processes.items()}  # noqa: E731
    watch = CommitWatch(staging, sample)
    watch.start()
    cpu = sample()
    app.run(START, name)
    marks = {}
    ended = lambda: marks.update(app.run("return window.__bench;") or {}) or "end" in marks  # noqa: E731
    # No WebDriver calls while it converts, but every 5 s one to see whether the upload failed.
    deadline = time.monotonic() + 600
    while watch.is_alive() and time.monotonic() < deadline:
        watch.join(5)
        if watch.is_alive() and ended():
            break
    watch.stop.set()
    watch.join()
    finished = wait_for(ended, timeout=600, interval=0.2)
    if not finished or marks.get("status") != "done":
        sys.exit(f"the app's upload of {name} did not finish: {marks}")
    click = marks["click"]
    times = {k: (marks[k] - click) / 1000 for k in ("converting", "full", "uploading") if k in marks}
    if watch.mtime is None:
        sys.exit(f"the staged table of {name} was not seen in {staging}")
    times["committed"] = (watch.mtime - click) / 1000
    return times, {k: watch.sampled[k] - cpu[k] for k in cpu}


def clock_offset(app):
    """How far the page's clock (performance.timeOrigin + now()) is from this process's, in ms (0 when the
    page's reading falls between two of ours)."""
    before = time.time() * 1000
    page = app.run("return performance.timeOrigin + performance.now();")
    after = time.time() * 1000
    return 0.0 if before - 1 <= page <= after + 1 else page - (before + after) / 2


PHASES = [("app", {}), ("app, compositing off", {"WEBKIT_DISABLE_COMPOSITING_MODE": "1"})]


def phase(app, pid, cli, csv, run, staging, runs, title):
    """One warm-up and `runs` measured runs of the CLI and the app, alternated."""
    cli_times, app_times, cpus = [], [], []
    for number in range(runs + 1):
        label = f"{title}, " + ("warm-up" if number == 0 else f"run {number}")
        print(f"{label}: delta-bridge convert, then the app ...", file=sys.stderr)
        seconds, cli_cpu = cli_run(cli, csv, run / "cli-out")
        times, cpu = app_run(app, csv, f"bench-{uuid.uuid4().hex[:8]}", staging, run / "files", pid)
        cpu["cli"] = cli_cpu
        print(f"{label}: cli {seconds:.2f} s, app {times['committed']:.2f} s (bar at 45% {times.get('full', float('nan')):.2f} s, "
              f"uploading {times.get('uploading', float('nan')):.2f} s); CPU to the commit: cli {cli_cpu:.2f} s, "
              f"app {cpu['app']:.2f} s, web view {cpu['web view']:.2f} s", file=sys.stderr)
        if number:
            cli_times.append(seconds)
            app_times.append(times)
            cpus.append(cpu)
    return cli_times, app_times, cpus


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("bin_dir", type=pathlib.Path)
    parser.add_argument("work", type=pathlib.Path)
    parser.add_argument("--megabytes", type=int, default=512)
    parser.add_argument("--runs", type=int, default=5, help="measured runs of each, per launch of the app, after one warm-up")
    args = parser.parse_args()
    bins = args.bin_dir.resolve()
    os.environ["DELTA_BRIDGE_DESKTOP_BIN"] = str(bins / "delta-bridge-desktop")
    os.environ["DELTA_BRIDGE_BACKEND_BIN"] = str(bins / "delta-bridge-backend")
    # Read by the test modules when imported.
    import conftest
    from test_desktop import IDENTIFIER, apps_on, launch

    args.work.mkdir(parents=True, exist_ok=True)
    csv = args.work / f"mixed-{args.megabytes}mb.csv"
    print(f"generating {csv} (cached) ...", file=sys.stderr)
    generate(str(csv), args.megabytes)
    size = csv.stat().st_size

    run = args.work / "convert"
    shutil.rmtree(run, ignore_errors=True)
    (run / "files").mkdir(parents=True)
    cli = str(bins / "delta-bridge")
    print("starting the Auth emulator and the backend ...", file=sys.stderr)
    emulator = conftest.Emulator(run / "firebase")
    backend = None
    results = {}
    try:
        backend = conftest.Process(
            [conftest.BACKEND, "--listen", "127.0.0.1:0", "--data-dir", str(run / "data"), "--storage", str(run / "storage"),
             "--firebase-project", conftest.PROJECT, *conftest.UNLIMITED],
            run, "backend", {"FIREBASE_AUTH_EMULATOR_HOST": emulator.host, "NO_COLOR": "1"})
        for number, (title, env) in enumerate(PHASES):
            # One launch at a time: a second app would hand its files to the first (one app per user).
            home = run / f"app-{number}"
            home.mkdir()
            print(f"starting the app ({title}) ...", file=sys.stderr)
            session = launch(home, DELTA_BRIDGE_BACKEND_URL=backend.url, FIREBASE_AUTH_EMULATOR_HOST=emulator.host, **env)
            try:
                app = next(session)
                app.find("#email", timeout=60)
                app.type("#email", f"{uuid.uuid4().hex[:10]}@example.com")
                app.type("#password", "correct horse battery")
                app.click("#sign-up")
                app.find("#drop")
                offset = clock_offset(app)
                if offset:
                    print(f"warning: the page's clock is {offset:.1f} ms off this process's; the commit times are shifted by it", file=sys.stderr)
                pids = apps_on(app.display)
                assert len(pids) == 1, f"expected one app on :{app.display}, found {pids}"
                results[title] = phase(app, pids[0], cli, csv, run, home / "data" / IDENTIFIER / "staging", args.runs, title)
            finally:
                session.close()
    finally:
        if backend is not None:
            backend.stop()
        conftest.stop(emulator.proc)
    shutil.rmtree(run, ignore_errors=True)
    report(results, size, args.runs)


def report(results, size, runs):
    """Best times (what other work on the machine can only lengthen), medians beside them; ratios of the bests."""
    mb = size / 1e6
    all_cli = [t for cli_times, _, _ in results.values() for t in cli_times]
    cli = min(all_cli)
    print(f"\n## The desktop app's conversion against delta-bridge convert: {mb:.0f} MB mixed CSV, release builds, "
          f"{os.cpu_count()} cores, Xvfb without a GPU")
    print(f"{runs} run{'s' if runs != 1 else ''} of each per launch of the app, after a warm-up, alternated with the CLI's; "
          f"best and median; MB/s and ratio of the best\n")
    print(f"{'':58} {'best s':>7} {'median':>7} {'MB/s':>6} {'vs CLI':>7}")

    def row(name, times, throughput=True):
        best = min(times)
        rate = f"{mb / best:6.0f}" if throughput else f"{'-':>6}"
        print(f"{name:58} {best:7.2f} {statistics.median(times):7.2f} {rate} {best / cli:6.2f}x")

    row(f"delta-bridge convert (process wall time, {len(all_cli)} runs)", all_cli)
    headline = {}
    for title, (cli_times, app_times, cpus) in results.items():
        cpu = {k: statistics.median(c[k] for c in cpus) for k in ("cli", "app", "web view")}
        print(f"{title}: median CPU time from the click to the commit: app {cpu['app']:.2f} s, its web view process "
              f"{cpu['web view']:.2f} s (the CLI's conversion: {cpu['cli']:.2f} s)")
        row("  click to the staged table's commit (conversion done)", [t["committed"] for t in app_times])
        row("  click to the first 'converting' progress", [t["converting"] for t in app_times], throughput=False)
        row("  click to the bar at 45% (reader at the end)", [t["full"] for t in app_times])
        row("  click to 'uploading' (+ SHA-256 of the output, presign)", [t["uploading"] for t in app_times])
        print("  per run, CLI / app: " + ", ".join(f"{c:.2f} / {a['committed']:.2f}" for c, a in zip(cli_times, app_times)))
        headline[title] = min(t["committed"] for t in app_times)
    app, plain = headline["app"], headline["app, compositing off"]
    print(f"\nconvert {mb:.0f} MB CSV (best of {runs}): delta-bridge convert {cli:.2f} s ({mb / cli:.0f} MB/s), "
          f"app {app:.2f} s ({mb / app:.0f} MB/s), app/cli {app / cli:.2f}x; "
          f"with WebKit compositing off {plain:.2f} s ({mb / plain:.0f} MB/s), {plain / cli:.2f}x")


if __name__ == "__main__":
    main()
