"""Bucketed Parquet: written by `write_parquet`, read back by `read_log` in file order, and
readable as one hive-partitioned dataset by pyarrow."""

from __future__ import annotations

import pandas as pd
import pytest
from readers_fixtures import amazon, ml_dat

from tallrec.core.errors import DataError
from tallrec.data.readers import detect_format, read_log
from tallrec.data.readers.buckets import bucket_of, write_parquet


@pytest.mark.parametrize("make", ["movielens", "amazon"])
def test_round_trip(tmp_path, make):
    log = read_log(ml_dat(tmp_path / "ml") if make == "movielens" else amazon(tmp_path / "az", 2018, False))
    out = write_parquet(log, tmp_path / "out", buckets=3)
    assert detect_format(out) == "parquet-buckets"
    back = read_log(out)
    pd.testing.assert_frame_equal(back.events, log.events, check_dtype=False)
    assert back.events["user"].tolist() == log.events["user"].tolist()
    assert back.checksum() == log.checksum()
    pd.testing.assert_frame_equal(back.items, log.items)
    assert sorted(p.name for p in out.iterdir()) == ["events", "items.parquet"]


def test_hive_layout_groups_users(tmp_path):
    import pyarrow.dataset as ds

    log = read_log(ml_dat(tmp_path / "ml", [(u, 10 + u % 3, 4, u) for u in range(1, 40)]))
    out = write_parquet(log, tmp_path / "out", buckets=4)
    table = ds.dataset(out / "events", format="parquet", partitioning="hive").to_table().to_pandas()
    assert len(table) == 39
    assert (table.groupby("user")["bucket"].nunique() == 1).all()
    expected = bucket_of(log.events["user"], 4)
    by_user = dict(zip(log.events["user"], expected))
    assert all(by_user[u] == int(b) for u, b in zip(table["user"], table["bucket"]))
    assert len({p.name for p in (out / "events").iterdir()}) > 1


def test_bad_targets(tmp_path):
    log = read_log(ml_dat(tmp_path / "ml"))
    (tmp_path / "file").write_text("x")
    with pytest.raises(DataError, match="not a folder"):
        write_parquet(log, tmp_path / "file")
    with pytest.raises(DataError, match="at least 1"):
        write_parquet(log, tmp_path / "o", buckets=0)
    assert not (tmp_path / "o").exists()
