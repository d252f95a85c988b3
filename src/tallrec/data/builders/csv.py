"""Bring your own data: TALLRec samples from two CSV files.

Both files are UTF-8 (a leading byte-order mark, as Excel writes, is fine).

interactions CSV (header required): ``user,item,rating[,timestamp]``; other columns are ignored.
  * rating: a number inside the rating scale (default 1..5); liked = rating > like threshold
    (default 3.5, i.e. 4 and 5 on a 1..5 scale, the paper's "rating > 3").
  * timestamp (optional): numbers (e.g. Unix seconds) or ISO dates; each user's interactions are
    stably sorted by it. Without it, the file order is the time order.
items CSV (header required): ``item,title[,more...]``. Every further column (author, genre, ...)
  is appended to the item text in column order, non-empty values only:
  ``Title (value1, value2)``; with no further column the text is just the title.

Samples are windowed exactly like MovieLens (`windows.history_windows`): users in order of first
appearance, every interaction with at least `history` earlier ones of the same user is a target
with those `history` items as its history. The windows are split 8:1:1 in list order, or, with a
seed, after shuffling them with `random.Random(seed)`. `max_windows` keeps only the last N windows
(MovieLens uses 10,000).
"""

from __future__ import annotations

import os

import numpy as np
import pandas as pd

from ...core.errors import DataError
from ..samples import Sample
from .windows import (
    LINE,
    MIN_SPLIT,
    check_range,
    check_split_size,
    group_in_first_appearance,
    history_windows,
    numbers,
    read_table,
    require_values,
    seeded_shuffle,
    split_811,
)


def _require_columns(df: pd.DataFrame, cols: list[str], path, expected: str) -> None:
    missing = [c for c in cols if c not in df.columns]
    if missing:
        raise DataError(f"{path}: missing column {missing[0]!r} (expected a header line {expected})")


def read_items(path: str | os.PathLike) -> dict[str, str]:
    """item id -> item text ("Title" or "Title (extra, ...)")."""
    df = read_table(path, sep=",", encoding="utf-8-sig", header=True, what="items CSV")
    _require_columns(df, ["item", "title"], path, "item,title[,more...]")
    require_values(df, ["item", "title"], path)
    extra = [c for c in df.columns if c not in ("item", "title", LINE)]
    items: dict[str, str] = {}
    for rec in df.to_dict("records"):
        item = rec["item"].strip()
        if item in items:
            raise DataError(f"{path}: line {rec[LINE]}: item {item!r} appears twice")
        text = " ".join(rec["title"].split())
        more = [" ".join(str(rec[c]).split()) for c in extra]
        more = [m for m in more if m]
        items[item] = f"{text} ({', '.join(more)})" if more else text
    return items


def _times(df: pd.DataFrame, path) -> np.ndarray:
    """The timestamp column as sortable floats: numbers as they are, ISO dates as seconds since 1970."""
    raw = df["timestamp"].str.strip()
    nums = pd.to_numeric(raw, errors="coerce")
    if not nums.isna().any():
        return nums.to_numpy(dtype=float)
    dates = pd.to_datetime(raw, errors="coerce", format="ISO8601", utc=True)
    if dates.isna().any():
        neither = (nums.isna() & dates.isna()).to_numpy()
        i = int(neither.argmax()) if neither.any() else int(dates.isna().to_numpy().argmax())
        problem = "is neither a number nor an ISO date" if neither.any() else "is a number among ISO dates"
        raise DataError(f"{path}: line {int(df[LINE].iloc[i])}: timestamp {raw.iloc[i]!r} {problem}")
    return (dates - pd.Timestamp(0, tz="UTC")).dt.total_seconds().to_numpy(dtype=float)


def build_from_csv(
    interactions: str | os.PathLike,
    items: str | os.PathLike,
    *,
    like_threshold: float = 3.5,
    domain: str = "movie",
    history: int = 10,
    rating_scale: tuple[float, float] = (1, 5),
    seed: int | None = None,
    max_windows: int | None = None,
) -> dict[str, list[Sample]]:
    """{"train", "valid", "test"} Samples from an interactions CSV and an items CSV."""
    domain = domain.strip()
    if not domain or "\n" in domain:
        raise DataError(f"--domain must be a word such as 'movie' or 'book', got {domain!r}")
    lo, hi = rating_scale
    if not lo < hi:
        raise DataError(f"--rating-scale must be LOW,HIGH with LOW < HIGH, got {lo},{hi}")
    if history < 1:
        raise DataError(f"--history must be at least 1, got {history}")
    if max_windows is not None and max_windows < MIN_SPLIT:
        raise DataError(f"--max-windows must be at least {MIN_SPLIT}, got {max_windows}")
    texts = read_items(items)
    df = read_table(interactions, sep=",", encoding="utf-8-sig", header=True, what="interactions CSV")
    _require_columns(df, ["user", "item", "rating"], interactions, "user,item,rating[,timestamp]")
    has_time = "timestamp" in df.columns
    require_values(df, ["user", "item", "rating"] + (["timestamp"] if has_time else []), interactions)
    ratings = numbers(df, "rating", interactions)
    check_range(df, ratings, "rating", lo, hi, interactions)
    item_ids = df["item"].str.strip().tolist()
    for k, item in enumerate(item_ids):
        if item not in texts:
            raise DataError(f"{interactions}: line {int(df[LINE].iloc[k])}: item {item!r} is not in {items}")
    times = _times(df, interactions) if has_time else np.arange(len(df), dtype=float)
    users = df["user"].str.strip().tolist()

    windows: list[Sample] = []
    for user, rows in group_in_first_appearance(users).items():
        rows = sorted(rows, key=lambda i: times[i])  # stable: ties keep file order
        seq = [(texts[item_ids[i]], bool(ratings[i] > like_threshold)) for i in rows]
        for hist, target, liked, k in history_windows(seq, history):
            windows.append(Sample(hist, target, liked, domain=domain, quote_history=True,
                                  meta={"user": user, "item": item_ids[rows[k]]}))
    if max_windows:
        windows = windows[-max_windows:]
    check_split_size(len(windows), str(interactions),
                     f"a user gives one sample per interaction after the first {history}; try a smaller --history")
    if seed is not None:
        windows = seeded_shuffle(windows, seed)
    train, valid, test = split_811(windows)
    return {"train": train, "valid": valid, "test": test}
