"""The delta-bridge CLI end to end: sign in (the refresh token in a real Secret Service), upload a CSV with
awkward content, share, run the printed snippet with the official client, unshare; kill an upload of a
300 MB CSV and run it again. Against the backend on local disk and on S3 (s3s-fs). The CLI runs with a
permissive umask (022): what it writes must still be for its user alone. It never sends a password or a token
over plain http:// to another machine unless told to."""

import json
import os
import re
import signal
import stat
import subprocess
import time
import uuid

import deltalake
import pandas as pd
import pytest
import requests

from conftest import CLI, convert, wait_for
from test_backend import AWKWARD, run_snippet, write_csv

PASSWORD = "correct horse battery"


def keyring_available():
    return bool(os.environ.get("DBUS_SESSION_BUS_ADDRESS"))


pytestmark = pytest.mark.skipif(not keyring_available(), reason="needs a Secret Service session (scripts/test.sh starts one)")


def permissive_umask():
    os.umask(0o022)


def mode(path):
    return stat.S_IMODE(os.lstat(path).st_mode)


def assert_private(root, unless=lambda path: False):
    """root and every directory under it 0700, every file 0600 (but those `unless` excuses)."""
    assert mode(root) == 0o700, root
    for path in root.rglob("*"):
        if path.is_file() and unless(path):
            continue
        assert mode(path) == (0o700 if path.is_dir() else 0o600), (path, oct(mode(path)))


class Cli:
    def __init__(self, stack, directory):
        directory.mkdir(parents=True, exist_ok=True)
        self.env = dict(
            os.environ,
            DELTA_BRIDGE_BACKEND_URL=stack.url,
            FIREBASE_AUTH_EMULATOR_HOST=stack.emulator.host,
            DELTA_BRIDGE_STATE_DIR=str(directory / "state"),
            DELTA_BRIDGE_CONFIG=str(directory / "config.toml"),
        )
        self.state = directory / "state"

    def run(self, *args, stdin=None, check=True, timeout=600, env=None):
        result = subprocess.run([CLI, *map(str, args)], input=stdin, capture_output=True, text=True,
                                env=dict(self.env, **(env or {})), timeout=timeout, preexec_fn=permissive_umask)
        if check and result.returncode != 0:
            raise AssertionError(f"delta-bridge {' '.join(map(str, args))} exited {result.returncode}: {result.stderr}")
        return result

    def json(self, *args, **kwargs):
        return json.loads(self.run(*args, "--json", **kwargs).stdout)

    def spawn(self, *args):
        return subprocess.Popen([CLI, *map(str, args)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=self.env,
                                preexec_fn=permissive_umask)


def secret_tool_lookup(backend_url):
    result = subprocess.run(["secret-tool", "search", "--all", "service", "delta-bridge"], capture_output=True, text=True)
    return result.stdout + result.stderr


def test_login_upload_share_snippet_unshare_logout(stack, tmp_path):
    cli = Cli(stack, tmp_path / "cli")
    email = f"{uuid.uuid4().hex[:10]}@example.com"
    assert cli.json("login", "--email", email, "--sign-up", stdin=PASSWORD + "\n")["email"] == email
    assert cli.json("whoami")["email"] == email
    # The refresh token is in the keyring and nowhere on disk.
    stored = secret_tool_lookup(stack.url)
    assert "delta-bridge" in stored
    for path in cli.state.rglob("*"):
        if path.is_file():
            assert "refresh" not in path.read_text(errors="ignore").lower(), path

    csv = write_csv(tmp_path, AWKWARD, "awkward sales.csv")
    convert(csv, tmp_path / "expected")
    expected = deltalake.DeltaTable(str(tmp_path / "expected")).to_pandas()
    uploaded = cli.json("upload", csv, "--name", "awkward", "--share")
    assert uploaded["dataset"]["rows"] == 4 and uploaded["dataset"]["version"] == 0
    snippet = uploaded["snippet"]
    df, error = run_snippet(snippet, tmp_path / "notebook")
    assert df is not None, error[-2000:]
    pd.testing.assert_frame_equal(df.reset_index(drop=True), expected.reset_index(drop=True), check_dtype=True)

    listed = cli.json("datasets")
    assert [(d["name"], d["shared"]) for d in listed] == [("awkward", True)]
    assert cli.json("snippet", "awkward")["snippet"]["profile"] == snippet["profile"]
    text = cli.run("snippet", "awkward").stdout
    assert "load_as_pandas" in text and "pip install delta-sharing" in text

    assert cli.json("unshare", "awkward")["wasShared"] is True
    time.sleep(1.0)
    df, error = run_snippet(snippet, tmp_path / "notebook-after")
    assert df is None and ("401" in error or "Unauthorized" in error), error[-2000:]

    assert cli.json("logout")["signedOut"] is True
    result = cli.run("whoami", check=False)
    assert result.returncode == 4 and "not signed in" in result.stderr
    result = cli.run("datasets", check=False)
    assert result.returncode == 4


def test_sign_in_mistakes_have_clear_messages_and_exit_codes(stack, tmp_path):
    cli = Cli(stack, tmp_path / "cli")
    email = f"{uuid.uuid4().hex[:10]}@example.com"
    cli.run("login", "--email", email, "--sign-up", stdin=PASSWORD + "\n")
    wrong = cli.run("login", "--email", email, stdin="not the password\n", check=False)
    assert wrong.returncode == 4 and "wrong email or password" in wrong.stderr
    assert "not the password" not in wrong.stderr + wrong.stdout
    unknown = cli.run("login", "--email", "nobody-" + email, stdin=PASSWORD + "\n", check=False)
    assert unknown.returncode == 4 and "no account" in unknown.stderr
    bad_input = cli.run("upload", tmp_path / "missing.csv", check=False)
    assert bad_input.returncode == 3, bad_input.stderr
    usage = cli.run("upload", check=False)
    assert usage.returncode == 2
    offline = subprocess.run([CLI, "datasets"], capture_output=True, text=True, env=dict(cli.env, DELTA_BRIDGE_BACKEND_URL="http://127.0.0.1:9"))
    assert offline.returncode in (4, 5)


def parts_sent(journals):
    """How many parts the upload journals in `journals` record as sent (a journal being written counts 0)."""
    count = 0
    for journal in journals.glob("*.json"):
        try:
            sent = json.loads(journal.read_text())["sent"]
        except (ValueError, KeyError):
            continue
        count += sum(len(s.get("parts", {})) for s in sent.values())
    return count


def big_csv(path, megabytes=300):
    """A mixed CSV of about `megabytes` MB (ints, ZIP codes, floats, text). Each label holds a 64-bit hash, so
    that the data files stay large (over 10 MB for 120 MB: several 5 MB parts) whatever the compression."""
    line = "{i},{zip:05d},{x:.3f},customer {h:016x} of a large export,2024-01-{d:02d}\n"
    with open(path, "w") as f:
        f.write("id,zip,amount,label,day\n")
        size, i = 0, 0
        while size < megabytes << 20:
            chunk = "".join(line.format(i=j, zip=j % 99999, x=j * 0.37, h=(j * 0x9E3779B97F4A7C15) & 0xFFFFFFFFFFFFFFFF,
                                        d=j % 28 + 1) for j in range(i, i + 20000))
            f.write(chunk)
            size += len(chunk)
            i += 20000
    return i


ANSI = re.compile(r"\x1b\[[0-9;]*m")


def received_counts(log_text, upload_id):
    counts = {}
    for m in re.finditer(r"received upload=(\S+) file=(\d+) part=(\d+)", log_text):
        if m.group(1) == upload_id:
            key = (int(m.group(2)), int(m.group(3)))
            counts[key] = counts.get(key, 0) + 1
    return counts


def test_a_killed_upload_resumes_without_sending_a_part_twice(stack, tmp_path):
    cli = Cli(stack, tmp_path / "cli")
    email = f"{uuid.uuid4().hex[:10]}@example.com"
    cli.run("login", "--email", email, "--sign-up", stdin=PASSWORD + "\n")
    csv = tmp_path / "big.csv"
    rows = big_csv(csv)

    first = cli.spawn("upload", csv, "--name", "big", "--concurrency", "1", "--json")
    journals = cli.state / "uploads"
    assert wait_for(lambda: parts_sent(journals) >= 2, timeout=600, interval=0.005), first.communicate()
    first.send_signal(signal.SIGKILL)
    first.wait()
    journal = json.loads(next(journals.glob("*.json")).read_text())
    sent_before = sum(len(s.get("parts", {})) for s in journal["sent"].values())
    assert sent_before > 0
    # The journal, the converted copy of the CSV and the account record are the user's alone (the
    # files of a conversion still under way too: its files go up as it closes them).
    assert mode(cli.state) == 0o700
    assert mode(cli.state / "account.json") == 0o600
    assert_private(journals)
    # Every directory 0700 and every data file 0600 from the start; the log deltalake writes at the end is
    # tightened once written, in a directory that was 0700 before it was.
    assert_private(cli.state / "staging", unless=lambda path: path.parent.name == "_delta_log")
    assert [p for p in (cli.state / "staging").rglob("*.parquet")], "the converted copy is there"

    second = cli.json("upload", csv, "--name", "big", "--concurrency", "4")
    assert second["resumed"] is True
    assert second["dataset"]["rows"] == rows
    assert not list(journals.glob("*.json")), "the journal is removed once committed"
    # What the version holds: its files, and the PUTs they took (parts of 5 MiB above 6 MiB, else one).
    sizes = [os.path.getsize(uri.removeprefix("file://"))
             for uri in deltalake.DeltaTable(str(stack.storage_dir / "datasets" / second["dataset"]["id"])).file_uris()]
    multipart_parts = sum(-(-size // (5 << 20)) for size in sizes if size > 6 << 20)
    total_parts = multipart_parts + sum(1 for size in sizes if size <= 6 << 20)
    assert sent_before < total_parts, (sent_before, total_parts)
    assert second["bytesSent"] < sum(sizes)

    if stack.s3_log is None:
        counts = received_counts(ANSI.sub("", (stack.dir / "backend.log").read_text()), journal["upload_id"])
        assert counts and all(n == 1 for n in counts.values()), {k: n for k, n in counts.items() if n != 1}
        assert len(counts) == total_parts
    else:
        log = ANSI.sub("", stack.s3_log.read_text())
        seen = {}
        for upload, part in re.findall(r"write file, path: \S*\.upload_id-([0-9a-f-]+)\.part-(\d+)", log):
            seen[(upload, part)] = seen.get((upload, part), 0) + 1
        assert len(seen) >= multipart_parts, "s3s-fs logged fewer part writes than this upload has parts"
        assert all(n == 1 for n in seen.values()), {k: n for k, n in seen.items() if n != 1}


def test_cancelling_an_upload_leaves_nothing_behind(stack, tmp_path):
    cli = Cli(stack, tmp_path / "cli")
    email = f"{uuid.uuid4().hex[:10]}@example.com"
    token = stack.emulator.sign_up(email, PASSWORD)
    cli.run("login", "--email", email, stdin=PASSWORD + "\n")
    csv = tmp_path / "big.csv"
    big_csv(csv, megabytes=150)
    before = {p for p in stack.storage_root.rglob("*") if p.is_file()}
    upload = cli.spawn("upload", csv, "--name", "cancelled", "--concurrency", "1", "--json")
    journals = cli.state / "uploads"

    seen = {}

    def uploading():
        for journal in journals.glob("*.json"):
            try:
                seen.update(json.loads(journal.read_text()))
                return any(s.get("parts") for s in seen["sent"].values())
            except (ValueError, KeyError):
                continue
        return False

    assert wait_for(uploading, timeout=600, interval=0.005), upload.communicate()
    upload.send_signal(signal.SIGINT)
    _, stderr = upload.communicate(timeout=60)
    assert upload.returncode == 130, stderr
    assert "cancelled" in stderr
    assert not list(journals.glob("*.json")), "no journal is left"
    assert not list((cli.state / "staging").glob("*")), "no converted copy is left"
    assert cli.json("datasets") == []
    # The backend was told: what it had received is deleted, and the upload cannot be committed.
    storage = stack.storage_dir
    assert not [p for p in (storage / "datasets" / seen["dataset_id"]).rglob("*") if p.is_file()]
    assert not [p for p in storage.rglob("*") if seen["upload_id"] in p.name]
    assert {p for p in stack.storage_root.rglob("*") if p.is_file()} == before, "storage holds what it held before"
    response = stack.call("POST", "/process", token, json={"uploadId": seen["upload_id"], "mode": "create"})
    assert response.status_code == 404, response.text


def test_passwords_and_tokens_go_over_plain_http_to_another_machine_only_when_told(local_stack, tmp_path):
    stack = local_stack
    cli = Cli(stack, tmp_path / "cli")
    # 0.0.0.0 is not loopback, yet on Linux it reaches this machine: the real backend and emulator answer
    # whatever is sent there.
    remote_backend = "http://0.0.0.0:" + stack.url.rsplit(":", 1)[1]
    remote_emulator = f"0.0.0.0:{stack.emulator.port}"
    email = f"{uuid.uuid4().hex[:10]}@example.com"

    for env in ({"DELTA_BRIDGE_BACKEND_URL": remote_backend}, {"FIREBASE_AUTH_EMULATOR_HOST": remote_emulator}):
        refused = cli.run("login", "--email", email, "--sign-up", stdin=PASSWORD + "\n", check=False, env=env)
        assert refused.returncode == 2, refused.stderr
        assert "0.0.0.0" in refused.stderr and "--insecure-http" in refused.stderr, refused.stderr
        assert PASSWORD not in refused.stderr + refused.stdout
    # Nothing was sent: the sign-up never reached the emulator.
    answer = requests.post(f"{stack.emulator.url}/identitytoolkit.googleapis.com/v1/accounts:signInWithPassword?key=any",
                           json={"email": email, "password": PASSWORD, "returnSecureToken": True}, timeout=10)
    assert answer.status_code == 400 and "EMAIL_NOT_FOUND" in answer.text, answer.text

    # Told explicitly: by the flag, the environment, or the config file.
    remote = {"DELTA_BRIDGE_BACKEND_URL": remote_backend, "FIREBASE_AUTH_EMULATOR_HOST": remote_emulator}
    signed_in = cli.run("login", "--email", email, "--sign-up", "--insecure-http", "--json", stdin=PASSWORD + "\n", env=remote)
    assert json.loads(signed_in.stdout)["email"] == email
    refused = cli.run("datasets", check=False, env=remote)
    assert refused.returncode == 2 and "0.0.0.0" in refused.stderr, refused.stderr
    assert json.loads(cli.run("datasets", "--json", env=dict(remote, DELTA_BRIDGE_INSECURE_HTTP="1")).stdout) == []
    (tmp_path / "cli" / "config.toml").write_text("insecure_http = true\n")
    assert json.loads(cli.run("whoami", "--json", env=remote).stdout)["email"] == email
    assert json.loads(cli.run("logout", "--json", env=remote).stdout)["signedOut"] is True


def test_urls_come_in_pages_and_an_upload_swept_while_away_starts_again(emulator, tmp_path):
    """A backend answering 2 URLs per /presign: the CLI fetches the other pages. Its uploads expire after
    3 s: an upload killed mid-way and swept meanwhile is started again by the next run."""
    from conftest import Stack
    stack = Stack(tmp_path / "stack", emulator, str(tmp_path / "stack" / "storage"),
                  backend_args=["--presign-page-urls", "2", "--upload-expiry-seconds", "3"])
    try:
        cli = Cli(stack, tmp_path / "cli")
        cli.run("login", "--email", f"{uuid.uuid4().hex[:10]}@example.com", "--sign-up", stdin=PASSWORD + "\n")
        csv = tmp_path / "big.csv"
        rows = big_csv(csv, megabytes=120)
        first = cli.spawn("upload", csv, "--name", "big", "--concurrency", "1", "--json")
        journals = cli.state / "uploads"
        assert wait_for(lambda: parts_sent(journals) >= 1, timeout=600, interval=0.005), first.communicate()
        first.send_signal(signal.SIGKILL)
        first.wait()
        journal = json.loads(next(journals.glob("*.json")).read_text())
        total_parts = sum(-(-f["size"] // (5 << 20)) for f in journal["files"])
        assert total_parts > 2, "more URLs than one answer holds"
        log = stack.dir / "backend.log"
        assert wait_for(lambda: "swept expired uploads" in log.read_text(), timeout=30), log.read_text()

        second = cli.json("upload", csv, "--name", "big", "--concurrency", "2")
        assert second["dataset"]["rows"] == rows
        assert not list(journals.glob("*.json"))
        text = ANSI.sub("", log.read_text())
        assert journal["upload_id"] in text and "aborted upload" in text
    finally:
        stack.stop()
