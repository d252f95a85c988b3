"""Is one method's AUC really above another's on the same test samples? Two paired answers:

* `paired_bootstrap`: resample the test samples with replacement (seeded), score both methods on each
  resample, and take the 2.5% and 97.5% quantiles of the AUC difference (a 95% interval). One resample
  is a vector of counts, and the AUC of a weighted sample is computed from one sort of the scores, so
  thousands of resamples cost a few matrix passes.
* `delong`: DeLong's test for two correlated AUCs (DeLong, DeLong & Clarke-Pearson 1988), in the
  O(n log n) midrank form of Sun & Xu (2014): the AUCs' covariance from each sample's structural
  component, a z statistic and a two-sided p value for the difference. (No maintained pip package
  implements it; this is short and tested against the direct O(m n) definition and the bootstrap.)
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ...core.errors import DataError

BOOTSTRAP_N = 2000
LEVEL = 0.95


def _inputs(labels, *scores) -> tuple[np.ndarray, list[np.ndarray]]:
    y = np.asarray([int(bool(l)) for l in labels])
    out = [np.asarray(s, dtype=float) for s in scores]
    if any(len(s) != len(y) for s in out):
        raise DataError(f"paired comparison needs one score per sample from each method ({len(y)} labels, "
                        f"{', '.join(str(len(s)) for s in out)} scores)")
    if not 0 < y.sum() < len(y):
        raise DataError("AUC needs both liked and not-liked samples")
    return y, out


def weighted_auc(labels: np.ndarray, scores: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """AUC of each row of `weights` (B x n sample counts) over the same labels and scores, ties
    counted one half: sum over positive-negative pairs of w_i w_j [s_i > s_j] / (W+ W-)."""
    order = np.argsort(scores, kind="stable")
    s, y = scores[order], labels[order].astype(bool)
    w = np.ascontiguousarray(weights.T[order])  # n x B: the reductions below run over contiguous rows
    starts = np.flatnonzero(np.r_[True, s[1:] != s[:-1]])  # the tie groups of the sorted scores
    pos, neg = np.where(y[:, None], w, 0.0), np.where(y[:, None], 0.0, w)
    if len(starts) < len(s):
        pos, neg = np.add.reduceat(pos, starts, axis=0), np.add.reduceat(neg, starts, axis=0)
    below = np.cumsum(neg, axis=0) - neg  # negatives' weight strictly below each group
    num = (pos * (below + 0.5 * neg)).sum(axis=0)
    den = pos.sum(axis=0) * neg.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, num / np.where(den > 0, den, 1), np.nan)


def paired_bootstrap(labels: Sequence, scores_a: Sequence[float], scores_b: Sequence[float], *,
                     n_boot: int = BOOTSTRAP_N, seed: int = 0, level: float = LEVEL) -> dict:
    """AUC(a) - AUC(b) on the samples, with a seeded paired-bootstrap `level` interval:
    {"diff", "lo", "hi", "excludes_0", "n_boot", "seed"} (resamples with one class only are dropped
    and counted in "dropped")."""
    y, (a, b) = _inputs(labels, scores_a, scores_b)
    n = len(y)
    idx = np.random.default_rng(seed).integers(0, n, size=(n_boot, n))  # resample b: n draws with replacement
    counts = np.bincount((idx + n * np.arange(n_boot)[:, None]).ravel(), minlength=n_boot * n)
    counts = counts.reshape(n_boot, n).astype(float)
    diffs = weighted_auc(y, a, counts) - weighted_auc(y, b, counts)
    ok = diffs[np.isfinite(diffs)]
    ones = np.ones((1, len(y)))
    diff = float(weighted_auc(y, a, ones)[0] - weighted_auc(y, b, ones)[0])
    lo, hi = (float(q) for q in np.quantile(ok, [(1 - level) / 2, (1 + level) / 2]))
    return {"diff": diff, "lo": lo, "hi": hi, "excludes_0": bool(lo > 0 or hi < 0), "n_boot": n_boot,
            "dropped": int(n_boot - len(ok)), "seed": seed, "level": level}


def _midrank(x: np.ndarray) -> np.ndarray:
    from scipy.stats import rankdata

    return rankdata(x, method="average")


def delong(labels: Sequence, scores_a: Sequence[float], scores_b: Sequence[float], level: float = LEVEL) -> dict:
    """DeLong's test of AUC(a) = AUC(b) on the same samples: {"auc_a", "auc_b", "diff", "se", "z", "p",
    "lo", "hi"} (lo, hi: the normal `level` interval of the difference)."""
    from scipy.stats import norm

    y, (a, b) = _inputs(labels, scores_a, scores_b)
    pos, neg = y == 1, y == 0
    m, n = int(pos.sum()), int(neg.sum())
    v10, v01, aucs = [], [], []
    for s in (a, b):
        tz = _midrank(s)                  # ranks among all samples
        tx, ty = _midrank(s[pos]), _midrank(s[neg])  # ranks among the positives, the negatives
        aucs.append((tz[pos].sum() - m * (m + 1) / 2) / (m * n))
        v10.append((tz[pos] - tx) / n)     # per positive: share of negatives below it (ties one half)
        v01.append(1 - (tz[neg] - ty) / m)  # per negative: share of positives above it
    s10 = np.cov(np.vstack(v10)) if m > 1 else np.zeros((2, 2))
    s01 = np.cov(np.vstack(v01)) if n > 1 else np.zeros((2, 2))
    cov = s10 / m + s01 / n
    var = float(cov[0, 0] + cov[1, 1] - 2 * cov[0, 1])
    diff = float(aucs[0] - aucs[1])
    se = float(np.sqrt(max(var, 0.0)))
    z = diff / se if se > 0 else (0.0 if diff == 0 else np.inf * np.sign(diff))
    half = norm.ppf((1 + level) / 2) * se
    return {"auc_a": float(aucs[0]), "auc_b": float(aucs[1]), "diff": diff, "se": se, "z": float(z),
            "p": float(2 * norm.sf(abs(z))), "lo": diff - half, "hi": diff + half,
            "var_a": float(cov[0, 0]), "var_b": float(cov[1, 1]), "cov": float(cov[0, 1])}
