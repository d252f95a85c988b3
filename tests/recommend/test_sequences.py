"""Leave-one-out split and full-catalogue metrics; the popularity self-check on MovieLens-100K."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import write_raw_movielens

from tallrec.core.errors import DataError
from tallrec.data.builders.sequences import leave_one_out, sequences_from_ratings
from tallrec.recommend.metrics import (
    catalogue_rank,
    loo_from_ranks,
    paired_bootstrap,
    sampled_candidates,
)

TITLES = {i: f"Film {i} (199{i % 10})" for i in range(1, 9)}


def test_split_is_time_ordered_and_stable():
    # user 1: items 3 and 4 share a timestamp -> file order (4 then 3); the last two are valid/test
    ratings = [(1, 4, 5, 20), (1, 3, 2, 20), (1, 1, 4, 10), (1, 6, 5, 40), (1, 5, 1, 30),
               (2, 2, 4, 5), (2, 1, 3, 6), (3, 7, 4, 1), (3, 8, 4, 2)]
    split = sequences_from_ratings(ratings, TITLES)
    u = split.users[0]
    assert u.items == (1, 4, 3, 5, 6) and u.train == (1, 4, 3)
    assert u.target("valid") == 5 and u.target("test") == 6
    assert set(split.excluded(u, "valid")) == {1, 4, 3}
    assert set(split.excluded(u, "test")) == {1, 4, 3, 5}  # the validation item counts as rated
    assert split.tallrec_history(u, "test") == (["Film 1 (1991)", "Film 4 (1994)"], ["Film 3 (1993)", "Film 5 (1995)"])
    assert split.skipped == 2 and [x.user for x in split.users] == [1]  # users 2, 3: fewer than 3 ratings


def test_split_refuses_no_usable_user(tmp_path):
    with pytest.raises(DataError, match="3 ratings"):
        sequences_from_ratings([(1, 1, 5, 1), (1, 2, 5, 2)], TITLES)
    with pytest.raises(DataError, match="no such folder"):
        leave_one_out(tmp_path / "absent")
    write_raw_movielens(tmp_path / "raw", [(1, 1, 5, 1), (1, 99, 5, 2)], TITLES)
    with pytest.raises(DataError, match="item id 99"):
        leave_one_out(tmp_path / "raw")


def test_catalogue_rank_ties_and_exclusions():
    s = np.array([0.0, 5.0, 3.0, 3.0, 9.0, 1.0])
    assert catalogue_rank(s, 3, excluded=[]) == 3            # 9 and 5 above; the tie with row 2 favours the target
    assert catalogue_rank(s, 3, excluded=[4]) == 2
    assert catalogue_rank(s, 5, excluded=[1], ranked=[False, True, True, True, True, True]) == 4
    with pytest.raises(DataError, match="not among"):
        catalogue_rank(s, 4, excluded=[4])
    m = loo_from_ranks([1, 3, 11, 25])
    assert m["recall@10"] == 0.5 and m["recall@20"] == 0.75
    assert m["ndcg@10"] == pytest.approx((1 + 1 / np.log2(4)) / 4)
    assert m["mrr"] == pytest.approx((1 + 1 / 3 + 1 / 11 + 1 / 25) / 4)


def test_sampled_candidates_seeded_per_user():
    pool = list(range(10, 300))
    a = sampled_candidates(5, pool, seed=0, user=1)
    assert a[0] == 5 and len(set(a)) == 101 and a == sampled_candidates(5, pool[::-1], seed=0, user=1)
    assert a != sampled_candidates(5, pool, seed=0, user=2)
    with pytest.raises(DataError, match="cannot sample"):
        sampled_candidates(5, pool[:50], seed=0, user=1)


def test_paired_bootstrap():
    rng = np.random.default_rng(1)
    b = rng.random(400)
    mean, lo, hi = paired_bootstrap(b + 0.1, b)
    assert mean == pytest.approx(0.1) and lo == pytest.approx(0.1) and hi == pytest.approx(0.1)
    mean, lo, hi = paired_bootstrap(b + rng.normal(0, 0.3, 400), b, n=500, seed=3)
    assert lo < mean < hi and lo < 0 < hi
    assert paired_bootstrap(b + 1, b, seed=3) == paired_bootstrap(b + 1, b, seed=3)
    with pytest.raises(DataError, match="equal-length"):
        paired_bootstrap([1, 2], [1])


def test_popularity_self_check(shared_data):
    """The issue's figures: popularity over the training parts, test NDCG@10 0.0450, Recall@10 0.0859."""
    from tallrec.recommend.loo import retriever_eval
    from tallrec.recommend.retrievers import Popularity

    split = leave_one_out(shared_data / "ml-100k")
    assert len(split.users) == 943 and split.skipped == 0 and len(split.titles) == 1682
    pop = Popularity().fit(split.train_sequences(), split.rows)
    m = retriever_eval(split, pop, "test").metrics()
    assert round(m["ndcg@10"], 4) == 0.0450 and round(m["recall@10"], 4) == 0.0859
    assert 0 < m["sampled"]["ndcg@10"] < 1 and m["sampled"]["recall@10"] > m["recall@10"]
