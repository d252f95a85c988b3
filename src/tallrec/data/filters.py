"""Filters over an interaction table: the k-core most recommendation papers apply before a split.

Vectorised (bincount over factorised ids), so a 25M-event log filters in seconds.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..core.errors import DataError
from .interactions import Interactions


def k_core(log: Interactions, k: int = 5) -> Interactions:
    """Keep the events whose user and item both have at least `k` events, repeated until stable
    (dropping an item can push a user under `k`); events keep file order, items keep their order."""
    if k < 1:
        raise DataError(f"k-core: k must be at least 1, got {k}")
    users = pd.factorize(log.events["user"])[0]
    items = pd.factorize(log.events["item"])[0]
    keep = np.ones(len(users), dtype=bool)
    while True:
        u = np.bincount(users[keep], minlength=users.max() + 1)
        i = np.bincount(items[keep], minlength=items.max() + 1)
        drop = keep & ((u[users] < k) | (i[items] < k))
        if not drop.any():
            break
        keep &= ~drop
    if not keep.any():
        raise DataError(f"{log.source or 'log'}: no event survives the {k}-core filter")
    events = log.events[keep].reset_index(drop=True) if not keep.all() else log.events
    kept_items = log.items[log.items["item"].isin(pd.unique(events["item"]))].reset_index(drop=True)
    return Interactions(events, kept_items, log.source)


__all__ = ["k_core"]
