"""Where tallrec looks for data and keeps its caches.

Data: `--data-dir`, else $TALLREC_DATA_DIR, else ~/.cache/tallrec/data. The folder is laid out like
the development data folder: ml-100k/, tallrec-official/{movie,book}/, alpaca/.
Caches (converted models): $TALLREC_CACHE_DIR, else ~/.cache/tallrec.
"""

from __future__ import annotations

import os
from pathlib import Path


def cache_dir() -> Path:
    return Path(os.environ.get("TALLREC_CACHE_DIR") or Path.home() / ".cache" / "tallrec")


def data_dir(explicit: str | os.PathLike | None = None) -> Path:
    if explicit:
        return Path(explicit)
    env = os.environ.get("TALLREC_DATA_DIR")
    return Path(env) if env else cache_dir() / "data"
