"""Calibrated P(Yes): a monotone map of the model's score, fitted on validation samples only.

A rec-tuned adapter ranks well (AUC) but its P(Yes) need not be a probability one can act on. Two
standard maps of the score's logit z = log(p / (1 - p)) fix that without touching the ranking:

* platt: P = sigmoid(a z + b), a logistic regression of the labels on z (scikit-learn, no
  regularisation); a must be positive, else the map would reverse the ranking and is refused;
* temperature: P = sigmoid(z / T), one scalar T > 0 fitted by minimising the log-loss (scipy).

Both are increasing in the score, so AUC (and every ranking) is unchanged by construction. The fit is
saved as `calibration.json` inside the adapter folder (atomically), so it travels with the adapter,
is removed with it when the adapter is retrained, and is applied by `evaluate` and `predict`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from ..core.errors import DataError, TallrecError
from ..core.io import read_json, write_json_atomic
from ..core.metrics import auc, calibration_figures

CALIBRATION_FILE = "calibration.json"
METHODS = ("platt", "temperature")
EPS = 1e-7


def logit(scores: Sequence[float]) -> np.ndarray:
    p = np.clip(np.asarray(scores, dtype=float), EPS, 1 - EPS)
    return np.log(p) - np.log1p(-p)


def _sigmoid(z: np.ndarray) -> np.ndarray:
    from scipy.special import expit

    return expit(z)


@dataclass
class Calibration:
    """A fitted map: method and parameters ({"a", "b"} or {"temperature"}), and what it was fitted on."""

    method: str
    params: dict
    fitted_on: dict = field(default_factory=dict)

    def apply(self, scores: Sequence[float]) -> np.ndarray:
        z = logit(scores)
        if self.method == "platt":
            return _sigmoid(self.params["a"] * z + self.params["b"])
        if self.method == "temperature":
            return _sigmoid(z / self.params["temperature"])
        raise TallrecError(f"unknown calibration method {self.method!r}; expected one of {', '.join(METHODS)}")

    def to_dict(self) -> dict:
        return asdict(self)


def _check(labels: Sequence, scores: Sequence[float]) -> tuple[np.ndarray, np.ndarray]:
    y = np.asarray([int(bool(l)) for l in labels])
    if len(y) != len(scores):
        raise DataError(f"{len(y)} labels but {len(scores)} scores")
    if len(set(y.tolist())) < 2:
        raise DataError("calibration needs both liked and not-liked validation samples")
    return y, logit(scores)


def fit_platt(labels: Sequence, scores: Sequence[float]) -> dict:
    from sklearn.linear_model import LogisticRegression

    y, z = _check(labels, scores)
    lr = LogisticRegression(C=np.inf, solver="lbfgs", max_iter=1000).fit(z.reshape(-1, 1), y)
    a, b = float(lr.coef_[0, 0]), float(lr.intercept_[0])
    if not a > 0:
        raise DataError(f"Platt scaling fitted a slope of {a:.4g} <= 0 (validation AUC {auc(y, scores):.3f}): the map "
                        f"would reverse the ranking; the scores carry no usable signal on these samples")
    return {"a": a, "b": b}


def fit_temperature(labels: Sequence, scores: Sequence[float]) -> dict:
    """T minimising the log-loss of sigmoid(z / T), searched over log T in [-7, 7]."""
    from scipy.optimize import minimize_scalar

    y, z = _check(labels, scores)

    def loss(log_t: float) -> float:
        q = np.clip(_sigmoid(z / np.exp(log_t)), EPS, 1 - EPS)
        return float(-np.mean(y * np.log(q) + (1 - y) * np.log1p(-q)))

    res = minimize_scalar(loss, bounds=(-7.0, 7.0), method="bounded", options={"xatol": 1e-8})
    return {"temperature": float(np.exp(res.x))}


def samples_fingerprint(samples) -> str:
    """sha256 of the samples' JSON form (to recognise the validation samples later)."""
    from ..data.samples import samples_to_json

    return hashlib.sha256(samples_to_json(samples).encode()).hexdigest()


def fit_calibration(labels: Sequence, scores: Sequence[float], method: str = "platt", **fitted_on) -> Calibration:
    """Fit `method` on validation labels and scores; `fitted_on` records where they came from, and
    the validation figures before and after are added to it."""
    if method not in METHODS:
        raise TallrecError(f"calibration method {method!r}: expected one of {', '.join(METHODS)}")
    params = fit_platt(labels, scores) if method == "platt" else fit_temperature(labels, scores)
    cal = Calibration(method, params, dict(fitted_on))
    before = calibration_figures(labels, scores)
    after = calibration_figures(labels, cal.apply(scores))
    cal.fitted_on.update({"n": len(labels),
                          "valid_before": {k: round(before[k], 6) for k in ("logloss", "brier", "ece")},
                          "valid_after": {k: round(after[k], 6) for k in ("logloss", "brier", "ece")}})
    return cal


def calibration_path(adapter: str | Path) -> Path:
    return Path(adapter) / CALIBRATION_FILE


def save_calibration(adapter: str | Path, cal: Calibration) -> Path:
    return write_json_atomic(calibration_path(adapter), cal.to_dict())


def load_calibration(adapter: str | Path | None) -> Calibration | None:
    """The adapter's calibration (None when it has none); a one-line error for a damaged file."""
    if adapter is None or not calibration_path(adapter).is_file():
        return None
    path = calibration_path(adapter)
    d = read_json(path)
    try:
        cal = Calibration(d["method"], dict(d["params"]), dict(d.get("fitted_on") or {}))
        cal.apply([0.5])
    except (KeyError, TypeError, ValueError, TallrecError):
        raise DataError(f"{path}: not a calibration file (expected method {'/'.join(METHODS)} and its params); "
                        f"refit with `tallrec calibrate`") from None
    return cal


def reliability_png(labels: Sequence, scores: Sequence[float], raw_scores: Sequence[float] | None = None,
                    bins: int = 15, title: str = "") -> bytes:
    """PNG bytes: the reliability diagram (mean P(Yes) against the Yes share per equal-mass bin, the
    bins of core.metrics.ece), with the uncalibrated scores beside when given."""
    import io

    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    from ..core.metrics import ece, reliability

    fig = Figure(figsize=(5.6, 5.2), dpi=110)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(111)
    ax.plot([0, 1], [0, 1], color="grey", ls=":", lw=1, label="perfectly calibrated")
    series = [("uncalibrated", raw_scores, "tab:orange"), ("calibrated" if raw_scores is not None else "P(Yes)",
                                                         scores, "tab:blue")]
    for name, s, color in series:
        if s is None:
            continue
        pts = reliability(labels, s, bins)
        ax.plot([p["p_yes"] for p in pts], [p["yes_share"] for p in pts], marker="o", ms=4, color=color,
                label=f"{name} (ECE {ece(labels, s, bins):.3f})")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_xlabel(f"mean P(Yes) in the bin ({bins} equal-mass bins)")
    ax.set_ylabel("share of Yes in the bin")
    ax.set_title(title or "reliability diagram", fontsize=9)
    ax.grid(True, alpha=0.3)
    ax.legend(loc="upper left", fontsize=8, frameon=False)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()
