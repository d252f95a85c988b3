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
    """Samples placed in the log: user and target item ids (None where the log lacks them), the
    target's time, and the user's own list before it (its length and its likes)."""

    users: np.ndarray
    items: np.ndarray
    times: np.ndarray
    positions: np.ndarray   # ratings of the user before the target (its place in the user's list)
    own_likes: np.ndarray   # likes among them


def window_index(log: Interactions, history: int = HISTORY) -> dict[tuple, list[int]]:
    """text key of every full window -> the event rows of its targets."""
    index: dict[tuple, list[int]] = {}
    for w in log_windows(log, history):
        index.setdefault(sample_key(w), []).append(w.meta["row"])
    return index


def _row(s: Sample, log: Interactions, index: dict | None) -> int | None:
    """The event row of a sample's target: its own `meta["row"]` when it belongs to this log, else
    the one window of the log with its text (None: not exactly one)."""
    ev = log.events
    row = s.meta.get("row")
    if row is not None and 0 <= row < len(ev) and ev["user"].iat[row] == s.meta.get("user"):
        return int(row)
    found = index.get(sample_key(s), []) if index is not None else []
    return found[0] if len(found) == 1 else None


def place(samples: Sequence[Sample], log: Interactions, where: str = "samples", live: bool = False,
          index=None, windows: dict | None = None) -> Placed:
    """Every sample placed in the log; one DataError naming the first that cannot be (no window of
    the log has its text, or more than one has).

    With `live` (ranking and serving: candidates nobody rated yet), a sample that is no window is
    placed where its `meta` says (user, timestamp) or, without it, after the whole log as an unknown
    user whose earlier ratings are its history; its item is found by title (unknown: None).
    """
    ev = log.events
    if windows is None and any(s.meta.get("row") is None for s in samples):
        windows = window_index(log)
    out = []
    for i, s in enumerate(samples):
        row = _row(s, log, windows)
        if row is not None:
            out.append((ev["user"].iat[row], ev["item"].iat[row], int(ev["timestamp"].iat[row]),
                        int(index.position[row]), int(index.own_likes[row])))
        elif live:
            out.append(_live(s, index))
        else:
            found = len(windows.get(sample_key(s), [])) if windows is not None else 0
            why = "is in no window of" if not found else f"matches {found} windows of"
            raise DataError(f"{where}: sample {i} (target {s.target!r}) {why} the log {log.source or ''}; "
                            "collaborative signals need each sample's user, item and time")
    cols = list(zip(*out)) if out else [[]] * 5
    return Placed(*(np.asarray(c, dtype=object if j < 2 else np.int64) for j, c in enumerate(cols)))


def _live(s: Sample, index) -> tuple:
    """(user, item, time, position, own likes) of a candidate no one rated (see `place`)."""
    ids = index.title_ids.get(s.target)
    item = ids[0] if ids is not None and len(ids) == 1 else None
    user, t = s.meta.get("user"), s.meta.get("timestamp")
    if t is None:
        t = index.end  # computed once per log, not per candidate
    before = index.user_before(user, int(t)) if user is not None else None
    if before is None:  # a user the log does not know: their history is all there is
        return None, item, int(t), len(s.history), len(s.liked)
    return user, item, int(t), *before
