"""The HTTP layer on a real uvicorn server with a scoring engine of known answers (helpers.FakeEngine):
routes, refusals, request ids, the API key, readiness, the bounded queue and the metrics."""

import json
import threading
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from .conftest import wait_ready
from .helpers import FakeEngine, expected

pytestmark = pytest.mark.integration  # every test talks HTTP to a real uvicorn server

USER = {"liked": ["A (1990)", "B (1991)"], "disliked": ["C (1992)"]}
CANDS = ["D (1993)", "E (1994)", "F (1995)", "G (1996)"]


def _exp(candidates, adapter="default", user=USER):
    return [expected(adapter, user["liked"], user["disliked"], c) for c in candidates]


def test_score_rank_rerank_and_models(start_server):
    eng = FakeEngine()
    _, client = start_server(lambda: eng, max_wait_ms=1)
    r = client.post("/v1/score", json={**USER, "candidates": CANDS})
    assert r.status_code == 200, r.text
    body = r.json()
    assert [s["item"] for s in body["scores"]] == CANDS
    assert [s["p_yes"] for s in body["scores"]] == pytest.approx(_exp(CANDS), abs=1e-12)
    assert body["adapter"] == "default" and body["model"] == "fake-model" and body["latency_ms"] >= 0

    want = sorted(zip(_exp(CANDS, "other"), range(4)), key=lambda t: -t[0])
    r = client.post("/v1/rank", json={**USER, "candidates": CANDS, "top_k": 2, "adapter": "other"})
    assert r.status_code == 200, r.text
    ranked = r.json()["ranked"]
    assert [(x["p_yes"], x["index"]) for x in ranked] == want[:2]  # JSON keeps floats exact
    assert [x["item"] for x in ranked] == [CANDS[i] for _, i in want[:2]] and r.json()["adapter"] == "other"

    docs = [CANDS[0], {"text": CANDS[1]}, CANDS[2]]
    r = client.post("/v1/rerank", json={"query": USER, "documents": docs, "top_n": 3, "return_documents": True})
    assert r.status_code == 200, r.text
    want = sorted(zip(_exp(CANDS[:3]), range(3)), key=lambda t: -t[0])
    res = r.json()["results"]
    assert [(x["relevance_score"], x["index"]) for x in res] == want
    assert [x["document"]["text"] for x in res] == [CANDS[i] for _, i in want]
    assert r.json()["id"] == r.headers["x-request-id"]

    records = [{"id": 7, "title": CANDS[0]}, {"id": "b", "title": CANDS[1]}]
    r = client.post("/v1/score", json={"candidates": records})
    assert [s["item"] for s in r.json()["scores"]] == records
    assert [s["p_yes"] for s in r.json()["scores"]] == pytest.approx(_exp(CANDS[:2], user={"liked": [], "disliked": []}))

    m = client.get("/v1/models").json()
    assert m["default_adapter"] == "default" and m["batching"]["max_wait_ms"] == 1 and m["model"] == "fake-model"


BIG = "x" * 301


@pytest.mark.parametrize("path,body,status,message", [
    ("/v1/score", b'{"liked": [', 400, "malformed JSON body"),
    ("/v1/score", b"[1, 2]", 400, "must be a JSON object, not list"),
    ("/v1/score", {"liked": ["a"]}, 422, "missing field 'candidates'"),
    ("/v1/score", {"candidates": ["a"], "user_id": 3}, 422, "unknown field 'user_id'"),
    ("/v1/score", {"candidates": []}, 422, "candidates: no candidates"),
    ("/v1/score", {"candidates": ["a", "b", "a"]}, 422, "duplicate candidate 'a' (items 0 and 2)"),
    ("/v1/score", {"candidates": [{"id": 1, "title": "a"}, {"id": 1, "title": "b"}]}, 422, "duplicate candidate 1"),
    ("/v1/score", {"candidates": ["a", "  "]}, 422, "candidates: item 1: empty title"),
    ("/v1/score", {"candidates": "a"}, 422, "candidates: Input should be a valid list"),
    ("/v1/score", {"candidates": [f"c{i}" for i in range(6)]}, 422, "6 candidates; at most 5 per request"),
    ("/v1/score", {"candidates": ["a", BIG]}, 422, "candidates.1: title of 301 characters; at most 300"),
    ("/v1/score", {"liked": [BIG], "candidates": ["a"]}, 422, "liked.0: title of 301 characters"),
    ("/v1/score", {"candidates": ["a"], "adapter": "nope"}, 404, "unknown adapter 'nope' (loaded: default, other)"),
    ("/v1/score", {"candidates": ["a"], "liked": ["l" * 290] * 7}, 413, "at most 2000"),
    ("/v1/rank", {"candidates": ["a"], "top_k": 0}, 422, "top_k: Input should be greater than or equal to 1"),
    ("/v1/rerank", {"query": {"liked": [], "age": 3}, "documents": ["a"]}, 422, "unknown field 'query.age'"),
    ("/v1/rerank", {"query": "likes films", "documents": ["a"]}, 422, "query: a query is a user object"),
    ("/v1/rerank", {"query": {}, "documents": []}, 422, "documents: no documents"),
    ("/v1/nothing", {"candidates": ["a"]}, 404, "Not Found"),
])
def test_bad_requests_get_one_line_and_disturb_nothing(start_server, path, body, status, message):
    _, client = start_server(lambda: FakeEngine(), max_candidates=5, max_body_bytes=2000)
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    r = client.post(path, content=content, headers={"content-type": "application/json", "x-request-id": "req-1"})
    assert r.status_code == status, r.text
    err = r.json()
    assert message in err["error"] and "\n" not in err["error"], err
    assert err["request_id"] == "req-1" and r.headers["x-request-id"] == "req-1"
    assert client.get("/health").json() == {"status": "ok"}
    ok = client.post("/v1/score", json={"candidates": ["a"]})
    assert ok.status_code == 200 and ok.json()["scores"][0]["p_yes"] == pytest.approx(expected("default", [], [], "a"))


def test_a_streamed_body_over_the_limit_is_refused(start_server):
    _, client = start_server(lambda: FakeEngine(), max_body_bytes=1000)

    def chunks():  # no Content-Length: the server counts as it reads
        yield b'{"candidates": ["'
        for _ in range(20):
            yield b"y" * 100
        yield b'"]}'

    r = client.post("/v1/score", content=chunks(), headers={"content-type": "application/json"})
    assert r.status_code == 413 and "body over 1000 bytes" in r.json()["error"]
    assert client.get("/health").status_code == 200


def test_request_ids_are_echoed_or_generated(start_server):
    _, client = start_server(lambda: FakeEngine())
    assert client.get("/health", headers={"x-request-id": "abc-123"}).headers["x-request-id"] == "abc-123"
    generated = {client.get("/health").headers["x-request-id"] for _ in range(3)}
    assert len(generated) == 3 and all(len(g) == 32 for g in generated)
    # a header that could forge log lines is replaced, not echoed
    assert client.get("/health", headers={"x-request-id": "a b\tc"}).headers["x-request-id"] != "a b\tc"


def test_api_key_is_required_when_set(start_server):
    _, client = start_server(lambda: FakeEngine(), api_key="s3cret")
    body = {"candidates": ["a"]}
    assert client.post("/v1/score", json=body).status_code == 401
    assert client.post("/v1/score", json=body, headers={"authorization": "Bearer wrong"}).status_code == 401
    assert client.post("/v1/score", json=body, headers={"authorization": "Bearer s3cret"}).status_code == 200
    assert client.post("/v1/score", json=body, headers={"x-api-key": "s3cret"}).status_code == 200
    assert client.get("/health").status_code == 200 and client.get("/ready").status_code == 200


def test_ready_only_once_loaded(start_server):
    loaded = threading.Event()

    def loader():
        loaded.wait(30)
        return FakeEngine()

    _, client = start_server(loader, ready=False)
    assert client.get("/health").status_code == 200
    r = client.get("/ready")
    assert r.status_code == 503 and r.json()["status"] == "loading" and r.headers["retry-after"] == "1"
    r = client.post("/v1/score", json={"candidates": ["a"]})
    assert r.status_code == 503 and "still loading" in r.json()["error"]
    assert "tallrec_ready 0.0" in client.get("/metrics").text
    loaded.set()
    wait_ready(client)
    assert client.get("/ready").json() == {"status": "ready", "adapters": ["default", "other"]}
    assert "tallrec_ready 1.0" in client.get("/metrics").text


def test_a_failed_load_is_reported_by_ready(start_server):
    def loader():
        raise RuntimeError("no such adapter folder\nsecond line")

    _, client = start_server(loader, ready=False)
    for _ in range(200):
        r = client.get("/ready")
        if r.json()["status"] == "failed":
            break
        threading.Event().wait(0.02)
    assert r.status_code == 503 and r.json() == {"status": "failed", "error": "no such adapter folder"}


def test_a_full_queue_answers_503_with_retry_after(start_server):
    gate = threading.Event()
    _, client = start_server(lambda: FakeEngine(gate=gate), max_queue=2, max_wait_ms=0)
    with ThreadPoolExecutor(2) as pool:
        held = [pool.submit(client.post, "/v1/score", json={"candidates": [f"h{i}"]}) for i in range(2)]
        for _ in range(200):
            if "tallrec_queue_depth 2.0" in client.get("/metrics").text:
                break
            threading.Event().wait(0.02)
        r = client.post("/v1/score", json={"candidates": ["late"]})
        assert r.status_code == 503 and r.headers["retry-after"] == "1" and "server busy" in r.json()["error"]
        assert client.get("/health").status_code == 200
        gate.set()
        assert [h.result(30).status_code for h in held] == [200, 200]
    assert client.post("/v1/score", json={"candidates": ["late"]}).status_code == 200


def test_concurrent_requests_are_batched_and_counted(start_server):
    eng = FakeEngine()
    _, client = start_server(lambda: eng, max_batch=32, max_wait_ms=100)
    with ThreadPoolExecutor(8) as pool, httpx.Client(base_url=str(client.base_url)) as c2:
        bodies = [{"liked": [f"u{i}"], "candidates": [f"c{i}-{j}" for j in range(4)]} for i in range(8)]
        rs = list(pool.map(lambda b: c2.post("/v1/score", json=b), bodies))
    for b, r in zip(bodies, rs):
        assert r.status_code == 200
        assert [s["p_yes"] for s in r.json()["scores"]] == pytest.approx(
            [expected("default", b["liked"], [], c) for c in b["candidates"]])
    assert max(len(sizes) for _, sizes in eng.batches) >= 2
    text = client.get("/metrics").text
    assert 'tallrec_requests_total{route="/v1/score",status="200"} 8.0' in text
    assert "tallrec_batch_candidates_count" in text and "tallrec_candidates_scored_total 32.0" in text
    # some batch held more than one request's candidates (the histogram's <=4 bucket is not all of them)
    count = float(next(line.split()[-1] for line in text.splitlines() if line.startswith("tallrec_batch_candidates_count")))
    le4 = float(next(line.split()[-1] for line in text.splitlines() if line.startswith('tallrec_batch_candidates_bucket{le="4.0"}')))
    assert le4 < count
