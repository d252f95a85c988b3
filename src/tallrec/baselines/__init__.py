"""Classic and simple baselines for the TALLRec task, all on the same K few-shot samples.

Every baseline answers the same question as the LLM ("will this user like this target item?"),
draws its K training samples with `draw_fewshot(pool, K, seed)` (so it sees exactly the samples the
LLM sees), early-stops on the same validation data, and is scored by AUC on the same test file,
written as the common metrics.json + scores.jsonl.

Names (see `BASELINES`):

* sequential models, trained with one shared loop (train_loop.py) on modules from sequential.py:
  gru4rec, caser, sasrec, dros (GRU4Rec backbone + DRO regulariser), and the text variants
  gru-bert and dros-bert (items = frozen all-MiniLM-L6-v2 embedding of their text, text_encoder.py);
* simple floors (simple.py): like-share (share of liked items in the user's history) and logreg;
* hist-cf (hist_cf.py): the floor on leak-free collaborative signals (collab/), fitted on the
  validation file; it draws no shots.

This module imports neither torch nor scikit-learn, so `tallrec --help` stays fast; the runners are
imported when a baseline is run.
"""

from __future__ import annotations

import os
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass

from ..core.errors import DataError, TallrecError
from ..data.fewshot import draw_fewshot
from ..data.samples import Sample

# name -> (kind, one-line description). kind: "seq" (trained sequential model) or "simple".
BASELINES: dict[str, tuple[str, str]] = {
    "gru4rec": ("seq", "GRU4Rec: GRU over the history (learned item-id + liked-flag embeddings)"),
    "caser": ("seq", "Caser: horizontal + vertical convolutions over the history matrix (item ids)"),
    "sasrec": ("seq", "SASRec: causal self-attention over the history (item ids)"),
    "dros": ("seq", "DROS: GRU4Rec backbone + distributionally robust (KL-DRO) loss term (item ids)"),
    "gru-bert": ("seq", "GRU4Rec with items = frozen all-MiniLM-L6-v2 text embeddings"),
    "dros-bert": ("seq", "DROS with items = frozen all-MiniLM-L6-v2 text embeddings"),
    "like-share": ("simple", "score = share of liked items in the user's own history (no training)"),
    "logreg": ("simple", "logistic regression on user like share, target like rate, history length"),
    "hist-cf": ("collab", "logistic regression on leak-free CF signals of the log (user and item like "
                "rates before t, MF with biases), fitted on --valid; reads no --train samples"),
}

# Accepted by every baseline for a uniform interface (ignored where meaningless, e.g. by like-share).
COMMON_OPTIONS = {"epochs", "patience", "lr", "batch_size", "valid_size", "device", "balanced"}


def baseline_options(name: str, options: dict) -> dict:
    """The full, checked settings of baseline `name`: its kind's defaults (settings.py) under
    `options`; an unknown option or a bad value is one line."""
    from dataclasses import asdict, fields

    from ..core.config import build_config
    from .settings import settings_class

    cls = settings_class(BASELINES[check_name(name)][0])
    known = {f.name for f in fields(cls)}
    unknown = sorted(set(options) - known - COMMON_OPTIONS)
    if unknown:
        raise TallrecError(f"baseline {name!r} does not take option(s) {', '.join(unknown)}")
    given = {k: v for k, v in options.items() if k in known}
    # The Python API may hand over a loaded text encoder instead of a folder name.
    encoder = given.pop("encoder", None)
    opts = asdict(build_config(cls, given, f"baseline {name!r}"))
    if "encoder" in opts:
        opts["encoder"] = encoder if not isinstance(encoder, str) else build_config(
            cls, {"encoder": encoder}, f"baseline {name!r}").encoder
    return opts


@dataclass
class BaselineResult:
    """What a run produced: the metrics record and the per-test-sample labels and scores."""

    record: dict
    labels: list
    scores: list


def check_name(name: str) -> str:
    if name not in BASELINES:
        raise TallrecError(f"unknown baseline {name!r}; choose one of: {', '.join(BASELINES)}")
    return name


def subset(samples: Sequence[Sample], n: int | None, seed: int) -> list[Sample]:
    """A deterministic subset of `n` samples (all of them, in order, when n is None/0 or too big)."""
    samples = list(samples)
    if not n or n >= len(samples):
        return samples
    idx = sorted(random.Random(seed).sample(range(len(samples)), n))
    return [samples[i] for i in idx]


def fit_baseline(
    name: str,
    train: Sequence[Sample],
    valid: Sequence[Sample] | None,
    test: Sequence[Sample],
    shots: int | None,
    seed: int = 0,
    *,
    data: str | os.PathLike | None = None,
    **options,
) -> BaselineResult:
    """Draw `shots` samples from the pool `train` with `seed`, fit baseline `name`, score `test`.

    `valid` is used for early stopping by the sequential models (a seeded subset of `valid_size`);
    the simple baselines ignore it. `data` names the test data in the record (default "<memory>").
    """
    kind = BASELINES[check_name(name)][0]
    opts = baseline_options(name, options)
    test = list(test)
    if not test:
        raise DataError("the test data holds no samples")
    if any(s.label is None for s in test):
        raise DataError("the test data holds samples without a label; AUC needs Yes./No. outputs")
    t0 = time.perf_counter()
    few = draw_fewshot(list(train), shots, seed, balanced=opts["balanced"]) if kind != "collab" else []
    scores, extras, test = _fit_kind(name, kind, few, valid, test, seed, opts)
    seconds = time.perf_counter() - t0
    from ..core.metrics import metrics_record

    labels = [s.label for s in test]
    record = metrics_record(
        labels,
        scores,
        model=name,
        adapter=None,
        data=str(data) if data is not None else "<memory>",
        seed=seed,
        seconds=seconds,
        shots=len(few),
        users=[s.user for s in test],
        baseline=BASELINES[name][1],
        **extras,
    )
    return BaselineResult(record, labels, [float(s) for s in scores])


def _fit_kind(name: str, kind: str, few: list, valid, test: list, seed: int, opts: dict):
    """(scores, record extras, test samples) of one baseline; hist-cf also gives the test users."""
    if kind == "collab":
        if not valid:
            raise DataError(f"baseline {name!r} fits on validation data: give --valid")
        from .hist_cf import fit_hist_cf

        scores, extras = fit_hist_cf(list(valid), test, opts)
        return scores, extras, [s.with_user(u) for s, u in zip(test, extras.pop("users"))]
    if kind == "seq":
        if not valid:
            raise DataError(f"baseline {name!r} needs validation data (--valid) for early stopping")
        val = subset(valid, opts["valid_size"], seed)
        if any(s.label is None for s in val):
            raise DataError("the validation data holds samples without a label")
        from .train_loop import run_sequential

        return (*run_sequential(name, few, val, test, seed, opts), test)
    from .simple import run_simple

    return (*run_simple(name, few, test, opts), test)


def run_baseline(name: str, *args, out: str | os.PathLike | None = None, **kwargs) -> dict:
    """`fit_baseline(name, *args, **kwargs)` (the pool, validation and test samples, K, seed,
    options: see settings.py), and its metrics record; with `out`, metrics.json and scores.jsonl
    are written there."""
    res = fit_baseline(name, *args, **kwargs)
    if out is not None:
        from ..core.metrics import write_metrics

        write_metrics(out, res.record, res.labels, res.scores)
    return res.record


__all__ = ["BASELINES", "BaselineResult", "fit_baseline", "run_baseline", "subset"]
