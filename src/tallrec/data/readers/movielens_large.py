"""MovieLens 1M / 10M (`ratings.dat` + `movies.dat`, "::"-separated) and 20M / 25M / 32M
(`ratings.csv` + `movies.csv` with headers) as interaction tables; like = rating > 3.

Rows keep file order. The 10M+ releases have half stars (0.5..5); "> 3" is kept for them too, so
3.5 counts as liked (for the integer 1M ratings it is the same rule as ">= 4"). movies.dat is
latin-1 in 1M and UTF-8 in 10M: it is decoded as UTF-8 when it can be, else latin-1.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pandas as pd

from ...core.errors import DataError
from .common import Reader, finish, number_column, read_delimited, read_numeric, require_columns

LIKE_ABOVE = 3
SCALE = (0.5, 5.0)
DAT_NAMES = ["user", "item", "rating", "timestamp"]
CSV_COLUMNS = {"userId": "user", "movieId": "item", "rating": "rating", "timestamp": "timestamp"}


def _dat_detect(path: Path) -> bool:
    return path.is_dir() and (path / "ratings.dat").is_file() and (path / "movies.dat").is_file()


def _csv_detect(path: Path) -> bool:
    if not (path.is_dir() and (path / "ratings.csv").is_file() and (path / "movies.csv").is_file()):
        return False
    with open(path / "ratings.csv", encoding="utf-8", errors="replace") as f:
        return f.readline().strip().startswith("userId,movieId")


def _check_scale(df: pd.DataFrame, path: Path, first_line: int) -> None:
    lo, hi = SCALE
    bad = ~df["rating"].between(lo, hi).to_numpy()
    if bad.any():
        i = int(bad.argmax())
        raise DataError(f"{path}: line {i + first_line}: rating {df['rating'].iloc[i]:g} is outside the rating scale "
                        f"{lo:g}..{hi:g}")


def _titles(path: Path, sep: str, header: bool, quoting: int) -> pd.DataFrame:
    df = read_delimited(path, sep=sep, names=["item", "title", "genres"], header=header, quoting=quoting,
                        what="MovieLens movies file")
    if header:
        require_columns(df, ["movieId", "title"], path, "MovieLens movies file")
        df = df.rename(columns={"movieId": "item"})
    ids = number_column(df, "item", path, integer=True)
    return pd.DataFrame({"item": ids, "title": df["title"].str.strip().to_numpy(), "text": ""})


def _build(ratings: pd.DataFrame, items: pd.DataFrame, path: Path, where: Path, first_line: int):
    _check_scale(ratings, where, first_line)  # line numbers hold as the C parser read no blank lines
    rating = ratings["rating"].to_numpy(dtype=float)
    return finish(ratings["user"].to_numpy(np.int64), ratings["item"].to_numpy(np.int64), rating,
                  rating > LIKE_ABOVE, ratings["timestamp"].to_numpy(np.int64), items, path)


def _dat_read(path: Path, **_):
    if not _dat_detect(path):
        raise DataError(f"{path}: expected a MovieLens 1M/10M folder with ratings.dat and movies.dat")
    where = path / "ratings.dat"
    ratings = read_numeric(where, sep="::", names=DAT_NAMES, header=False,
                           integer={"user": True, "item": True, "rating": False, "timestamp": True},
                           what="MovieLens ratings.dat")
    return _build(ratings, _titles(path / "movies.dat", "::", False, csv.QUOTE_NONE), path, where, 1)


def _csv_read(path: Path, **_):
    if not _csv_detect(path):
        raise DataError(f"{path}: expected a MovieLens 20M/25M/32M folder with ratings.csv "
                        "(header userId,movieId,rating,timestamp) and movies.csv")
    where = path / "ratings.csv"
    ratings = read_numeric(where, sep=",", names=list(CSV_COLUMNS), header=True,
                           integer={"userId": True, "movieId": True, "rating": False, "timestamp": True},
                           what="MovieLens ratings.csv").rename(columns=CSV_COLUMNS)
    return _build(ratings, _titles(path / "movies.csv", ",", True, csv.QUOTE_MINIMAL), path, where, 2)


DAT = Reader(_dat_detect, _dat_read)
CSV = Reader(_csv_detect, _csv_read)
