"""The blend of retriever and LLM over a user's top-N candidates, fitted on validation users.

final = a * z(retriever) + b * z(LLM log-odds), z = standardised within the user's N candidates
(so neither side's scale matters); the retriever side is its score or minus its rank (`feature`).
Candidates fitted on the validation users:

* weight: b = w, a = 1 - w for w on a grid over [0, 1] (w = 0 is the retriever alone);
* logistic: (a, b) the coefficients of a logistic regression of "is the target" on the two
  standardised features (sklearn; the intercept does not change an order).

The best on mean validation NDCG@10 is kept only if it beats the retriever alone significantly:
the paired bootstrap (metrics.paired_bootstrap) of its per-user NDCG@10 minus the retriever's over
the validation users has a 95% interval above 0. Otherwise the blend is the retriever alone
(a = 1, b = 0), so the pipeline never does worse than its retriever on validation. (The test of
significance reuses the users the candidate was chosen on, so it leans optimistic; the benchmark
reports the test-user difference separately.)

Items below the top N keep the retriever's order after the reranked N. Ranks follow metrics.py's
convention (ties in the target's favour); a target outside the top N keeps its retriever rank,
at least N + 1.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field

import numpy as np

from ..core.errors import DataError
from .metrics import loo_per_user, paired_bootstrap

GRID = tuple(round(x, 2) for x in np.linspace(0.0, 1.0, 21))
FEATURES = ("score", "rank")
KINDS = ("retriever", "weight", "logistic")


def log_odds(p) -> np.ndarray:
    p = np.clip(np.asarray(p, dtype=np.float64), 1e-7, 1 - 1e-7)
    return np.log(p) - np.log1p(-p)


def standardise(x) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    sd = x.std()
    return np.zeros_like(x) if sd == 0 or not np.isfinite(sd) else (x - x.mean()) / sd


def retriever_feature(scores, feature: str) -> np.ndarray:
    """The retriever side before standardising: its scores, or minus their rank (1 = best)."""
    s = np.asarray(scores, dtype=np.float64)
    if feature == "score":
        return s
    return -np.argsort(np.argsort(-s, kind="stable"), kind="stable").astype(np.float64)


@dataclass
class Blend:
    """final = retriever_weight * z(retriever feature) + llm_weight * z(log-odds) (module docstring)."""

    kind: str = "retriever"
    feature: str = "score"
    retriever_weight: float = 1.0
    llm_weight: float = 0.0
    n: int = 20
    fitted: dict = field(default_factory=dict)   # how it was chosen (validation figures)

    def __post_init__(self):
        if self.kind not in KINDS or self.feature not in FEATURES:
            raise DataError(f"blend: kind must be one of {KINDS} and feature one of {FEATURES}")

    @property
    def uses_llm(self) -> bool:
        return self.llm_weight != 0.0

    def combine(self, retriever_scores: Sequence[float], p_yes: Sequence[float] | None) -> np.ndarray:
        """Final scores of one user's candidates (higher = better)."""
        r = standardise(retriever_feature(retriever_scores, self.feature))
        if not self.uses_llm:
            return self.retriever_weight * r
        if p_yes is None or len(p_yes) != len(r):
            raise DataError(f"blend: need one P(Yes) per candidate ({len(r)}), got "
                            f"{'none' if p_yes is None else len(p_yes)}")
        return self.retriever_weight * r + self.llm_weight * standardise(log_odds(p_yes))

    def save(self, path: str | os.PathLike) -> None:
        from ..core.io import write_json_atomic

        write_json_atomic(path, asdict(self))

    @classmethod
    def load(cls, path: str | os.PathLike) -> Blend:
        from ..core.io import read_json

        raw = read_json(path)
        if not isinstance(raw, dict):
            raise DataError(f"{path}: a blend is a JSON object")
        unknown = sorted(set(raw) - set(cls.__dataclass_fields__))
        if unknown:
            raise DataError(f"{path}: unknown blend field(s) {', '.join(unknown)}")
        try:
            return cls(**raw)
        except TypeError as e:
            raise DataError(f"{path}: {e}") from None


def blended_ranks(blend: Blend, top_scores, p_yes, target_pos, full_ranks, ties: str = "target") -> np.ndarray:
    """The target's catalogue rank per user after the blend reorders each user's top N.

    top_scores, p_yes: [U, N]; target_pos: [U] position of the target in the top N or -1;
    full_ranks: [U] the retriever's catalogue rank of the target. `ties`: "target" (in the
    target's favour, the leave-one-out convention) or "order" (candidates before the target win a
    tie: the 1+19 benchmark's convention, metrics.target_rank).
    """
    if ties not in ("target", "order"):
        raise DataError(f"blend: ties must be 'target' or 'order', got {ties!r}")
    out = np.empty(len(full_ranks), dtype=np.int64)
    for k, (s, p, t, r) in enumerate(zip(top_scores, p_yes, target_pos, full_ranks)):
        if t < 0:
            out[k] = max(int(r), len(s) + 1)
            continue
        f = blend.combine(s, p)
        out[k] = 1 + int(np.count_nonzero(f > f[t])) + (int(np.count_nonzero(f[:t] == f[t])) if ties == "order" else 0)
    return out


def fit_blend(top_scores, p_yes, target_pos, full_ranks, n: int | None = None, grid=GRID,
              n_boot: int = 2000, seed: int = 0, ties: str = "target") -> Blend:
    """The validation-fitted blend (module docstring); `fitted` records every candidate's NDCG@10."""
    from sklearn.linear_model import LogisticRegression

    top_scores, p_yes = np.asarray(top_scores, dtype=np.float64), np.asarray(p_yes, dtype=np.float64)
    target_pos, full_ranks = np.asarray(target_pos), np.asarray(full_ranks)
    if top_scores.ndim != 2 or top_scores.shape != p_yes.shape or len(target_pos) != len(top_scores):
        raise DataError("blend: top scores, P(Yes) and targets must cover the same users and candidates")
    n = n or top_scores.shape[1]
    base = Blend("retriever", "score", 1.0, 0.0, n)
    base_ndcg = loo_per_user(blended_ranks(base, top_scores, p_yes, target_pos, full_ranks, ties))["ndcg@10"]
    cands: list[Blend] = []
    for feature in FEATURES:
        cands += [Blend("weight", feature, round(1 - w, 4), float(w), n) for w in grid if w > 0]
        x = np.stack([np.concatenate([standardise(retriever_feature(s, feature)) for s in top_scores]),
                      np.concatenate([standardise(log_odds(p)) for p in p_yes])], axis=1)
        y = np.concatenate([np.arange(top_scores.shape[1]) == t for t in target_pos])
        if 0 < y.sum() < len(y):
            a, b = LogisticRegression(C=1.0).fit(x, y).coef_[0]
            cands.append(Blend("logistic", feature, round(float(a), 6), round(float(b), 6), n))
    tried, best, best_ndcg = [], None, None
    for c in cands:
        per = loo_per_user(blended_ranks(c, top_scores, p_yes, target_pos, full_ranks, ties))["ndcg@10"]
        tried.append({"kind": c.kind, "feature": c.feature, "retriever_weight": c.retriever_weight,
                      "llm_weight": c.llm_weight, "ndcg@10": round(float(per.mean()), 6)})
        if best is None or per.mean() > best_ndcg.mean():
            best, best_ndcg = c, per
    fitted = {"users": len(target_pos), "ndcg@10_retriever": round(float(base_ndcg.mean()), 6), "tried": tried}
    if best is None:
        return Blend(**{**asdict(base), "fitted": {**fitted, "kept": "retriever (no candidate)"}})
    diff, lo, hi = paired_bootstrap(best_ndcg, base_ndcg, n=n_boot, seed=seed)
    fitted.update({"best": {k: v for k, v in asdict(best).items() if k != "fitted"},
                   "ndcg@10_best": round(float(best_ndcg.mean()), 6), "diff": round(diff, 6),
                   "ci95": [round(lo, 6), round(hi, 6)], "significant": bool(lo > 0)})
    chosen = best if lo > 0 else base
    fitted["kept"] = "blend" if lo > 0 else "retriever (gain not significant on validation)"
    return Blend(chosen.kind, chosen.feature, chosen.retriever_weight, chosen.llm_weight, n, fitted)


def blend_json(blend: Blend) -> str:
    return json.dumps(asdict(blend), indent=2) + "\n"
