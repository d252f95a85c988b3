"""All collaborative signals of a list of samples, leak-free, from one log.

`CFSignals(log).features(samples)` gives the named feature columns `hist-cf` fits on (and the text
form writes as words); `.embeddings(samples)` gives the MF user and item vectors (with their biases
appended) that `collm` projects into soft tokens. Both place every sample first (`locate.place`),
so a sample that cannot be placed is one line before any fitting.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np

from ..data.interactions import Interactions
from ..data.samples import Sample
from .locate import Placed, place, window_index
from .snapshots import MFSettings, Snapshots
from .stats import SMOOTHING, LogIndex, count_features

FEATURES = ("like_share", "user_like_rate", "item_like_rate", "item_log_count", "mf_logit")
"""What hist-cf fits on, chosen by cross-validated AUC on the movie validation file
(studies/collab-signals/); `user_log_count` is computed but left out there."""


def like_share(s: Sample) -> float:
    return sum(l for _, l in s.history) / len(s.history) if s.history else 0.5


class CFSignals:
    """Leak-free signals of samples drawn from `log` (see the package docstring for the rule)."""

    def __init__(self, log: Interactions, mf: MFSettings | None = None, smoothing: float = SMOOTHING,
                 cache: str | os.PathLike | None = None):
        self.log, self.smoothing = log, smoothing
        self.index = LogIndex(log)
        self.snapshots = Snapshots(log, mf, cache)
        self._windows = None

    def place(self, samples: Sequence[Sample] | Placed, where: str = "samples", live: bool = False) -> Placed:
        """Each sample's place in the log (already placed samples pass through); the text index of
        the log's windows is built once, on the first sample that needs it."""
        if isinstance(samples, Placed):
            return samples
        if self._windows is None and any(s.meta.get("row") is None for s in samples):
            self._windows = window_index(self.log)
        return place(samples, self.log, where, live, self.index, self._windows)

    def features(self, samples: Sequence[Sample], where: str = "samples", live: bool = False,
                 placed: Placed | None = None) -> dict[str, np.ndarray]:
        """Feature name -> one value per sample (every signal, FEATURES among them)."""
        p = placed or self.place(samples, where, live)
        out = {"like_share": np.array([like_share(s) for s in samples], dtype=float)}
        out |= count_features(self.index, p, self.smoothing)
        out["mf_logit"] = self.mf_logits(p)
        return out

    def mf_logits(self, p: Placed) -> np.ndarray:
        idx, models = self.snapshots.for_times(p.times)
        out = np.zeros(len(idx), dtype=float)
        for j, m in models.items():
            sel = idx == j
            out[sel] = m.logit(p.users[sel], p.items[sel])
        return out

    def embeddings(self, samples: Sequence[Sample], where: str = "samples", live: bool = False,
                   placed: Placed | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(user rows, item rows): each the sample's snapshot vector with its bias appended (dim + 1);
        zeros for a user or item the snapshot does not know."""
        p = placed or self.place(samples, where, live)
        idx, models = self.snapshots.for_times(p.times)
        dim = self.snapshots.settings.dim
        users = np.zeros((len(idx), dim + 1), dtype=np.float32)
        items = np.zeros((len(idx), dim + 1), dtype=np.float32)
        for j, m in models.items():
            sel = idx == j
            pu, bu = m.users(p.users[sel])
            qi, bi = m.items(p.items[sel])
            users[sel] = np.column_stack([pu, bu])
            items[sel] = np.column_stack([qi, bi])
        return users, items


def matrix(features: dict[str, np.ndarray], names: Sequence[str] = FEATURES) -> np.ndarray:
    return np.column_stack([features[n] for n in names])


def token_inputs(signals: CFSignals, samples: Sequence[Sample], where: str = "samples",
                 live: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """What collm's projector reads for each sample: the user's MF vector and bias with the user's
    like rate, log count and the history's like share; the item's MF vector and bias with its like
    rate and log count (every one leak-free)."""
    p = signals.place(samples, where, live)
    users, items = signals.embeddings(samples, placed=p)
    f = signals.features(samples, placed=p)
    u = np.column_stack([users, f["user_like_rate"], f["user_log_count"], f["like_share"]])
    i = np.column_stack([items, f["item_like_rate"], f["item_log_count"]])
    return u.astype(np.float32), i.astype(np.float32)


def open_signals(log: str | os.PathLike | None = None, data_dir=None, mf: MFSettings | None = None,
                 smoothing: float = SMOOTHING) -> CFSignals:
    """The signals of the log at `log` (default: DATA_DIR/ml-100k), read through `data.readers`."""
    from pathlib import Path

    from ..core.paths import data_dir as resolve
    from ..data.readers import read_log

    path = Path(log) if log else Path(resolve(data_dir)) / "ml-100k"
    return CFSignals(read_log(path), mf, smoothing)
