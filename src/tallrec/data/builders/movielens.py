"""MovieLens-100K -> the TALLRec movie samples, byte-identical to the authors' files.

Rules (they reproduce the authors' valid.json/test.json byte for byte and their train.json to the
sha256 in `fetch.OFFICIAL_SHA256`):

* u.data (tab-separated user, item, rating, timestamp) in its original line order; u.item
  ('|'-separated, ISO-8859-1) gives each item id its title.
* like = rating > 3.
* Users in order of first appearance in u.data; each user's ratings stably sorted by timestamp.
* Every rating with at least 10 earlier ratings of the same user is a target; its history is the
  10 ratings right before it (see `windows.history_windows`). A user's first 10 ratings are never
  targets.
* The last 10,000 windows of that list are split 8:1:1 in list order: train 8,000, valid 1,000,
  test 1,000.

The ~80,000 earlier windows are in no published file. `unpublished_movielens` draws a seeded test
set from them, to check that a result chosen on the official files holds on samples nobody tuned on.
"""

from __future__ import annotations

import csv
import os
import random
from pathlib import Path

from ...core.errors import DataError
from ..samples import Sample
from .windows import (
    LINE,
    check_range,
    group_in_first_appearance,
    history_windows,
    numbers,
    read_table,
    require_values,
    split_811,
)

HISTORY = 10
LAST_WINDOWS = 10_000
LIKE_ABOVE = 3
RATING_SCALE = (1, 5)
ENCODING = "ISO-8859-1"


def read_titles(path: str | os.PathLike) -> dict[int, str]:
    """item id -> title from u.item (the first two '|'-separated fields)."""
    df = read_table(path, sep="|", encoding=ENCODING, quoting=csv.QUOTE_NONE, what="MovieLens u.item")
    if df.shape[1] < 3:  # two data columns + LINE
        raise DataError(f"{path}: expected '|'-separated 'item id|title|...' lines")
    df = df.rename(columns={0: "item", 1: "title"})
    require_values(df, ["item"], path)
    ids = numbers(df, "item", path, integer=True)
    titles: dict[int, str] = {}
    for item, title, line in zip(ids.tolist(), df["title"], df[LINE]):
        if item in titles:
            raise DataError(f"{path}: line {line}: item id {item} appears twice")
        titles[item] = title
    return titles


def read_ratings(path: str | os.PathLike, titles: dict[int, str], items_path: str | os.PathLike = "u.item"):
    """u.data as (user, item, rating, timestamp) int tuples in file order, validated."""
    df = read_table(
        path, sep="\t", names=["user", "item", "rating", "timestamp"], quoting=csv.QUOTE_NONE,
        what="MovieLens u.data",
    )
    require_values(df, ["user", "item", "rating", "timestamp"], path)
    cols = {c: numbers(df, c, path, integer=True) for c in ("user", "item", "rating", "timestamp")}
    check_range(df, cols["rating"], "rating", *RATING_SCALE, path)
    known = [i in titles for i in cols["item"].tolist()]
    if not all(known):
        k = known.index(False)
        raise DataError(
            f"{path}: line {int(df[LINE].iloc[k])}: item id {int(cols['item'][k])} is not in {items_path}"
        )
    return list(zip(*(cols[c].tolist() for c in ("user", "item", "rating", "timestamp"))))


def movielens_windows(ratings, titles: dict[int, str], history: int = HISTORY) -> list[Sample]:
    """All full windows, users in first-appearance order, each user's ratings in time order."""
    out: list[Sample] = []
    groups = group_in_first_appearance([r[0] for r in ratings])
    for user, rows in groups.items():
        seq = sorted((ratings[i] for i in rows), key=lambda r: r[3])  # sorted() is stable
        pairs = [(titles[item], rating > LIKE_ABOVE) for _, item, rating, _ in seq]
        for hist, target, liked, k in history_windows(pairs, history):
            out.append(
                Sample(hist, target, liked, domain="movie", quote_history=True,
                       meta={"user": user, "item": seq[k][1], "timestamp": seq[k][3]})
            )
    return out


def raw_windows(raw_dir: str | os.PathLike) -> list[Sample]:
    raw = Path(raw_dir)
    if not raw.is_dir():
        raise DataError(
            f"{raw}: no such folder (expected MovieLens-100K with u.data and u.item; "
            f"`tallrec data download movielens` fetches it)"
        )
    titles = read_titles(raw / "u.item")
    ratings = read_ratings(raw / "u.data", titles, raw / "u.item")
    windows = movielens_windows(ratings, titles)
    if not windows:
        raise DataError(f"{raw / 'u.data'}: no user has more than {HISTORY} ratings; nothing to build")
    return windows


def build_movielens(raw_dir: str | os.PathLike) -> dict[str, list[Sample]]:
    """{"train", "valid", "test"} Samples from a folder holding u.data and u.item."""
    train, valid, test = split_811(raw_windows(raw_dir)[-LAST_WINDOWS:])
    return {"train": train, "valid": valid, "test": test}


UNPUBLISHED_SEED = 0


def unpublished_movielens(raw_dir: str | os.PathLike, n: int = 1000, seed: int = UNPUBLISHED_SEED) -> list[Sample]:
    """`n` windows drawn with `seed` from those before the published 10,000, in their list order.

    A window whose text (history, target, label) equals a published sample's is left out, so no
    drawn sample can be answered from the official files. Mostly other users than the published
    split's (users come in first-appearance order); same rules and prompt, so the same task.
    """
    if n <= 0:
        raise DataError(f"unpublished samples: n must be positive, got {n}")
    windows = raw_windows(raw_dir)
    published = {(w.history, w.target, w.label) for w in windows[-LAST_WINDOWS:]}
    pool = [i for i, w in enumerate(windows[:-LAST_WINDOWS]) if (w.history, w.target, w.label) not in published]
    if n > len(pool):
        raise DataError(f"unpublished samples: asked for {n}, only {len(pool)} windows lie before the published "
                        f"{LAST_WINDOWS:,}")
    picked = sorted(random.Random(seed).sample(pool, n))
    return [windows[i] for i in picked]
