"""Evaluate or predict with a base model (+ optional adapter): scores, AUC, metrics.json.

The glue between scoring and metrics, shared by `tallrec evaluate`, `predict`, `quickstart` and
the experiments, so every LLM number is produced the same way.
"""

from __future__ import annotations

import contextlib
import time
from pathlib import Path
from typing import Sequence

import numpy as np

from ..core.errors import DataError
from ..core.io import write_json_atomic
from ..core.lock import locked_folder
from ..core.metrics import metrics_record, write_metrics
from ..data.samples import Sample
from ..prompts.registry import DEFAULT_STYLE
from .adapters import with_adapter
from .encoding import lm_template
from .models import LoadedModel, load_model
from .scoring import ScoreOptions, Scorer


def evaluate(lm: LoadedModel, samples: Sequence[Sample], out: str | Path | None, *, data: str,
             adapter: str | Path | None = None, seed: int | None = None, options: ScoreOptions | None = None,
             desc: str = "evaluating", **extra) -> dict:
    """Score labelled samples in the model's prompt style (`lm.prompt`), compute AUC; write
    metrics.json + scores.jsonl into `out` if given, holding the folder's lock (one writer) meanwhile."""
    unlabeled = sum(s.label is None for s in samples)
    if unlabeled:
        raise DataError(f"{data}: {unlabeled} samples have no label; use `tallrec predict` for unlabeled data")
    with locked_folder(out, what="tallrec evaluate") if out is not None else contextlib.nullcontext():
        t0 = time.time()  # one writer per evaluation folder, for the whole scoring
        scores = Scorer(lm.model, lm.tokenizer, options, lm_template(lm)).score(samples, desc=desc)
        labels = [bool(s.label) for s in samples]
        rec = metrics_record(labels, scores, model=lm.name, data=data,
                             adapter=None if adapter is None else str(adapter), seed=seed, seconds=time.time() - t0,
                             dtype=str(lm.dtype).replace("torch.", ""), prompt=lm.prompt or DEFAULT_STYLE, **extra)
        if out is not None:
            write_metrics(out, rec, labels, scores)
    return rec


def recorded_scores(folder: str | Path, samples: Sequence[Sample], adapter: str | Path | None = None) -> list[float] | None:
    """The scores an earlier evaluation wrote into `folder` (scores.jsonl), if it scored exactly
    these samples (count and labels) with this adapter; else None. Lets a method that needs the
    tuned LLM's test scores reuse them instead of scoring the test file again."""
    import json

    folder = Path(folder)
    try:
        rec = json.loads((folder / "metrics.json").read_text())
        rows = [json.loads(line) for line in (folder / "scores.jsonl").read_text().splitlines() if line.strip()]
    except (OSError, ValueError):
        return None
    if adapter is not None and rec.get("adapter") != str(adapter):
        return None
    if len(rows) != len(samples) or [r["index"] for r in rows] != list(range(len(samples))):
        return None
    if [bool(r["label"]) for r in rows] != [bool(s.label) for s in samples]:
        return None
    return [float(r["score"]) for r in rows]


def predict(lm: LoadedModel, samples: Sequence[Sample], out_file: str | Path, options: ScoreOptions | None = None,
            **meta) -> np.ndarray:
    """P(Yes) for (possibly unlabeled) samples in the model's prompt style, written as JSON: one
    entry per sample, input order."""
    scores = Scorer(lm.model, lm.tokenizer, options, lm_template(lm)).score(samples, desc="predicting")
    rows = [{"index": i, "target": s.target, "p_yes": float(p)} for i, (s, p) in enumerate(zip(samples, scores))]
    write_json_atomic(out_file, {"model": lm.name, "prompt": lm.prompt or DEFAULT_STYLE, **meta, "predictions": rows})
    return scores


__all__ = ["evaluate", "predict", "recorded_scores", "with_adapter", "load_model"]
