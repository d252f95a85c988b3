"""Leave-one-out over the full catalogue: each user's last rating is the test target, the one
before it the validation target, the rest the training part.

Rules (`leave_one_out(log)`: an `Interactions` table, or a log path read through `read_log`):

* The log in file order; each user's ratings stably sorted by timestamp (ties keep file order),
  exactly as the TALLRec windows are built (movielens.py). Every rating is an interaction,
  whatever its value; the rating only says liked (> 3) or not in the LLM's prompt.
* Users in ascending id order. A user needs 3 ratings (training, validation, test); users with
  fewer are left out and counted (`skipped`). MovieLens-100K has none (every user rated 20+).
* Item ids: positive integers are the score rows themselves (MovieLens); any other ids (str, as
  Amazon's) get rows 1..n in the item table's order and `item_ids` maps a row back to its id.
* The catalogue is every item of the item table (u.item for MovieLens-100K). At stage "valid" the items
  ranked are the catalogue minus the user's training items; at stage "test" minus the training
  items and the validation item (it counts as rated). The target itself is never excluded.
* Retrievers are fitted on the training parts of all users (`train_sequences`); their input for a
  user is everything before the target (`history`): the training part at "valid", the training
  part plus the validation item at "test".
* The LLM sees the TALLRec history: the last `TALLREC_HISTORY` (10) ratings before the target,
  liked = rating > 3 (`tallrec_history`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ...core.errors import DataError
from ..interactions import Interactions
from .movielens import LIKE_ABOVE

STAGES = ("valid", "test")
TALLREC_HISTORY = 10
MIN_RATINGS = 3


@dataclass(frozen=True)
class UserSequence:
    """One user's ratings in time order: item ids and ratings (same length)."""

    user: int
    items: tuple[int, ...]
    ratings: tuple[int, ...]
    liked: tuple[bool, ...] | None = None   # the source's like flags (None: rating > 3)

    def cut(self, stage: str) -> int:
        """Position of the target at `stage` (everything before it is the user's history)."""
        if stage not in STAGES:
            raise DataError(f"unknown stage {stage!r}; use one of {', '.join(STAGES)}")
        return len(self.items) - (1 if stage == "test" else 2)

    def target(self, stage: str) -> int:
        return self.items[self.cut(stage)]

    def history(self, stage: str) -> tuple[int, ...]:
        return self.items[:self.cut(stage)]

    @property
    def train(self) -> tuple[int, ...]:
        return self.items[:-2]


@dataclass(frozen=True)
class LeaveOneOut:
    """The split: users' sequences and the catalogue (item id -> title)."""

    users: tuple[UserSequence, ...]
    titles: dict[int, str]
    skipped: int = 0
    item_ids: tuple | None = None   # row -> the source's item id, when ids are not the rows
    source: str = ""
    checksum: str = ""              # `Interactions.checksum()` of the log it was split from

    @property
    def rows(self) -> int:
        """Length of a score vector indexed by item id (row 0 and ids outside u.item are never ranked)."""
        return max(self.titles) + 1

    @property
    def catalogue(self) -> np.ndarray:
        """Boolean mask over rows: True for the items of u.item."""
        mask = np.zeros(self.rows, dtype=bool)
        mask[list(self.titles)] = True
        return mask

    def train_sequences(self) -> list[tuple[int, ...]]:
        return [u.train for u in self.users]

    def excluded(self, u: UserSequence, stage: str) -> np.ndarray:
        """Row ids not ranked for `u` at `stage`: the items rated before the target."""
        rated = set(u.history(stage)) - {u.target(stage)}
        return np.fromiter(sorted(rated), dtype=np.int64, count=len(rated))

    def tallrec_history(self, u: UserSequence, stage: str, n: int = TALLREC_HISTORY) -> tuple[list[str], list[str]]:
        """(liked titles, disliked titles) of the last `n` ratings before the target, oldest first."""
        k = u.cut(stage)
        flags = u.liked if u.liked is not None else tuple(r > LIKE_ABOVE for r in u.ratings)
        pairs = list(zip(u.items[max(0, k - n):k], flags[max(0, k - n):k]))
        return [self.titles[i] for i, f in pairs if f], [self.titles[i] for i, f in pairs if not f]

    def rated(self, u: UserSequence) -> set[int]:
        """Every item the user ever rated (the sampled metric's negatives avoid them)."""
        return set(u.items)


def sequences_from_ratings(ratings, titles: dict[int, str]) -> LeaveOneOut:
    """Leave-one-out from (user, item, rating, timestamp) tuples in file order (see the module docstring)."""
    by_user: dict[int, list[tuple]] = {}
    for r in ratings:
        by_user.setdefault(r[0], []).append(r)
    users, skipped = [], 0
    for user in sorted(by_user):
        seq = sorted(by_user[user], key=lambda r: r[3])  # stable: ties keep file order
        if len(seq) < MIN_RATINGS:
            skipped += 1
            continue
        users.append(UserSequence(user, tuple(r[1] for r in seq), tuple(r[2] for r in seq)))
    if not users:
        raise DataError(f"no user has {MIN_RATINGS} ratings (training, validation, test); nothing to rank")
    return LeaveOneOut(tuple(users), dict(titles), skipped)


def item_rows(log: Interactions) -> tuple[np.ndarray, dict, tuple | None]:
    """(row of every event, row -> title, row -> source id or None when the ids are the rows)."""
    items, events = log.items, log.events["item"]
    ids = items["item"]
    titles = [t if isinstance(t, str) and t.strip() else str(i) for i, t in zip(ids.tolist(), items["title"].tolist())]
    known = pd.Index(ids)
    if not known.is_unique:
        raise DataError(f"{log.source or 'item table'}: item id {ids[known.duplicated()].iloc[0]!r} appears twice")
    pos = known.get_indexer(events)
    if (pos < 0).any():
        raise DataError(f"{log.source or 'log'}: item {events[pos < 0].iloc[0]!r} of the interactions is not in "
                        f"the item table ({int((pos < 0).sum())} events)")
    if pd.api.types.is_integer_dtype(ids.dtype) and len(ids) and int(ids.min()) > 0:
        rows = ids.to_numpy(np.int64)
        return rows[pos], dict(zip(rows.tolist(), titles)), None
    return pos.astype(np.int64) + 1, dict(zip(range(1, len(ids) + 1), titles)), (None, *ids.tolist())


def pool(values: np.ndarray) -> np.ndarray:
    """An object array of the values as Python scalars: indexing it shares them, never copies."""
    out = np.empty(len(values), dtype=object)
    out[:] = values.tolist()
    return out


def from_interactions(log: Interactions) -> LeaveOneOut:
    """Leave-one-out of an interaction table (see the module docstring); vectorised, so a
    25M-event log splits in seconds."""
    rows, titles, item_ids = item_rows(log)
    ev = log.events
    codes, users = pd.factorize(ev["user"], sort=True)      # users in ascending id order
    order = np.lexsort((np.arange(len(codes)), ev["timestamp"].to_numpy(), codes))
    bounds = np.flatnonzero(np.diff(codes[order])) + 1
    starts, ends = np.r_[0, bounds], np.r_[bounds, len(order)]
    rating = ev["rating"].to_numpy()
    finite = rating[np.isfinite(rating)]
    if len(finite) == len(rating) and np.array_equal(finite, np.round(finite)):
        rating = rating.astype(np.int64)  # integer stars stay ints (MovieLens-100K byte-identity)
    # One Python object per distinct item and rating, shared by every tuple (52 bytes less an event).
    items_a, item_pool = rows[order], pool(np.arange(int(rows.max()) + 1))
    values, ratings_a = np.unique(rating[order], return_inverse=True)
    rating_pool, liked_a = pool(values), ev["liked"].to_numpy(bool)[order]
    user_ids = users.tolist()
    out, skipped = [], 0
    for a, b in zip(starts.tolist(), ends.tolist()):   # per user: no 25M-long Python list at once
        if b - a < MIN_RATINGS:
            skipped += 1
            continue
        out.append(UserSequence(user_ids[codes[order[a]]], tuple(item_pool[items_a[a:b]]),
                                tuple(rating_pool[ratings_a[a:b]]), tuple(liked_a[a:b].tolist())))
    if not out:
        raise DataError(f"no user has {MIN_RATINGS} ratings (training, validation, test); nothing to rank")
    return LeaveOneOut(tuple(out), titles, skipped, item_ids, log.source, log.checksum())


def leave_one_out(log: Interactions | str | os.PathLike, format: str | None = None) -> LeaveOneOut:
    """The split of an interaction table, or of the log at a path (read through `read_log`)."""
    if isinstance(log, Interactions):
        return from_interactions(log)
    from ..readers import read_log

    raw = Path(log)
    if not raw.exists():
        raise DataError(f"{raw}: no such folder (expected an interaction log such as MovieLens-100K with "
                        f"u.data and u.item; `tallrec data download movielens` fetches it)")
    return from_interactions(read_log(raw, format))
