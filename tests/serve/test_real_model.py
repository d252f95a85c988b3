"""`tallrec serve` on the tiny model with real LoRA adapters, on a real loopback server: the served
scores are `tallrec.Recommender`'s (and the plain one-sample-at-a-time forward pass's), several
adapters on one server, bad requests, readiness, batching, the API key, and a SIGTERM with requests
in flight that loses none."""

import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
import torch
from helpers import free_port

from tallrec.data import Sample
from tallrec.serve.engine import AdapterSpec, load_engine

from .conftest import wait_ready

pytestmark = pytest.mark.integration  # real uvicorn servers, `tallrec serve` subprocesses and SIGTERM

TITLES = [f"Film {chr(65 + i % 26)}{i} ({1950 + i % 50})" for i in range(120)]


def _random_adapter(model_dir, out, seed):
    """A LoRA adapter with random (non-zero) B matrices, saved the way training saves one."""
    from peft import get_peft_model

    from tallrec.llm.models import load_model
    from tallrec.tuning.adapters import lora_config, save_adapter

    lm = load_model(str(model_dir), precision="fp32", device="cpu")
    model = get_peft_model(lm.model, lora_config(r=4, dropout=0.0))
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "lora_B" in name:
                p.copy_(torch.randn(p.shape, generator=gen) * 0.5)
    return save_adapter(model, out, lm)


@pytest.fixture(scope="module")
def adapters(tiny_model_dir, tmp_path_factory):
    root = tmp_path_factory.mktemp("serve-adapters")
    return {"one": _random_adapter(tiny_model_dir, root / "one" / "adapter", 1),
            "two": _random_adapter(tiny_model_dir, root / "two" / "adapter", 2)}


def _users(n, seed=0):
    rng = random.Random(seed)
    out = []
    for i in range(n):
        k = 4 + i % 5
        picks = rng.sample(TITLES, k + 3 + i % 7)
        out.append({"liked": picks[:k // 2], "disliked": picks[k // 2:k], "candidates": picks[k:]})
    return out


def _offline(model_dir, adapter, users):
    """P(Yes) per user from `tallrec.Recommender` (its own model, the adapter merged), and the
    plain full forward pass, one sample at a time, for the first user."""
    from tallrec import Recommender
    from tallrec.llm.encoding import lm_template
    from tallrec.llm.scoring import reference_scores

    rec = Recommender.load(adapter, model=str(model_dir), device="cpu", precision="fp32")
    want = [rec.score({"liked": u["liked"], "disliked": u["disliked"]}, u["candidates"]) for u in users]
    u = users[0]
    samples = [Sample(history=tuple((t, True) for t in u["liked"]) + tuple((t, False) for t in u["disliked"]),
                      target=c) for c in u["candidates"]]
    return want, list(reference_scores(rec.lm.model, rec.lm.tokenizer, samples, template=lm_template(rec.lm)))


def _metric(text, name):
    return float(next(line.split()[-1] for line in text.splitlines() if line.startswith(name)))


def test_served_scores_are_the_recommenders(start_server, adapters, tiny_model_dir):
    specs = [AdapterSpec("one", adapters["one"]), AdapterSpec("two", adapters["two"]), AdapterSpec("base", None)]
    _, client = start_server(lambda: load_engine(specs, str(tiny_model_dir), "fp32", "cpu"), max_batch=64,
                             max_wait_ms=200)
    users = _users(8)
    jobs = [(u, name) for u in users for name in ("one", "two", "base")]
    with ThreadPoolExecutor(8) as pool:
        served = list(pool.map(lambda j: client.post("/v1/score", json={**j[0], "adapter": j[1]}), jobs))
    assert all(r.status_code == 200 for r in served), [r.text for r in served if r.status_code != 200]
    got = {(id(u), n): [s["p_yes"] for s in r.json()["scores"]] for (u, n), r in zip(jobs, served)}
    for spec in specs:
        want, plain = _offline(tiny_model_dir, spec.path, users)
        for u, w in zip(users, want):
            assert got[id(u), spec.name] == pytest.approx(w, abs=1e-5), spec.name
        assert got[id(users[0]), spec.name] == pytest.approx(plain, abs=1e-4), spec.name
    first = [got[id(users[0]), n] for n in ("one", "two", "base")]
    assert first[0] != first[1] and first[1] != first[2]  # each request got the adapter it named
    assert [r.json()["adapter"] for r in served] == [n for _, n in jobs]

    u = users[3]
    ranked = client.post("/v1/rank", json={**u, "adapter": "two", "top_k": 3}).json()["ranked"]
    order = sorted(range(len(u["candidates"])), key=lambda i: -got[id(u), "two"][i])[:3]
    assert [x["item"] for x in ranked] == [u["candidates"][i] for i in order]
    rr = client.post("/v1/rerank", json={"query": {"liked": u["liked"], "disliked": u["disliked"]},
                                         "documents": u["candidates"], "top_n": 2, "model": "two"}).json()
    assert [x["index"] for x in rr["results"]] == order[:2]
    models = client.get("/v1/models").json()
    assert models["default_adapter"] == "one" and list(models["adapters"]) == ["one", "two", "base"]
    assert models["adapters"]["one"]["prompt"] == "alpaca" and "torch" in models["versions"]
    # concurrent requests were scored together: some model batch held more than one request
    text = client.get("/metrics").text
    assert _metric(text, 'tallrec_batch_users_bucket{le="1.0"}') < _metric(text, "tallrec_batch_users_count")


BAD = [
    (b'{"candidates": ["a"', 400, "malformed JSON body"),
    (b'{"candidates": ["a"], "user": 1}', 422, "unknown field 'user'"),
    (b'{"liked": ["a"]}', 422, "missing field 'candidates'"),
    (b'{"candidates": []}', 422, "no candidates"),
    (b'{"candidates": ["a", "a"]}', 422, "duplicate candidate 'a'"),
    (b'{"candidates": ["a", "b", "c", "d"]}', 422, "4 candidates; at most 3 per request"),
    (b'{"candidates": ["' + b"t" * 81 + b'"]}', 422, "title of 81 characters; at most 80"),
    (b'{"candidates": ["a\\nb"]}', 422, "item 0: title 'a\\nb' contains a line break"),
    (b'{"candidates": ["a"], "adapter": "nope"}', 404, "unknown adapter 'nope' (loaded: one)"),
    (json.dumps({"candidates": ["a"], "liked": ["l" * 70, "m" * 70]}).encode(), 413, "at most 150"),
]


def test_bad_requests_and_readiness_on_the_real_model(start_server, adapters, tiny_model_dir):
    go = threading.Event()

    def loader():
        go.wait(60)
        return load_engine([AdapterSpec("one", adapters["one"])], str(tiny_model_dir), "fp32", "cpu")

    _, client = start_server(loader, ready=False, max_candidates=3, max_title_chars=80, max_body_bytes=150)
    r = client.get("/ready")
    assert r.status_code == 503 and r.json()["status"] == "loading"
    assert client.post("/v1/score", json={"candidates": ["a"]}).status_code == 503
    go.set()
    wait_ready(client)
    assert client.get("/ready").json() == {"status": "ready", "adapters": ["one"]}
    good = {"liked": ["x"], "candidates": ["a", "b"]}
    want = client.post("/v1/score", json=good).json()["scores"]
    for body, status, message in BAD:
        r = client.post("/v1/score", content=body, headers={"content-type": "application/json"})
        assert r.status_code == status and message in r.json()["error"], (body, r.status_code, r.text)
        assert "\n" not in r.json()["error"]
        assert client.get("/health").json() == {"status": "ok"}
    assert client.post("/v1/score", json=good).json()["scores"] == want  # nothing disturbed


def _serve(args, env=None):
    port = free_port()
    cmd = [sys.executable, "-m", "tallrec", "serve", "--port", str(port), "--log-level", "info", *map(str, args)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env={**os.environ, **(env or {})})
    return proc, httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=120)


def _wait_up(proc, client, timeout=180):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.stdout.read()
        try:
            client.get("/health")
            return
        except httpx.TransportError:
            time.sleep(0.2)
    raise AssertionError("server did not start")


def _flood(url, users, headers, results):
    def send(i, u):
        with httpx.Client(base_url=url, timeout=120) as c:
            results.append(c.post("/v1/score", json=u, headers={**headers, "x-request-id": f"sig-{i}"}))

    threads = [threading.Thread(target=send, args=(i, u)) for i, u in enumerate(users)]
    for t in threads:
        t.start()
    return threads


def _in_flight(client):
    """(requests admitted and not answered, /v1/score requests answered 200)."""
    text = client.get("/metrics").text
    done = [line for line in text.splitlines() if line.startswith('tallrec_requests_total{route="/v1/score",status="200"}')]
    return _metric(text, "tallrec_queue_depth "), float(done[0].split()[-1]) if done else 0.0


def test_sigterm_finishes_in_flight_requests_and_exits_0(adapters, tiny_model_dir):
    proc, client = _serve(["--adapter", f"one={adapters['one']}", "--model", tiny_model_dir, "--precision", "fp32",
                           "--device", "cpu", "--batch-size", "2", "--max-wait-ms", "0"], env={"TALLREC_API_KEY": "k"})
    results, depth = [], 0.0
    try:
        _wait_up(proc, client)
        wait_ready(client)
        assert client.post("/v1/score", json={"candidates": ["a"]}).status_code == 401
        assert client.post("/v1/score", json={"candidates": ["a"]}, headers={"x-api-key": "no"}).status_code == 401
        rng = random.Random(3)
        users = [{"liked": rng.sample(TITLES, 8), "candidates": rng.sample(TITLES, 12)} for _ in range(24)]
        threads = _flood(str(client.base_url), users, {"authorization": "Bearer k"}, results)
        deadline, done = time.monotonic() + 60, 0.0
        while time.monotonic() < deadline and depth + done < len(users):  # every request is in the server
            depth, done = _in_flight(client)
            time.sleep(0.005)
        proc.send_signal(signal.SIGTERM)  # ... and some of them still wait in its queue (checked below)
        for t in threads:
            t.join(120)
        code = proc.wait(60)
    finally:
        if proc.poll() is None:
            proc.kill()
    log = proc.stdout.read()
    assert code == 0, log
    assert len(results) == len(users) and all(r.status_code == 200 for r in results), [r.text for r in results]
    assert sorted(len(r.json()["scores"]) for r in results) == sorted(len(u["candidates"]) for u in users)
    assert depth >= 4, "the signal came after the queue had emptied: nothing was in flight"
    assert "Shutting down" in log and "sig-0" in log  # request ids are logged


def test_a_folder_that_fails_to_load_exits_1_in_one_line(tmp_path, tiny_model_dir):
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "adapter_config.json").write_text('{"peft_type": "LORA", "r": 4, "target_modules": ["nowhere"]}')
    proc, _ = _serve(["--adapter", bad, "--model", tiny_model_dir, "--device", "cpu"])
    out, _ = proc.communicate(timeout=180)
    assert proc.returncode == 1, out
    assert out.strip().splitlines()[-1].startswith("tallrec: error:"), out
