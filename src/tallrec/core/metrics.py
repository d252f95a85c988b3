"""The evaluation metrics and the common `metrics.json` record shared by the LLM path and every baseline.

Every evaluation writes `metrics.json` (the figures and where they came from) and `scores.jsonl`
(one line per sample: index, label, score) beside it, so every number in a report is comparable.

The figures (one place, so every command and the report agree):

* auc: ROC AUC over all samples (scikit-learn).
* uauc: the mean of per-user AUCs over the users who have both a liked and a not-liked sample;
  gauc: the same AUCs weighted by each user's sample count. Users with one class only are left out
  and counted (`uauc_users`, `uauc_users_left_out`). Without a user id on every sample both are
  null with a `uauc_note` saying why: nothing is ever grouped by anything else.
* logloss, brier: of P(Yes) against the labels (scikit-learn; P clipped to [1e-7, 1 - 1e-7] for the
  log-loss so a saturated score costs a finite amount).
* ece: expected calibration error over 15 equal-mass bins (samples sorted by P(Yes), split into 15
  near-equal groups; sum over bins of bin share x |mean P(Yes) - Yes share|).
* pred_yes_rate (mean P(Yes): the Yes rate the scores predict) beside true_yes_rate (the labels').
"""

from __future__ import annotations

import json
import platform
from collections.abc import Hashable, Sequence
from importlib import metadata
from pathlib import Path

import numpy as np
from sklearn.metrics import brier_score_loss, log_loss, roc_auc_score

from .errors import DataError
from .io import write_json_atomic, write_text_atomic

_VERSIONED = ("tallrec", "torch", "transformers", "peft", "accelerate", "scikit-learn", "numpy")
ECE_BINS = 15
EPS = 1e-7  # P(Yes) clip of the log-loss


def auc(labels: Sequence[bool | int], scores: Sequence[float]) -> float:
    """ROC AUC; a one-line error when only one class is present."""
    labels = [int(bool(l)) for l in labels]
    if len(set(labels)) < 2:
        raise DataError(f"AUC needs both liked and not-liked samples; got {len(labels)} of one class")
    return float(roc_auc_score(labels, list(scores)))


def _arrays(labels, scores) -> tuple[np.ndarray, np.ndarray]:
    y = np.asarray([int(bool(l)) for l in labels], dtype=np.int64)
    p = np.asarray(scores, dtype=float)
    if y.shape != p.shape:
        raise DataError(f"{len(y)} labels but {len(p)} scores")
    if not len(y):
        raise DataError("no samples to measure")
    return y, p


def logloss(labels: Sequence, scores: Sequence[float]) -> float:
    y, p = _arrays(labels, scores)
    return float(log_loss(y, np.clip(p, EPS, 1 - EPS), labels=[0, 1]))


def brier(labels: Sequence, scores: Sequence[float]) -> float:
    y, p = _arrays(labels, scores)
    return float(brier_score_loss(y, p, pos_label=1))


def equal_mass_bins(scores: Sequence[float], bins: int = ECE_BINS) -> list[np.ndarray]:
    """Sample positions split into `bins` near-equal groups by ascending score (ties by position)."""
    order = np.argsort(np.asarray(scores, dtype=float), kind="stable")
    return [b for b in np.array_split(order, min(bins, len(order))) if len(b)]


def ece(labels: Sequence, scores: Sequence[float], bins: int = ECE_BINS) -> float:
    """Expected calibration error over `bins` equal-mass bins (see the module docstring)."""
    y, p = _arrays(labels, scores)
    return float(sum(len(b) / len(y) * abs(p[b].mean() - y[b].mean()) for b in equal_mass_bins(p, bins)))


def reliability(labels: Sequence, scores: Sequence[float], bins: int = ECE_BINS) -> list[dict]:
    """Per equal-mass bin: mean P(Yes), Yes share and sample count (the reliability diagram's points)."""
    y, p = _arrays(labels, scores)
    return [{"p_yes": float(p[b].mean()), "yes_share": float(y[b].mean()), "n": int(len(b))}
            for b in equal_mass_bins(p, bins)]


def per_user_auc(labels: Sequence, scores: Sequence[float], users: Sequence[Hashable]) -> dict:
    """{"uauc", "gauc", "uauc_users", "uauc_users_left_out"}: per-user AUCs over the users with both
    labels, averaged plainly (uauc) and weighted by each user's sample count (gauc)."""
    y, p = _arrays(labels, scores)
    if len(users) != len(y):
        raise DataError(f"{len(users)} user ids for {len(y)} samples")
    groups: dict[Hashable, list[int]] = {}
    for i, u in enumerate(users):
        groups.setdefault(u, []).append(i)
    aucs, sizes = [], []
    for rows in groups.values():
        if 0 < y[rows].sum() < len(rows):
            aucs.append(roc_auc_score(y[rows], p[rows]))
            sizes.append(len(rows))
    counted = len(aucs)
    return {"uauc": float(np.mean(aucs)) if counted else None,
            "gauc": float(np.average(aucs, weights=sizes)) if counted else None,
            "uauc_users": counted, "uauc_users_left_out": len(groups) - counted,
            **({} if counted else {"uauc_note": "no user has both a liked and a not-liked sample"})}


def user_figures(labels: Sequence, scores: Sequence[float], users: Sequence | None, where: str = "the data") -> dict:
    """`per_user_auc`, or null figures with the reason when some sample has no user id."""
    missing = len(labels) if users is None else sum(u is None for u in users)
    if missing:
        note = (f"no user ids in {where}" if missing == len(labels)
                else f"{missing} of {len(labels)} samples in {where} have no user id")
        return {"uauc": None, "gauc": None, "uauc_users": None, "uauc_users_left_out": None, "uauc_note": note}
    return per_user_auc(labels, scores, users)


def calibration_figures(labels: Sequence, scores: Sequence[float]) -> dict:
    """log-loss, Brier, ECE and predicted vs true Yes rate."""
    y, p = _arrays(labels, scores)
    return {"logloss": logloss(y, p), "brier": brier(y, p), "ece": ece(y, p),
            "pred_yes_rate": float(p.mean()), "true_yes_rate": float(y.mean())}


def quality(labels: Sequence, scores: Sequence[float], users: Sequence | None = None, where: str = "the data") -> dict:
    """Every figure of the module docstring, in one dict (the metrics record's measured part)."""
    return {"auc": auc(labels, scores), **user_figures(labels, scores, users, where),
            **calibration_figures(labels, scores)}


def versions() -> dict:
    out = {"python": platform.python_version()}
    for name in _VERSIONED:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            pass
    return out


def metrics_record(
    labels: Sequence[bool],
    scores: Sequence[float],
    *,
    model: str,
    data: str,
    adapter: str | None = None,
    seed: int | None = None,
    seconds: float | None = None,
    users: Sequence | None = None,
    **extra,
) -> dict:
    """The common metrics record: the figures of `quality` (auc, uauc, gauc, logloss, brier, ece, Yes
    rates), "n", "positives", "model", "adapter", "data", "seed", "seconds", "versions", plus any
    method-specific extras. `users`: one user id per sample (None where unknown)."""
    rec = {
        **quality(labels, scores, users, where=str(data)),
        "n": len(labels),
        "positives": int(sum(bool(l) for l in labels)),
        "model": model,
        "adapter": adapter,
        "data": str(data),
        "seed": seed,
        "seconds": None if seconds is None else round(float(seconds), 3),
        "versions": versions(),
    }
    rec.update(extra)
    return rec


def write_metrics(out_dir: str | Path, record: dict, labels: Sequence, scores: Sequence[float],
                  users: Sequence | None = None, raw_scores: Sequence[float] | None = None) -> Path:
    """Write metrics.json and scores.jsonl into `out_dir` (atomically); returns metrics.json's path.

    scores.jsonl: {"index", "label", "score"} per sample, plus "user" where known (per-user figures
    and slices can be recomputed from it) and "raw_score" (the uncalibrated P(Yes)) when `score` is
    calibrated."""
    out = Path(out_dir)
    lines = []
    for i, (l, s) in enumerate(zip(labels, scores)):
        row = {"index": i, "label": None if l is None else int(bool(l)), "score": float(s)}
        if users is not None and users[i] is not None:
            row["user"] = users[i]
        if raw_scores is not None:
            row["raw_score"] = float(raw_scores[i])
        lines.append(json.dumps(row))
    write_text_atomic(out / "scores.jsonl", "\n".join(lines) + "\n")
    return write_json_atomic(out / "metrics.json", record)
