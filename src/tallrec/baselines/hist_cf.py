"""hist-cf: the LLM-free floor on leak-free collaborative signals, the bar every LLM method must clear.

A logistic regression (standardised features, L2) on the signals of `collab.signals.FEATURES`: the
history's like share, the user's like rate over all their earlier ratings, the target item's like
rate among ratings made before the target's time (both smoothed toward the log's rate, and with
their log counts), and the MF-with-biases logit of the latest snapshot before that time. It is
fitted on the whole validation file, so it reads no few-shot samples: the CF signals themselves come
from the whole log before t, as in CoLLM's setting.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..core.errors import DataError
from ..data.samples import Sample


def open_signals(opts: dict):
    """The `CFSignals` of the log named in the settings (DATA_DIR/ml-100k by default)."""
    from ..collab.signals import open_signals as open_log
    from ..collab.snapshots import MFSettings

    mf = MFSettings(dim=int(opts["mf_dim"]), l2=float(opts["mf_l2"]), epochs=int(opts["mf_epochs"]),
                    period=str(opts["snapshot_period"]))
    return open_log(opts.get("log"), None, mf, float(opts["smoothing"]))


def fit_hist_cf(valid: Sequence[Sample], test: Sequence[Sample], opts: dict,
                signals=None) -> tuple[list[float], dict]:
    """Scores of `test` from the regression fitted on `valid`, and what the record says of it."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from ..collab.signals import FEATURES, matrix

    y = np.array([bool(s.label) for s in valid], dtype=int)
    if len(set(y.tolist())) < 2:
        raise DataError("hist-cf needs liked and not-liked samples in --valid")
    signals = signals or open_signals(opts)
    x_valid = matrix(signals.features(valid, "--valid"))  # places both files before any fitting
    x_test = matrix(signals.features(test, "--test"))
    users = signals.place(test, "--test").users.tolist()  # the log knows every placed sample's user
    model = make_pipeline(StandardScaler(), LogisticRegression(C=float(opts["C"]), max_iter=1000))
    model.fit(x_valid, y)
    scores = model.predict_proba(x_test)[:, 1]
    return scores.tolist(), {
        "users": users, "features": list(FEATURES), "coef": [round(float(c), 4) for c in model[-1].coef_[0]],
        "fitted_on": f"{len(valid)} validation samples", "log": signals.log.source,
        "log_sha256": signals.log.checksum(),
        "options": {k: opts[k] for k in ("C", "smoothing", "mf_dim", "mf_l2", "mf_epochs", "snapshot_period")},
    }

