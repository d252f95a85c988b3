"""Book-Crossing: split the authors' book files, or build samples from the raw BX csv files.

The authors' book train.json is not published, so the few-shot training pool must come from their
book valid.json. `split_official_book` does that deterministically:

* the positions 0..n-1 of valid.json (n = 2,427) are shuffled with `random.Random(seed)`
  (seed 42 by default); the first `valid_size` (500) positions form the new valid.json, the
  other n - valid_size (1,927) the training pool train.json; both keep the original file order;
* test.json is copied byte for byte and stays the untouched test set.

`build_bookcrossing` follows the rules the authors describe for the raw data (their published
script does not reproduce their files exactly, so neither can this):

* BX-Book-Ratings.csv and BX-Books.csv: ';'-separated, latin-1, quoted fields; malformed lines
  are skipped and counted, ratings of books missing from BX-Books.csv are dropped and counted;
* users with more than 3 ratings, like = rating > 5 (ratings are 0..10);
* users in order of first appearance; each user's books, in file order, are shuffled by one
  `random.Random(42)` stream; the last book is the target, the (up to) 10 books before it the
  history; item text `"Title" written by Author`;
* users are shuffled with `random.Random(seed)` and split 8:1:1 (train, valid, test).
"""

from __future__ import annotations

import os
import random
import sys
from collections.abc import Callable
from pathlib import Path

import pandas as pd

from ...core.errors import DataError
from ..samples import Sample, load_samples
from .windows import (
    check_file,
    check_split_size,
    group_in_first_appearance,
    seeded_shuffle,
    split_811,
)

RATINGS_FILE, BOOKS_FILE = "BX-Book-Ratings.csv", "BX-Books.csv"
RATING_SCALE = (0, 10)
LIKE_ABOVE = 5
MIN_RATINGS = 4  # "more than 3"
HISTORY = 10
SHUFFLE_SEED = 42
DEFAULT_VALID_SIZE = 500
DEFAULT_SEED = 42


def _stderr_warn(msg: str) -> None:
    print(f"tallrec: warning: {msg}", file=sys.stderr)


# --- the authors' files -----------------------------------------------------------------------


def split_book_pool(samples: list[Sample], valid_size: int = DEFAULT_VALID_SIZE, seed: int = DEFAULT_SEED,
                    where: str = "book valid.json") -> tuple[list[Sample], list[Sample]]:
    """(train pool, valid) from the authors' book valid samples; see the module docstring."""
    n = len(samples)
    if not 0 < valid_size < n:
        raise DataError(f"{where}: --valid-size must be between 1 and {n - 1} (the file has {n} samples), got {valid_size}")
    chosen = set(seeded_shuffle(range(n), seed)[:valid_size])
    train = [s for i, s in enumerate(samples) if i not in chosen]
    valid = [s for i, s in enumerate(samples) if i in chosen]
    return train, valid


def split_official_book(official_dir: str | os.PathLike, valid_size: int = DEFAULT_VALID_SIZE,
                        seed: int = DEFAULT_SEED) -> tuple[dict[str, list[Sample]], bytes]:
    """({"train", "valid", "test"} Samples, the exact bytes of test.json) from DIR/{valid,test}.json."""
    d = Path(official_dir)
    if not d.is_dir():
        raise DataError(f"{d}: no such folder (expected the authors' book valid.json and test.json)")
    valid_all = load_samples(check_file(d / "valid.json", "TALLRec book valid.json"))
    test_path = check_file(d / "test.json", "TALLRec book test.json")
    test = load_samples(test_path)
    train, valid = split_book_pool(valid_all, valid_size, seed, where=str(d / "valid.json"))
    return {"train": train, "valid": valid, "test": test}, test_path.read_bytes()


# --- raw BX files ------------------------------------------------------------------------------


def _read_bx(path: Path, columns: list[str], what: str) -> tuple[pd.DataFrame, int]:
    """The BX file as strings, with its malformed lines skipped and counted."""
    check_file(path, what)
    bad: list[list[str]] = []

    def skip(fields: list[str]) -> None:  # pandas drops a line when this returns None
        bad.append(fields)

    try:
        df = pd.read_csv(
            path, sep=";", encoding="latin-1", dtype=str, keep_default_na=False, engine="python",
            on_bad_lines=skip,
        )
    except pd.errors.EmptyDataError:
        raise DataError(f"{path}: file is empty ({what})") from None
    except (pd.errors.ParserError, ValueError) as e:
        raise DataError(f"{path}: malformed {what}: {' '.join(str(e).split())}") from None
    except OSError as e:
        raise DataError(f"{path}: cannot read ({e.strerror or e})") from None
    df.columns = [str(c).strip() for c in df.columns]
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise DataError(f"{path}: missing column {missing[0]!r} (expected {what} with columns {';'.join(columns)})")
    df = df[columns].fillna("").astype(str)  # the python engine pads short lines with NaN
    empty = (df.apply(lambda c: c.str.strip()) == "").any(axis=1)
    df = df[~empty].reset_index(drop=True)
    if df.empty:
        raise DataError(f"{path}: contains no usable rows ({what})")
    return df, len(bad) + int(empty.sum())


def _one_line(text: str) -> str:
    return " ".join(text.split())


def read_books(path: str | os.PathLike, warn: Callable[[str], None] = _stderr_warn) -> dict[str, str]:
    """ISBN -> '"Title" written by Author' from BX-Books.csv (first occurrence of an ISBN wins)."""
    df, skipped = _read_bx(Path(path), ["ISBN", "Book-Title", "Book-Author"], "BX-Books.csv")
    if skipped:
        warn(f"{path}: skipped {skipped} malformed line(s)")
    books: dict[str, str] = {}
    for isbn, title, author in zip(df["ISBN"], df["Book-Title"], df["Book-Author"]):
        isbn, title, author = isbn.strip(), _one_line(title), _one_line(author)
        books.setdefault(isbn, f'"{title}" written by {author}')
    return books


def read_book_ratings(path: str | os.PathLike, books: dict[str, str],
                      warn: Callable[[str], None] = _stderr_warn) -> list[tuple[str, str, int]]:
    """(user, ISBN, rating) in file order, for books that BX-Books.csv knows."""
    df, skipped = _read_bx(Path(path), ["User-ID", "ISBN", "Book-Rating"], "BX-Book-Ratings.csv")
    if skipped:
        warn(f"{path}: skipped {skipped} malformed line(s)")
    out, unknown = [], 0
    lo, hi = RATING_SCALE
    for user, isbn, rating in zip(df["User-ID"], df["ISBN"], df["Book-Rating"]):
        user, isbn, rating = user.strip(), isbn.strip(), rating.strip()
        where = f"{path}: record User-ID {user}, ISBN {isbn}"
        try:
            value = int(rating)
        except ValueError:
            raise DataError(f"{where}: Book-Rating {rating!r} is not an integer") from None
        if not lo <= value <= hi:
            raise DataError(f"{where}: Book-Rating {value} is outside the rating scale {lo}..{hi}")
        if isbn not in books:
            unknown += 1
            continue
        out.append((user, isbn, value))
    if unknown:
        warn(f"{path}: dropped {unknown} rating(s) of books not in {BOOKS_FILE}")
    return out


def build_bookcrossing(raw_dir: str | os.PathLike, seed: int = DEFAULT_SEED,
                       warn: Callable[[str], None] = _stderr_warn) -> dict[str, list[Sample]]:
    """{"train", "valid", "test"} book Samples from DIR/BX-Book-Ratings.csv and DIR/BX-Books.csv."""
    raw = Path(raw_dir)
    if not raw.is_dir():
        raise DataError(f"{raw}: no such folder (expected {RATINGS_FILE} and {BOOKS_FILE})")
    books = read_books(raw / BOOKS_FILE, warn)
    ratings = read_book_ratings(raw / RATINGS_FILE, books, warn)
    rng = random.Random(SHUFFLE_SEED)
    per_user: list[Sample] = []
    for user, rows in group_in_first_appearance([r[0] for r in ratings]).items():
        if len(rows) < MIN_RATINGS:
            continue
        items = [(books[ratings[i][1]], ratings[i][2] > LIKE_ABOVE) for i in rows]
        rng.shuffle(items)
        (target, liked), history = items[-1], items[:-1][-HISTORY:]
        per_user.append(Sample(history, target, liked, domain="book", quote_history=False, meta={"user": user}))
    check_split_size(len(per_user), str(raw / RATINGS_FILE),
                     f"one sample per user with more than {MIN_RATINGS - 1} ratings of books in {BOOKS_FILE}")
    train, valid, test = split_811(seeded_shuffle(per_user, seed))
    return {"train": train, "valid": valid, "test": test}
