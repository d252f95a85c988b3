"""Hostile request bodies on a real uvicorn server: whatever their shape, depth or size, each gets
a 4xx with one line, no model runs, and the server keeps answering. The POST routes are read from
the app itself, so a new route is covered without editing this file."""

import json

import pytest
from fastapi.routing import APIRoute

from tallrec.serve.app import create_app
from tallrec.serve.schemas import MAX_DEPTH, BodyError, load_json

from .helpers import FakeEngine

pytestmark = pytest.mark.integration  # a real uvicorn server

DEEP = 5000
JSON = {"content-type": "application/json"}


def post_routes() -> list[str]:
    app = create_app(FakeEngine)
    routes = sorted(r.path for r in app.routes if isinstance(r, APIRoute) and "POST" in r.methods)
    assert {"/v1/score", "/v1/rank", "/v1/rerank", "/v2/rerank", "/v1/recommend"} <= set(routes)
    return routes


def deep_bodies() -> dict[str, bytes]:
    return {
        "array": b"[" * DEEP + b"]" * DEEP,
        "object": b'{"a": ' * DEEP + b"1" + b"}" * DEEP,
        "in a field": b'{"candidates": ' + b"[" * DEEP + b"]" * DEEP + b"}",
        "unclosed": b'{"liked": ' + b"[" * DEEP,
    }


def check_refused(r, status: int | None = None, says: str = "") -> None:
    assert 400 <= r.status_code < 500, (r.status_code, r.text[:200])
    assert status is None or r.status_code == status, (r.status_code, r.text[:200])
    err = r.json()["error"]
    assert err and "\n" not in err and says in err, err
    assert len(err) < 300 and r.headers["x-request-id"] == r.json()["request_id"]


@pytest.fixture
def server(start_server):
    eng = FakeEngine()
    _, client = start_server(lambda: eng, max_body_bytes=100_000, max_wait_ms=1)
    yield eng, client
    assert client.get("/health").json() == {"status": "ok"}
    assert client.post("/v1/score", json={"candidates": ["a"]}).status_code == 200


@pytest.mark.parametrize("path", post_routes())
def test_a_body_nested_5000_deep_gets_4xx_on_every_post_route(server, path):
    eng, client = server
    for name, body in deep_bodies().items():
        r = client.post(path, content=body, headers=JSON)
        check_refused(r, 400)
        assert client.get("/health").status_code == 200, name
    # the rerank query may be JSON text: parsed with the same guard
    deep_query = json.dumps({"query": "{" + '"liked": {' * DEEP + "}" * DEEP, "documents": ["a"]})
    check_refused(client.post(path, content=deep_query, headers=JSON))
    assert eng.batches == []  # no body reached the model


@pytest.mark.parametrize("body,headers,status,says", [
    (b'{"candidates": ["\xff\xfe"]}', JSON, 400, "not UTF-8"),
    (b"\xc3\x28", JSON, 400, "not UTF-8"),
    (b'{"candidates": ["a"]}', {"content-type": "text/plain"}, 415, "application/json"),
    (b"candidates=a", {"content-type": "application/x-www-form-urlencoded"}, 415, "application/json"),
    (b'{"candidates": ["a"]}', {"content-type": "multipart/form-data; boundary=x"}, 415, "application/json"),
    (b'[{"candidates": ["a"]}]', JSON, 400, "must be a JSON object, not list"),
    (b'"candidates"', JSON, 400, "must be a JSON object, not str"),
    (b"null", JSON, 400, "must be a JSON object, not NoneType"),
    (b"", JSON, 400, "malformed JSON body"),
    (b'{"candidates": ["a"], "top_k": NaN}', JSON, 400, "NaN is not JSON"),
    (b'{"candidates": ["a"], "top_k": ' + b"9" * 5000 + b"}", JSON, 400, "malformed JSON body"),
    (b'{"candidates": ["\\ud800"]}', JSON, 400, "lone surrogate"),
    (b'{"\\udfff": 1, "candidates": ["a"]}', JSON, 400, "lone surrogate"),
    (b'{"candidates": ' + b"[" * 40 + b"]" * 40 + b"}", JSON, 400, f"nested deeper than {MAX_DEPTH} levels"),
])
def test_malformed_bodies_get_one_line(server, body, headers, status, says):
    eng, client = server
    for path in ("/v1/rank", "/v1/recommend"):
        check_refused(client.post(path, content=body, headers=headers), status, says)
    assert eng.batches == []


def test_a_huge_body_gets_413(server):
    eng, client = server
    huge = json.dumps({"candidates": ["x" * 200] * 5000}).encode()  # 1 MB against a 100 kB limit
    for path in post_routes():
        check_refused(client.post(path, content=huge, headers=JSON), 413, "at most 100000")

    def stream():  # no Content-Length: refused while reading
        yield b'{"candidates": ['
        for _ in range(2000):
            yield b'"' + b"y" * 98 + b'",'
        yield b'"z"]}'

    check_refused(client.post("/v1/rank", content=stream(), headers=JSON), 413, "body over 100000 bytes")
    assert eng.batches == []


def test_a_valid_body_with_charset_or_json_suffix_is_accepted(server):
    _, client = server
    body = json.dumps({"candidates": ["a", "b"]}).encode()
    for ctype in ("application/json; charset=utf-8", "application/vnd.api+json"):
        assert client.post("/v1/rank", content=body, headers={"content-type": ctype}).status_code == 200


def test_load_json_never_recurses_past_its_limit():
    for body in deep_bodies().values():
        with pytest.raises(BodyError) as e:
            load_json(body)
        assert "\n" not in str(e.value)
    nested = []
    for _ in range(MAX_DEPTH - 1):
        nested = {"a": nested}
    assert load_json(json.dumps(nested)) == nested
    with pytest.raises(BodyError, match="nested deeper"):
        load_json(json.dumps({"a": nested}))
