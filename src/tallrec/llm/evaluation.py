"""Evaluate or predict with a base model (+ optional adapter): scores, AUC, metrics.json.

The glue between scoring and metrics, shared by `tallrec evaluate`, `predict`, `quickstart` and
the experiments, so every LLM number is produced the same way.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Sequence
from pathlib import Path

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


def _users(samples: Sequence[Sample]) -> list | None:
    users = [s.user for s in samples]
    return None if all(u is None for u in users) else users


def _calibration(calibration, adapter):
    """`calibration`: "auto" (the adapter's calibration.json, if any), None (none) or a Calibration."""
    if calibration == "auto":
        from .calibration import load_calibration

        return load_calibration(adapter)
    return calibration


def calibrated_record(labels, raw, users, cal, samples, *, data: str, **fields) -> tuple[dict, np.ndarray]:
    """The metrics record of raw scores, or of calibrated ones with the raw figures beside; and the
    scores the record is of."""
    if cal is None:
        return metrics_record(labels, raw, users=users, data=data, calibrated=False, **fields), np.asarray(raw)
    from ..core.metrics import calibration_figures
    from .calibration import samples_fingerprint

    scores = cal.apply(raw)
    raw_figures = calibration_figures(labels, raw)
    extra = {"calibrated": True, "calibration": {"method": cal.method, "params": cal.params,
                                                "fitted_on": cal.fitted_on.get("data"), "fitted_n": cal.fitted_on.get("n")},
             "uncalibrated": {k: raw_figures[k] for k in ("logloss", "brier", "ece", "pred_yes_rate")}}
    if cal.fitted_on.get("sha256") == samples_fingerprint(samples):
        extra["calibration_note"] = "fitted on these very samples: the calibrated figures are not a held-out measure"
    return metrics_record(labels, scores, users=users, data=data, **fields, **extra), scores


def evaluate(lm: LoadedModel, samples: Sequence[Sample], out: str | Path | None, *, data: str,
             adapter: str | Path | None = None, seed: int | None = None, options: ScoreOptions | None = None,
             desc: str = "evaluating", calibration="auto", plot: bool = False, **extra) -> dict:
    """Score labelled samples in the model's prompt style (`lm.prompt`), compute the common metrics
    (AUC, UAUC/GAUC where the samples carry user ids, log-loss, Brier, ECE); write metrics.json +
    scores.jsonl (and reliability.png with `plot`) into `out` if given, holding the folder's lock
    (one writer) meanwhile. The adapter's calibration.json, when present, is applied (calibration=
    "auto"; None: never), with the uncalibrated figures beside."""
    unlabeled = sum(s.label is None for s in samples)
    if unlabeled:
        raise DataError(f"{data}: {unlabeled} samples have no label; use `tallrec predict` for unlabeled data")
    cal = _calibration(calibration, adapter)
    with locked_folder(out, what="tallrec evaluate") if out is not None else contextlib.nullcontext():
        t0 = time.time()  # one writer per evaluation folder, for the whole scoring
        raw = Scorer(lm.model, lm.tokenizer, options, lm_template(lm)).score(samples, desc=desc)
        labels = [bool(s.label) for s in samples]
        users = _users(samples)
        rec, scores = calibrated_record(
            labels, raw, users, cal, samples, model=lm.name, data=data,
            adapter=None if adapter is None else str(adapter), seed=seed, seconds=time.time() - t0,
            dtype=str(lm.dtype).replace("torch.", ""), prompt=lm.prompt or DEFAULT_STYLE, **extra)
        if out is not None:
            write_metrics(out, rec, labels, scores, users=users, raw_scores=None if cal is None else raw)
            if plot:
                write_reliability(Path(out) / "reliability.png", labels, scores, None if cal is None else raw,
                                  title=f"{lm.name} on {data}")
    return rec


def write_reliability(path: Path, labels, scores, raw=None, title: str = "") -> Path:
    """reliability.png: the reliability diagram (llm/calibration.py), written atomically."""
    from ..core.extras import require_extra
    from ..core.io import write_bytes_atomic
    from .calibration import reliability_png

    require_extra("report", "the reliability diagram (--plot)")

    return write_bytes_atomic(path, reliability_png(labels, scores, raw, title=title))


def recorded_scores(folder: str | Path, samples: Sequence[Sample], adapter: str | Path | None = None) -> list[float] | None:
    """The scores an earlier evaluation wrote into `folder` (scores.jsonl), if it scored exactly
    these samples (count and labels) with this adapter; else None. The uncalibrated scores where the
    evaluation applied a calibration (what `Scorer` gives). Lets a method that needs the
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
    return [float(r.get("raw_score", r["score"])) for r in rows]  # the model's own P(Yes), uncalibrated


def predict(lm: LoadedModel, samples: Sequence[Sample], out_file: str | Path, options: ScoreOptions | None = None,
            calibration="auto", **meta) -> np.ndarray:
    """P(Yes) for (possibly unlabeled) samples in the model's prompt style, written as JSON: one
    entry per sample, input order. With a calibration ("auto": the adapter's, from meta["adapter"])
    p_yes is calibrated and p_yes_raw kept; when every sample is labelled the file also holds the
    common metrics record ("metrics")."""
    cal = _calibration(calibration, meta.get("adapter"))
    raw = Scorer(lm.model, lm.tokenizer, options, lm_template(lm)).score(samples, desc="predicting")
    scores = np.asarray(raw) if cal is None else cal.apply(raw)
    rows = []
    for i, (s, p, r) in enumerate(zip(samples, scores, raw)):
        row = {"index": i, "target": s.target, "p_yes": float(p)}
        if cal is not None:
            row["p_yes_raw"] = float(r)
        if s.user is not None:
            row["user"] = s.user
        rows.append(row)
    doc = {"model": lm.name, "prompt": lm.prompt or DEFAULT_STYLE, **meta, "calibrated": cal is not None}
    labels = [s.label for s in samples]
    if samples and None not in labels and len(set(labels)) == 2:
        doc["metrics"], _ = calibrated_record([bool(l) for l in labels], raw, _users(samples), cal, samples,
                                              model=lm.name, data=str(meta.get("data", "the samples")))
    write_json_atomic(out_file, {**doc, "predictions": rows})
    return scores


__all__ = ["evaluate", "predict", "recorded_scores", "with_adapter", "load_model"]
