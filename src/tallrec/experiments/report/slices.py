"""Where a method wins or loses: AUC on slices of the test samples.

* warm / cold target: is the test target in the K training samples (as a target or in a history)?
  A few-shot model has seen a warm target's text; a cold one it meets for the first time.
* like-share of the user's history (the share of liked items in the prompt's history): the like-share
  floor scores exactly this, so a method's AUC inside one bucket is what it knows beyond it.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ...core.metrics import auc
from ...data.samples import Sample

SHARE_BUCKETS = ((0.0, 1 / 3, "share < 1/3"), (1 / 3, 2 / 3, "1/3 ≤ share < 2/3"), (2 / 3, 1.01, "share ≥ 2/3"))
WARMTH = ("warm target", "cold target")


def warm_targets(test: Sequence[Sample], train: Sequence[Sample]) -> list[bool]:
    """Per test sample: does its target appear in `train` as a target or in a history?"""
    seen = {s.target for s in train} | {t for s in train for t, _ in s.history}
    return [s.target in seen for s in test]


def like_share_bucket(sample: Sample) -> str:
    """The like-share bucket of the sample's history ("no history" when empty)."""
    if not sample.history:
        return "no history"
    share = sum(l for _, l in sample.history) / len(sample.history)
    return next(name for lo, hi, name in SHARE_BUCKETS if lo <= share < hi)


def slice_auc(labels: Sequence, scores: Sequence[float], groups: Sequence[str]) -> dict[str, dict]:
    """{group: {"auc" (None with one class only), "n", "positives"}} in first-appearance order."""
    y, p = np.asarray([bool(l) for l in labels]), np.asarray(scores, dtype=float)
    out: dict[str, dict] = {}
    for g in dict.fromkeys(groups):
        idx = np.asarray([x == g for x in groups])
        both = 0 < y[idx].sum() < idx.sum()
        out[g] = {"auc": auc(y[idx], p[idx]) if both else None, "n": int(idx.sum()), "positives": int(y[idx].sum())}
    return out


def slices(test: Sequence[Sample], scores: Sequence[float], train: Sequence[Sample] | None = None) -> dict[str, dict]:
    """AUC per warm / cold target (when the K training samples are given) and per like-share bucket."""
    labels = [bool(s.label) for s in test]
    out = {}
    if train is not None:
        out.update(slice_auc(labels, scores, [WARMTH[0] if w else WARMTH[1] for w in warm_targets(test, train)]))
    out.update(slice_auc(labels, scores, [like_share_bucket(s) for s in test]))
    return out
