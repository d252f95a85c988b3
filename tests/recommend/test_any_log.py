"""End to end on logs that are not MovieLens-100K: leave-one-out, `tallrec recommend build --data
LOG --format F`, then `tallrec recommend`, on an Amazon-like log (str ids) and a MovieLens-1M-like
one (int ids), both built with `Interactions.from_columns` and read through a test format."""

from __future__ import annotations

import json
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from tallrec.core.errors import DataError
from tallrec.data import readers
from tallrec.data.builders.sequences import leave_one_out
from tallrec.data.interactions import Interactions
from tallrec.recommend.catalogue import build_recommender_folder, load_recommender_folder


def fixture_log(str_ids: bool, users: int = 30, items: int = 40, seed: int = 0) -> Interactions:
    rng = np.random.default_rng(seed)
    rows = []
    for u in range(users):
        for k, i in enumerate(rng.choice(items, size=int(rng.integers(6, 14)), replace=False)):
            rows.append((u, int(i), float(rng.integers(1, 6)), 1_000_000 + 100 * u + int(rng.integers(0, 5)) * k))
    u, i, r, t = map(np.array, zip(*rows))
    uid = np.array([f"A{x:04d}" for x in u]) if str_ids else u + 1
    iid = np.array([f"B{x:05d}X" for x in i]) if str_ids else i + 1
    ids = [f"B{x:05d}X" for x in range(items)] if str_ids else list(range(1, items + 1))
    table = pd.DataFrame({"item": ids, "title": [f"Product {x}" for x in range(items)], "text": ""})
    return Interactions.from_columns(uid, iid, r, r >= 4, t, table, source="fixture")


@pytest.fixture(params=["amazon-like", "ml1m-like"])
def log_file(request, tmp_path, monkeypatch):
    """The fixture log on disk (events.csv + items.csv) and a reader registered for it."""
    log = fixture_log(request.param == "amazon-like")
    folder = tmp_path / request.param
    folder.mkdir()
    log.events.to_csv(folder / "events.csv", index=False)
    log.items.to_csv(folder / "items.csv", index=False)

    def read(path):
        dtype = {"item": str, "user": str} if request.param == "amazon-like" else None
        ev = pd.read_csv(path / "events.csv", dtype=dtype)
        it = pd.read_csv(path / "items.csv", dtype=dtype, keep_default_na=False)
        return Interactions.from_columns(ev["user"], ev["item"], ev["rating"], ev["liked"], ev["timestamp"], it,
                                         source=str(path))

    monkeypatch.setitem(readers.FORMATS, "fixture-log", SimpleNamespace(detect=lambda p: False, read=read))
    return folder, log


def test_split_keeps_the_logs_ids(log_file):
    folder, log = log_file
    split = leave_one_out(folder, format="fixture-log")
    assert split.checksum == log.checksum() and len(split.users) == 30
    ids = split.item_ids
    by_user = {u: g for u, g in log.events.groupby("user", sort=True)}
    for u in split.users:
        events = by_user[u.user].sort_values("timestamp", kind="stable")
        back = [ids[i] if ids else i for i in u.items]
        assert back == events["item"].tolist() and list(u.liked) == events["liked"].tolist()
    assert (ids is None) == (folder.name == "ml1m-like")


def test_build_and_recommend_from_any_log(log_file, tmp_path, run_cli):
    folder, log = log_file
    code, out, err = run_cli("recommend", "build", "--data", folder, "--format", "fixture-log", "--retriever",
                             "itemknn", "--out", tmp_path / "rec")
    assert code == 0, err
    cfg = json.loads((tmp_path / "rec" / "config.json").read_text())
    assert cfg["data_checksum"] == log.checksum() and cfg["data_format"] == "fixture-log"
    assert cfg["item_ids"] == ("source" if folder.name == "amazon-like" else "rows")
    pipe = load_recommender_folder(tmp_path / "rec")
    first = log.items["item"].tolist()[0]
    got = pipe.retrieve([first], n=5)
    assert len(got.ids) == 5 and first not in got.ids and all(type(i) is type(first) for i in got.ids)
    users = tmp_path / "users.jsonl"
    users.write_text('{"user": "u1", "liked": ["Product 3", "Product 7"], "disliked": ["Product 1"]}\n')
    code, _, err = run_cli("recommend", "--catalogue", tmp_path / "rec", "--users", users, "--out", tmp_path / "r.jsonl")
    assert code == 0, err
    items = json.loads((tmp_path / "r.jsonl").read_text())["items"]
    titles = {x["item"]["title"] for x in items}
    assert len(items) == 10 and not titles & {"Product 3", "Product 7", "Product 1"}
    assert all(x["item"]["id"] in set(log.items["item"]) for x in items)


def test_build_refuses_an_unknown_format_before_any_work(tmp_path):
    with pytest.raises(DataError, match="unknown log format"):
        build_recommender_folder(tmp_path / "rec", tmp_path, "itemknn", format="nope")
    assert not (tmp_path / "rec").exists()
