"""The access log shipped to S3 (s3s-fs, which checks signatures), as a backend on another host reads it:
reads by alice and bob through the official client arrive within the ship interval, attributed to each,
file downloads included, and no token is in them. (Directory destinations, a journal that cannot be
written and a killed server are tested in sharing-server/tests/it/access.rs.)"""

import json

import delta_sharing
from deltalake import DeltaTable

from conftest import ALICE_TOKEN, BOB_TOKEN, BUCKET, GLOBAL_TOKEN, S3_ENV, wait_for


def shipped(s3_root):
    """Every record under s3://BUCKET/access/ (s3s-fs keeps each object as a file)."""
    records = []
    for path in sorted((s3_root / BUCKET / "access").glob("*/*.jsonl")):
        records += [json.loads(line) for line in path.read_text().splitlines() if line]
    return records


def test_reads_are_shipped_to_s3_attributed_to_each_recipient(fresh_server, s3, s3_root, tables_dir, tmp_path):
    server = fresh_server(
        args=[
            "--access-log", f"s3://{BUCKET}/access/",
            "--access-journal", str(tmp_path / "journal"),
            "--access-ship-seconds", "0.5",
            "--s3-endpoint", s3, "--s3-path-style",
        ],
        env=S3_ENV,
    )
    alice = server.profile(ALICE_TOKEN, "alice")
    bob = server.profile(BOB_TOKEN, "bob")
    assert len(delta_sharing.load_as_pandas(alice + "#demo.default.plain")) == 100
    assert len(delta_sharing.load_as_pandas(bob + "#other.default.plain")) == 100
    tables = delta_sharing.SharingClient(bob).list_all_tables()
    assert [t.name for t in tables] == ["plain"]

    table = DeltaTable(str(tables_dir / "plain"))
    files, version = len(table.file_uris()), table.version()

    def complete():
        # Each read is recorded before its answer, so all are written; the last segment ships within 0.5 s.
        seen = {(r["recipient"], r["operation"]) for r in shipped(s3_root)}
        wanted = {(n, op) for n in ("alice", "bob") for op in ("query", "file")} | {("bob", "listAllTables")}
        return wanted <= seen

    assert wait_for(complete, timeout=10), shipped(s3_root)
    records = shipped(s3_root)
    by = {name: [r for r in records if r["recipient"] == name] for name in ("alice", "bob")}
    assert len(by["alice"]) + len(by["bob"]) == len(records), records
    for name, share in (("alice", "demo"), ("bob", "other")):
        query = [r for r in by[name] if r["operation"] == "query"]
        assert len(query) == 1, by[name]
        assert query[0]["share"] == share and query[0]["schema"] == "default" and query[0]["table"] == "plain"
        assert (query[0]["version"], query[0]["files"], query[0]["status"]) == (version, files, 200)
        assert query[0]["userAgent"].startswith("Delta-Sharing-Python"), query[0]
        assert query[0]["address"].startswith("127.0.0.1:")
        downloads = [r for r in by[name] if r["operation"] == "file"]
        assert downloads, by[name]
        assert all((r["share"], r["table"]) == (share, "plain") and r["status"] in (200, 206) for r in downloads), downloads
        assert sum(r["bytes"] for r in downloads) > 0
    assert {"listShares", "listAllTables"} <= {r["operation"] for r in by["bob"]}
    ids = [r["id"] for r in records]
    assert len(set(ids)) == len(ids)
    text = "".join(p.read_text() for p in (s3_root / BUCKET / "access").glob("*/*.jsonl"))
    for token in (ALICE_TOKEN, BOB_TOKEN, GLOBAL_TOKEN):
        assert token not in text
    assert not (s3_root / BUCKET / "access" / ".journal").exists(), "the journal stays on the server's disk"


def test_an_s3_access_log_without_a_journal_refuses_to_start(tmp_path, tables_dir):
    import subprocess

    from conftest import BIN, share_yaml

    config = tmp_path / "share.yaml"
    config.write_text(share_yaml(lambda t: f"file://{tables_dir / t}"))
    result = subprocess.run(
        [BIN, "--config", str(config), "--listen", "127.0.0.1:0", "--access-log", f"s3://{BUCKET}/access"],
        capture_output=True, text=True, timeout=30,
    )
    assert result.returncode != 0
    assert "--access-journal" in result.stderr, result.stderr
