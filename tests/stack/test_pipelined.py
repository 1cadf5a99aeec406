"""Drop to shared at the speed of the link: the CLI sends each data file as soon as the conversion closes it.
Killed while still converting, it resumes without sending a part twice; cancelled while converting, it
leaves nothing; a column widened after files went up discards them, and the version holds only the files
of the conversion's last pass. On local disk and on S3 (s3s-fs)."""

import json
import signal
import subprocess
import uuid

import deltalake

from conftest import wait_for
from test_faults import FaultStack
from test_uploader import ANSI, PASSWORD, Cli, big_csv, received_counts

# Small data files, so that a CSV of a few hundred MB makes several and they go up while it converts.
FILE_SIZE = ["--file-size", "8"]


def journal_of(journals):
    for path in journals.glob("*.json"):
        try:
            return json.loads(path.read_text())
        except ValueError:
            continue
    return None


def sending_while_converting(journals):
    """The journal shows parts sent while the conversion has not finished."""
    journal = journal_of(journals)
    return bool(journal and not journal["converted"] and journal.get("upload_id")
                and any(s.get("parts") or s.get("whole") for s in journal["sent"].values()))


def signed_in(stack, tmp_path):
    cli = Cli(stack, tmp_path / "cli")
    cli.run("login", "--email", f"{uuid.uuid4().hex[:10]}@example.com", "--sign-up", stdin=PASSWORD + "\n")
    return cli


def test_killed_while_converting_it_resumes_without_sending_a_part_twice(stack, tmp_path):
    cli = signed_in(stack, tmp_path)
    csv = tmp_path / "big.csv"
    rows = big_csv(csv, megabytes=300)
    journals = cli.state / "uploads"

    first = cli.spawn("upload", csv, "--name", "piped", "--concurrency", "1", *FILE_SIZE, "--json")
    assert wait_for(lambda: sending_while_converting(journals), timeout=600, interval=0.005), first.communicate()
    first.send_signal(signal.SIGKILL)
    first.wait()
    journal = journal_of(journals)
    assert journal["converted"] is False, "killed before the conversion ended"
    upload_id = journal["upload_id"]

    second = cli.json("upload", csv, "--name", "piped", "--concurrency", "4", *FILE_SIZE)
    assert second["resumed"] is True
    assert second["dataset"]["rows"] == rows
    assert second["bytesSent"] > 0
    assert not list(journals.glob("*.json")), "the journal is removed once committed"

    table = deltalake.DeltaTable(str(stack.storage_dir / "datasets" / second["dataset"]["id"]))
    assert len(table.file_uris()) >= 3, "several data files, sent as they were closed"
    frame = table.to_pandas()
    assert len(frame) == rows and frame["id"].tolist() == list(range(rows)), "every row once, in order"

    if stack.s3_log is None:
        # Converting again made the same bytes: what the first run sent was not sent again.
        counts = received_counts(ANSI.sub("", (stack.dir / "backend.log").read_text()), upload_id)
        assert counts and all(n == 1 for n in counts.values()), {k: n for k, n in counts.items() if n != 1}


def test_cancelled_while_converting_it_leaves_nothing(stack, tmp_path):
    cli = signed_in(stack, tmp_path)
    csv = tmp_path / "big.csv"
    big_csv(csv, megabytes=300)
    before = {p for p in stack.storage_root.rglob("*") if p.is_file()}
    journals = cli.state / "uploads"
    seen = {}

    def sending():
        journal = journal_of(journals)
        if journal and sending_while_converting(journals):
            seen.update(journal)
            return True
        return False

    upload = cli.spawn("upload", csv, "--name", "cancelled", "--concurrency", "1", *FILE_SIZE, "--json")
    assert wait_for(sending, timeout=600, interval=0.005), upload.communicate()
    upload.send_signal(signal.SIGINT)
    _, stderr = upload.communicate(timeout=120)
    assert upload.returncode == 130, stderr
    assert "cancelled" in stderr
    assert not list(journals.glob("*.json")), "no journal is left"
    assert not list((cli.state / "staging").glob("*")), "no converted copy is left"
    assert cli.json("datasets") == []
    assert not [p for p in stack.storage_root.rglob("*") if p.is_file() and seen["upload_id"] in str(p)]
    assert wait_for(lambda: {p for p in stack.storage_root.rglob("*") if p.is_file()} == before, timeout=30), \
        "storage holds what it held before"


def test_a_column_widened_after_files_went_up_leaves_them_out_of_the_version(stack, tmp_path):
    cli = signed_in(stack, tmp_path)
    csv = tmp_path / "late.csv"
    rows = big_csv(csv, megabytes=200)
    # The last row's id is not a number: found only at the end, after files of the first pass went up.
    with open(csv, "a") as f:
        f.write("last,00000,1.0,the last row,2024-01-01\n")
    rows += 1

    log_file = stack.dir / "backend.log"
    mark = len(log_file.read_text()) if log_file.exists() else 0
    uploaded = cli.json("upload", csv, "--name", "late", "--concurrency", "2", *FILE_SIZE)
    assert uploaded["dataset"]["rows"] == rows
    assert any("'id' became string" in note for note in uploaded["notes"]), uploaded["notes"]
    schema = {c["name"]: c["type"] for c in uploaded["dataset"]["schema"]}
    assert schema["id"] == "string", schema

    table_dir = stack.storage_dir / "datasets" / uploaded["dataset"]["id"]
    table = deltalake.DeltaTable(str(table_dir))
    frame = table.to_pandas()
    assert len(frame) == rows and frame["id"].iloc[-1] == "last" and frame["id"].iloc[0] == "0"
    in_version = {uri.rsplit("/", 1)[-1] for uri in table.file_uris()}
    # The first pass's files are deleted once the version is committed: storage keeps the version's alone.
    stored = lambda: {p.name for p in table_dir.glob("*.parquet")}
    assert wait_for(lambda: stored() == in_version, timeout=30), (stored() - in_version)

    if stack.s3_log is None:
        # This upload's files, as the backend received them (the log since it began).
        received = set()
        for line in ANSI.sub("", log_file.read_text()[mark:]).splitlines():
            if "received upload=" in line:
                received.add(line.split(" file=")[1].split()[0])
        assert len(received) > len(in_version), "files of the first pass had gone up before it started over"


def test_a_disk_that_fills_while_converting_keeps_what_was_sent_and_the_upload_resumes(stack, tmp_path):
    # The converted copy lives under the state directory: there, a 24 MB file system fills a few data
    # files into the conversion, after the first ones went up. That is not the input's fault: the
    # journal stays, with the upload and what it sent, and the same command resumes once there is room.
    cli = signed_in(stack, tmp_path)
    csv = tmp_path / "big.csv"
    rows = big_csv(csv, megabytes=300)
    journals = cli.state / "uploads"
    staging = cli.state / "staging"
    staging.mkdir(parents=True, exist_ok=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=24m", "tmpfs", str(staging)], check=True)
    try:
        full = cli.run("upload", csv, "--name", "filled", "--concurrency", "2", *FILE_SIZE, "--json", check=False)
        assert full.returncode != 0, full.stdout
        assert "No space left on device" in full.stderr, full.stderr
        journal = journal_of(journals)
        assert journal and journal["upload_id"] and not journal["converted"], journal

        subprocess.run(["mount", "-o", "remount,size=512m", str(staging)], check=True)
        resumed = cli.json("upload", csv, "--name", "filled", "--concurrency", "2", *FILE_SIZE)
        assert resumed["resumed"] is True
        assert resumed["dataset"]["rows"] == rows
        assert not list(journals.glob("*.json")), "the journal is removed once committed"
    finally:
        subprocess.run(["umount", "-l", str(staging)], check=False)

    table = deltalake.DeltaTable(str(stack.storage_dir / "datasets" / resumed["dataset"]["id"]))
    frame = table.to_pandas()
    assert len(frame) == rows and frame["id"].tolist() == list(range(rows)), "every row once, in order"
    if stack.s3_log is None:
        counts = received_counts(ANSI.sub("", (stack.dir / "backend.log").read_text()), journal["upload_id"])
        assert counts and all(n == 1 for n in counts.values()), {k: n for k, n in counts.items() if n != 1}


def test_urls_that_expire_while_their_files_wait_their_turn_are_made_again(emulator, s3, tmp_path):
    # Every data PUT waits 1 s at the storage's door, one at a time, and upload URLs live 4 s: the files
    # presigned as the conversion closed them wait their turn longer than that. Each one refused for an
    # expired URL goes again, at once, on URLs made again; the upload completes with every row in order.
    stack = FaultStack(tmp_path / "stack", emulator, s3, backend_args=["--upload-expiry-seconds", "4"])
    try:
        cli = signed_in(stack, tmp_path)
        csv = tmp_path / "big.csv"
        rows = big_csv(csv, megabytes=100)
        stack.proxy.set_fault("delay", seconds=1.0, rule=lambda method, path: method == "PUT" and path.endswith(".parquet"))
        uploaded = cli.json("upload", csv, "--name", "waited", "--concurrency", "1", "--file-size", "1")
        assert uploaded["dataset"]["rows"] == rows
        refused = [e for e in stack.proxy.snapshot() if e["status"] == 403]
        assert refused, "some URLs expired before their turn"
        table = deltalake.DeltaTable(str(stack.storage_dir / "datasets" / uploaded["dataset"]["id"]))
        assert len(table.file_uris()) > 6, "more files than go up before the first URLs expire"
        frame = table.to_pandas()
        assert len(frame) == rows and frame["id"].tolist() == list(range(rows)), "every row once, in order"
    finally:
        stack.proxy.clear()
        stack.stop()
