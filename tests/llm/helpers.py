"""Synthetic samples for the LLM tests: no shared data needed."""

import random

from tallrec.data import Sample

TITLES = [f"Movie {chr(65 + i % 26)}{i} ({1950 + i % 50})" for i in range(200)]


def synthetic(n: int, seed: int = 0, history: int = 10) -> list[Sample]:
    """Samples whose label follows the history's like share, so there is something to learn."""
    rng = random.Random(seed)
    out = []
    for i in range(n):
        hist = tuple((rng.choice(TITLES), rng.random() < 0.5) for _ in range(rng.randint(1, history)))
        share = sum(l for _, l in hist) / len(hist)
        out.append(Sample(history=hist, target=rng.choice(TITLES), label=rng.random() < share))
    return out
