"""Ranking metrics: HR@k, NDCG@k and MRR of the target's rank among a user's candidates.

One relevant item per list (the target), so with rank r (1 = first): HR@k = [r <= k],
NDCG@k = [r <= k] / log2(r + 1), MRR = 1 / r, each averaged over the lists. Ties in the scores
are broken by candidate order (the benchmark's candidate lists are shuffled). The random baseline
is the exact expectation for a uniformly random order of n candidates (HR@k = k / n), not a draw.
Records follow the common metrics record (core.metrics): the figures, n, model, adapter, data,
seed, seconds, versions.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from ..core.errors import DataError
from ..core.metrics import versions

HR_AT = (1, 5, 10)
NDCG_AT = (5, 10)


def target_rank(scores: Sequence[float], target: int) -> int:
    """1-based rank of candidate `target` when sorted by score, best first, ties in input order."""
    s = scores[target]
    return 1 + sum(1 for x in scores if x > s) + sum(1 for x in scores[:target] if x == s)


def metrics_from_ranks(ranks: Sequence[int]) -> dict[str, float]:
    if not ranks:
        raise DataError("ranking metrics need at least one list")
    n = len(ranks)
    out = {f"hr@{k}": sum(r <= k for r in ranks) / n for k in HR_AT}
    out.update({f"ndcg@{k}": sum(1 / math.log2(r + 1) for r in ranks if r <= k) / n for k in NDCG_AT})
    out["mrr"] = sum(1 / r for r in ranks) / n
    return out


def random_expected(sizes: Sequence[int]) -> dict[str, float]:
    """The exact expected metrics of a uniformly random order, averaged over lists of these sizes."""
    if not sizes:
        raise DataError("ranking metrics need at least one list")

    def one(n: int) -> dict[str, float]:
        out = {f"hr@{k}": min(k, n) / n for k in HR_AT}
        out.update({f"ndcg@{k}": sum(1 / math.log2(r + 1) for r in range(1, min(k, n) + 1)) / n for k in NDCG_AT})
        out["mrr"] = sum(1 / r for r in range(1, n + 1)) / n
        return out

    per = [one(n) for n in sizes]
    return {k: sum(p[k] for p in per) / len(per) for k in per[0]}


def ranking_record(figures: dict[str, float], *, n: int, model: str, data: str, adapter: str | None = None,
                   seed: int | None = None, seconds: float | None = None, **extra) -> dict:
    """The common record around a method's ranking figures."""
    rec = {**{k: round(float(v), 6) for k, v in figures.items()}, "n": n, "model": model, "adapter": adapter,
           "data": str(data), "seed": seed, "seconds": None if seconds is None else round(float(seconds), 3),
           "versions": versions()}
    rec.update(extra)
    return rec
