"""Shares, schemas and tables, paging, and the protocol's smaller endpoints."""

import delta_sharing
import pytest

from conftest import TABLES


def names(tables):
    return sorted((t.share, t.schema, t.name) for t in tables)


def test_list_shares_schemas_and_tables(server):
    client = delta_sharing.SharingClient(server.profile())
    assert sorted(s.name for s in client.list_shares()) == ["demo", "nohistory", "other"]
    demo = next(s for s in client.list_shares() if s.name == "demo")
    schemas = client.list_schemas(demo)
    assert [s.name for s in schemas] == ["default"]
    assert sorted(t.name for t in client.list_tables(schemas[0])) == sorted(TABLES)
    expected = [("demo", "default", t) for t in TABLES] + [("nohistory", "default", "plain"), ("other", "default", "plain")]
    assert names(client.list_all_tables()) == sorted(expected)


def test_client_pages_with_a_page_size_of_one(fresh_server):
    server = fresh_server(args=["--page-size", "1"])
    assert len(server.get("/shares").json()["items"]) == 1
    client = delta_sharing.SharingClient(server.profile())
    assert len(client.list_all_tables()) == len(TABLES) + 2
    assert len(client.list_shares()) == 3


def test_max_results_and_page_tokens(server):
    seen, token = [], None
    while True:
        params = {"maxResults": 1, **({"pageToken": token} if token else {})}
        page = server.get("/shares/demo/all-tables", params=params).json()
        assert len(page["items"]) <= 1
        seen += [t["name"] for t in page["items"]]
        token = page.get("nextPageToken")
        if not token:
            break
    assert sorted(seen) == sorted(TABLES)
    bad = server.get("/shares/demo/all-tables", params={"pageToken": "garbage"})
    assert bad.status_code == 400 and bad.json()["errorCode"] == "INVALID_PARAMETER_VALUE"
    other_listing = server.get("/shares", params={"maxResults": 1}).json()["nextPageToken"]
    assert server.get("/shares/demo/all-tables", params={"pageToken": other_listing}).status_code == 400
    assert server.get("/shares", params={"maxResults": 501}).status_code == 400


def test_get_share_head_table_and_missing_things(server):
    assert server.get("/shares/demo").json() == {"share": {"name": "demo"}}
    head = __import__("requests").head(
        server.endpoint + "/shares/demo/schemas/default/tables/versions", headers={"Authorization": "Bearer global-token-for-tests"}, timeout=10
    )
    assert head.status_code == 200 and head.headers["Delta-Table-Version"] == "4"
    for path in ["/shares/nope", "/shares/demo/schemas/nope/tables", "/shares/demo/schemas/default/tables/nope/metadata"]:
        response = server.get(path)
        assert response.status_code == 404, path
        assert response.json()["errorCode"] == "RESOURCE_DOES_NOT_EXIST"


def test_metadata_chooses_the_format_like_the_reference_server(server):
    both = {"delta-sharing-capabilities": "responseformat=delta,parquet;readerfeatures=deletionvectors,columnmapping,timestampntz"}
    plain = server.get("/shares/demo/schemas/default/tables/plain/metadata", headers=both)
    assert plain.headers["delta-sharing-capabilities"] == "responseformat=parquet"
    assert plain.headers["Delta-Table-Version"] == "1"
    assert plain.text.splitlines()[0] == '{"protocol":{"minReaderVersion":1}}'
    mapped = server.get("/shares/demo/schemas/default/tables/column_mapping/metadata", headers=both)
    assert mapped.headers["delta-sharing-capabilities"] == "responseformat=delta"
    assert '"deltaProtocol"' in mapped.text
    none = server.get("/shares/demo/schemas/default/tables/plain/metadata")
    assert none.headers["delta-sharing-capabilities"] == "responseformat=parquet"
    no_features = {"delta-sharing-capabilities": "responseformat=delta"}
    refused = server.get("/shares/demo/schemas/default/tables/column_mapping/metadata", headers=no_features)
    assert refused.status_code == 400 and refused.json()["errorCode"] == "UNSUPPORTED_OPERATION"


def test_bad_query_bodies_are_4xx(server):
    path = "/shares/demo/schemas/default/tables/versions/query"
    assert server.post(path, {"version": 1, "timestamp": "2024-01-01T00:00:00Z"}).status_code == 400
    assert server.post(path, {"version": 99}).status_code == 400
    assert server.post(path, {"limitHint": -1}).status_code == 400
    assert server.post(path, {"timestamp": "yesterday"}).status_code == 400
    import requests

    raw = requests.post(server.endpoint + path, data="{not json", headers={"Authorization": "Bearer global-token-for-tests"}, timeout=10)
    assert raw.status_code == 400 and raw.json()["errorCode"] == "MALFORMED_REQUEST"
