"""Readers: every source format becomes one `Interactions` table (data/interactions.py).

`read_log(path, format=None)` takes a folder laid out as the source's archive unpacks (or a file
where the format is one file) and detects the format from the file names, unless `format` names it.
Each reader keeps every row in file order. Add a format: a module here with a `detect(path) -> bool`
and a `read(path) -> Interactions`, and one line in `FORMATS`.
"""

from __future__ import annotations

import os
from pathlib import Path

from ...core.errors import DataError
from ..interactions import Interactions
from . import movielens

# name -> module with detect() and read(); detection tries them in this order.
FORMATS = {
    "movielens-100k": movielens,
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


def read_log(path: str | os.PathLike, format: str | None = None) -> Interactions:
    """The interaction table of the log at `path` (a folder or file), its format detected or named."""
    if format is not None and format not in FORMATS:
        raise DataError(f"unknown log format {format!r}; choose one of: {', '.join(FORMATS)}")
    name = format or detect_format(path)
    return FORMATS[name].read(Path(path))


__all__ = ["FORMATS", "detect_format", "read_log"]
