"""What the validation-only study scripts share: their flags, the split and the regression.

The split is the recipe search's: the movie validation file's 200 early-stopping samples (which
`hybrid` and `hist-valid` are fitted on) and its 800 other samples (which candidates are compared
on). The test file is not read.
"""

from __future__ import annotations

import argparse
import json
import sys

import numpy as np

from tallrec.core.errors import TallrecError
from tallrec.core.io import write_text_atomic
from tallrec.core.metrics import auc
from tallrec.data.fewshot import validation_subset

EARLY_STOPPING_SIZE = 200


def study_parser(doc: str, out: str, models: bool = False) -> argparse.ArgumentParser:
    """A parser with the flags every study has (--out, --data-dir, --shots, --seeds), and with
    `models` the flags of a study that loads LLMs (--models, --precision)."""
    ap = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=out)
    ap.add_argument("--data-dir", default=None)
    ap.add_argument("--shots", type=int, default=64)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    if models:
        ap.add_argument("--models", nargs="+", default=["smollm2-135m"])
        ap.add_argument("--precision", default="auto")
    return ap


def open_study(args):
    """(output folder, made; the movie data; the 200 fitting samples; the 800 selection samples)."""
    from pathlib import Path

    from tallrec.data.datasets import load_domain

    data = load_domain("movie", args.data_dir)  # first: bad data leaves no output folder behind
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    return (out, data, *fit_and_select(data.valid))


def selection_part(valid, early_stop_size: int | None, size: int | None = None) -> list:
    """The validation samples outside `validation_subset(valid, early_stop_size)`, in file order
    (the first `size` of them): where the studies choose recipes and features, on samples that
    early stopping and the hybrid's fit never saw."""
    stop = {id(s) for s in validation_subset(valid, early_stop_size)}
    return [s for s in valid if id(s) not in stop][:size]


def fit_and_select(valid):
    """(the 200 fitting samples, the 800 selection samples) of the validation file."""
    return validation_subset(valid, EARLY_STOPPING_SIZE), selection_part(valid, EARLY_STOPPING_SIZE)


def regression_auc(fit_on, select, x_fit, x_sel) -> float:
    """AUC on `select` of a standardised logistic regression (C=1, as `hist-valid`) fitted on `fit_on`."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))
    model.fit(x_fit, [bool(s.label) for s in fit_on])
    return auc([bool(s.label) for s in select], model.predict_proba(x_sel)[:, 1])


def mean_sd(values) -> str:
    """"0.7000 ± 0.0100" over seeds (the sd only when there are two or more)."""
    v = np.asarray(values, dtype=float)
    return f"{v.mean():.4f} ± {v.std(ddof=1):.4f}" if len(v) > 1 else f"{v.mean():.4f}"


def write_rows(path, rows: list[dict]) -> None:
    """The results file, one JSON line per row, written atomically (never half a file)."""
    write_text_atomic(path, "".join(json.dumps(r) + "\n" for r in rows))


def run_study(main) -> None:
    """Run a study's `main`; a TallrecError (a bad model name, bad data) is one line, not a traceback."""
    try:
        main()
    except TallrecError as e:
        sys.exit(f"{sys.argv[0]}: error: {e}")
