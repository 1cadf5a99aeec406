"""Requests per recipient token (issue 13): a token over its rate gets 429 with Retry-After, which the
official client retries, so a recipient reading slowly enough never notices; other tokens are untouched."""

import threading

import delta_sharing

from conftest import ALICE_TOKEN, BOB_TOKEN, GLOBAL_TOKEN


def test_a_flooding_token_gets_429_and_others_and_the_official_client_still_read(fresh_server):
    server = fresh_server(args=["--token-requests-per-second", "5"])
    statuses = [server.get("/shares", token=ALICE_TOKEN) for _ in range(40)]
    codes = [r.status_code for r in statuses]
    assert 429 in codes, codes
    assert 10 <= codes.count(200) <= 14, f"a burst of twice the rate passes: {codes}"
    limited = next(r for r in statuses if r.status_code == 429)
    assert limited.headers["Retry-After"] == "1"
    assert limited.json()["errorCode"] == "RESOURCE_EXHAUSTED"
    assert ALICE_TOKEN not in limited.text

    # Another token is untouched while the first floods.
    stop = threading.Event()

    def flood():
        while not stop.is_set():
            server.get("/shares", token=ALICE_TOKEN)

    flooders = [threading.Thread(target=flood) for _ in range(2)]
    for f in flooders:
        f.start()
    try:
        assert server.get("/shares", token=BOB_TOKEN).status_code == 200
        # The official client reads a whole table under the limit: the 429s it meets are retried.
        table = delta_sharing.load_as_pandas(server.profile(GLOBAL_TOKEN) + "#demo.default.plain")
        assert len(table) == 100
    finally:
        stop.set()
        for f in flooders:
            f.join()
    assert server.health()["status"] == "ok"
