"""Live reload of share.yaml: changes apply within a second, bad files serve the last good config only for
staleConfigGraceSeconds, nothing is dropped."""

import concurrent.futures
import json
import os
import signal
import time

import delta_sharing
import requests

from conftest import ALICE_TOKEN, TABLES, share_yaml, wait_for


def refused_within_a_second(check):
    start = time.monotonic()
    assert wait_for(check, timeout=1.0), "the change did not take effect within a second"
    return time.monotonic() - start


def test_removing_a_table_refuses_it_within_a_second(fresh_server, tables_dir):
    locations = lambda t: f"file://{tables_dir / t}"
    server = fresh_server(share_yaml(locations))
    url = json.loads(server.post("/shares/demo/schemas/default/tables/cdf/query", {}).text.splitlines()[2])["file"]["url"]
    assert server.post("/shares/demo/schemas/default/tables/cdf/query", {}).status_code == 200
    server.write_config(share_yaml(locations, tables=[t for t in TABLES if t != "cdf"]))
    refused_within_a_second(lambda: server.post("/shares/demo/schemas/default/tables/cdf/query", {}).status_code == 404)
    # File URLs handed out before are refused too: the table is no longer shared.
    assert requests.get(url, timeout=10).status_code == 403
    assert server.post("/shares/demo/schemas/default/tables/plain/query", {}).status_code == 200


def test_removing_a_token_refuses_it_within_a_second(fresh_server, tables_dir):
    locations = lambda t: f"file://{tables_dir / t}"
    server = fresh_server(share_yaml(locations))
    assert server.get("/shares", token=ALICE_TOKEN).status_code == 200
    text = share_yaml(locations)
    start = text.index("  - name: alice")
    end = text.index("  - name: bob")
    server.write_config(text[:start] + text[end:])
    refused_within_a_second(lambda: server.get("/shares", token=ALICE_TOKEN).status_code == 401)


def test_a_corrupt_file_keeps_the_last_good_config_within_the_grace(fresh_server, tables_dir):
    locations = lambda t: f"file://{tables_dir / t}"
    good = share_yaml(locations)
    server = fresh_server(good)
    generation = server.health()["generation"]
    for bad in ["version: 1\nshares: [unclosed\n", "version: 1\nshares:\n- name: demo\n  schemas:\n  - name: default\n    tables:\n    - name: t\n      locaton: file:///x\n", ""]:
        server.write_config(bad)
        assert wait_for(lambda: server.health()["status"] == "degraded", timeout=3)
        assert server.health()["generation"] == generation
        assert len(delta_sharing.load_as_pandas(server.profile() + "#demo.default.plain")) == 100
        server.write_config(good)
        assert wait_for(lambda: server.health()["status"] == "ok", timeout=3)
    assert server.health()["generation"] == generation  # the same bytes as before: nothing to reload
    server.write_config(good + "preSignedUrlTimeoutSeconds: 600\n")
    assert wait_for(lambda: server.health()["generation"] == generation + 1, timeout=1)


def test_sighup_reloads(fresh_server, tables_dir):
    locations = lambda t: f"file://{tables_dir / t}"
    server = fresh_server(share_yaml(locations))
    generation = server.health()["generation"]
    # Write without an event the watcher can see (same inode, no rename), then ask for a reload.
    server.config.write_text(share_yaml(locations, extra="deltaTableCacheSize: 20\n"))
    os.kill(server.proc.pid, signal.SIGHUP)
    assert wait_for(lambda: server.health()["generation"] == generation + 1, timeout=1)


def test_concurrent_queries_during_100_reloads_all_succeed(fresh_server, tables_dir):
    locations = lambda t: f"file://{tables_dir / t}"
    server = fresh_server(share_yaml(locations))
    profile = server.profile()
    variants = [share_yaml(locations), share_yaml(locations, extra="preSignedUrlTimeoutSeconds: 900\n"), share_yaml(locations, tables=TABLES[:3])]
    done = False

    def query_until_done():
        count = 0
        while not done or count == 0:
            assert server.post("/shares/demo/schemas/default/tables/versions/query", {}).status_code == 200
            assert len(delta_sharing.load_as_pandas(profile + "#demo.default.plain", use_delta_format=count % 2 == 0)) == 100
            count += 1
        return count

    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        workers = [pool.submit(query_until_done) for _ in range(4)]
        start = server.health()["generation"]
        for i in range(100):
            server.write_config(variants[i % 3])
            time.sleep(0.04)
        done = True
        counts = [w.result() for w in workers]
    assert all(c > 0 for c in counts)
    assert server.health()["generation"] > start + 50
    assert server.health()["status"] == "ok"
