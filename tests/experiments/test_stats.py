"""Paired bootstrap and DeLong's test: a hand case, the direct definition, scikit-learn, each other."""

import numpy as np
import pytest
from scipy.stats import norm
from sklearn.metrics import roc_auc_score

from tallrec.core.errors import DataError
from tallrec.experiments.report.stats import delong, paired_bootstrap, weighted_auc


def delong_direct(y, a, b):
    """DeLong's covariance from its definition, O(m n): psi(x, y) = 1 if x > y, 1/2 if equal."""
    y = np.asarray(y)
    comps10, comps01 = [], []
    for s in (np.asarray(a, float), np.asarray(b, float)):
        x, z = s[y == 1], s[y == 0]
        psi = (x[:, None] > z[None, :]) + 0.5 * (x[:, None] == z[None, :])
        comps10.append(psi.mean(axis=1))
        comps01.append(psi.mean(axis=0))
    m, n = len(comps10[0]), len(comps01[0])
    return np.cov(np.vstack(comps10)) / m + np.cov(np.vstack(comps01)) / n


def test_hand_case():
    # positives score .9 .4 (a) / .3 .8 (b); negatives .6 .1 (a) / .5 .9 (b).
    # a: V10 = [1, .5], V01 = [.5, 1] -> AUC .75, var .125/2 + .125/2 = .125
    # b: V10 = [0, .5], V01 = [.5, 0] -> AUC .25, var .125
    # cov(a, b) = -.125/2 - .125/2 = -.125 -> var(a - b) = .125 + .125 + .25 = .5
    y = [1, 1, 0, 0]
    r = delong(y, [0.9, 0.4, 0.6, 0.1], [0.3, 0.8, 0.5, 0.9])
    assert (r["auc_a"], r["auc_b"], r["diff"]) == pytest.approx((0.75, 0.25, 0.5))
    assert (r["var_a"], r["var_b"], r["cov"]) == pytest.approx((0.125, 0.125, -0.125))
    assert r["se"] == pytest.approx(np.sqrt(0.5))
    assert r["p"] == pytest.approx(2 * norm.sf(0.5 / np.sqrt(0.5)))


def test_fast_delong_matches_the_definition_with_ties():
    rng = np.random.default_rng(3)
    y = rng.random(300) < 0.45
    a = np.round(y * 0.6 + rng.random(300), 1)  # rounded: many ties
    b = np.round(y * 0.3 + rng.random(300), 1)
    r = delong(y, a, b)
    cov = delong_direct(y, a, b)
    assert (r["var_a"], r["var_b"], r["cov"]) == pytest.approx((cov[0, 0], cov[1, 1], cov[0, 1]), rel=1e-10)
    assert r["auc_a"] == pytest.approx(roc_auc_score(y, a)) and r["auc_b"] == pytest.approx(roc_auc_score(y, b))


def test_weighted_auc_is_the_auc_of_the_repeated_samples():
    rng = np.random.default_rng(1)
    y = (rng.random(50) < 0.5).astype(int)
    s = np.round(rng.random(50), 1)
    w = rng.integers(0, 4, size=(3, 50)).astype(float)
    got = weighted_auc(y, s, w)
    for row, g in zip(w, got):
        idx = np.repeat(np.arange(50), row.astype(int))
        assert g == pytest.approx(roc_auc_score(y[idx], s[idx]))


def test_bootstrap_agrees_with_delong_on_a_synthetic_example():
    rng = np.random.default_rng(0)
    n = 1000
    y = rng.random(n) < 0.5
    common = rng.normal(0, 1, n)  # correlated methods, as two models of the same samples are
    a = 0.9 * y + common + 0.5 * rng.normal(0, 1, n)
    b = 0.6 * y + common + 0.5 * rng.normal(0, 1, n)
    boot = paired_bootstrap(y, a, b, n_boot=2000, seed=0)
    dl = delong(y, a, b)
    assert boot["diff"] == pytest.approx(dl["diff"]) == pytest.approx(roc_auc_score(y, a) - roc_auc_score(y, b))
    # the bootstrap interval's half width is close to DeLong's normal one
    assert (boot["hi"] - boot["lo"]) / (dl["hi"] - dl["lo"]) == pytest.approx(1.0, abs=0.12)
    assert boot["excludes_0"] and dl["p"] < 0.05 and boot["lo"] > 0


def test_bootstrap_is_seeded_and_sees_no_difference_where_there_is_none():
    rng = np.random.default_rng(5)
    y = rng.random(400) < 0.5
    a = y + rng.normal(0, 1, 400)
    one, two = paired_bootstrap(y, a, a + 0.0, seed=7), paired_bootstrap(y, a, a, seed=7)
    assert one == two and one["diff"] == 0 and (one["lo"], one["hi"]) == (0, 0) and not one["excludes_0"]
    b = y + rng.normal(0, 1, 400)  # the same signal, other noise
    r = paired_bootstrap(y, a, b, n_boot=500, seed=1)
    assert r == paired_bootstrap(y, a, b, n_boot=500, seed=1)
    assert r["lo"] < r["diff"] < r["hi"]


def test_bad_input():
    with pytest.raises(DataError, match="one score per sample"):
        delong([1, 0], [0.1, 0.2], [0.3])
    with pytest.raises(DataError, match="both liked"):
        paired_bootstrap([1, 1], [0.1, 0.2], [0.3, 0.4])
