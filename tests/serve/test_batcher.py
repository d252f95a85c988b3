"""The micro-batcher on its own: order, batch limits, waiting, a bounded queue, failures, draining."""

import threading
import time

import pytest

from tallrec.serve.batcher import BatcherClosed, MicroBatcher, QueueFull

from .helpers import FakeEngine, expected


def _titles(n, prefix="c"):
    return [f"{prefix}{i}" for i in range(n)]


def test_scores_come_back_in_candidate_order_and_big_requests_are_cut():
    eng = FakeEngine()
    b = MicroBatcher(eng.score_many, max_batch=4, max_wait_ms=0).start()
    try:
        got = b.submit("default", ["x"], ["y"], _titles(10)).result(10)
    finally:
        b.close()
    assert got == [expected("default", ["x"], ["y"], c) for c in _titles(10)]
    assert [sum(sizes) for _, sizes in eng.batches] == [4, 4, 2]


def test_concurrent_requests_share_batches_up_to_max_batch():
    gate = threading.Event()
    eng = FakeEngine(gate=gate)
    b = MicroBatcher(eng.score_many, max_batch=8, max_wait_ms=200).start()
    try:
        futures = [b.submit("default", [f"u{i}"], [], _titles(3, f"u{i}-")) for i in range(6)]
        gate.set()
        results = [f.result(10) for f in futures]
    finally:
        b.close()
    for i, r in enumerate(results):
        assert r == [expected("default", [f"u{i}"], [], c) for c in _titles(3, f"u{i}-")]
    sizes = [sum(s) for _, s in eng.batches]
    assert sum(sizes) == 18 and max(sizes) <= 8
    assert max(len(s) for _, s in eng.batches) >= 2  # several users in one batch


def test_a_lone_request_waits_at_most_max_wait():
    eng = FakeEngine()
    b = MicroBatcher(eng.score_many, max_batch=64, max_wait_ms=50).start()
    try:
        t0 = time.monotonic()
        b.submit("default", [], [], ["a"]).result(10)
        waited = time.monotonic() - t0
    finally:
        b.close()
    assert 0.04 <= waited < 2.0


def test_adapters_are_never_mixed_in_one_batch():
    gate = threading.Event()
    eng = FakeEngine(gate=gate)
    b = MicroBatcher(eng.score_many, max_batch=100, max_wait_ms=100).start()
    try:
        futures = [b.submit(a, [], [], _titles(2, a)) for a in ("default", "other") * 3]
        gate.set()
        for f, a in zip(futures, ("default", "other") * 3):
            assert f.result(10) == [expected(a, [], [], c) for c in _titles(2, a)]
    finally:
        b.close()
    # one adapter per batch: the three "default" requests together, then the three "other" ones
    assert eng.batches == [("default", [2, 2, 2]), ("other", [2, 2, 2])]


def test_a_full_queue_refuses_and_recovers():
    gate = threading.Event()
    eng = FakeEngine(gate=gate)
    b = MicroBatcher(eng.score_many, max_batch=4, max_wait_ms=0, max_queue=2).start()
    try:
        first = [b.submit("default", [], [], ["a"]), b.submit("default", [], [], ["b"])]
        with pytest.raises(QueueFull, match="--max-queue 2"):
            b.submit("default", [], [], ["c"])
        gate.set()
        assert [f.result(10) for f in first] == [[expected("default", [], [], "a")], [expected("default", [], [], "b")]]
        deadline = time.monotonic() + 5
        while b.depth and time.monotonic() < deadline:
            time.sleep(0.01)
        assert b.depth == 0
        assert b.submit("default", [], [], ["c"]).result(10) == [expected("default", [], [], "c")]
    finally:
        b.close()


def test_a_failing_request_fails_alone():
    gate = threading.Event()
    eng = FakeEngine(gate=gate)
    b = MicroBatcher(eng.score_many, max_batch=16, max_wait_ms=100).start()
    try:
        good1 = b.submit("default", [], [], ["a", "b"])
        bad = b.submit("default", [], [], ["boom", "c"])
        good2 = b.submit("default", [], [], ["d"])
        gate.set()
        assert good1.result(10) == [expected("default", [], [], t) for t in "ab"]
        assert good2.result(10) == [expected("default", [], [], "d")]
        with pytest.raises(RuntimeError, match="boom"):
            bad.result(10)
    finally:
        b.close()


def test_close_drains_every_queued_request_then_refuses():
    gate = threading.Event()
    eng = FakeEngine(gate=gate)
    b = MicroBatcher(eng.score_many, max_batch=2, max_wait_ms=0, max_queue=100).start()
    futures = [b.submit("default", [str(i)], [], _titles(3)) for i in range(10)]
    closer = threading.Thread(target=b.close)
    closer.start()
    time.sleep(0.05)
    with pytest.raises(BatcherClosed):
        b.submit("default", [], [], ["late"])
    gate.set()
    closer.join(10)
    assert all(f.done() and not f.exception() for f in futures)
    assert [f.result() for f in futures] == [[expected("default", [str(i)], [], c) for c in _titles(3)] for i in range(10)]


def test_a_cancelled_request_is_not_scored():
    gate = threading.Event()
    eng = FakeEngine(gate=gate)
    b = MicroBatcher(eng.score_many, max_batch=1, max_wait_ms=0).start()
    try:
        first = b.submit("default", [], [], ["a"])
        time.sleep(0.05)  # the worker holds "a" at the gate
        dropped = b.submit("default", [], [], ["x", "y", "z"])
        assert dropped.cancel()
        last = b.submit("default", [], [], ["b"])
        gate.set()
        assert first.result(10) and last.result(10)
    finally:
        b.close()
    assert [s for _, s in eng.batches] == [[1], [1]]
    assert b.depth == 0


@pytest.mark.parametrize("kwargs", [{"max_batch": 0}, {"max_queue": 0}, {"max_wait_ms": -1}])
def test_bad_settings_are_refused(kwargs):
    with pytest.raises(ValueError):
        MicroBatcher(FakeEngine().score_many, **kwargs)
