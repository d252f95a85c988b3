"""The hybrid method: the tuned LLM's log-odds combined with the history's own statistics.

A logistic regression on [logit P(Yes), like share, target like rate, history length] is fitted on
the validation samples the LLM arm already early-stops on (`validation_subset`): they are labelled
data the tuned LLM has used, held out from its training samples, so the combiner sees honest (not
overfitted) LLM scores, and nothing beyond the few-shot protocol's data is read. The target like
rate counts only the K training samples (baselines/simple.py).

Its floor, `hist-valid`, is the same regression on the same samples without the LLM column: the
difference between the two is what the LLM adds.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..baselines.simple import ItemRates, features
from ..core.errors import DataError
from ..data.samples import Sample

FEATURES = ["llm_logit", "like_share", "target_like_rate", "history_len"]
EPS = 1e-6


def logit(p: Sequence[float]) -> np.ndarray:
    p = np.clip(np.asarray(p, dtype=float), EPS, 1 - EPS)
    return np.log(p / (1 - p))


def _design(samples: Sequence[Sample], rates: ItemRates, llm: Sequence[float] | None) -> np.ndarray:
    x = features(samples, rates)
    return x if llm is None else np.column_stack([logit(llm), x])


def fit_combiner(train: Sequence[Sample], fit_on: Sequence[Sample], test: Sequence[Sample],
                 llm_fit: Sequence[float] | None = None, llm_test: Sequence[float] | None = None,
                 C: float = 1.0, smoothing: float = 2.0) -> tuple[list[float], dict]:
    """Scores of `test` from a logistic regression fitted on `fit_on` (with the LLM's P(Yes) as a
    feature when `llm_fit`/`llm_test` are given, without it for the floor)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    y = np.array([bool(s.label) for s in fit_on], dtype=int)
    if len(set(y.tolist())) < 2:
        raise DataError("the combiner needs liked and not-liked validation samples")
    if (llm_fit is None) != (llm_test is None) or (llm_fit is not None and len(llm_fit) != len(fit_on)):
        raise ValueError("LLM scores must be given for both the fitting and the test samples")
    rates = ItemRates(train, smoothing)
    model = make_pipeline(StandardScaler(), LogisticRegression(C=C, max_iter=1000))
    model.fit(_design(fit_on, rates, llm_fit), y)
    scores = model.predict_proba(_design(test, rates, llm_test))[:, 1]
    names = FEATURES if llm_fit is not None else FEATURES[1:]
    return scores.tolist(), {"features": names, "coef": [round(float(c), 4) for c in model[-1].coef_[0]],
                             "fitted_on": f"{len(fit_on)} early-stopping validation samples", "C": C}


def combine_and_record(train: Sequence[Sample], fit_on: Sequence[Sample], test: Sequence[Sample], out, *,
                       data: str, lm=None, llm_test: Sequence[float] | None = None, options=None, **extra) -> dict:
    """Fit the hybrid (with the tuned model `lm`, whose test scores `llm_test` its own evaluation
    already computed; `fit_on` is scored here) or, without `lm`, the LLM-free floor; write the
    common metrics record into `out` and return it."""
    import time

    from ..core.metrics import metrics_record, write_metrics

    t0 = time.time()
    llm_fit = None
    if lm is not None:
        from ..llm.encoding import lm_template
        from ..llm.scoring import Scorer

        llm_fit = Scorer(lm.model, lm.tokenizer, options, lm_template(lm)).score(fit_on, desc="hybrid: validation")
    scores, info = fit_combiner(train, fit_on, test, llm_fit, llm_test)
    labels = [bool(s.label) for s in test]
    name = "hybrid" if lm is not None else "hist-valid"
    record = metrics_record(labels, scores, model=lm.name if lm is not None else name, data=data,
                            seconds=time.time() - t0, method=name, users=[s.user for s in test], **info, **extra)
    write_metrics(out, record, labels, scores)
    return record
