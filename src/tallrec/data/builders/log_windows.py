"""TALLRec windows from any interaction table: for each user (first-appearance order), each rating
with `history` ratings before it in the user's time order is a target, its history the `history`
ratings right before it (the rule of `movielens.py`, which reproduces the authors' movie files).

Each sample carries its place in the log in `meta` (user, item, timestamp and the event row), so the
collaborative signals can find it without a text lookup.
"""

from __future__ import annotations

from collections.abc import Iterator

from ...core.errors import DataError
from ..interactions import Interactions
from ..samples import Sample

HISTORY = 10


def log_windows(log: Interactions, history: int = HISTORY, domain: str = "movie") -> Iterator[Sample]:
    """Every full window of `log` as a Sample, users in first-appearance order."""
    ev = log.events
    titles = ev["item"].map(log.titles()).fillna("").to_numpy()
    liked = ev["liked"].to_numpy()
    users, items, times = ev["user"].to_numpy(), ev["item"].to_numpy(), ev["timestamp"].to_numpy()
    for _, rows in log.sequences():
        for k in range(history, len(rows)):
            r = int(rows[k])
            if not titles[r]:
                raise DataError(f"{log.source or 'log'}: item {items[r]!r} has no title; the LLM needs one")
            hist = tuple((titles[j], bool(liked[j])) for j in rows[k - history:k])
            yield Sample(hist, str(titles[r]), bool(liked[r]), domain=domain, quote_history=True,
                         meta={"user": users[r].item() if hasattr(users[r], "item") else users[r],
                               "item": items[r].item() if hasattr(items[r], "item") else items[r],
                               "timestamp": int(times[r]), "row": r})
