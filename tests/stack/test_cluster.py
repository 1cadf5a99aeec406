"""Separate machines on one: two backend replicas and two sharing replicas, each in its own network namespace
with its own address and data directory (no file system shared between "hosts"), one Postgres and one s3s-fs
(on the bridge's address), share.yaml as one S3 object the backends write with conditional PUTs and the sharing
servers poll. Clients alternate between replicas.

The "hosts": a bridge with 10.77.0.1 (Postgres, s3s-fs, the tests), backends at .11 and .12, sharing servers at
.13 and .14, each behind a veth pair in its own namespace. Needs root and `ip netns`."""

import concurrent.futures
import json
import os
import pathlib
import random
import shutil
import statistics
import socket
import subprocess
import tempfile
import threading
import time
import uuid

import delta_sharing
import pytest
import requests

from conftest import BACKEND, BUCKET, MiB, S3_KEY, S3_SECRET, S3S_FS, SHARING, UNLIMITED, PROJECT, Process, Stack, convert, stop, wait_for
from test_backend import write_csv

ACCESS_LOG = f"s3://{BUCKET}/access-log"
POLL = 1.0  # --config-poll-seconds of the sharing replicas
SHIP = 5.0  # --access-ship-seconds of the sharing replicas
BOUND = POLL + 1.0  # the bound: the poll interval plus one second
NET = "10.77.0"
HOSTS = {"ba": 11, "bb": 12, "sa": 13, "sb": 14}
SHARE_CONFIG = f"s3://{BUCKET}/config/share.yaml"
AWS = dict(AWS_ACCESS_KEY_ID=S3_KEY, AWS_SECRET_ACCESS_KEY=S3_SECRET, AWS_REGION="us-east-1", DELTA_BRIDGE_LOG="info", NO_COLOR="1")

pytestmark = pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("ip"), reason="needs root and ip netns")


def sh(*argv, check=True):
    return subprocess.run(argv, check=check, capture_output=True, text=True)


def reachable(host, port):
    with socket.socket() as s:
        s.settimeout(1)
        return s.connect_ex((host, port)) == 0


def reachable_port(address):
    """A port free on `address`."""
    with socket.socket() as s:
        s.bind((address, 0))
        return s.getsockname()[1]


class Network:
    """A bridge on this machine and one namespace per host, each with its own address."""

    def __init__(self):
        tag = f"{os.getpid() % 10000}"
        self.bridge = f"dbr{tag}"
        self.names = {host: f"db{tag}{host}" for host in HOSTS}
        sh("ip", "link", "add", self.bridge, "type", "bridge")
        sh("ip", "addr", "add", f"{NET}.1/24", "dev", self.bridge)
        sh("ip", "link", "set", self.bridge, "up")
        for host, last in HOSTS.items():
            ns = self.names[host]
            sh("ip", "netns", "add", ns)
            sh("ip", "link", "add", f"v{tag}{host}", "type", "veth", "peer", "name", "eth0", "netns", ns)
            sh("ip", "link", "set", f"v{tag}{host}", "master", self.bridge, "up")
            sh("ip", "netns", "exec", ns, "ip", "addr", "add", f"{NET}.{last}/24", "dev", "eth0")
            sh("ip", "netns", "exec", ns, "ip", "link", "set", "eth0", "up")
            sh("ip", "netns", "exec", ns, "ip", "link", "set", "lo", "up")

    def run(self, host, argv):
        """`argv` on `host` (in its namespace)."""
        return ["ip", "netns", "exec", self.names[host], *argv]

    def close(self):
        for host in HOSTS:
            sh("ip", "netns", "delete", self.names[host], check=False)
        sh("ip", "link", "delete", self.bridge, check=False)


def postgres(address=f"{NET}.1", trusted=f"{NET}.0/24", options="", files=()):
    """A Postgres on `address`, trusting `trusted`, in a directory of its own (the postgres user cannot enter
    pytest's), started with more `options` and `files` (paths) copied beside its data."""
    found = sorted(pathlib.Path("/usr/lib/postgresql").glob("*/bin"))
    if not found:
        pytest.skip("no PostgreSQL (scripts/test.sh installs it)")
    bin_dir = found[-1]
    directory = pathlib.Path(tempfile.mkdtemp(prefix="delta-bridge-pg-"))
    data = directory / "pg"
    shutil.chown(directory, "postgres")
    for file in files:
        shutil.copy(file, directory)
        shutil.chown(directory / pathlib.Path(file).name, "postgres")
        (directory / pathlib.Path(file).name).chmod(0o600)
    as_postgres = ["runuser", "-u", "postgres", "--"]
    sh(*as_postgres, str(bin_dir / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust")
    with open(data / "pg_hba.conf", "a") as hba:
        hba.write(f"host all all {trusted} trust\n")
    port = reachable_port(address)
    sh(*as_postgres, str(bin_dir / "pg_ctl"), "-D", str(data), "-o", f"-p {port} -k {directory} -c listen_addresses={address} {options}",
       "-l", str(directory / "pg.log"), "-w", "start")
    def close():
        sh(*as_postgres, str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "fast", "stop", check=False)
        shutil.rmtree(directory, ignore_errors=True)

    return f"postgres://postgres@{address}:{port}/postgres", close


class Cluster:
    def __init__(self, directory, emulator):
        self.dir = directory
        self.emulator = emulator
        self.net = Network()
        self.closers = [self.net.close]
        try:
            self.database_url, stop_pg = postgres()
            self.closers.append(stop_pg)
            root = directory / "s3root"
            (root / BUCKET).mkdir(parents=True)
            s3_port = 9000 + os.getpid() % 1000
            s3_log = open(directory / "s3s-fs.log", "w")
            self.s3 = subprocess.Popen([S3S_FS, "--host", f"{NET}.1", "--port", str(s3_port), "--access-key", S3_KEY,
                                        "--secret-key", S3_SECRET, str(root)], stdout=s3_log, stderr=subprocess.STDOUT)
            self.closers.append(lambda: stop(self.s3))
            self.s3_endpoint = f"http://{NET}.1:{s3_port}"
            self.s3_root = root
            assert wait_for(lambda: reachable(f"{NET}.1", s3_port), timeout=20), "s3s-fs did not start"
            self.s3_args = ["--s3-endpoint", self.s3_endpoint, "--s3-path-style"]
            self.backends, self.sharing = {}, {}
            self.start_backend("ba")
            # One secret for every backend replica: the first made it, the others get a copy.
            shutil.copy(directory / "ba" / "secret", directory / "secret")
            self.start_backend("bb")
            for host in ("sa", "sb"):
                self.start_sharing(host)
        except BaseException:
            self.close()
            raise

    def address(self, host):
        return f"{NET}.{HOSTS[host]}"

    def backend_argv(self, host):
        data = self.dir / host
        data.mkdir(exist_ok=True)
        secret = self.dir / "secret"
        if secret.exists():
            shutil.copy(secret, data / "secret")
        return self.net.run(host, [
            BACKEND, "--listen", f"{self.address(host)}:8081", "--public-url", f"http://{self.address(host)}:8081",
            "--data-dir", str(data), "--database-url", self.database_url, "--secret-file", str(data / "secret"),
            "--storage", f"s3://{BUCKET}/cluster", "--share-config", SHARE_CONFIG, *self.s3_args,
            "--firebase-project", PROJECT, "--sharing-url", f"http://{self.address('sa')}:8080/delta-sharing",
            "--maintenance-interval-seconds", "1", "--access-log", ACCESS_LOG, *UNLIMITED,
        ])

    def start_backend(self, host):
        env = dict(AWS, FIREBASE_AUTH_EMULATOR_HOST=self.emulator.host)
        self.backends[host] = Process(self.backend_argv(host), self.dir, f"backend-{host}", env)

    def start_sharing(self, host):
        # One replica logs JSON lines, as a log pipeline reads them.
        logs = ["--log-format", "json"] if host == "sb" else []
        argv = self.net.run(host, [
            SHARING, "--config", SHARE_CONFIG, "--config-poll-seconds", str(POLL),
            "--listen", f"{self.address(host)}:8080", "--public-url", f"http://{self.address(host)}:8080", *self.s3_args, *logs,
            # The access log through the same object storage, journalled on the replica's own disk first.
            "--access-log", ACCESS_LOG, "--access-journal", str(self.dir / f"journal-{host}"),
            "--access-ship-seconds", str(SHIP),
        ])
        self.sharing[host] = Process(argv, self.dir, f"sharing-{host}", AWS)

    def call(self, host, method, path, token, **kwargs):
        return requests.request(method, self.backends[host].url + path, headers={"Authorization": f"Bearer {token}"}, timeout=60, **kwargs)

    def upload(self, host, token, name, files):
        """Stack.upload, through the backend on `host`."""
        return Stack.upload(self._as(host), token, name, files)

    def _as(self, host):
        cluster = self

        class Through:
            def call(self, method, path, token, **kwargs):
                return cluster.call(host, method, path, token, **kwargs)

        return Through()

    def endpoint(self, host):
        return f"http://{self.address(host)}:8080/delta-sharing"

    def share_object(self):
        """The generation share.yaml's object carries."""
        text = (self.s3_root / BUCKET / "config/share.yaml").read_text()
        return int(next(line.split(":")[1] for line in text.splitlines() if line.startswith("generation:")))

    def close(self):
        for process in [*getattr(self, "sharing", {}).values(), *getattr(self, "backends", {}).values()]:
            process.stop()
        for close in reversed(self.closers):
            close()


@pytest.fixture(scope="module")
def cluster(emulator, tmp_path_factory):
    cluster = Cluster(tmp_path_factory.mktemp("cluster"), emulator)
    yield cluster
    cluster.close()


def profile(directory, snippet, endpoint):
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{uuid.uuid4().hex[:8]}.share"
    path.write_text(json.dumps(dict(snippet["profile"], endpoint=endpoint)))
    return str(path)


def table_url(profile_path, snippet):
    return f"{profile_path}#{snippet['table']}"


def readable(url):
    try:
        return len(delta_sharing.load_as_pandas(url))
    except Exception:
        return None


def list_status(endpoint, token):
    """What a sharing replica answers a recipient listing shares: 200, or the refusal's status."""
    try:
        return requests.get(f"{endpoint}/shares", headers={"Authorization": f"Bearer {token}"}, timeout=10).status_code
    except requests.RequestException:
        return None


@pytest.fixture(scope="module")
def dataset(cluster, tmp_path_factory):
    """A dataset uploaded through backend A, by one user."""
    directory = tmp_path_factory.mktemp("data")
    token = cluster.emulator.sign_up(f"{uuid.uuid4().hex[:12]}@example.com")
    files = convert(write_csv(directory, "id,name\n1,a\n2,b\n3,c\n"), directory / "table")
    processed = cluster.upload("ba", token, "Cluster sales", files)
    assert processed.status_code == 200, processed.text
    return token, processed.json()


def shared_through_both(cluster, dataset, tmp_path):
    """Shares the dataset through backend A; answers its table URL through each sharing replica, once readable."""
    token, stable = dataset
    shared = cluster.call("ba", "POST", "/share", token, json={"datasetId": stable["id"]})
    assert shared.status_code == 200, shared.text
    snippet = shared.json()["snippet"]
    urls = {host: table_url(profile(tmp_path, snippet, cluster.endpoint(host)), snippet) for host in ("sa", "sb")}
    for url in urls.values():
        assert wait_for(lambda: readable(url) == 3, timeout=BOUND + 5, interval=0.1)
    return urls


def test_a_share_on_one_backend_is_readable_through_both_sharing_replicas(cluster, dataset, tmp_path):
    token, uploaded = dataset
    shared = cluster.call("bb", "POST", "/share", token, json={"datasetId": uploaded["id"]})
    assert shared.status_code == 200, shared.text
    at = time.monotonic()
    snippet = shared.json()["snippet"]
    for host in ("sa", "sb"):
        url = table_url(profile(tmp_path, snippet, cluster.endpoint(host)), snippet)
        assert wait_for(lambda: readable(url) == 3, timeout=BOUND + 5, interval=0.1), f"not readable through {host}"
        print(f"readable through {host} {time.monotonic() - at:.2f} s after the share answered")
    # Within the bound (reads above include the client's own time, so the second replica's is checked loosely).
    assert time.monotonic() - at < BOUND + 5


def test_an_unshare_on_one_backend_is_refused_by_both_sharing_replicas_within_the_bound(cluster, tmp_path):
    token = cluster.emulator.sign_up(f"{uuid.uuid4().hex[:12]}@example.com")
    files = convert(write_csv(tmp_path, "id\n1\n"), tmp_path / "table")
    uploaded = cluster.upload("bb", token, "Revoked", files).json()
    lags = []
    for round in range(8):
        via, other = ("ba", "bb") if round % 2 == 0 else ("bb", "ba")
        shared = cluster.call(via, "POST", "/share", token, json={"datasetId": uploaded["id"]})
        assert shared.status_code == 200, shared.text
        bearer = shared.json()["snippet"]["profile"]["bearerToken"]
        for host in ("sa", "sb"):
            assert wait_for(lambda: list_status(cluster.endpoint(host), bearer) == 200, timeout=BOUND + 5, interval=0.05), host
        unshared = cluster.call(other, "POST", "/unshare", token, json={"datasetId": uploaded["id"]})
        assert unshared.status_code == 200, unshared.text
        at = time.monotonic()
        for host in ("sa", "sb"):
            assert wait_for(lambda: list_status(cluster.endpoint(host), bearer) == 401, timeout=BOUND + 5, interval=0.02), host
            lags.append(time.monotonic() - at)
    lags.sort()
    p50, p99 = statistics.median(lags), lags[-1]
    print(f"revocation across hosts (poll {POLL:.0f} s): p50 {p50:.2f} s, max {p99:.2f} s over {len(lags)}")
    assert p99 <= BOUND, lags


def test_a_storm_of_shares_and_unshares_on_both_backends_never_fails_a_stable_read(cluster, dataset, tmp_path):
    urls = shared_through_both(cluster, dataset, tmp_path)

    # Churn: several datasets of another user shared and unshared through both backends at once.
    churner = cluster.emulator.sign_up(f"{uuid.uuid4().hex[:12]}@example.com")
    churned = []
    for i in range(4):
        files = convert(write_csv(tmp_path, f"x\n{i}\n", f"c{i}.csv"), tmp_path / f"c{i}")
        churned.append(cluster.upload("ba" if i % 2 else "bb", churner, f"churn {i}", files).json()["id"])
    revoked = {}  # bearer token -> when its unshare answered

    def churn(n):
        host = ("ba", "bb")[n % 2]
        dataset_id = churned[n % len(churned)]
        answer = cluster.call(host, "POST", "/share", churner, json={"datasetId": dataset_id})
        assert answer.status_code == 200, answer.text
        bearer = answer.json()["snippet"]["profile"]["bearerToken"]
        answer = cluster.call(("bb", "ba")[n % 2], "POST", "/unshare", churner, json={"datasetId": dataset_id})
        assert answer.status_code == 200, answer.text
        revoked[bearer] = time.monotonic()

    failures, reads, lags = [], 0, []
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        storm = [pool.submit(churn, n) for n in range(200)]
        while not all(f.done() for f in storm):
            host = random.choice(("sa", "sb"))
            got = readable(urls[host])
            reads += 1
            if got != 3:
                failures.append(host)
            # How many share generations the replica is behind the store.
            replica = requests.get(f"http://{cluster.address(host)}:8080/healthz", timeout=10).json()["shareGeneration"]
            store = requests.get(cluster.backends["ba"].url + "/healthz", timeout=10).json()["shareFile"]["storeGeneration"]
            lags.append(store - replica)
        for f in storm:
            f.result()
    lags.sort()
    print(f"{reads} reads during 200 share/unshare pairs across both backends: {len(failures)} failed; "
          f"replicas behind the store by p50 {statistics.median(lags)} and at most {lags[-1]} generations")
    assert not failures

    # Every revoked token is refused by both replicas within the bound of its unshare (the last ones are checked
    # as they land; earlier ones have long passed it).
    deadline = max(revoked.values()) + BOUND
    while time.monotonic() < deadline:
        time.sleep(0.05)
    for bearer in revoked:
        for host in ("sa", "sb"):
            assert list_status(cluster.endpoint(host), bearer) == 401, host
    # The object's generation is the store's, and every replica agrees.
    share_file = lambda host: requests.get(cluster.backends[host].url + "/healthz", timeout=10).json()["shareFile"]
    assert wait_for(lambda: not share_file("ba")["lagging"] and not share_file("bb")["lagging"], timeout=BOUND), (share_file("ba"), share_file("bb"))
    store = share_file("bb")["storeGeneration"]
    assert cluster.share_object() == store == share_file("ba")["generation"]
    sharing = lambda host: requests.get(f"http://{cluster.address(host)}:8080/healthz", timeout=10).json()["shareGeneration"]
    assert wait_for(lambda: sharing("sa") == sharing("sb") == store, timeout=BOUND), (sharing("sa"), sharing("sb"), store)
    print(f"generation {store}: the object, both backends and both sharing replicas")


def test_rolling_restarts_and_a_killed_sharing_replica_never_fail_a_retrying_read(cluster, dataset, tmp_path):
    urls = shared_through_both(cluster, dataset, tmp_path)
    done, failures, reads = threading.Event(), [], []

    def read(host):
        # The official client retries refused connections and 5xx with backoff (about 13 s in all).
        while not done.is_set():
            got = readable(urls[host])
            reads.append(host)
            if got != 3:
                failures.append(host)

    readers = [threading.Thread(target=read, args=(host,)) for host in ("sa", "sb", "sa", "sb")]
    for reader in readers:
        reader.start()
    try:
        for host in ("ba", "bb"):
            cluster.backends[host].stop()
            cluster.start_backend(host)
        for host in ("sa", "sb"):
            cluster.sharing[host].stop()
            cluster.start_sharing(host)
            time.sleep(1)
        # A crash: SIGKILL, back two seconds later.
        cluster.sharing["sb"].proc.kill()
        cluster.sharing["sb"].proc.wait()
        time.sleep(2)
        cluster.start_sharing("sb")
        time.sleep(2)
    finally:
        done.set()
        for reader in readers:
            reader.join()
    print(f"{len(reads)} reads through restarts of every replica and a killed one: {len(failures)} failed")
    assert reads and not failures, failures


def test_reads_through_both_replicas_reach_activity_and_a_replica_killed_before_shipping_loses_none(cluster, tmp_path):
    """A known sequence of reads by two recipients through both replicas (each in its own network namespace,
    shipping through s3s-fs) appears in the owner's activity with the right recipient, dataset, version and files
    within a minute; the replica that answered the last reads is killed with SIGKILL before its next shipment and
    started again on the same journal: no answered read is lost, none is counted twice."""
    token = cluster.emulator.sign_up(f"{uuid.uuid4().hex[:12]}@example.com")
    files = convert(write_csv(tmp_path, "id,name\n1,a\n2,b\n3,c\n"), tmp_path / "table")
    processed = cluster.upload("ba", token, "Audited", files)
    assert processed.status_code == 200, processed.text
    dataset_id = processed.json()["id"]
    granted = cluster.call("bb", "POST", "/grants", token, json={"datasetId": dataset_id, "recipients": ["ria", "sol"]})
    assert granted.status_code == 200, granted.text
    snippets = {g["recipient"]: g["snippet"] for g in granted.json()["grants"]}
    urls = {(who, host): table_url(profile(tmp_path, snippet, cluster.endpoint(host)), snippet)
            for who, snippet in snippets.items() for host in ("sa", "sb")}
    for (who, host) in urls:
        token_of = snippets[who]["profile"]["bearerToken"]
        assert wait_for(lambda: list_status(cluster.endpoint(host), token_of) == 200, timeout=BOUND + 5, interval=0.1)
    sequence = [("ria", "sa"), ("ria", "sb"), ("sol", "sa"), ("ria", "sa"), ("sol", "sb"), ("sol", "sb")]
    started = time.monotonic()
    for who, host in sequence:
        assert readable(urls[(who, host)]) == 3
    # sb answered the last reads; its records are in its journal, not yet shipped (every SHIP seconds).
    cluster.sharing["sb"].proc.kill()
    cluster.sharing["sb"].proc.wait()
    cluster.start_sharing("sb")
    expected = {"ria": 3, "sol": 3}

    def queries():
        reads = cluster.call("ba", "GET", "/activity", token, params={"dataset": dataset_id}).json()["reads"]
        return [r for r in reads if r["operation"] == "query" and r["status"] == 200]

    def counted():
        got = {}
        for read in queries():
            got[read["recipient"]] = got.get(read["recipient"], 0) + 1
        return got

    assert wait_for(lambda: counted() == expected, timeout=60, interval=0.5), counted()
    print(f"{len(sequence)} reads, one replica killed before shipping: all in activity {time.monotonic() - started:.1f} s after the first")
    time.sleep(SHIP + 2)
    assert counted() == expected, "nothing counted twice"
    for read in queries():
        assert (read["datasetId"], read["datasetName"], read["version"], read["files"]) == (dataset_id, "Audited", 0, 1)
        assert read["address"].startswith(f"{NET}.")
    # The other backend shows the same, and the recipients' last read.
    listed = cluster.call("bb", "GET", "/recipients", token).json()["recipients"]
    assert all(r["lastReadAt"] for r in listed), listed


def test_both_servers_show_metrics_readiness_and_json_logs(cluster, tmp_path):
    # Something for each to count: an upload, a share and an unshare through backend A, a read through sharing A.
    token = cluster.emulator.sign_up(f"{uuid.uuid4().hex[:12]}@example.com")
    files = convert(write_csv(tmp_path, "id\n1\n"), tmp_path / "table")
    uploaded = cluster.upload("ba", token, "Counted", files).json()
    snippet = cluster.call("ba", "POST", "/share", token, json={"datasetId": uploaded["id"]}).json()["snippet"]
    url = table_url(profile(tmp_path, snippet, cluster.endpoint("sa")), snippet)
    assert wait_for(lambda: readable(url) == 1, timeout=BOUND + 5, interval=0.1)
    assert cluster.call("ba", "POST", "/unshare", token, json={"datasetId": uploaded["id"]}).json()["revocation"] == "inForce"

    backend = requests.get(cluster.backends["ba"].url + "/metrics", timeout=10)
    assert backend.status_code == 200 and backend.headers["content-type"].startswith("text/plain")
    for name in ('delta_bridge_http_requests_total{route="/share",method="POST",status="200"}',
                 'delta_bridge_http_request_duration_seconds_bucket{route="/process",method="POST",le="30"}',
                 'delta_bridge_versions_committed_total{mode="create"}', "delta_bridge_committed_bytes_total",
                 "delta_bridge_revocation_seconds_count", "delta_bridge_store_share_generation",
                 "delta_bridge_share_file_lagging 0"):
        assert name in backend.text, name
    assert requests.get(cluster.backends["ba"].url + "/readyz", timeout=10).status_code == 200
    sharing = requests.get(f"http://{cluster.address('sa')}:8080/metrics", timeout=10)
    assert sharing.status_code == 200
    for name in ('delta_bridge_http_requests_total{route="/delta-sharing/shares/{share}/schemas/{schema}/tables/{table}/query",method="POST",status="200"}',
                 "delta_bridge_sharing_config_generation", "delta_bridge_sharing_config_age_seconds",
                 "delta_bridge_sharing_failing_closed 0"):
        assert name in sharing.text, name
    assert requests.get(f"http://{cluster.address('sa')}:8080/readyz", timeout=10).json() == {"status": "ready"}
    lines = [line for line in (cluster.dir / "sharing-sb.log").read_text().splitlines() if line.strip()]
    records = [json.loads(line) for line in lines]
    assert records and all("level" in r and "timestamp" in r for r in records), lines[:3]
    assert any("reloaded" in r.get("message", "") for r in records), lines[-5:]


def test_a_half_configured_cluster_refuses_to_start(cluster, tmp_path):
    def start(argv, env):
        return subprocess.run(argv, capture_output=True, text=True, timeout=60, env=dict(os.environ, **env))

    # A sharing server other machines reach, without the URL they reach it at.
    refused = start(cluster.net.run("sa", [SHARING, "--config", SHARE_CONFIG, "--listen", f"{cluster.address('sa')}:8090", *cluster.s3_args]), AWS)
    assert refused.returncode != 0 and "--public-url" in refused.stderr, refused.stderr
    # Local-disk tables served to other machines without the signing key every replica shares.
    config = tmp_path / "share.yaml"
    config.write_text(f"version: 1\nshares:\n- name: s\n  schemas:\n  - name: d\n    tables:\n    - name: t\n      location: file://{tmp_path}/t\n")
    refused = start(cluster.net.run("sa", [SHARING, "--config", str(config), "--listen", f"{cluster.address('sa')}:8090",
                                           "--public-url", "https://sharing.example.com"]), AWS)
    assert refused.returncode != 0 and "--signing-key-file" in refused.stderr, refused.stderr
    # A backend on Postgres with local storage, or without the shared secret file.
    base = [BACKEND, "--listen", "127.0.0.1:0", "--data-dir", str(tmp_path), "--database-url", cluster.database_url,
            "--firebase-project", PROJECT, "--sharing-url", "http://x/delta-sharing"]
    env = dict(AWS, FIREBASE_AUTH_EMULATOR_HOST=cluster.emulator.host)
    refused = start([*base, "--secret-file", str(cluster.dir / "secret"), "--storage", str(tmp_path / "storage")], env)
    assert refused.returncode != 0 and "--storage s3://" in refused.stderr, refused.stderr
    refused = start([*base, "--storage", f"s3://{BUCKET}/cluster", *cluster.s3_args], env)
    assert refused.returncode != 0 and "--secret-file" in refused.stderr, refused.stderr


def test_the_backend_reaches_postgres_over_tls_and_checks_its_certificate(tmp_path):
    """As on RDS: the server's certificate signed by a CA the backend is given (verify-full), refused without it."""
    def openssl(*args):
        sh("openssl", *args)

    openssl("req", "-new", "-x509", "-days", "2", "-nodes", "-subj", "/CN=test CA", "-keyout", str(tmp_path / "ca.key"), "-out", str(tmp_path / "ca.crt"))
    openssl("req", "-new", "-nodes", "-subj", "/CN=127.0.0.1", "-keyout", str(tmp_path / "server.key"), "-out", str(tmp_path / "server.csr"))
    (tmp_path / "ext").write_text("subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\n")
    openssl("x509", "-req", "-in", str(tmp_path / "server.csr"), "-CA", str(tmp_path / "ca.crt"), "-CAkey", str(tmp_path / "ca.key"),
            "-CAcreateserial", "-days", "2", "-extfile", str(tmp_path / "ext"), "-out", str(tmp_path / "server.crt"))
    url, close = postgres("127.0.0.1", "127.0.0.1/32", "-c ssl=on -c ssl_cert_file=../server.crt -c ssl_key_file=../server.key",
                          files=(tmp_path / "server.crt", tmp_path / "server.key"))
    try:
        def backend(query):
            argv = [BACKEND, "--listen", "127.0.0.1:0", "--data-dir", str(tmp_path / "data"), "--database-url", f"{url}?{query}",
                    "--secret-file", str(tmp_path / "secret"), "--storage", f"s3://{BUCKET}/tls", "--s3-endpoint", "http://127.0.0.1:9",
                    "--s3-path-style", "--firebase-project", PROJECT, "--sharing-url", "http://127.0.0.1:9/delta-sharing"]
            proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                    env=dict(os.environ, **AWS, FIREBASE_AUTH_EMULATOR_HOST="127.0.0.1:9"))
            first = proc.stdout.readline()
            proc.kill()
            _, err = proc.communicate()
            return first, err

        started, _ = backend(f"sslmode=verify-full&sslrootcert={tmp_path / 'ca.crt'}")
        assert started.startswith("listening on"), started
        started, err = backend("sslmode=verify-full")
        assert not started and "certificate" in err, err
    finally:
        close()
