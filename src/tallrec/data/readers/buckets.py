"""A log as Parquet in hash buckets of users, and the reader of that layout ("parquet-buckets").

    FOLDER/events/bucket=K/part.parquet   one bucket's events (user, item, rating, liked,
                                          timestamp, row), K = stable hash of the user % N
    FOLDER/items.parquet                  item, title, text

The hive-style folder names let pyarrow.dataset, Spark or Dask read it as one table partitioned by
`bucket`, and a worker can take one bucket: every event of a user is in the same one. `row` is the
event's position in the source log, so reading back restores the file order exactly. The folder is
written whole or not at all (`core.io.atomic_dir`).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd

from ...core.errors import DataError
from ..interactions import EVENT_COLUMNS, ITEM_COLUMNS, Interactions

ROW = "row"


def bucket_of(users: pd.Series, buckets: int) -> np.ndarray:
    """The bucket of each user id: pandas' fixed-key hash of the id, so it never changes between
    runs or machines."""
    return (pd.util.hash_pandas_object(users, index=False).to_numpy() % np.uint64(buckets)).astype(np.int64)


def write_parquet(log: Interactions, folder: str | os.PathLike, buckets: int = 16,
                  extra: dict[str, bytes] | None = None) -> Path:
    """Write `log` as FOLDER/events/bucket=K/part.parquet + FOLDER/items.parquet (+ `extra` files,
    such as a summary, in the same all-or-nothing step); return FOLDER."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from ...core.io import atomic_dir

    if buckets < 1:
        raise DataError(f"buckets must be at least 1, got {buckets}")
    out = Path(folder)
    if out.exists() and not out.is_dir():
        raise DataError(f"{out}: exists and is not a folder (expected an output folder)")
    events = log.events[list(EVENT_COLUMNS)].copy()
    events[ROW] = np.arange(len(events), dtype=np.int64)
    which = bucket_of(events["user"], buckets)
    with atomic_dir(out) as tmp:
        for k in np.unique(which):
            part = tmp / "events" / f"bucket={int(k)}"
            part.mkdir(parents=True)
            table = pa.Table.from_pandas(events[which == k], preserve_index=False)
            pq.write_table(table, part / "part.parquet")
        pq.write_table(pa.Table.from_pandas(log.items[list(ITEM_COLUMNS)], preserve_index=False),
                       tmp / "items.parquet")
        for name, data in (extra or {}).items():
            (tmp / name).write_bytes(data)
    return out


def detect(path: Path) -> bool:
    return path.is_dir() and (path / "items.parquet").is_file() and any((path / "events").glob("bucket=*"))


def read(path: Path, **_) -> Interactions:
    import pyarrow.dataset as ds

    if not detect(path):
        raise DataError(f"{path}: expected a parquet-buckets folder (events/bucket=K/part.parquet, items.parquet)")
    try:
        table = ds.dataset(path / "events", format="parquet", partitioning="hive").to_table()
        items = pd.read_parquet(path / "items.parquet")
    except Exception as e:  # pyarrow raises several types for a damaged file
        raise DataError(f"{path}: unreadable Parquet ({' '.join(str(e).split())[:200]})") from None
    events = table.to_pandas()
    missing = [c for c in (*EVENT_COLUMNS, ROW) if c not in events.columns]
    if missing:
        raise DataError(f"{path / 'events'}: missing column(s) {', '.join(missing)}")
    events = events.sort_values(ROW, kind="stable").reset_index(drop=True)
    return Interactions.from_columns(events["user"].to_numpy(), events["item"].to_numpy(), events["rating"],
                                     events["liked"], events["timestamp"], items, source=str(path))
