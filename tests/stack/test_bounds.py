"""Safe by configuration, bounded under abuse (issue 13), against the real binaries, s3s-fs and the Auth
emulator: S3 failures read by kind (a refusal is a 500 whose log line says what to fix, never a "try again"),
a backend with no S3 credentials at all refuses to start, S3 calls give up at their timeout, one /process
at a time per user, and an S3 upload left past its expiry is swept (its multipart upload aborted)."""

import hashlib
import os
import subprocess
import threading
import time

import requests

from conftest import BACKEND, BUCKET, MiB, PROJECT, S3_KEY, Process, Stack, convert, free_port, wait_for
from test_backend import run_snippet, user, write_csv
from test_faults import FaultStack, tables  # noqa: F401 (the tables fixture)


def backend_argv(directory, s3, *extra):
    return [BACKEND, "--listen", "127.0.0.1:0", "--data-dir", str(directory / "data"),
            "--storage", f"s3://{BUCKET}/bounds", "--firebase-project", PROJECT,
            "--sharing-url", f"http://127.0.0.1:{free_port()}/delta-sharing",
            "--multipart-threshold", str(6 * MiB), "--part-size", str(5 * MiB), *extra,
            "--s3-endpoint", s3["endpoint"], "--s3-path-style"]


def test_s3_refusing_the_servers_credentials_is_a_500_that_tells_the_operator_what_to_fix(emulator, s3, tmp_path):
    env = {"DELTA_BRIDGE_LOG": "info", "NO_COLOR": "1", "AWS_ACCESS_KEY_ID": S3_KEY,
           "AWS_SECRET_ACCESS_KEY": "not-the-secret", "AWS_REGION": "us-east-1",
           "FIREBASE_AUTH_EMULATOR_HOST": emulator.host}
    backend = Process(backend_argv(tmp_path, s3), tmp_path, "backend", env)
    try:
        token = user(emulator)
        # A file large enough to go up in parts: presigning it starts a multipart upload on S3.
        response = requests.post(
            backend.url + "/presign", headers={"Authorization": f"Bearer {token}"}, timeout=30,
            json={"name": "t", "files": [{"name": "big", "size": 7 * MiB, "sha256": "ab" * 32}]})
        assert response.status_code == 500, response.text
        body = response.json()["error"]
        assert body["code"] == "INTERNAL" and "try again" not in body["message"], body
        assert "not-the-secret" not in response.text
        assert wait_for(lambda: "secret access key does not match" in (tmp_path / "backend.log").read_text()), \
            (tmp_path / "backend.log").read_text()
        assert "not-the-secret" not in (tmp_path / "backend.log").read_text()
    finally:
        backend.stop()


def test_a_backend_on_s3_with_no_credentials_anywhere_refuses_to_start(s3, tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(HOME=str(home), AWS_EC2_METADATA_DISABLED="true", AWS_REGION="us-east-1",
               FIREBASE_AUTH_EMULATOR_HOST="127.0.0.1:9", DELTA_BRIDGE_LOG="info")
    result = subprocess.run(backend_argv(tmp_path, s3), env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    assert "listening" not in result.stdout
    assert "no AWS credentials were found" in result.stderr, result.stderr
    assert "instance role" in result.stderr


def test_a_slow_s3_is_given_up_at_the_operation_timeout_and_a_retry_commits_once(emulator, s3, tables, tmp_path):  # noqa: F811
    stack = FaultStack(tmp_path / "stack", emulator, s3,
                       backend_args=["--s3-operation-timeout-seconds", "2", "--s3-attempt-timeout-seconds", "1"])
    try:
        token = user(emulator)
        first = stack.put_files(token, tables["base"][0], name="slow")
        assert stack.process(token, first, "create").status_code == 200
        dataset_id = stack.call("GET", "/datasets", token).json()["datasets"][0]["id"]
        upload = stack.put_files(token, tables["more1"][0], dataset_id=dataset_id)
        # Every log-entry PUT held 8 s: without time limits /process would wait for each.
        stack.proxy.set_fault("delay", seconds=8.0)
        started = time.monotonic()
        answered = stack.process(token, upload, "append")
        took = time.monotonic() - started
        stack.proxy.clear()
        assert answered.status_code == 503, answered.text
        assert took < 8, f"/process answered after {took:.1f} s"
        assert wait_for(stack.proxy.idle, timeout=20)
        retried = stack.process(token, upload, "append")
        assert retried.status_code == 200 and retried.json()["version"] == 1, retried.text
        assert stack.log_versions(dataset_id) == [0, 1]
    finally:
        stack.stop()


def test_one_process_at_a_time_per_user(emulator, s3, tables, tmp_path):  # noqa: F811
    stack = FaultStack(tmp_path / "stack", emulator, s3)
    try:
        token = user(emulator)
        first = stack.put_files(token, tables["base"][0], name="one")
        second = stack.put_files(token, tables["more1"][0], name="two")
        other = user(emulator)
        third = stack.put_files(other, tables["more2"][0], name="three")
        stack.proxy.set_fault("delay", times=1, seconds=2.0)
        answers = {}
        slow = threading.Thread(target=lambda: answers.update(first=stack.process(token, first, "create")))
        slow.start()
        time.sleep(0.5)
        busy = stack.process(token, second, "create")
        assert busy.status_code == 409 and busy.json()["error"]["code"] == "BUSY", busy.text
        assert first in busy.json()["error"]["message"]
        # Another user is not held up, and the same upload again waits for the one under way.
        assert stack.process(other, third, "create").status_code == 200
        again = stack.process(token, first, "create")
        slow.join(30)
        assert answers["first"].status_code == 200 and again.status_code == 200, (answers, again.text)
        assert again.json()["version"] == answers["first"].json()["version"] == 0
        # Once it is done, the user's other upload goes through.
        assert stack.process(token, second, "create").status_code == 200
    finally:
        stack.proxy.clear()
        stack.stop()


def test_an_s3_upload_left_past_its_expiry_is_swept(emulator, s3, tmp_path):
    # Long enough for the 5 MiB part to land under a loaded CI machine before the sweeper may abort the
    # upload (with 1 s the sweep sometimes raced the PUT and s3s-fs reset the connection).
    stack = FaultStack(tmp_path / "stack", emulator, s3, backend_args=["--upload-expiry-seconds", "5"])
    try:
        token = user(emulator)
        data = os.urandom(7 * MiB)
        presigned = stack.call("POST", "/presign", token, json={"name": "t", "files": [
            {"name": "big", "size": len(data), "sha256": hashlib.sha256(data).hexdigest()}]}).json()
        part = presigned["files"][0]["parts"][0]
        headers = {h["name"]: h["value"] for h in part.get("headers", [])}
        assert requests.put(part["url"], data=data[:5 * MiB], headers=headers, timeout=60).status_code == 200
        log_mark = len(stack.backend_log())
        assert wait_for(lambda: "swept expired uploads" in stack.backend_log(log_mark), timeout=40), stack.backend_log(log_mark)
        # The multipart upload is gone from S3: its parts cannot be listed and the upload cannot be resumed.
        resumed = stack.call("POST", "/presign", token, json={"uploadId": presigned["uploadId"]})
        assert resumed.status_code == 404, resumed.text
        assert "uploads=1" in stack.backend_log(log_mark)
    finally:
        stack.stop()


def test_rotating_the_secret_keeps_every_recipient_reading_and_a_replica_with_another_secret_is_refused(emulator, tmp_path):
    stack = Stack(tmp_path / "stack", emulator, str(tmp_path / "stack" / "storage"))
    try:
        token = user(emulator)
        files = convert(write_csv(tmp_path, "id,name\n1,a\n2,b\n"), tmp_path / "table")
        created = stack.upload(token, "rotated", files)
        assert created.status_code == 200, created.text
        dataset_id = created.json()["id"]
        snippet = stack.call("POST", "/share", token, json={"datasetId": dataset_id}).json()["snippet"]
        secret_file = tmp_path / "stack" / "data" / "secret"
        before = secret_file.read_text()

        stack.backend.stop()
        rotated = subprocess.run([BACKEND, "rotate-secret", "--data-dir", str(tmp_path / "stack" / "data")],
                                 capture_output=True, text=True, timeout=60)
        assert rotated.returncode == 0, rotated.stderr
        assert "give every replica this file" in rotated.stdout
        after = secret_file.read_text()
        assert after.startswith("delta-bridge-secrets 1\n") and len(after.split()) == 4, "header, new and old"
        assert oct(secret_file.stat().st_mode & 0o777) == "0o600"
        assert before.split()[-1] in after.split()[-1], "the old secret is kept after the new one"
        stack.restart_backend()
        again = stack.call("GET", f"/snippet?tableId={dataset_id}", token).json()["snippet"]
        assert again["profile"]["bearerToken"] == snippet["profile"]["bearerToken"]
        frame, failure = run_snippet(snippet, tmp_path / "notebook")
        assert frame is not None, failure
        assert sorted(frame["id"].tolist()) == [1, 2], frame

        # A replica on the same store with a secret of its own refuses to start, naming both fingerprints.
        other = tmp_path / "other-secret"
        other.write_bytes(os.urandom(32))
        argv = [a for a in stack.backend_argv]
        refused = subprocess.run(argv + ["--secret-file", str(other)], env=dict(os.environ, **stack.backend_env),
                                 capture_output=True, text=True, timeout=60)
        assert refused.returncode != 0 and "listening" not in refused.stdout
        assert "not one this store was set up with" in refused.stderr, refused.stderr
    finally:
        stack.stop()


def test_postgres_without_a_secret_file_is_refused(tmp_path):
    result = subprocess.run(
        [BACKEND, "--data-dir", str(tmp_path), "--database-url", "postgres://127.0.0.1:9/none",
         "--firebase-project", PROJECT],
        env=dict(os.environ, FIREBASE_AUTH_EMULATOR_HOST="127.0.0.1:9"), capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    assert "--secret-file" in result.stderr, result.stderr
    assert not (tmp_path / "secret").exists()


def test_on_s3_what_a_still_valid_url_puts_again_after_a_cancel_or_a_discard_is_deleted_once_it_expired(emulator, s3, tmp_path):
    # An S3 presigned URL works until it expires whatever the backend decided: a client that PUTs again
    # after its upload was abandoned, or after a commit left the file out, must not keep that object.
    expiry = 8
    stack = FaultStack(tmp_path / "stack", emulator, s3, backend_args=["--upload-expiry-seconds", str(expiry)])
    try:
        token = user(emulator)
        csv = write_csv(tmp_path, "n,text\n1,a\n2,b\n", name="kept.csv")
        kept = convert(csv, tmp_path / "kept")[0]
        spec = lambda name, data: {"name": name, "size": len(data), "sha256": hashlib.sha256(data).hexdigest()}  # noqa: E731
        stray, abandoned = os.urandom(3000), os.urandom(2000)

        def put(upload, data):
            headers = {h["name"]: h["value"] for h in upload.get("headers", [])}
            return requests.put(upload["url"], data=data, headers=headers, timeout=60).status_code

        def objects(upload_id):
            return sorted(p for p in stack.storage_dir.rglob(f"*{upload_id}*") if p.is_file())

        # A commit that leaves a file out (the conversion started over after it was sent).
        created = stack.call("POST", "/presign", token, json={"name": "kept", "files": [spec(kept.name, kept.read_bytes())]}).json()
        upload_id = created["uploadId"]
        added = stack.call("POST", "/presign", token, json={"uploadId": upload_id, "files": [spec("stray.parquet", stray)]})
        assert added.status_code == 200, added.text
        stray_url = added.json()["files"][0]
        assert put(created["files"][0], kept.read_bytes()) == 200
        assert put(stray_url, stray) == 200
        processed = stack.call("POST", "/process", token, json={"uploadId": upload_id, "mode": "create", "files": [kept.name]})
        assert processed.status_code == 200, processed.text
        assert wait_for(lambda: len(objects(upload_id)) == 1, timeout=20), objects(upload_id)
        kept_object = objects(upload_id)[0]

        # An upload the user cancelled.
        other = stack.call("POST", "/presign", token, json={"name": "gone", "files": [spec("gone.parquet", abandoned)]}).json()
        assert put(other["files"][0], abandoned) == 200
        assert stack.call("DELETE", f"/uploads/{other['uploadId']}", token).status_code == 204
        assert objects(other["uploadId"]) == []

        # Both URLs still work: the objects are back...
        assert put(stray_url, stray) == 200
        assert put(other["files"][0], abandoned) == 200
        assert len(objects(upload_id)) == 2 and len(objects(other["uploadId"])) == 1
        # ...until the URLs expired and the next maintenance pass deleted them again.
        assert wait_for(lambda: objects(upload_id) == [kept_object] and objects(other["uploadId"]) == [],
                        timeout=expiry + 30), (objects(upload_id), objects(other["uploadId"]))
        assert kept_object.read_bytes() == kept.read_bytes()
        # Past expiry the URLs are refused, so nothing comes back.
        assert put(stray_url, stray) != 200
        health = stack.call("GET", "/healthz", None).json()
        assert health["pendingDeletions"] == 0, health
    finally:
        stack.stop()
