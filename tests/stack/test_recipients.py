"""Recipients end to end, read with the official delta-sharing client through the real sharing server: one
credential per colleague, revoked alone, one profile listing every dataset granted, expiry, rotation with an
overlap, activation links; the access log reaching `activity`; and the CLI's commands for all of it. On local
disk and on S3 (where the access log goes through s3s-fs too)."""
import json
import time
import uuid

import delta_sharing
import pytest
import requests

from conftest import convert, wait_for
from test_backend import user, write_csv
from test_uploader import Cli, keyring_available

CSV = "id,name\n1,ana\n2,bo\n3,cy\n"


def dataset(stack, token, tmp_path, name, csv=CSV):
    files = convert(write_csv(tmp_path, csv, f"{name}.csv"), tmp_path / f"{name}-table")
    response = stack.upload(token, name, files)
    assert response.status_code == 200, response.text
    return response.json()["id"]


def profile_file(directory, snippet):
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{uuid.uuid4().hex}.share"
    path.write_text(json.dumps(snippet["profile"]))
    return str(path)


def rows(profile, table):
    """The table's ids through the official client, or the error it raised."""
    try:
        return sorted(delta_sharing.load_as_pandas(f"{profile}#{table}")["id"].tolist())
    except Exception as e:  # the client raises requests' HTTPError, or its own
        return f"refused: {e}"


def refused(profile, table):
    return isinstance(rows(profile, table), str)


def grant(stack, token, dataset_id, *names, history=False):
    response = stack.call("POST", "/grants", token, json={"datasetId": dataset_id, "recipients": list(names), "withHistory": history})
    assert response.status_code == 200, response.text
    return {g["recipient"]: g for g in response.json()["grants"]}


def test_two_recipients_one_revoked_the_other_reads_and_one_profile_reads_two_datasets(stack, tmp_path):
    owner = user(stack.emulator)
    sales = dataset(stack, owner, tmp_path, "Sales")
    stock = dataset(stack, owner, tmp_path, "Stock", "id,qty\n7,1\n8,2\n")
    granted = grant(stack, owner, sales, "bo", "cy")
    grant(stack, owner, stock, "bo")
    bo = profile_file(tmp_path, granted["bo"]["snippet"])
    cy = profile_file(tmp_path, granted["cy"]["snippet"])
    sales_table = granted["bo"]["snippet"]["table"]
    assert wait_for(lambda: rows(bo, sales_table) == [1, 2, 3], timeout=10)
    assert rows(cy, granted["cy"]["snippet"]["table"]) == [1, 2, 3]

    # One profile lists and reads both of bo's datasets.
    client = delta_sharing.SharingClient(bo)
    tables = sorted(t.name for t in client.list_all_tables())
    assert tables == ["Sales", "Stock"]
    for table in client.list_all_tables():
        assert len(delta_sharing.load_as_pandas(f"{bo}#{table.share}.{table.schema}.{table.name}")) in (2, 3)

    response = stack.call("DELETE", "/recipients/cy", owner)
    assert response.status_code == 200 and response.json()["revocation"] == "inForce", response.text
    assert wait_for(lambda: refused(cy, granted["cy"]["snippet"]["table"]), timeout=5)
    assert rows(bo, sales_table) == [1, 2, 3]


def test_expiry_and_rotation_with_overlap(stack, tmp_path):
    owner = user(stack.emulator)
    sales = dataset(stack, owner, tmp_path, "Sales")
    soon = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 8))
    response = stack.call("POST", "/recipients", owner, json={"name": "temp", "expiresAt": soon})
    assert response.status_code == 201, response.text
    granted = grant(stack, owner, sales, "temp", "dee")
    temp = profile_file(tmp_path, granted["temp"]["snippet"])
    assert json.load(open(temp))["expirationTime"]
    table = granted["temp"]["snippet"]["table"]
    assert wait_for(lambda: rows(temp, table) == [1, 2, 3], timeout=10)
    assert wait_for(lambda: refused(temp, table), timeout=15), "refused after its expiry"

    old = profile_file(tmp_path, granted["dee"]["snippet"])
    dee_table = granted["dee"]["snippet"]["table"]
    response = stack.call("POST", "/recipients/dee/rotate", owner, json={"overlapSeconds": 3600})
    assert response.status_code == 200, response.text
    snippet = stack.call("GET", f"/snippet?datasetId={sales}&recipient=dee", owner).json()["snippet"]
    new = profile_file(tmp_path, snippet)
    assert wait_for(lambda: rows(new, dee_table) == [1, 2, 3], timeout=10)
    assert rows(old, dee_table) == [1, 2, 3], "the old credential works during the overlap"
    # Ending the overlap: only the newest credential works.
    response = stack.call("POST", "/recipients/dee/rotate", owner, json={"overlapSeconds": 0})
    assert response.status_code == 200, response.text
    newest = profile_file(tmp_path, stack.call("GET", f"/snippet?datasetId={sales}&recipient=dee", owner).json()["snippet"])
    assert wait_for(lambda: refused(new, dee_table) and refused(old, dee_table), timeout=5)
    assert rows(newest, dee_table) == [1, 2, 3]


def test_the_activation_link_profile_reads_and_a_revoked_recipients_link_is_dead(stack, tmp_path):
    owner = user(stack.emulator)
    sales = dataset(stack, owner, tmp_path, "Sales")
    granted = grant(stack, owner, sales, "eli")
    link = stack.call("POST", "/recipients/eli/link", owner, json={})
    assert link.status_code == 201, link.text
    url = link.json()["url"]
    download = requests.post(url, timeout=10)
    assert download.status_code == 200
    path = tmp_path / "eli.share"
    path.write_bytes(download.content)
    # The sharing server reloads share.yaml within a second of the grant.
    assert wait_for(lambda: rows(str(path), granted["eli"]["snippet"]["table"]) == [1, 2, 3], timeout=10)
    assert requests.post(url, timeout=10).status_code == 410

    unused = stack.call("POST", "/recipients/eli/link", owner, json={}).json()["url"]
    assert stack.call("DELETE", "/recipients/eli", owner).status_code == 200
    assert requests.get(unused, timeout=10).status_code == 404
    assert requests.post(unused, timeout=10).status_code == 410


def activity(stack, token, **params):
    response = stack.call("GET", "/activity", token, params=params)
    assert response.status_code == 200, response.text
    return response.json()["reads"]


def test_reads_by_two_recipients_reach_activity_within_a_minute(stack, tmp_path):
    owner = user(stack.emulator)
    sales = dataset(stack, owner, tmp_path, "Sales")
    granted = grant(stack, owner, sales, "fay", "gus")
    fay = profile_file(tmp_path, granted["fay"]["snippet"])
    gus = profile_file(tmp_path, granted["gus"]["snippet"])
    table = granted["fay"]["snippet"]["table"]
    assert wait_for(lambda: rows(fay, table) == [1, 2, 3], timeout=10)
    delta_sharing.load_as_pandas(f"{fay}#{table}")
    delta_sharing.load_as_pandas(f"{gus}#{granted['gus']['snippet']['table']}")
    started = time.monotonic()

    def queries():
        return [r for r in activity(stack, owner, dataset=sales) if r["operation"] == "query" and r["status"] == 200]

    assert wait_for(lambda: len(queries()) >= 3, timeout=60, interval=0.5), activity(stack, owner)
    print(f"reads reached activity {time.monotonic() - started:.1f} s after the last one")
    reads = queries()
    assert sorted(r["recipient"] for r in reads) == ["fay", "fay", "gus"]
    for read in reads:
        assert read["datasetId"] == sales and read["datasetName"] == "Sales"
        assert read["version"] == 0 and read["files"] >= 1
        assert "delta-sharing" in read["userAgent"].lower()
        assert read["address"].startswith("127.0.0.1")
    assert len([r for r in activity(stack, owner, recipient="gus") if r["operation"] == "query"]) == 1
    # Another user sees none of it.
    assert activity(stack, user(stack.emulator)) == []
    listed = stack.call("GET", "/recipients", owner).json()["recipients"]
    assert all(r["lastReadAt"] for r in listed)


@pytest.mark.skipif(not keyring_available(), reason="needs a Secret Service session (scripts/test.sh starts one)")
def test_the_cli_manages_recipients_shares_snippets_links_and_activity(stack, tmp_path):
    cli = Cli(stack, tmp_path / "cli")
    email = f"{uuid.uuid4().hex[:12]}@example.com"
    cli.run("login", "--email", email, "--sign-up", stdin="correct horse battery\n")
    csv = write_csv(tmp_path, CSV, "orders.csv")
    cli.run("upload", csv, "--name", "Orders")
    added = cli.json("recipients", "add", "Hal", "--email", "hal@example.com", "--expires", "30d")
    assert added["name"] == "Hal" and added["expiresAt"]
    granted = cli.json("share", "Orders", "--with", "Hal", "--with", "Ivy")
    assert [g["recipient"] for g in granted["grants"]] == ["Hal", "Ivy"]
    listed = {r["name"]: r for r in cli.json("recipients")}
    assert set(listed) == {"Hal", "Ivy"}
    assert [d["datasetName"] for d in listed["Ivy"]["datasets"]] == ["Orders"]
    text = cli.run("recipients").stdout
    assert "Hal" in text and "hal@example.com" in text and "Orders" in text

    snippet = cli.json("snippet", "Orders", "--for", "Ivy")
    ivy = profile_file(tmp_path, snippet["snippet"])
    assert wait_for(lambda: rows(ivy, snippet["snippet"]["table"]) == [1, 2, 3], timeout=10)
    link = cli.run("recipients", "link", "Hal").stdout
    assert "/activate/" in link
    rotated = cli.json("recipients", "rotate", "Hal", "--overlap", "1h")
    assert rotated["recipient"]["previousUntil"]

    unshared = cli.json("unshare", "Orders", "--from", "Ivy")
    assert unshared["wasShared"] and unshared["shared"]
    assert wait_for(lambda: refused(ivy, snippet["snippet"]["table"]), timeout=5)
    assert wait_for(lambda: any(r["recipient"] == "Ivy" for r in cli.json("activity", "Orders", "--since", "1h")),
                    timeout=60, interval=0.5)
    assert "Ivy" in cli.run("activity", "--recipient", "Ivy").stdout
    revoked = cli.json("recipients", "revoke", "Hal")
    assert revoked["revocation"] == "inForce"
    assert [r["name"] for r in cli.json("recipients")] == ["Ivy"]
    missing = cli.run("recipients", "revoke", "Nobody", check=False)
    assert missing.returncode != 0 and "Nobody" in missing.stderr
