"""Leave-one-out evaluation of a retriever (data/builders/sequences.py; metrics in metrics.py).

`retriever_eval` scores every user's catalogue once at a stage and keeps what the later steps
need: the target's full-catalogue rank, its rank in the sampled list (target + 100 unrated
items, or all unrated items in a catalogue too small for 100), and the top-N candidates with
their scores (what the LLM reranks).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..data.builders.sequences import LeaveOneOut, UserSequence
from .knn import top_k
from .metrics import (
    SAMPLED_NEGATIVES,
    catalogue_rank,
    loo_from_ranks,
    sampled_candidates,
)

SEED = 0


@dataclass
class StageEval:
    """One retriever at one stage, per user (same order as `users`)."""

    users: list[UserSequence]
    ranks: np.ndarray            # full-catalogue rank of the target
    sampled_ranks: np.ndarray    # rank among target + 100 sampled unrated items
    top_ids: np.ndarray          # [U, N] the N best ranked items
    top_scores: np.ndarray       # [U, N] their retriever scores

    def metrics(self) -> dict:
        full = loo_from_ranks(self.ranks)
        sampled = loo_from_ranks(self.sampled_ranks)
        return {**{k: round(v, 6) for k, v in full.items()},
                "sampled": {k: round(v, 6) for k, v in sampled.items()}}


def top_n(scores: np.ndarray, ranked: np.ndarray, n: int) -> np.ndarray:
    """The ids of the `n` best ranked rows (`ranked` mask), best first, ties by lower id."""
    return top_k(np.where(ranked, scores, -np.inf), min(n, int(ranked.sum())))


def retriever_eval(split: LeaveOneOut, retriever, stage: str, users=None, n: int = 20,
                   seed: int = SEED, chunk: int = 256) -> StageEval:
    users = list(split.users if users is None else users)
    catalogue = split.catalogue
    ranks, sranks, tops, tscores = [], [], [], []
    for at in range(0, len(users), chunk):
        part = users[at:at + chunk]
        scores = retriever.scores_many([u.history(stage) for u in part])
        for u, s in zip(part, scores):
            t, ex = u.target(stage), split.excluded(u, stage)
            ranks.append(catalogue_rank(s, t, ex, catalogue))
            pool = np.flatnonzero(catalogue)
            pool = np.setdiff1d(pool, list(split.rated(u)))
            cands = np.asarray(sampled_candidates(t, pool.tolist(), seed, u.user, min(SAMPLED_NEGATIVES, len(pool))))
            sranks.append(1 + int(np.count_nonzero(s[cands[1:]] > s[t])))
            ranked = catalogue.copy()
            ranked[ex] = False
            ids = top_n(s, ranked, n)
            tops.append(ids)
            tscores.append(s[ids])
    return StageEval(users, np.asarray(ranks), np.asarray(sranks), np.asarray(tops), np.asarray(tscores))
