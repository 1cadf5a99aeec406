"""Who may read what: bearer tokens, per-recipient scoped and expiring tokens, signed file URLs."""

import json
import time

import delta_sharing
import pytest
import requests

from conftest import ALICE_TOKEN, BOB_TOKEN, EXPIRED_TOKEN, share_yaml


def test_requests_without_a_token_are_refused(server):
    response = server.get("/shares", token=None)
    assert response.status_code == 401
    assert response.json()["errorCode"] == "UNAUTHENTICATED"


def test_wrong_token_is_refused(server):
    with pytest.raises(requests.HTTPError, match="401"):
        delta_sharing.load_as_pandas(server.profile("not-the-token", name="wrong") + "#demo.default.plain")


def test_expired_token_is_refused(server):
    response = server.get("/shares", token=EXPIRED_TOKEN)
    assert response.status_code == 401 and "expired" in response.json()["message"]
    with pytest.raises(requests.HTTPError, match="401"):
        delta_sharing.load_as_pandas(server.profile(EXPIRED_TOKEN, name="carol") + "#demo.default.plain")


def test_scoped_tokens_see_and_read_only_their_shares(server):
    alice = server.profile(ALICE_TOKEN, name="alice")
    assert [s.name for s in delta_sharing.SharingClient(alice).list_shares()] == ["demo"]
    assert len(delta_sharing.load_as_pandas(alice + "#demo.default.plain")) == 100
    with pytest.raises(requests.HTTPError, match="404"):
        delta_sharing.load_as_pandas(alice + "#other.default.plain")
    bob = server.profile(BOB_TOKEN, name="bob")
    assert [s.name for s in delta_sharing.SharingClient(bob).list_shares()] == ["other"]
    with pytest.raises(requests.HTTPError, match="404"):
        delta_sharing.load_as_pandas(bob + "#demo.default.plain")
    assert server.post("/shares/demo/schemas/default/tables/plain/query", {}, token=BOB_TOKEN).status_code == 404


def first_file_url(server, table="plain"):
    lines = server.post(f"/shares/demo/schemas/default/tables/{table}/query", {}).text.splitlines()
    return json.loads(lines[2])["file"]["url"]


def test_file_urls_carry_their_own_credential(local_server):
    url = first_file_url(local_server)
    assert "X-Amz-Signature=" in url and "Authorization" not in url
    assert requests.get(url, timeout=10).status_code == 200
    tampered = url[:-1] + ("0" if url[-1] != "0" else "1")
    assert requests.get(tampered, timeout=10).status_code == 403
    no_signature = url.split("&X-Amz-Signature=")[0]
    assert requests.get(no_signature, timeout=10).status_code == 403
    path, query = url.split("?")
    forged_id = path.rsplit("/", 1)[0] + "/" + __import__("base64").urlsafe_b64encode(b"file:///\n../../etc/passwd").decode().rstrip("=")
    assert requests.get(forged_id + "?" + query, timeout=10).status_code == 403
    longer = url.replace("X-Amz-Expires=", "X-Amz-Expires=9")
    assert requests.get(longer, timeout=10).status_code == 403


def test_file_urls_expire(fresh_server, tables_dir):
    server = fresh_server(share_yaml(lambda t: f"file://{tables_dir / t}", extra="preSignedUrlTimeoutSeconds: 1\n"))
    url = first_file_url(server)
    assert requests.head(url, timeout=10).status_code == 200
    time.sleep(2.1)
    expired = requests.get(url, timeout=10)
    assert expired.status_code == 403 and "expired" in expired.json()["message"]


def test_s3_urls_are_presigned_for_the_s3_server(s3_server, s3):
    url = first_file_url(s3_server)
    assert url.startswith(s3 + "/delta-bridge/plain/") and "X-Amz-Signature=" in url
    assert requests.get(url, timeout=10).status_code == 200
    tampered = url[:-1] + ("0" if url[-1] != "0" else "1")
    assert requests.get(tampered, timeout=10).status_code == 403


def test_an_open_server_needs_no_token(fresh_server, tables_dir):
    server = fresh_server(share_yaml(lambda t: f"file://{tables_dir / t}", tokens=False))
    assert server.get("/shares", token=None).status_code == 200
