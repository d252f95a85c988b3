"""MovieLens-100K (`u.data` + `u.item`) as an interaction table; like = rating > 3.

The rows are u.data's in its line order, which the TALLRec movie split depends on; the validation
(bad ids, ratings outside 1..5, unknown items) is the builder's own (`builders.movielens`).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ...core.errors import DataError
from ..interactions import Interactions


def detect(path: Path) -> bool:
    return path.is_dir() and (path / "u.data").is_file() and (path / "u.item").is_file()


def read(path: Path) -> Interactions:
    from ..builders.movielens import LIKE_ABOVE, read_ratings, read_titles

    if not detect(path):
        raise DataError(f"{path}: expected a MovieLens-100K folder with u.data and u.item "
                        "(`tallrec data download movielens` fetches it)")
    titles = read_titles(path / "u.item")
    rows = np.array(read_ratings(path / "u.data", titles, path / "u.item"), dtype=np.int64)
    items = pd.DataFrame({"item": np.array(list(titles), dtype=np.int64), "title": list(titles.values()),
                          "text": [""] * len(titles)})
    return Interactions.from_columns(rows[:, 0], rows[:, 1], rows[:, 2], rows[:, 2] > LIKE_ABOVE, rows[:, 3],
                                     items, source=str(path))
