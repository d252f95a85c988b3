"""Sparse item-kNN at scale: the blockwise cosine equals the one-shot formula bit for bit, top-N
pruning keeps each item's best neighbours, and the partial-sort top k equals the full sort."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import sparse

from tallrec.data.builders.sequences import leave_one_out
from tallrec.recommend import knn
from tallrec.recommend.knn import cosine_topn, keep_top, top_k
from tallrec.recommend.loo import retriever_eval
from tallrec.recommend.retrievers import ItemKNN


def one_shot(sequences, rows):
    """The item-kNN of before the blockwise fit: diags(inv) @ X'X @ diags(inv), diagonal zeroed."""
    users = [np.unique(np.asarray(s, dtype=np.int64)) for s in sequences]
    indptr = np.cumsum([0] + [len(u) for u in users])
    x = sparse.csr_matrix((np.ones(indptr[-1]), np.concatenate(users), indptr), shape=(len(users), rows))
    co = (x.T @ x).tocsr()
    n = co.diagonal()
    inv = np.zeros(rows)
    inv[n > 0] = 1.0 / np.sqrt(n[n > 0])
    sim = sparse.diags(inv) @ co @ sparse.diags(inv)
    sim.setdiag(0)
    sim.eliminate_zeros()
    return sim.tocsr()


def test_blockwise_cosine_equals_one_shot(monkeypatch):
    rng = np.random.default_rng(0)
    seqs = [rng.choice(np.arange(1, 300), size=rng.integers(3, 40), replace=False).tolist() for _ in range(200)]
    monkeypatch.setattr(knn, "KNN_BLOCK_NNZ", 1)   # many small blocks
    got = cosine_topn(seqs, 301)
    assert np.array_equal(got.toarray(), one_shot(seqs, 301).toarray())


def test_movielens_itemknn_unchanged(shared_data):
    """MovieLens-100K: the fitted similarities and the test figures equal the one-shot model's."""
    split = leave_one_out(shared_data / "ml-100k")
    train = split.train_sequences()
    knn_ = ItemKNN(last=5).fit(train, split.rows)
    ref = one_shot(train, split.rows)
    assert np.array_equal(knn_.sim.toarray(), ref.toarray())
    old = ItemKNN(last=5).fit(train, split.rows)
    old.sim = ref
    assert retriever_eval(split, knn_, "test").metrics() == retriever_eval(split, old, "test").metrics()


def test_keep_top_and_top_k():
    m = sparse.csr_matrix(np.array([[0, 3, 1, 3, 2], [5, 0, 0, 0, 0]], dtype=float))
    kept = keep_top(m, 2).toarray()
    assert kept.tolist() == [[0, 3, 0, 3, 0], [5, 0, 0, 0, 0]]   # ties keep the lower column
    shuffled = sparse.csr_matrix((np.array([2.0, 3, 1, 3]), np.array([4, 3, 2, 1]), np.array([0, 4])), shape=(1, 5))
    assert keep_top(shuffled, 1).toarray().tolist() == [[0, 3, 0, 0, 0]]   # unsorted columns: still the lower
    rng = np.random.default_rng(1)
    for _ in range(300):
        s = rng.integers(0, 4, size=rng.integers(1, 60)).astype(float)
        s[rng.random(len(s)) < 0.2] = -np.inf
        k = int(rng.integers(0, 70))
        assert top_k(s, k).tolist() == np.lexsort((np.arange(len(s)), -s))[:k].tolist()


def test_neighbours_bound_memory():
    rng = np.random.default_rng(2)
    seqs = [rng.choice(np.arange(1, 500), size=30, replace=False).tolist() for _ in range(300)]
    r = ItemKNN(last=3, neighbours=10).fit(seqs, 501)
    assert np.diff(r.sim.indptr).max() <= 10 and r.settings() == {"last": 3, "neighbours": 10}
    with pytest.raises(Exception, match="neighbours must be at least 1"):
        ItemKNN(neighbours=0)
