"""The hybrid method: a combiner fitted on the early-stopping validation samples, and its floor."""

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from tallrec.core.errors import DataError
from tallrec.data.fewshot import validation_subset
from tallrec.experiments.hybrid import fit_combiner, logit

from .helpers import samples


def test_the_llm_column_is_used_when_it_carries_information():
    train, fit_on, test = samples(32, seed=1), samples(200, seed=2), samples(300, seed=3)
    rng = np.random.default_rng(0)
    # An "LLM" that knows the label better than the history does.
    fake = lambda xs: [0.8 if s.label else 0.2 for s in xs] + rng.normal(0, 0.2, len(xs))  # noqa: E731
    llm_fit, llm_test = np.clip(fake(fit_on), 0.01, 0.99), np.clip(fake(test), 0.01, 0.99)
    hybrid, info = fit_combiner(train, fit_on, test, llm_fit, llm_test)
    floor, floor_info = fit_combiner(train, fit_on, test)
    labels = [bool(s.label) for s in test]
    assert roc_auc_score(labels, hybrid) > roc_auc_score(labels, floor) + 0.1
    assert info["features"][0] == "llm_logit" and info["coef"][0] > 0 and "llm_logit" not in floor_info["features"]


def test_an_uninformative_llm_column_adds_nothing_much():
    train, fit_on, test = samples(32, seed=1), samples(200, seed=2), samples(300, seed=3)
    rng = np.random.default_rng(1)
    hybrid, _ = fit_combiner(train, fit_on, test, rng.random(200), rng.random(300))
    floor, _ = fit_combiner(train, fit_on, test)
    labels = [bool(s.label) for s in test]
    assert abs(roc_auc_score(labels, hybrid) - roc_auc_score(labels, floor)) < 0.05


def test_fitting_needs_both_labels_and_matching_scores():
    one_class = [s for s in samples(60, seed=4) if s.label][:10]
    with pytest.raises(DataError, match="liked and not-liked"):
        fit_combiner(samples(8), one_class, samples(8))
    with pytest.raises(ValueError):
        fit_combiner(samples(8), samples(20, seed=5), samples(8), [0.5] * 3, [0.5] * 8)
    assert np.isfinite(logit([0.0, 1.0])).all()


def test_validation_subset_is_the_fixed_draw_of_rec_tuning():
    valid = samples(50, seed=6)
    assert validation_subset(valid, None) == valid and validation_subset(valid, 80) == valid
    sub = validation_subset(valid, 20)
    assert len(sub) == 20 and sub == validation_subset(valid, 20) and all(s in valid for s in sub)


@pytest.mark.integration  # a grid run end to end
def test_the_grid_runs_hybrid_on_the_r_cells_training(tmp_path, tiny_model_dir, monkeypatch):
    import json

    from tallrec.experiments import runs
    from tallrec.experiments.grid.runner import run_grid
    from tallrec.experiments.grid.schema import load_grid

    from .helpers import domains, write_grid_yaml, write_rec_yaml

    rec = write_rec_yaml(tmp_path / "rec.yaml", valid_size=12)
    cfg = write_grid_yaml(tmp_path / "grid.yaml", models=[str(tiny_model_dir)], seeds=[0], test_limit=12,
                          rec_config=str(rec),
                          blocks=[{"methods": ["hybrid", "r", "hist-valid"], "domains": ["movie"], "shots": [8]}])
    grid, source = load_grid(config=cfg)
    calls = []
    real = runs.rec_tune
    monkeypatch.setattr(runs, "rec_tune", lambda *a, **k: calls.append(a[-1]) or real(*a, **k))
    run_grid(tmp_path / "out", grid, source=source, domains=domains(), log=lambda m: None, progress=False)
    rows = {json.loads(l)["method"]: json.loads(l) for l in (tmp_path / "out" / "results.jsonl").read_text().splitlines()}
    assert {"hybrid", "r", "hist-valid"} <= set(rows)
    assert len(calls) == 1  # one rec-tuning serves the r and the hybrid rows
    assert {rows[m]["n"] for m in ("hybrid", "r", "hist-valid")} == {12}
