"""Ready-to-use train/valid/test samples for a domain, from the data folder.

`load_domain("movie")` builds the official TALLRec movie split from DATA_DIR/ml-100k (about two
seconds, so it is rebuilt every time rather than cached: the JSON form would lose the time order
of each history, which length cutoffs rely on). `load_domain("book")` splits the authors' book
valid.json into a training pool and a validation part and keeps their test.json (see
`bookcrossing.split_official_book`). `test_split="unpublished"` swaps the movie test split for
1,000 MovieLens samples that are in no published file (`movielens.unpublished_movielens`).
DATA_DIR is --data-dir, else $TALLREC_DATA_DIR, else ~/.cache/tallrec/data (`paths.data_dir`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from ..core.errors import DataError
from ..core.paths import data_dir as resolve_data_dir
from .builders.bookcrossing import DEFAULT_SEED, DEFAULT_VALID_SIZE, split_official_book
from .builders.movielens import build_movielens, unpublished_movielens
from .fetch import MOVIELENS_SHA256, OFFICIAL_SHA256, first_mismatch
from .samples import Sample

TEST_SPLITS = ("official", "unpublished")
DOMAINS = {"movie": "movie", "movielens": "movie", "ml-100k": "movie", "book": "book", "bookcrossing": "book"}


@dataclass
class DomainData:
    """The three splits of one domain and a line saying where they came from."""

    domain: str
    train: list[Sample]
    valid: list[Sample]
    test: list[Sample]
    source: str


def resolve_movielens(data_dir: str | os.PathLike | None = None, test_split: str = "official") -> DomainData:
    """The TALLRec movie split (8,000/1,000/1,000) built from DATA_DIR/ml-100k; with
    test_split="unpublished", the test part is 1,000 samples from no published file instead."""
    raw = resolve_data_dir(data_dir) / "ml-100k"
    for name in ("u.data", "u.item"):
        if not (raw / name).is_file():
            raise DataError(
                f"{raw / name}: MovieLens-100K not found; run `tallrec data download movielens` "
                f"or set TALLREC_DATA_DIR to a folder holding ml-100k/"
            )
    splits = build_movielens(raw)
    official = first_mismatch(raw, {k: MOVIELENS_SHA256[k] for k in ("u.data", "u.item")}) is None
    note = ("GroupLens checksums match: the official TALLRec split" if official
            else "files differ from GroupLens ml-100k: TALLRec rules, not the official split")
    test, source = splits["test"], f"MovieLens-100K at {raw} ({note})"
    if test_split == "unpublished":
        test = unpublished_movielens(raw)
        source += f"; test: {len(test):,} unpublished samples (seeded draw from the windows before the published ones)"
    return DomainData("movie", splits["train"], splits["valid"], test, source)


def resolve_book(data_dir: str | os.PathLike | None = None, valid_size: int = DEFAULT_VALID_SIZE,
                 seed: int = DEFAULT_SEED) -> DomainData:
    """The authors' book files: train pool and valid split from valid.json, test.json as is."""
    folder = resolve_data_dir(data_dir) / "tallrec-official" / "book"
    for name in ("valid.json", "test.json"):
        if not (folder / name).is_file():
            raise DataError(
                f"{folder / name}: TALLRec book file not found; put the authors' data/book/valid.json and "
                f"test.json there or set TALLREC_DATA_DIR to a folder holding tallrec-official/book/"
            )
    splits, _ = split_official_book(folder, valid_size, seed)
    official = first_mismatch(folder.parent, {k: OFFICIAL_SHA256[k] for k in ("book/valid.json", "book/test.json")}) is None
    note = "authors' files" if official else "files differ from the authors' published ones"
    return DomainData(
        "book", splits["train"], splits["valid"], splits["test"],
        f"TALLRec book files at {folder} ({note}); valid.json split {len(splits['train'])}/{len(splits['valid'])} "
        f"with seed {seed}, test.json untouched",
    )


def load_domain(domain: str, data_dir: str | os.PathLike | None = None, test_split: str = "official") -> DomainData:
    """train/valid/test Samples of "movie" or "book" from the data folder."""
    key = DOMAINS.get(domain.strip().lower())
    if key is None:
        raise DataError(f"unknown domain {domain!r}; expected one of: movie, book")
    if test_split not in TEST_SPLITS:
        raise DataError(f"test split {test_split!r}: expected one of {', '.join(TEST_SPLITS)}")
    if key == "book" and test_split != "official":
        raise DataError("book has no unpublished test samples (its data are the authors' published files); "
                        "use test_split unpublished with movie only")
    return resolve_movielens(data_dir, test_split) if key == "movie" else resolve_book(data_dir)
