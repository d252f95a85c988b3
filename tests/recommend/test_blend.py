"""The blend: combine, the validation fit, the significance gate, JSON round trip."""

from __future__ import annotations

import numpy as np
import pytest

from tallrec.core.errors import DataError
from tallrec.recommend.blend import Blend, blended_ranks, fit_blend, log_odds


def lists(users=300, n=20, informative=True, seed=0):
    """Retriever scores decreasing by position; the target at a random position (or outside, -1);
    an informative LLM gives the target a high P(Yes), an uninformative one noise."""
    rng = np.random.default_rng(seed)
    top = np.sort(rng.random((users, n)), axis=1)[:, ::-1] * 10
    pos = rng.integers(-1, n, users)
    p = rng.uniform(0.2, 0.6, (users, n))
    if informative:
        hit = pos >= 0
        p[np.flatnonzero(hit), pos[hit]] = 0.9
    full = np.where(pos >= 0, pos + 1, rng.integers(n + 1, 500, users))
    return top, p, pos, full


def test_combine_and_ranks():
    b = Blend("weight", "score", 0.2, 0.8, 3)
    f = b.combine([3.0, 2.0, 1.0], [0.1, 0.2, 0.99])
    assert int(np.argmax(f)) == 2
    assert np.argsort(-Blend().combine([3.0, 1.0, 2.0], None)).tolist() == [0, 2, 1]   # retriever alone
    r = Blend("weight", "rank", 0.0, 1.0, 3)
    assert r.combine([5.0, 4.0, 3.0], [0.5, 0.5, 0.5]).tolist() == [0.0, 0.0, 0.0]
    with pytest.raises(DataError, match="one P\\(Yes\\) per candidate"):
        b.combine([1.0, 2.0], [0.5])
    # a target outside the top N keeps its retriever rank (at least N + 1)
    ranks = blended_ranks(b, [[3.0, 2.0, 1.0], [3.0, 2.0, 1.0]], [[0.1, 0.2, 0.99]] * 2, [2, -1], [3, 2])
    assert ranks.tolist() == [1, 4]
    assert log_odds([0.5])[0] == 0.0 and np.isfinite(log_odds([0.0, 1.0])).all()


def test_fit_keeps_a_useful_llm():
    b = fit_blend(*lists(informative=True))
    assert b.uses_llm and b.fitted["significant"] and b.fitted["ci95"][0] > 0
    assert b.fitted["ndcg@10_best"] > b.fitted["ndcg@10_retriever"]
    assert {t["kind"] for t in b.fitted["tried"]} == {"weight", "logistic"}


def test_fit_keeps_the_retriever_alone_without_a_significant_gain():
    b = fit_blend(*lists(informative=False, users=60, seed=1))
    assert not b.uses_llm and b.kind == "retriever" and b.retriever_weight == 1.0
    assert b.fitted["kept"].startswith("retriever") and not b.fitted["significant"]


def test_blend_json_round_trip(tmp_path):
    b = fit_blend(*lists(users=80))
    b.save(tmp_path / "blend.json")
    back = Blend.load(tmp_path / "blend.json")
    assert back == b
    (tmp_path / "bad.json").write_text('{"kind": "weight", "w": 1}')
    with pytest.raises(DataError, match="unknown blend field"):
        Blend.load(tmp_path / "bad.json")
    (tmp_path / "bad2.json").write_text('{"kind": "magic"}')
    with pytest.raises(DataError, match="kind must be"):
        Blend.load(tmp_path / "bad2.json")
