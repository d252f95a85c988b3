"""Leave-one-out over the full catalogue: each user's last rating is the test target, the one
before it the validation target, the rest the training part.

Rules (MovieLens-100K; `leave_one_out(raw_dir)`):

* u.data in its line order; each user's ratings stably sorted by timestamp (ties keep file order),
  exactly as the TALLRec windows are built (movielens.py). Every rating is an interaction,
  whatever its value; the rating only says liked (> 3) or not in the LLM's prompt.
* Users in ascending id order. A user needs 3 ratings (training, validation, test); users with
  fewer are left out and counted (`skipped`). MovieLens-100K has none (every user rated 20+).
* The catalogue is every item of u.item (titles read as ISO-8859-1). At stage "valid" the items
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

from ...core.errors import DataError
from .movielens import LIKE_ABOVE, read_ratings, read_titles

STAGES = ("valid", "test")
TALLREC_HISTORY = 10
MIN_RATINGS = 3


@dataclass(frozen=True)
class UserSequence:
    """One user's ratings in time order: item ids and ratings (same length)."""

    user: int
    items: tuple[int, ...]
    ratings: tuple[int, ...]

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
        pairs = list(zip(u.items[max(0, k - n):k], u.ratings[max(0, k - n):k]))
        return ([self.titles[i] for i, r in pairs if r > LIKE_ABOVE],
                [self.titles[i] for i, r in pairs if r <= LIKE_ABOVE])

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


def leave_one_out(raw_dir: str | os.PathLike) -> LeaveOneOut:
    """The split of a MovieLens-100K folder (u.data, u.item)."""
    raw = Path(raw_dir)
    if not raw.is_dir():
        raise DataError(f"{raw}: no such folder (expected MovieLens-100K with u.data and u.item; "
                        f"`tallrec data download movielens` fetches it)")
    titles = read_titles(raw / "u.item")
    return sequences_from_ratings(read_ratings(raw / "u.data", titles, raw / "u.item"), titles)
