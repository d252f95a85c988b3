"""Time snapshots of CF models: a sample rated at t uses the model fitted on every rating made
before the latest snapshot boundary at or before t, so it never sees a rating from t on.

Boundaries are the first second of each calendar month (UTC) of the log, or of each `period`; fitting per sample is
not needed. Only the snapshots some sample uses are fitted, each once: they are cached under
`~/.cache/tallrec/collab/` (or `cache=`) keyed by the log's checksum and the MF settings, so
evaluating again refits nothing. A sample before the first boundary gets the empty model (zeros:
the global rate alone).
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ..data.interactions import Interactions
from .mf import MFModel, fit_mf


@dataclass(frozen=True)
class MFSettings:
    """How each snapshot's MF is fitted (part of the cache key). The defaults were chosen by 5-fold
    cross-validated AUC of `hist-cf` on the movie validation file (studies/collab-signals/)."""

    dim: int = 8
    l2: float = 1e-2
    epochs: int = 150
    lr: float = 0.05
    seed: int = 0
    period: str = "MS"


def boundaries(times: np.ndarray, period: str = "MS") -> np.ndarray:
    """The starts of every `period` (a pandas frequency: "MS" months, "W-MON" weeks) after the log's
    first rating, up to its last (Unix seconds)."""
    if len(times) == 0:
        return np.array([], dtype=np.int64)
    lo = pd.Timestamp(int(times.min()) + 1, unit="s")
    hi = pd.Timestamp(int(times.max()), unit="s")
    starts = pd.date_range(lo, hi, freq=period)
    return starts.to_numpy().astype("datetime64[s]").astype(np.int64)


def snapshot_for(times: np.ndarray, boundaries: np.ndarray) -> np.ndarray:
    """Index of the snapshot each time uses: the latest boundary <= t (-1: before the first)."""
    return np.searchsorted(boundaries, times, side="right") - 1


def empty_model(dim: int) -> MFModel:
    z = np.zeros((0, dim), dtype=np.float32)
    return MFModel(np.array([]), np.array([]), z, z, np.zeros(0, np.float32), np.zeros(0, np.float32), 0.0)


class Snapshots:
    """The MF snapshots of one log, fitted on demand and cached on disk."""

    def __init__(self, log: Interactions, settings: MFSettings | None = None, cache: str | os.PathLike | None = None):
        from ..core.paths import cache_dir

        self.log, self.settings = log, settings or MFSettings()
        settings = self.settings
        self.boundaries = boundaries(log.events["timestamp"].to_numpy(), settings.period)
        key = hashlib.sha256(json.dumps([log.checksum(), asdict(settings)]).encode()).hexdigest()[:16]
        self.folder = Path(cache) if cache is not None else cache_dir() / "collab" / key
        self._models: dict[int, MFModel] = {}

    def model(self, j: int) -> MFModel:
        """Snapshot j: MF on every rating before boundary j (the empty model for j = -1)."""
        if j < 0:
            return empty_model(self.settings.dim)
        if j not in self._models:
            path = self.folder / f"mf-{int(self.boundaries[j])}.npz"
            if path.is_file():
                with np.load(path, allow_pickle=False) as a:
                    self._models[j] = MFModel.from_arrays(a)
            else:
                self._models[j] = self._fit(j, path)
        return self._models[j]

    def _fit(self, j: int, path: Path) -> MFModel:
        from ..core.io import atomic_file

        ev = self.log.events
        before = ev["timestamp"].to_numpy() < self.boundaries[j]
        model = fit_mf(ev["user"].to_numpy()[before], ev["item"].to_numpy()[before],
                       ev["liked"].to_numpy()[before], **{k: v for k, v in asdict(self.settings).items() if k != "period"})
        arrays = model.arrays()
        if arrays["user_ids"].dtype == object or arrays["item_ids"].dtype == object:  # str ids: plain unicode
            arrays["user_ids"] = arrays["user_ids"].astype(str)
            arrays["item_ids"] = arrays["item_ids"].astype(str)
        with atomic_file(path) as f:
            np.savez(f, **arrays)
        return model

    def for_times(self, times: np.ndarray) -> tuple[np.ndarray, dict[int, MFModel]]:
        """(snapshot index of each time, the models those indices need)."""
        idx = snapshot_for(np.asarray(times, dtype=np.int64), self.boundaries)
        return idx, {int(j): self.model(int(j)) for j in np.unique(idx)}
