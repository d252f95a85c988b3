"""Raw Book-Crossing (`BX-Book-Ratings.csv` + `BX-Books.csv`, ';'-separated, latin-1, quoted) as an
interaction table, read exactly as the TALLRec book builder reads it (`builders.bookcrossing`):
malformed lines skipped with a warning, ratings of books missing from BX-Books.csv dropped with a
warning, item title '"Title" written by Author'.

Book-Rating 0 is BX's implicit feedback: rating NaN, liked False. Explicit ratings 1..10 are liked
when > 5 (TALLRec). BX has no time: every timestamp is 0, so a user's order is file order.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ...core.errors import DataError
from .common import finish

RATINGS, BOOKS = "BX-Book-Ratings.csv", "BX-Books.csv"
LIKE_ABOVE = 5


def detect(path: Path) -> bool:
    return path.is_dir() and (path / RATINGS).is_file() and (path / BOOKS).is_file()


def read(path: Path, **_):
    from ..builders.bookcrossing import read_book_ratings, read_books

    if not detect(path):
        raise DataError(f"{path}: expected a Book-Crossing folder with {RATINGS} and {BOOKS}")
    books = read_books(path / BOOKS)
    rows = read_book_ratings(path / RATINGS, books)
    if not rows:
        raise DataError(f"{path / RATINGS}: no rating of a book listed in {BOOKS}")
    users, isbns, values = zip(*rows)
    rating = np.asarray(values, dtype=float)
    rating[rating == 0] = np.nan  # 0 = implicit: the user read it, no rating
    ids = list(dict.fromkeys(isbns))
    items = pd.DataFrame({"item": ids, "title": [books[i] for i in ids], "text": [""] * len(ids)})
    return finish(np.asarray(users, dtype=object), np.asarray(isbns, dtype=object), rating,
                  np.nan_to_num(rating, nan=0.0) > LIKE_ABOVE, np.zeros(len(rows), dtype=np.int64), items, path)
