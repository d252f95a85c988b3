"""The metrics of the common record: checked against scikit-learn where it has them, by hand otherwise."""

import json

import numpy as np
import pytest
from sklearn.metrics import brier_score_loss, log_loss, roc_auc_score

from tallrec.core.errors import DataError
from tallrec.core.metrics import (
    brier,
    ece,
    equal_mass_bins,
    logloss,
    metrics_record,
    per_user_auc,
    quality,
    reliability,
    user_figures,
    write_metrics,
)


@pytest.fixture
def random_case():
    rng = np.random.default_rng(0)
    y = rng.random(500) < 0.4
    p = np.clip(0.3 * y + rng.random(500) * 0.7, 0.001, 0.999)
    return y, p


def test_against_scikit_learn(random_case):
    y, p = random_case
    q = quality(y, p)
    assert q["auc"] == pytest.approx(roc_auc_score(y, p), abs=1e-12)
    assert q["logloss"] == pytest.approx(log_loss(y, p), abs=1e-12)
    assert q["brier"] == pytest.approx(brier_score_loss(y, p), abs=1e-12)
    assert q["pred_yes_rate"] == pytest.approx(p.mean()) and q["true_yes_rate"] == pytest.approx(y.mean())


def test_logloss_of_a_saturated_score_is_finite():
    assert np.isfinite(logloss([1, 0], [0.0, 1.0]))
    assert logloss([1, 0], [1.0, 0.0]) < 1e-6


def test_ece_by_hand():
    # 6 samples, 3 equal-mass bins of 2 (sorted by score):
    # bin 1: p .1 .2 (mean .15), labels 0 1 (.5): |.15-.5| = .35
    # bin 2: p .4 .5 (mean .45), labels 0 0 (0):  .45
    # bin 3: p .8 .9 (mean .85), labels 1 1 (1):  .15
    # ECE = (.35 + .45 + .15) / 3
    y = [1, 0, 0, 1, 0, 1]
    p = [0.9, 0.1, 0.5, 0.2, 0.4, 0.8]
    assert ece(y, p, bins=3) == pytest.approx((0.35 + 0.45 + 0.15) / 3)
    pts = reliability(y, p, bins=3)
    assert [b["n"] for b in pts] == [2, 2, 2]
    assert [b["p_yes"] for b in pts] == pytest.approx([0.15, 0.45, 0.85])
    assert [b["yes_share"] for b in pts] == pytest.approx([0.5, 0.0, 1.0])


def test_ece_uses_15_equal_mass_bins(random_case):
    y, p = random_case
    bins = equal_mass_bins(p)
    assert len(bins) == 15 and {len(b) for b in bins} <= {33, 34}
    assert sorted(np.concatenate(bins).tolist()) == list(range(len(p)))
    perfect = np.array([0.2] * 5 + [0.8] * 5)
    assert ece([0, 0, 0, 0, 1, 1, 1, 1, 1, 0], perfect, bins=2) == pytest.approx(0.0)


def test_uauc_and_gauc_by_hand():
    # user a: 4 samples, AUC 0.75 (positives .9 .4, negatives .6 .1); user b: 2 samples, AUC 0;
    # user c: one class only (left out).
    labels = [1, 1, 0, 0, 1, 0, 1, 1]
    scores = [0.9, 0.4, 0.6, 0.1, 0.2, 0.7, 0.5, 0.3]
    users = ["a", "a", "a", "a", "b", "b", "c", "c"]
    r = per_user_auc(labels, scores, users)
    assert r["uauc"] == pytest.approx((0.75 + 0.0) / 2)
    assert r["gauc"] == pytest.approx((4 * 0.75 + 2 * 0.0) / 6)
    assert (r["uauc_users"], r["uauc_users_left_out"]) == (2, 1)


def test_user_figures_without_ids_say_why():
    r = user_figures([1, 0], [0.6, 0.4], None, where="test.json")
    assert r["uauc"] is None and r["gauc"] is None and r["uauc_note"] == "no user ids in test.json"
    r = user_figures([1, 0, 1], [0.6, 0.4, 0.3], [1, None, 1], where="x.json")
    assert r["uauc"] is None and r["uauc_note"] == "1 of 3 samples in x.json have no user id"
    r = user_figures([1, 1, 0], [0.6, 0.4, 0.3], [1, 1, 2])
    assert r["uauc"] is None and r["uauc_users_left_out"] == 2 and "both" in r["uauc_note"]


def test_record_and_files(tmp_path, random_case):
    y, p = random_case
    users = [i % 7 for i in range(len(y))]
    rec = metrics_record(y, p, model="m", data="d.json", users=users, extra_field=1)
    for k in ("auc", "uauc", "gauc", "logloss", "brier", "ece", "pred_yes_rate", "true_yes_rate", "n", "extra_field"):
        assert k in rec
    assert rec["uauc_users"] == 7
    write_metrics(tmp_path, rec, y, p, users=users, raw_scores=p / 2)
    rows = [json.loads(line) for line in (tmp_path / "scores.jsonl").read_text().splitlines()]
    assert rows[3] == {"index": 3, "label": int(y[3]), "score": float(p[3]), "user": 3, "raw_score": float(p[3] / 2)}
    assert json.loads((tmp_path / "metrics.json").read_text())["gauc"] == rec["gauc"]


def test_bad_input_is_one_line():
    with pytest.raises(DataError, match="both liked"):
        quality([1, 1], [0.2, 0.3])
    with pytest.raises(DataError, match="2 labels but 3 scores"):
        brier([1, 0], [0.1, 0.2, 0.3])
    with pytest.raises(DataError, match="user ids for"):
        per_user_auc([1, 0], [0.1, 0.2], ["a"])
