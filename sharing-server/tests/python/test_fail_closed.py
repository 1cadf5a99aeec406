"""Fail closed: a share.yaml the server refuses may hold a revocation, so the last good config serves for at
most staleConfigGraceSeconds; then every share request is 503 CONFIG_REFUSED until a valid file arrives."""

import json
import time

import delta_sharing
import pytest
import requests
from delta_sharing.protocol import DeltaSharingProfile
from delta_sharing.rest_client import DataSharingRestClient

from conftest import ALICE_TOKEN, share_yaml, wait_for

GRACE = 2


def without_alice(text):
    start = text.index("  - name: alice")
    end = text.index("  - name: bob")
    return text[:start] + text[end:]


# Ways a newer file that revokes alice can be refused.
REFUSALS = {
    "a key from a newer backend": lambda server, text: server.write_config(text + "keyFromANewerBackend: 1\n"),
    "an operator's typo": lambda server, text: server.write_config(text.replace("location:", "locaton:", 1)),
    "the file deleted": lambda server, text: server.config.unlink(),
}


@pytest.mark.parametrize("refusal", list(REFUSALS))
def test_a_revoked_token_is_refused_within_the_grace_plus_one_second(fresh_server, tables_dir, refusal):
    locations = lambda t: f"file://{tables_dir / t}"
    good = share_yaml(locations, extra=f"staleConfigGraceSeconds: {GRACE}\n")
    server = fresh_server(good)
    alice = server.profile(ALICE_TOKEN, "alice")
    assert len(delta_sharing.load_as_pandas(alice + "#demo.default.plain")) == 100
    file_url = json.loads(server.post("/shares/demo/schemas/default/tables/plain/query", {}).text.splitlines()[2])["file"]["url"]

    written = time.monotonic()
    REFUSALS[refusal](server, without_alice(good))
    answers = []
    while time.monotonic() - written < GRACE + 2:
        code = server.get("/shares", token=ALICE_TOKEN).status_code
        answers.append((time.monotonic() - written, code))
        if code != 200:
            break
        time.sleep(0.05)
    refused_after, code = answers[-1]
    assert code == 503, answers
    assert GRACE <= refused_after <= GRACE + 1, answers
    # Until then the last good config served, whole: the revoked token still read (never a 401 from half
    # a file), and only until the grace ended.
    assert len(answers) > 1 and all(c == 200 for _, c in answers[:-1]), answers

    # Every share request is refused, whatever the token, and so are file URLs handed out before.
    for response in [
        server.get("/shares"),
        server.get("/shares", token="not-a-token"),
        server.get("/shares/demo/schemas/default/tables/plain/version"),
        server.post("/shares/demo/schemas/default/tables/plain/query", {}),
        requests.get(file_url, timeout=10),
    ]:
        assert response.status_code == 503
        body = response.json()
        assert body["errorCode"] == "CONFIG_REFUSED"
        assert "share.yaml" in body["message"] and "operator" in body["message"]
        assert "demo" not in body["message"] and str(server.dir) not in body["message"]
    # The official client gets the code (it retries a 5xx ten times by default; not here).
    client = DataSharingRestClient(DeltaSharingProfile.read_from_file(alice), num_retries=0)
    with pytest.raises(requests.HTTPError) as refused:
        client.list_shares()
    assert refused.value.response.status_code == 503
    assert "CONFIG_REFUSED" in str(refused.value)
    assert server.health()["status"] == "degraded"

    # A valid file restores service at once, with the revocation it carries.
    server.write_config(without_alice(good))
    assert wait_for(lambda: server.get("/shares").status_code == 200, timeout=1)
    assert server.health()["status"] == "ok"
    assert len(delta_sharing.load_as_pandas(server.profile() + "#demo.default.plain")) == 100
    with pytest.raises(requests.HTTPError, match="401"):
        delta_sharing.load_as_pandas(alice + "#demo.default.plain")


def test_the_file_in_force_coming_back_restores_service(fresh_server, tables_dir):
    locations = lambda t: f"file://{tables_dir / t}"
    good = share_yaml(locations, extra="staleConfigGraceSeconds: 0\n")
    server = fresh_server(good)
    server.write_config(good + "keyFromANewerBackend: 1\n")
    assert wait_for(lambda: server.get("/shares").status_code == 503, timeout=1)
    server.write_config(good)
    assert wait_for(lambda: server.get("/shares").status_code == 200, timeout=1)
    assert len(delta_sharing.load_as_pandas(server.profile(ALICE_TOKEN, "alice") + "#demo.default.plain")) == 100


def test_healthz_after_a_refused_file_shows_no_share_name_nor_error_text(fresh_server, tables_dir):
    locations = lambda t: f"file://{tables_dir / t}"
    server = fresh_server(share_yaml(locations, extra="generation: 7\n"))
    health = server.health()
    assert health["status"] == "ok" and health["shareGeneration"] == 7

    # Refused because of a share name (the reason names it), then because of a token written in the wrong place.
    server.write_config(share_yaml(locations, extra="generation: 8\n").replace("shares: [other]", "shares: [payroll-2026]"))
    assert wait_for(lambda: server.health()["status"] == "degraded", timeout=3)
    log = server.dir / "server.log"
    assert wait_for(lambda: "payroll-2026" in log.read_text(), timeout=3), "the reason goes to the log"
    server.write_config('version: 1\ngeneration: 9\nauthorization: "s3cret-token-in-the-wrong-place"\n')
    assert wait_for(lambda: "invalid type" in log.read_text(), timeout=3)

    response = requests.get(server.url + "/healthz", timeout=5)
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"status", "generation", "shareGeneration", "loadedAt"}
    assert body["status"] == "degraded"
    assert body["shareGeneration"] == 7, "the generation in force, not the refused one"
    for leak in ["payroll", "demo", "nohistory", "plain", str(tables_dir), str(server.dir), "s3cret", "invalid", "defined", "authorization"]:
        assert leak not in response.text, leak
    assert "s3cret" not in log.read_text(), "parser messages never quote values"
