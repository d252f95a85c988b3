"""The blend as a product step: fit and gate it on validation users (blend.fit_blend), for
`tallrec recommend build --adapter RUN` and benchmarks/recommend_bench.py alike.

Per user of a seeded subset of the leave-one-out split: the retriever's top N at the validation
stage, the LLM's P(Yes) of each (only where the validation target is among them: no order of the
top N changes the others' rank), and the fitted blend, which keeps the retriever alone unless the
LLM's validation gain is significant.
"""

from __future__ import annotations

import random
import sys
import time
from collections.abc import Callable

import numpy as np

from ..core.defaults import DEFAULT_BLEND_USERS
from ..data.builders.sequences import LeaveOneOut
from .blend import Blend, fit_blend
from .loo import StageEval, retriever_eval

Score = Callable[[list[str], list[str], list[dict]], list[float]]
"""score(liked titles, disliked titles, candidates [{id, title}]) -> P(Yes) per candidate."""

BLEND_USERS = DEFAULT_BLEND_USERS


def target_positions(ev: StageEval, users: list[int], stage: str) -> np.ndarray:
    """Where each user's target is in its top N (-1: not there)."""
    pos = []
    for k in users:
        hit = np.flatnonzero(ev.top_ids[k] == ev.users[k].target(stage))
        pos.append(int(hit[0]) if hit.size else -1)
    return np.asarray(pos)


def score_subset(split: LeaveOneOut, ev: StageEval, users: list[int], score: Score, stage: str,
                 pos: np.ndarray | None = None, progress: bool = True) -> tuple[np.ndarray, float]:
    """P(Yes) [U, N] of each subset user's top-N candidates at `stage`; mean seconds per scored user.

    Only users whose target is in the top N (pos >= 0) are scored: no order of the top N changes the
    others' rank (blend.blended_ranks), so their P(Yes) is a constant 0.5 (its log-odds standardise
    to zeros: the logistic blend candidate sees them as all-negative rows with no LLM signal).
    Without `pos` every user is scored."""
    t0 = time.perf_counter()
    out, scored = [], 0
    n = ev.top_ids.shape[1]
    for j, k in enumerate(users):
        if pos is not None and pos[j] < 0:
            out.append([0.5] * n)
            continue
        u = ev.users[k]
        liked, disliked = split.tallrec_history(u, stage)
        cands = [{"id": int(i) if split.item_ids is None else split.item_ids[int(i)], "title": split.titles[int(i)]}
                 for i in ev.top_ids[k]]
        out.append(score(liked, disliked, cands))
        scored += 1
        if progress and scored % 25 == 0:
            print(f"  llm {stage} {j + 1}/{len(users)} ({scored} scored)", file=sys.stderr, flush=True)
    return np.asarray(out, dtype=np.float64), (time.perf_counter() - t0) / max(1, scored)


def user_subset(split: LeaveOneOut, users: int, seed: int = 0) -> list[int]:
    """The seeded subset of user indices the LLM scores (all when `users` covers them)."""
    return sorted(random.Random(seed).sample(range(len(split.users)), min(users, len(split.users))))


def fit_validation_blend(split: LeaveOneOut, retriever, score: Score, n: int, users: int = BLEND_USERS,
                         seed: int = 0, progress: bool = False) -> Blend:
    """The blend of `retriever` and the LLM `score`, fitted and gated on the validation stage of a
    seeded subset of `users` users (the test stage is never read)."""
    subset = user_subset(split, users, seed)
    ev = retriever_eval(split, retriever, "valid", users=None, n=n, seed=seed)
    pos = target_positions(ev, subset, "valid")
    p_yes, _ = score_subset(split, ev, subset, score, "valid", pos, progress=progress)
    blend = fit_blend(ev.top_scores[subset], p_yes, pos, ev.ranks[subset], n=n, seed=seed)
    blend.fitted["users"] = len(subset)
    return blend
