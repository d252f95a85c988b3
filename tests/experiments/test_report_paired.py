"""The report's paired differences (bootstrap intervals vs TALLRec and the like-share floor) and its
AUC per slice, computed from the cells' own scores.jsonl."""

import json

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from tallrec.core.metrics import write_metrics
from tallrec.data.datasets import DomainData
from tallrec.experiments.grid.store import ResultStore
from tallrec.experiments.report import build_report
from tallrec.experiments.report.slices import like_share_bucket, slices, warm_targets

from .helpers import samples, store_row


@pytest.fixture
def grid(tmp_path):
    """A grid folder: tallrec, r, like-share at K=8 (seeds 0, 1) and at (K-independent) on 300
    synthetic movie test samples, each with its scores.jsonl; one more row whose cell is absent."""
    data = DomainData("movie", samples(60, seed=1), samples(20, seed=2), samples(300, seed=3), "synthetic")
    y = np.array([bool(s.label) for s in data.test])
    out = tmp_path / "g"
    store = ResultStore(out / "results.jsonl")
    out.mkdir()
    rng = np.random.default_rng(0)
    strength = {"tallrec": 2.0, "r": 0.2, "like-share": 1.0, "at": 1.0}
    scores = {}
    for method, shots, seeds in (("tallrec", 8, (0, 1)), ("r", 8, (0, 1)), ("like-share", 8, (0, 1)), ("at", 0, (0,))):
        for seed in seeds:
            s = 1 / (1 + np.exp(-(strength[method] * (y - 0.5) + rng.normal(0, 1, len(y)))))
            row = store_row(method, "movie", shots, seed, float(roc_auc_score(y, s)), n=len(y),
                            model=None if method == "like-share" else "smollm2-135m")
            write_metrics(out / row["dir"], {"auc": row["auc"]}, y.tolist(), s.tolist())
            store.append(row)
            scores[(method, seed)] = s
    store.append(store_row("gru4rec", "movie", 8, 0, 0.5, model=None, n=300))  # no cell folder here
    return out, data, y, scores


def test_paired_differences_and_slices_in_the_report(grid):
    out, data, y, scores = grid
    build_report(out, domains={"movie": data})
    md = (out / "report.md").read_text()
    summary = json.loads((out / "summary.json").read_text())
    assert "## Paired differences" in md and "## AUC per slice" in md
    diffs = summary["differences"]
    r0 = next(e for e in diffs if e["method"] == "r" and e["vs"] == "tallrec" and e["seed"] == 0)
    want = roc_auc_score(y, scores[("r", 0)]) - roc_auc_score(y, scores[("tallrec", 0)])
    assert r0["diff"] == pytest.approx(want) and r0["lo"] < r0["diff"] < r0["hi"]
    assert r0["excludes_0"] and r0["hi"] < 0 and r0["p"] < 0.05  # a much weaker method
    # the K-independent row is paired with every seed of the reference
    assert sorted(e["seed"] for e in diffs if e["method"] == "at" and e["vs"] == "tallrec") == [0, 1]
    assert {e["vs"] for e in diffs if e["method"] == "tallrec"} == {"like-share"}
    line = next(l for l in md.splitlines() if l.startswith("| R (rec-tuning only) | smollm2-135m | 8 |"))
    assert f"s0 {100 * want:+.2f} [" in line and "]*" in line and " ± " in line
    assert summary["missing_scores"] == ["gru4rec/movie/k8/s0/-"] and "`gru4rec/movie/k8/s0/-`" in md
    # slices: recomputed by hand for one row
    tr = next(e for e in summary["slices"] if e["method"] == "tallrec" and e["seed"] == 1)
    want_sl = slices(data.test, scores[("tallrec", 1)], data.train[:0] or None)
    bucket = like_share_bucket(data.test[0])
    assert tr["slices"][bucket] == want_sl[bucket]
    assert "warm target" in tr["slices"] or "cold target" in tr["slices"]
    assert "| method | model | K |" in md and "share < 1/3" in md


def test_slices_by_hand():
    test = samples(40, seed=5)
    train = samples(5, seed=6)
    warm = warm_targets(test, train)
    seen = {s.target for s in train} | {t for s in train for t, _ in s.history}
    assert warm == [s.target in seen for s in test]
    sc = np.linspace(0, 1, 40)
    sl = slices(test, sc, train)
    idx = [i for i, w in enumerate(warm) if w]
    labels = [bool(test[i].label) for i in idx]
    if 0 < sum(labels) < len(labels):
        assert sl["warm target"]["auc"] == pytest.approx(roc_auc_score(labels, sc[idx]))
    assert sum(v["n"] for k, v in sl.items() if k.endswith("target")) == 40
    assert sum(v["n"] for k, v in sl.items() if not k.endswith("target")) == 40
