"""One interaction table for every source: what the readers produce and every product path reads.

A log is two pandas tables:

* ``events``: one row per interaction, in the source file's order (so ties in time keep file order,
  which the TALLRec movie split depends on). Columns:

  - ``user``, ``item``: the source's own ids (int64 for MovieLens, str for Amazon or Book-Crossing);
  - ``rating``: float64, NaN where the source has no explicit rating (implicit feedback);
  - ``liked``: bool, the like rule of the source or of the recipe (MovieLens: rating > 3);
  - ``timestamp``: int64 Unix seconds (0 where the source has no time, as raw Book-Crossing).

* ``items``: one row per item id: ``item``, ``title`` (what the LLM reads; may be "" until a path
  that needs a title checks it), ``text`` (optional description, "" when absent).

Every user's ordered list is ``user_orders()``: row positions stably sorted by timestamp, so ties
keep file order exactly as `builders.movielens` orders a user's ratings.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..core.errors import DataError

EVENT_COLUMNS = ("user", "item", "rating", "liked", "timestamp")
ITEM_COLUMNS = ("item", "title", "text")


@dataclass(frozen=True)
class Interactions:
    """An interaction log (``events``) and its item table (``items``); see the module docstring."""

    events: pd.DataFrame
    items: pd.DataFrame
    source: str = ""
    _cache: dict = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self):
        missing = [c for c in EVENT_COLUMNS if c not in self.events.columns]
        if missing:
            raise DataError(f"{self.source or 'interaction table'}: missing column(s) {', '.join(missing)}")
        missing = [c for c in ITEM_COLUMNS if c not in self.items.columns]
        if missing:
            raise DataError(f"{self.source or 'item table'}: missing item column(s) {', '.join(missing)}")
        if self.events.empty:
            raise DataError(f"{self.source or 'interaction table'}: holds no interactions")

    @classmethod
    def from_columns(cls, user, item, rating, liked, timestamp, items: pd.DataFrame | None = None,
                     source: str = "") -> Interactions:
        """A table from column arrays (file order); ``items`` defaults to the ids with no title."""
        events = pd.DataFrame({
            "user": np.asarray(user), "item": np.asarray(item),
            "rating": np.asarray(rating, dtype=np.float64), "liked": np.asarray(liked, dtype=bool),
            "timestamp": np.asarray(timestamp, dtype=np.int64),
        })
        if items is None:
            ids = pd.unique(events["item"])
            items = pd.DataFrame({"item": ids, "title": [""] * len(ids), "text": [""] * len(ids)})
        return cls(events, items.reset_index(drop=True), source)

    # --- facts ---------------------------------------------------------------------------------

    @property
    def n_users(self) -> int:
        return int(self.events["user"].nunique())

    @property
    def n_items(self) -> int:
        return int(self.items["item"].nunique())

    def titles(self) -> dict:
        """item id -> title."""
        return dict(zip(self.items["item"].tolist(), self.items["title"].tolist()))

    def checksum(self) -> str:
        """sha256 of the events (ids, ratings, likes, times in file order): the key of every cache
        built from this log, so a changed log never reuses a stale one."""
        if "sha256" not in self._cache:
            h = hashlib.sha256()
            for col in EVENT_COLUMNS:
                values = self.events[col]
                if not (pd.api.types.is_numeric_dtype(values.dtype) or pd.api.types.is_bool_dtype(values.dtype)):
                    # str ids (object or pandas' str dtype): their text, never the object pointers
                    h.update("\x1f".join(map(str, values.tolist())).encode())
                else:
                    h.update(np.ascontiguousarray(values.to_numpy()).tobytes())
                h.update(b"\x1e")
            self._cache["sha256"] = h.hexdigest()
        return self._cache["sha256"]

    # --- orders --------------------------------------------------------------------------------

    def user_orders(self) -> dict:
        """user -> row positions of that user's events in time order (stable: ties keep file order),
        users in order of first appearance in the file."""
        if "orders" not in self._cache:
            users = self.events["user"].to_numpy()
            codes, uniques = pd.factorize(users, sort=False)  # codes in first-appearance order
            ts = self.events["timestamp"].to_numpy()
            order = np.lexsort((np.arange(len(codes)), ts, codes))  # by user, then time, then file row
            bounds = np.flatnonzero(np.diff(codes[order])) + 1
            groups = np.split(order, bounds)
            self._cache["orders"] = dict(zip(uniques.tolist(), groups))
        return self._cache["orders"]

    def sequences(self) -> Iterator[tuple[object, np.ndarray]]:
        """(user, row positions in time order) for each user, in first-appearance order."""
        yield from self.user_orders().items()


__all__ = ["EVENT_COLUMNS", "ITEM_COLUMNS", "Interactions"]
