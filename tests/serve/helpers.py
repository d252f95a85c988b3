"""A scoring engine with known answers, for the batcher and HTTP tests that need no model.

It stands in for the Recommender only in tests; `tallrec serve` itself always scores with the
real Recommender (tests/serve/test_real_model.py checks the two agree).
"""

from __future__ import annotations

import hashlib
import threading


def expected(adapter: str, liked, disliked, candidate: str) -> float:
    """A deterministic 'P(Yes)' in (0, 1) that depends on everything a real score depends on."""
    key = "|".join([adapter, ",".join(liked), ",".join(disliked), candidate]).encode()
    return (int(hashlib.sha256(key).hexdigest()[:8], 16) + 1) / (2**32 + 2)


class FakeEngine:
    """Records every batch; `gate` (an Event) holds each batch until set; a candidate titled
    'boom' makes the batch holding it fail."""

    model = "fake-model"

    def __init__(self, adapters=("default", "other"), gate: threading.Event | None = None):
        self.adapters = list(adapters)
        self.gate = gate
        self.batches: list[tuple[str, list[int]]] = []
        self.lock = threading.Lock()

    def score_many(self, adapter, users):
        if self.gate is not None:
            self.gate.wait(30)
        if any("boom" in u["candidates"] for u in users):
            raise RuntimeError("boom in the batch")
        with self.lock:
            self.batches.append((adapter, [len(u["candidates"]) for u in users]))
        return [[expected(adapter, u["liked"], u["disliked"], c) for c in u["candidates"]] for u in users]

    def info(self):
        return {"model": self.model, "adapters": {a: {"path": None} for a in self.adapters}}
