"""AUC and the common `metrics.json` record shared by the LLM path and every baseline.

Every evaluation writes `metrics.json` (the figures and where they came from) and `scores.jsonl`
(one line per sample: index, label, score) beside it, so every number in a report is comparable.
"""

from __future__ import annotations

import json
import platform
from importlib import metadata
from pathlib import Path
from typing import Sequence

from sklearn.metrics import roc_auc_score

from .errors import DataError
from .io import write_json_atomic, write_text_atomic

_VERSIONED = ("tallrec", "torch", "transformers", "peft", "accelerate", "scikit-learn", "numpy")


def auc(labels: Sequence[bool | int], scores: Sequence[float]) -> float:
    """ROC AUC; a one-line error when only one class is present."""
    labels = [int(bool(l)) for l in labels]
    if len(set(labels)) < 2:
        raise DataError(f"AUC needs both liked and not-liked samples; got {len(labels)} of one class")
    return float(roc_auc_score(labels, list(scores)))


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
    **extra,
) -> dict:
    """The common metrics record: {"auc", "n", "positives", "model", "adapter", "data", "seed",
    "seconds", "versions"} plus any method-specific extras."""
    rec = {
        "auc": auc(labels, scores),
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


def write_metrics(out_dir: str | Path, record: dict, labels: Sequence, scores: Sequence[float]) -> Path:
    """Write metrics.json and scores.jsonl into `out_dir` (atomically); returns metrics.json's path."""
    out = Path(out_dir)
    lines = [
        json.dumps({"index": i, "label": None if l is None else int(bool(l)), "score": float(s)})
        for i, (l, s) in enumerate(zip(labels, scores))
    ]
    write_text_atomic(out / "scores.jsonl", "\n".join(lines) + "\n")
    return write_json_atomic(out / "metrics.json", record)
