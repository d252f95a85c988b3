"""Filters and presets on hand-made logs: the rules, not the papers' counts."""

from __future__ import annotations

import numpy as np
import pytest
from readers_fixtures import bx, ml_dat

from tallrec.core.errors import DataError
from tallrec.data.filters import apply_like, apply_recipe, counts, kcore, time_window, to_seconds
from tallrec.data.interactions import Interactions
from tallrec.data.presets import PRESETS, get_preset
from tallrec.data.readers import read_log


def log_of(pairs, ratings=None, times=None):
    users, items = zip(*pairs)
    n = len(pairs)
    ratings = np.asarray(ratings if ratings is not None else [4.0] * n, dtype=float)
    times = times if times is not None else list(range(n))
    return Interactions.from_columns(users, items, ratings, ratings > 3, times, source="fixture")


def test_iterative_kcore_cascades():
    # u3 has 2 items; dropping u3 leaves item c with 1 rating, which in turn drops it.
    pairs = [("u1", "a"), ("u1", "b"), ("u2", "a"), ("u2", "b"), ("u3", "c"), ("u3", "a"), ("u1", "c")]
    core = kcore(log_of(pairs), user=2, item=2)
    assert list(zip(core.events["user"], core.events["item"])) == pairs  # all hold at k=2
    # u1 has 3 (a, b, c); u2, u3 have 2 -> only u1 stays, then a, b, c have 1 rating each -> empty
    with pytest.raises(DataError, match="k-core .* leaves no interactions"):
        kcore(log_of(pairs), user=3, item=2)
    one_pass = kcore(log_of(pairs), user=3, item=0, iterative=False)
    assert set(one_pass.events["user"]) == {"u1"}
    assert set(one_pass.items["item"]) == {"a", "b", "c"}


def test_iterative_differs_from_one_pass():
    pairs = [("u1", "a"), ("u1", "b"), ("u2", "a"), ("u2", "b"), ("u3", "c"), ("u4", "c"), ("u4", "d"), ("u5", "d")]
    one = kcore(log_of(pairs), user=2, item=2, iterative=False)
    assert list(zip(one.events["user"], one.events["item"])) == pairs[:4] + [("u4", "c"), ("u4", "d")]
    core = kcore(log_of(pairs), user=2, item=2)  # c and d fall to 1 rating, then u4 to none
    assert list(zip(core.events["user"], core.events["item"])) == pairs[:4]
    assert core.n_items == 2


def test_kcore_keeps_file_order_and_trims_items():
    pairs = [("u2", "x"), ("u1", "a"), ("u2", "a"), ("u1", "z"), ("u2", "z"), ("u1", "a")]
    core = kcore(log_of(pairs), user=1, item=2)
    assert list(core.events["item"]) == ["a", "a", "z", "z", "a"]
    assert list(core.items["item"]) == ["a", "z"]


def test_like_rules():
    log = log_of([("u", "a"), ("u", "b"), ("u", "c")], ratings=[2.0, np.nan, 5.0])
    assert apply_like(log, 3).events["liked"].tolist() == [False, False, True]
    assert apply_like(log, 1).events["liked"].tolist() == [True, False, True]
    assert apply_like(log, "all").events["liked"].tolist() == [True, True, True]
    assert apply_like(log, None) is log
    with pytest.raises(DataError, match="like rule"):
        apply_like(log, "many")


def test_time_window():
    day = 86_400
    log = log_of([("u", "a"), ("u", "b"), ("u", "c")], times=[0, day, 2 * day])
    assert time_window(log, start=day).events["item"].tolist() == ["b", "c"]
    assert time_window(log, end="1970-01-02").events["item"].tolist() == ["a"]
    assert to_seconds("2001-06-01") == 991353600 == to_seconds("991353600")
    with pytest.raises(DataError, match="time window"):
        time_window(log, start=10 * day)
    with pytest.raises(DataError, match="not Unix seconds"):
        time_window(log, start="someday")


def test_recipe_order_and_unknown_key():
    pairs = [("u1", "a"), ("u1", "b"), ("u2", "a")]
    log = apply_recipe(log_of(pairs, ratings=[1, 2, 5]), {"like": "all", "kcore": {"user": 2}})
    assert log.events["liked"].all() and set(log.events["user"]) == {"u1"}
    with pytest.raises(DataError, match="unknown key"):
        apply_recipe(log_of(pairs), {"kcores": {}})


def test_presets_are_cited_and_valid():
    for name, preset in PRESETS.items():
        assert "arXiv" in preset["cite"], name
        assert preset["reported"], name
        assert set(preset["recipe"]) <= {"time", "like", "kcore"}
    with pytest.raises(DataError, match="unknown preset"):
        get_preset("nope")


def test_tallrec_book_preset_on_bx(tmp_path):
    folder = bx(tmp_path)
    with open(folder / "BX-Books.csv", "a", encoding="latin-1") as f:
        f.writelines(f'"{n}";"Book {n}";"Someone";"2000";"P"\n' for n in (1, 2, 3))
    with open(folder / "BX-Book-Ratings.csv", "a", encoding="latin-1") as f:
        for isbn, rating in [(1, 0), (2, 3), (3, 9)]:
            f.write(f'"276726";"{isbn}";"{rating}"\n')
    log = apply_recipe(read_log(folder), get_preset("tallrec-book")["recipe"])
    # 276726 has 5 ratings (an implicit 0 counts); the others have 1 or 2: "more than 3" keeps 276726
    assert set(log.events["user"]) == {"276726"}
    assert log.events["liked"].tolist() == [False, True, False, False, True]  # > 5; 0 is not liked


def test_collm_preset_window_and_like(tmp_path):
    june_2001, feb_2003 = 991353600, 1044057600
    ratings = [(1, 10, 4, june_2001 - 1), (1, 20, 4, june_2001), (2, 10, 3, feb_2003 - 1), (2, 30, 5, feb_2003)]
    log = read_log(ml_dat(tmp_path, ratings))
    kept = apply_recipe(log, get_preset("collm-ml1m")["recipe"])
    assert kept.events[["item", "liked"]].values.tolist() == [[20, True], [10, False]]
    assert counts(kept)["interactions"] == 2 and counts(kept)["users"] == 2


def test_ml100k_five_core(shared_data):
    """The well-known ML-100K 5-core (RecBole's dataset statistics): 943 users, 1,349 items, 99,287."""
    log = apply_recipe(read_log(shared_data / "ml-100k"), get_preset("sasrec-loo")["recipe"])
    assert (counts(log)["users"], counts(log)["items"], counts(log)["interactions"]) == (943, 1_349, 99_287)
    assert log.events["liked"].all()
