"""Simple floors: what a recommender must beat to have learned anything beyond the user's mood.

like-share: score = the share of liked items in the user's own history (0.5 for an empty history).
  Needs no training: the K samples are drawn (for a uniform record) but not used.
logreg: scikit-learn LogisticRegression (standardised features, L2, C=1) trained on the K samples
  with three features per sample:
    1. the user's like share (as above);
    2. the target item's like rate in the training data, smoothed toward the overall rate:
       (likes + m * prior) / (occurrences + m), m = `smoothing` (2). Counts come only from the K
       training samples: their targets (with labels) and their history items (with liked flags),
       never from validation or test labels. For a training sample its own target label is left
       out (leave-one-out), so the feature is not a copy of the label it has to predict;
    3. the history length / 10.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

import numpy as np

from ..core.errors import DataError
from ..data.samples import Sample


def like_share(s: Sample) -> float:
    return sum(l for _, l in s.history) / len(s.history) if s.history else 0.5


class ItemRates:
    """Smoothed like rate per item text from a set of labelled training samples."""

    def __init__(self, samples: Sequence[Sample], smoothing: float = 2.0):
        self.likes: dict[str, float] = defaultdict(float)
        self.seen: dict[str, float] = defaultdict(float)
        for s in samples:
            for t, liked in s.history:
                self.likes[t] += liked
                self.seen[t] += 1
            self.likes[s.target] += bool(s.label)
            self.seen[s.target] += 1
        total = sum(self.seen.values())
        self.prior = sum(self.likes.values()) / total if total else 0.5
        self.m = float(smoothing)

    def rate(self, text: str, leave_out: bool | None = None) -> float:
        """Smoothed like rate of `text`; `leave_out` removes one observation with that label."""
        likes, seen = self.likes.get(text, 0.0), self.seen.get(text, 0.0)
        if leave_out is not None:
            likes, seen = likes - bool(leave_out), seen - 1
        return (likes + self.m * self.prior) / (seen + self.m)


def features(samples: Sequence[Sample], rates: ItemRates, training: bool = False) -> np.ndarray:
    return np.array(
        [
            [like_share(s), rates.rate(s.target, s.label if training else None), len(s.history) / 10.0]
            for s in samples
        ],
        dtype=float,
    )


def run_simple(name: str, train: list[Sample], test: list[Sample], opts: dict) -> tuple[list[float], dict]:
    if name == "like-share":
        return [like_share(s) for s in test], {"method": "share of liked items in the history"}
    if name != "logreg":  # pragma: no cover - guarded by the registry
        raise ValueError(name)
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    y = np.array([bool(s.label) for s in train], dtype=int)
    if len(set(y.tolist())) < 2:
        raise DataError("logreg needs both liked and not-liked training samples; draw more shots or use --balanced")
    rates = ItemRates(train, float(opts["smoothing"]))
    model = make_pipeline(StandardScaler(), LogisticRegression(C=float(opts["C"]), max_iter=1000))
    model.fit(features(train, rates, training=True), y)
    scores = model.predict_proba(features(test, rates))[:, 1]
    coef = model[-1].coef_[0]
    return scores.tolist(), {
        "features": ["like_share", "target_like_rate", "history_len"],
        "coef": [round(float(c), 4) for c in coef],
        "options": {"C": float(opts["C"]), "smoothing": float(opts["smoothing"])},
    }
