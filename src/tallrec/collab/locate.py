"""Where each sample sits in its log: (user, item, time, position), recovered from its text.

Samples built from a log carry these in `meta` (the builders set user, item, timestamp); the
authors' files carry only text, so every full window of the log is rebuilt (the TALLRec rule:
the `history` ratings right before each target, in the user's time order) and each sample is
looked up by its text. A sample found in no window, or in two, cannot be placed, and asking for
collaborative signals on it is one line naming it, before any work.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..core.errors import DataError
from ..data.builders.log_windows import log_windows
from ..data.interactions import Interactions
from ..data.samples import Sample
from ..data.user_ids import sample_key

HISTORY = 10


@dataclass(frozen=True)
class Placed:
    """Sample i of a list placed in the log: its user, target item, time and the row position of the
    target in the events table (which gives its place in the user's own list)."""

    users: np.ndarray
    items: np.ndarray
    times: np.ndarray
    rows: np.ndarray  # row of the target rating in log.events


def _window_index(log: Interactions, history: int) -> dict[tuple, list[int]]:
    """text key of every full window -> the event rows of its targets."""
    index: dict[tuple, list[int]] = {}
    for w in log_windows(log, history):
        index.setdefault(sample_key(w), []).append(w.meta["row"])
    return index


def place(samples: Sequence[Sample], log: Interactions, where: str = "samples") -> Placed:
    """(user, item, time, event row) of every sample; one DataError naming the first that cannot be
    placed (no window of the log has its text, or more than one has)."""
    rows = []
    index = None
    ev = log.events
    for i, s in enumerate(samples):
        row = s.meta.get("row")
        if row is not None and not (0 <= row < len(ev) and ev["user"].iat[row] == s.meta.get("user")):
            row = None  # built from another log: place it by its text
        if row is None:
            if index is None:
                index = _window_index(log, HISTORY)
            found = index.get(sample_key(s), [])
            if len(found) != 1:
                why = "is in no window of" if not found else f"matches {len(found)} windows of"
                raise DataError(f"{where}: sample {i} (target {s.target!r}) {why} the log {log.source or ''}; "
                                "collaborative signals need each sample's user, item and time")
            row = found[0]
        rows.append(int(row))
    r = np.asarray(rows, dtype=np.int64)
    return Placed(ev["user"].to_numpy()[r], ev["item"].to_numpy()[r], ev["timestamp"].to_numpy()[r], r)
