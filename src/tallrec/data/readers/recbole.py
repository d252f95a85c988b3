"""RecBole atomic files (`<name>.inter`, optional `<name>.item`) as an interaction table.

The header types each column as `name:type` (token, token_seq, float, float_seq). Ids are tokens
(kept as strings). Fields: `user_id`, `item_id`, optional `rating` (like = rating > 3; without a
rating every row is an implicit positive: rating NaN, liked True) and `timestamp` (float seconds,
floored; 0 when absent). Titles: the .item file's first field whose name holds "title" or "name";
text: its `description` field if any.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pandas as pd

from ...core.errors import DataError
from .common import finish, number_column, read_delimited, require_columns, require_values

LIKE_ABOVE = 3


def _inter_file(path: Path) -> Path | None:
    if path.is_file() and path.suffix == ".inter":
        return path
    if path.is_dir():
        found = sorted(path.glob("*.inter"))
        return found[0] if len(found) == 1 else None
    return None


def detect(path: Path) -> bool:
    return _inter_file(path) is not None


def _atomic(path: Path, what: str) -> pd.DataFrame:
    """The file's rows as strings, the header's `:type` suffixes dropped from the column names."""
    df = read_delimited(path, sep="\t", header=True, quoting=csv.QUOTE_NONE, what=what)
    df.columns = [c.split(":", 1)[0] for c in df.columns]
    return df


def _items(inter: Path) -> pd.DataFrame | None:
    path = inter.with_suffix(".item")
    if not path.is_file():
        return None
    df = _atomic(path, "RecBole .item file")
    require_columns(df, ["item_id"], path, "RecBole .item file")
    title = next((c for c in df.columns if "title" in c or "name" in c), None)
    return pd.DataFrame({"item": df["item_id"].str.strip().to_numpy(),
                         "title": df[title].str.strip().to_numpy() if title else "",
                         "text": df["description"].str.strip().to_numpy() if "description" in df else ""})


def read(path: Path, **_):
    inter = _inter_file(path)
    if inter is None:
        raise DataError(f"{path}: expected a RecBole .inter file, or a folder holding exactly one")
    df = _atomic(inter, "RecBole .inter file")
    require_columns(df, ["user_id", "item_id"], inter, "RecBole .inter file")
    require_values(df, ["user_id", "item_id"], inter)
    if "rating" in df:
        rating = number_column(df, "rating", inter)
        liked = rating > LIKE_ABOVE
    else:
        rating, liked = np.full(len(df), np.nan), np.ones(len(df), dtype=bool)
    stamp = (np.floor(number_column(df, "timestamp", inter)).astype(np.int64) if "timestamp" in df
             else np.zeros(len(df), dtype=np.int64))
    return finish(df["user_id"].str.strip().to_numpy(), df["item_id"].str.strip().to_numpy(), rating, liked, stamp,
                  _items(inter), inter)
