"""Readers: every source format becomes one `Interactions` table (data/interactions.py).

`read_log(path, format=None, columns=None, like=None)` takes a folder laid out as the source's
archive unpacks (or a file where the format is one file) and detects the format from the file
names, unless `format` names it. Each reader keeps every row in file order (after the duplicate
rule of `readers.common`). `columns` maps the table's fields to a generic file's columns (csv,
parquet, jsonl only); `like` replaces the source's like rule (a threshold: liked = rating > it, or
"all"). Add a format: an object with `detect(path) -> bool` and `read(path, **options)`, and one
line in `FORMATS`.
"""

from __future__ import annotations

import os
from pathlib import Path

from ...core.errors import DataError
from ..interactions import Interactions
from . import amazon, bookcrossing, buckets, generic, movielens, movielens_large, recbole

# name -> reader with detect() and read(); detection tries them in this order (generic files last).
FORMATS = {
    "movielens-100k": movielens,
    "movielens-dat": movielens_large.DAT,  # 1M, 10M
    "movielens-csv": movielens_large.CSV,  # 20M, 25M, 32M
    "bookcrossing": bookcrossing,
    "amazon-2018": amazon.AMAZON_2018,
    "amazon-2023": amazon.AMAZON_2023,
    "recbole": recbole,
    "parquet-buckets": buckets,
    "csv": generic.CSV,
    "parquet": generic.PARQUET,
    "jsonl": generic.JSONL,
}


def detect_format(path: str | os.PathLike) -> str:
    p = Path(path)
    if not p.exists():
        raise DataError(f"{p}: no such file or folder (expected an interaction log)")
    for name, reader in FORMATS.items():
        if reader.detect(p):
            return name
    raise DataError(f"{p}: cannot tell the log's format from its file names; pass --format, one of "
                    f"{', '.join(FORMATS)}")


def read_log(path: str | os.PathLike, format: str | None = None, columns: dict | None = None,
             like=None) -> Interactions:
    """The interaction table of the log at `path` (a folder or file), its format detected or named."""
    if format is not None and format not in FORMATS:
        raise DataError(f"unknown log format {format!r}; choose one of: {', '.join(FORMATS)}")
    p = Path(path)
    if not p.exists():
        raise DataError(f"{p}: no such file or folder (expected an interaction log)")
    name = format or detect_format(p)
    reader = FORMATS[name]
    if columns and not getattr(reader, "takes_columns", False):
        raise DataError(f"a column mapping only applies to the csv, parquet and jsonl formats, not {name}")
    log = reader.read(p, columns=columns) if columns else reader.read(p)
    if like is not None:
        from ..filters import apply_like

        log = apply_like(log, like)
    return log


__all__ = ["FORMATS", "detect_format", "read_log"]
