"""Retrievers: fitted state, scores, save/load round trip, validation-chosen settings."""

from __future__ import annotations

import random

import numpy as np
import pytest

from tallrec.core.errors import DataError
from tallrec.data.builders.sequences import sequences_from_ratings
from tallrec.recommend.loo import retriever_eval
from tallrec.recommend.retrievers import (
    ItemKNN,
    Popularity,
    fit_on_split,
    load_retriever,
    make_retriever,
)


def block_split(users: int = 40, seed: int = 0):
    """Two taste groups: odd users watch items 1-10, even users 11-20 (in random order) + noise."""
    rng = random.Random(seed)
    titles = {i: f"Film {i} (19{50 + i})" for i in range(1, 31)}
    ratings, ts = [], 0
    for u in range(1, users + 1):
        items = rng.sample(range(1, 11) if u % 2 else range(11, 21), 8) + [rng.randrange(21, 31)]
        rng.shuffle(items)
        for i in items:
            ts += 1
            ratings.append((u, i, rng.randint(1, 5), ts))
    return sequences_from_ratings(ratings, titles)


def test_popularity_and_knn_scores():
    seqs = [(1, 2, 3), (1, 2), (2, 4)]
    pop = Popularity().fit(seqs, 6)
    assert pop.scores([5]).tolist() == [0, 2, 3, 1, 1, 0]
    knn = ItemKNN(last=1).fit(seqs, 6)
    s = knn.scores([4, 3])          # only the last item (3) counts
    assert s[1] == pytest.approx(1 / np.sqrt(2 * 1), abs=1e-5) and s[4] < 1e-5 and s[3] < 1e-5
    # items 4 and 5 both have similarity 0 to item 3: popularity breaks the tie
    assert s[4] > s[5] and s[4] - s[5] < 1e-6
    with pytest.raises(DataError, match="last"):
        ItemKNN(last=0)
    with pytest.raises(DataError, match="unknown retriever"):
        make_retriever("bm25")


def test_knn_because_names_the_history_items_that_added_to_a_score():
    seqs = [(1, 2, 3), (1, 2), (2, 4), (3, 5)]
    knn = ItemKNN(last=2).fit(seqs, 6)
    history = [4, 1, 3]                 # only the last two (1, 3) count
    why = knn.because(history, [2, 5, 4])
    s1, s3 = knn.sim[1, 2], knn.sim[3, 2]
    assert why[0] == ([1, 3] if s1 >= s3 else [3, 1]) and why[1] == [3] and why[2] == []
    for item, w in zip([2, 5, 4], why):  # the named items' similarities sum to the score (less the tie)
        assert knn.scores(history)[item] == pytest.approx(sum(knn.sim[h, item] for h in w), abs=1e-5)
    assert knn.because([], [2]) == [[]] and Popularity().fit(seqs, 6).because(history, [2, 5]) == [[], []]


@pytest.mark.parametrize("name", ["popularity", "itemknn", "sasrec"])
def test_save_load_round_trip(tmp_path, name):
    split = block_split()
    settings = {"epochs": 3, "eval_every": 1, "dim": 8, "max_len": 6} if name == "sasrec" else None
    r, _ = fit_on_split(name, split, settings)
    r.save(tmp_path / "r")
    back = load_retriever(tmp_path / "r")
    hist = [u.history("test") for u in split.users[:5]]
    np.testing.assert_allclose(back.scores_many(hist), r.scores_many(hist), rtol=1e-6)
    assert back.settings() == r.settings()


def test_knn_learns_the_groups_and_chooses_last_on_validation():
    split = block_split()
    knn, sel = fit_on_split("itemknn", split)
    assert sel["chosen"] == knn.last and set(sel["last"]) == {1, 2, 3, 5, 10, 20}
    pop = Popularity().fit(split.train_sequences(), split.rows)
    assert retriever_eval(split, knn, "test").metrics()["ndcg@10"] > retriever_eval(split, pop, "test").metrics()["ndcg@10"]


def test_sasrec_is_deterministic_and_picks_an_epoch():
    split = block_split()
    cfg = {"epochs": 6, "eval_every": 2, "dim": 16, "max_len": 8, "patience": 5}
    a, sel = fit_on_split("sasrec", split, cfg)
    b, _ = fit_on_split("sasrec", split, cfg)
    hist = [u.history("test") for u in split.users]
    np.testing.assert_array_equal(a.scores_many(hist), b.scores_many(hist))
    assert sel["chosen"] in (2, 4, 6) and list(sel["epochs"]) == [2, 4, 6]


def test_load_refuses_bad_state(tmp_path):
    (tmp_path / "retriever.json").write_text('{"name": "nope", "rows": 3}')
    with pytest.raises(DataError, match="not a retriever state"):
        load_retriever(tmp_path)
    with pytest.raises(DataError, match="no such file"):
        load_retriever(tmp_path / "absent")
