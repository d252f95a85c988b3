"""Issue 41's end-to-end path on logs in their sources' own formats, as the archives unpack: an
ML-1M folder (ratings.dat + movies.dat, '::', latin-1) and an Amazon-reviews-2023 category
(Books.jsonl + meta_Books.jsonl, millisecond times, str ids). Each goes through the leave-one-out
split, `tallrec recommend build --data` (format detected from the file names), `tallrec recommend`
and `POST /v1/recommend` on a real server holding the catalogue folder."""

from __future__ import annotations

import json

import numpy as np
import pytest

from tallrec.data.builders.sequences import leave_one_out
from tallrec.recommend.catalogue import load_recommender_folder

from .helpers import FakeEngine

pytestmark = pytest.mark.integration  # a real uvicorn server

USERS, ITEMS = 25, 30


def ratings(seed: int = 0) -> list[tuple[int, int, int, int]]:
    rng = np.random.default_rng(seed)
    out = []
    for u in range(1, USERS + 1):
        for k, i in enumerate(rng.choice(ITEMS, size=int(rng.integers(6, 12)), replace=False)):
            out.append((u, int(i) + 1, int(rng.integers(1, 6)), 975_000_000 + 3_600 * u + 60 * k))
    return out


def write_ml1m(folder):
    folder.mkdir()
    (folder / "ratings.dat").write_text("".join(f"{u}::{i}::{r}::{t}\n" for u, i, r, t in ratings()))
    (folder / "movies.dat").write_bytes("".join(f"{i}::Film {i} ({1950 + i})::Drama|Comedy\n"
                                                for i in range(1, ITEMS + 1)).encode("latin-1"))
    return lambda i: f"Film {i} ({1950 + i})"


def write_amazon2023(folder):
    folder.mkdir()
    rows = [{"rating": float(r), "title": "ok", "text": "fine", "images": [], "asin": f"X{i:05d}",
             "parent_asin": f"B{i:05d}", "user_id": f"AE{u:06d}", "timestamp": t * 1000, "helpful_vote": 0,
             "verified_purchase": True} for u, i, r, t in ratings()]
    (folder / "Books.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    meta = [{"main_category": "Books", "title": f"Book {i}", "parent_asin": f"B{i:05d}",
             "description": ["A book."]} for i in range(1, ITEMS + 1)]
    (folder / "meta_Books.jsonl").write_text("".join(json.dumps(m) + "\n" for m in meta))
    return lambda i: f"Book {i}"


@pytest.mark.parametrize("source", ["ml-1m", "amazon-2023"])
def test_split_build_recommend_and_serve(source, tmp_path, run_cli, start_server):
    folder = tmp_path / source
    title = (write_ml1m if source == "ml-1m" else write_amazon2023)(folder)
    split = leave_one_out(folder)
    assert len(split.users) == USERS and (split.item_ids is None) == (source == "ml-1m")
    code, _, err = run_cli("recommend", "build", "--data", folder, "--retriever", "itemknn", "--out", tmp_path / "rec")
    assert code == 0, err
    liked, disliked = [title(3), title(7)], [title(1)]
    users = tmp_path / "users.jsonl"
    users.write_text(json.dumps({"user": "u1", "liked": liked, "disliked": disliked}) + "\n")
    code, _, err = run_cli("recommend", "--catalogue", tmp_path / "rec", "--users", users, "--out", tmp_path / "r.jsonl")
    assert code == 0, err
    cli = json.loads((tmp_path / "r.jsonl").read_text())["items"]
    assert len(cli) == 10 and not {x["item"]["title"] for x in cli} & {*liked, *disliked}
    eng = FakeEngine()
    eng.catalogue = load_recommender_folder(tmp_path / "rec")
    _, client = start_server(lambda: eng, max_wait_ms=1)
    r = client.post("/v1/recommend", json={"liked": liked, "disliked": disliked, "k": 10})
    assert r.status_code == 200, r.text
    assert [x["item"] for x in r.json()["items"]] == [x["item"] for x in cli]
