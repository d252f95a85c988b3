"""Sparse item-kNN at scale: the cosine built a block of items at a time, top-N kept per item, and
the top k of a score vector by partial sort. A 59k-item, 25M-rating log fits in a few GiB because
nothing items x items is ever dense (benchmarks/data_bench.py measures it).
"""

from __future__ import annotations

import numpy as np

KNN_BLOCK_NNZ = 40_000_000   # co-occurrence entries held at once while fitting (~0.5 GiB)


def user_item_matrix(sequences, rows: int):
    """Binary users x rows CSR (float32: counts stay exact below 2**24)."""
    from scipy import sparse

    users = [np.unique(np.asarray(s, dtype=np.int64)) for s in sequences]
    indptr = np.cumsum([0] + [len(u) for u in users])
    indices = np.concatenate(users) if users else np.zeros(0, dtype=np.int64)
    return sparse.csr_matrix((np.ones(len(indices), dtype=np.float32), indices, indptr), shape=(len(users), rows))


def cosine_topn(sequences, rows: int, neighbours: int | None = None):
    """Item-item cosine of co-occurrence, sim = X'X / sqrt(n_i n_j), diagonal zeroed, built a block
    of item rows at a time; each row keeps its `neighbours` largest entries (ties: lower item id).
    With `neighbours=None` it equals the one-shot diags(inv) @ X'X @ diags(inv) bit for bit."""
    from scipy import sparse

    x = user_item_matrix(sequences, rows)
    xt = x.T.tocsr()
    n = np.diff(xt.indptr).astype(np.float64)
    inv = np.zeros(rows)
    inv[n > 0] = 1.0 / np.sqrt(n[n > 0])
    per_row = max(1, int(n.sum() / max(1, x.shape[0]) * n.max())) if x.nnz else 1
    step = int(np.clip(KNN_BLOCK_NNZ // per_row, 64, 8192))
    blocks = []
    for a in range(0, rows, step):
        co = (xt[a:a + step] @ x).tocsr().astype(np.float64)   # indices unsorted: sorting cost 15%
        r = np.repeat(np.arange(a, a + co.shape[0]), np.diff(co.indptr))
        co.data = (inv[r] * co.data) * inv[co.indices]
        co.data[co.indices == r] = 0.0
        co.eliminate_zeros()
        blocks.append(co if neighbours is None else keep_top(co, neighbours))
    return sparse.vstack(blocks, format="csr") if blocks else sparse.csr_matrix((0, rows))


def keep_top(m, k: int):
    """`m` (CSR) with only each row's k largest entries (ties: lower column)."""
    from scipy import sparse

    counts = np.diff(m.indptr)
    if counts.max(initial=0) <= k:
        return m
    keep = np.ones(m.nnz, dtype=bool)
    for row in np.flatnonzero(counts > k).tolist():
        a, b = m.indptr[row], m.indptr[row + 1]
        neg, cols = -m.data[a:b], m.indices[a:b]
        kth = np.partition(neg, k - 1)[k - 1]
        ties = np.flatnonzero(neg == kth)
        sel = neg < kth
        sel[ties[np.argsort(cols[ties], kind="stable")][:k - int(sel.sum())]] = True
        keep[a:b] = sel
    rows = np.repeat(np.arange(m.shape[0]), counts)[keep]
    return sparse.csr_matrix((m.data[keep], m.indices[keep], np.r_[0, np.cumsum(np.bincount(rows, minlength=m.shape[0]))]),
                             shape=m.shape)


def top_k(scores: np.ndarray, k: int) -> np.ndarray:
    """Positions of the k largest scores, best first, ties by lower position: the first k of
    np.lexsort((positions, -scores)), by a partial sort (np.partition) instead of a full one."""
    scores = np.asarray(scores)
    n = len(scores)
    if k <= 0:
        return np.zeros(0, dtype=np.int64)
    neg = -scores
    if k >= n:
        return np.lexsort((np.arange(n), neg))
    kth = np.partition(neg, k - 1)[k - 1]
    better = np.flatnonzero(neg < kth)
    pick = np.concatenate([better, np.flatnonzero(neg == kth)[:k - len(better)]])
    return pick[np.lexsort((pick, neg[pick]))]


__all__ = ["cosine_topn", "keep_top", "top_k", "user_item_matrix"]
