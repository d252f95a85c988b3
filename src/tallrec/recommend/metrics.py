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


# --- Full-catalogue leave-one-out metrics (data/builders/sequences.py) -------------------------
#
# Ties: the target ranks above every item it ties with, rank = 1 + (items scoring strictly higher),
# the convention of SASRec's reference evaluation (argsort with the target first). It is the one
# that reproduces the popularity figures on MovieLens-100K (test NDCG@10 0.0450, Recall@10
# 0.0859; ties broken by item id give 0.0449, pessimistic ties 0.0432). Because it favours a scorer
# with ties, the retrievers (retrievers.py) break their own ties (item-kNN by popularity).

LOO_AT = (10, 20)
SAMPLED_NEGATIVES = 100


def catalogue_rank(scores, target: int, excluded=(), ranked=None) -> int:
    """1-based rank of row `target` among the ranked rows (`ranked`: a boolean mask, default all)
    minus `excluded`, ties in the target's favour (see above)."""
    import numpy as np

    scores = np.asarray(scores, dtype=np.float64)
    keep = np.ones(len(scores), dtype=bool) if ranked is None else np.array(ranked, dtype=bool)
    keep[np.asarray(excluded, dtype=np.int64)] = False
    if not keep[target]:
        raise DataError(f"target {target} is not among the ranked items")
    s = scores[target]
    if np.isnan(s):
        raise DataError(f"target {target} has a NaN score")
    return 1 + int(np.count_nonzero(scores[keep] > s))


def loo_from_ranks(ranks) -> dict[str, float]:
    """NDCG@k, Recall@k (k in LOO_AT) and MRR of one-target lists, averaged over users."""
    per = loo_per_user(ranks)
    return {k: float(v.mean()) for k, v in per.items()}


def loo_per_user(ranks) -> dict:
    """The same figures per user (arrays), for paired comparisons."""
    import numpy as np

    r = np.asarray(ranks, dtype=np.float64)
    if r.size == 0:
        raise DataError("ranking metrics need at least one user")
    out = {}
    for k in LOO_AT:
        out[f"ndcg@{k}"] = np.where(r <= k, 1.0 / np.log2(r + 1.0), 0.0)
        out[f"recall@{k}"] = (r <= k).astype(np.float64)
    out["mrr"] = 1.0 / r
    return out


def sampled_candidates(target: int, pool, seed: int, user: int, n: int = SAMPLED_NEGATIVES) -> list[int]:
    """The sampled variant's list: the target plus `n` items of `pool` (items the user never rated),
    drawn with random.Random((seed, user)) so a user's list does not depend on the others."""
    import random

    pool = sorted(pool)
    if len(pool) < n:
        raise DataError(f"user {user}: only {len(pool)} unrated items, cannot sample {n}")
    return [target, *random.Random(f"{seed}:{user}").sample(pool, n)]


def paired_bootstrap(a, b, n: int = 2000, seed: int = 0) -> tuple[float, float, float]:
    """(mean of a - b, 2.5% and 97.5% percentiles of the mean over `n` resamples of the users).

    `a` and `b` are per-user figures of two methods on the same users (e.g. NDCG@10); the users
    are resampled with numpy's default_rng(seed), the same draws for both.
    """
    import numpy as np

    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.shape != b.shape or a.ndim != 1 or a.size == 0:
        raise DataError(f"paired bootstrap needs two equal-length non-empty arrays, got {a.shape} and {b.shape}")
    if n < 1:
        raise DataError(f"bootstrap resamples must be at least 1, got {n}")
    d = a - b
    idx = np.random.default_rng(seed).integers(0, d.size, size=(n, d.size))
    means = d[idx].mean(axis=1)
    lo, hi = np.percentile(means, [2.5, 97.5])
    return float(d.mean()), float(lo), float(hi)
