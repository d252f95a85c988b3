"""Calibration of P(Yes): the fits, AUC unchanged by construction, the file beside the adapter, and
the whole path (train -> calibrate -> evaluate / predict) on the tiny model."""

import json

import numpy as np
import pytest
from helpers import one_line_error, synthetic
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score

from tallrec.core.errors import DataError
from tallrec.core.metrics import ece, logloss
from tallrec.data import save_samples
from tallrec.llm.calibration import (
    Calibration,
    calibration_path,
    fit_calibration,
    load_calibration,
    logit,
    save_calibration,
)


def overconfident(n=2000, seed=0):
    """Scores with signal whose logits are 3x too large: badly calibrated, well ranked."""
    rng = np.random.default_rng(seed)
    z = rng.normal(0, 1.5, n)
    y = rng.random(n) < 1 / (1 + np.exp(-z))
    return y, 1 / (1 + np.exp(-3 * z + 0.5))


@pytest.mark.parametrize("method", ["platt", "temperature"])
def test_fit_keeps_auc_and_improves_calibration(method):
    y, p = overconfident()
    yv, pv = overconfident(seed=1)
    cal = fit_calibration(y, p, method)
    q = cal.apply(pv)
    assert roc_auc_score(yv, q) == roc_auc_score(yv, pv)  # a monotone map: the same ranking
    assert np.all(np.diff(cal.apply(np.linspace(0.001, 0.999, 500))) > 0)
    assert logloss(yv, q) < logloss(yv, pv) and ece(yv, q) < ece(yv, pv) / 2
    assert cal.fitted_on["valid_after"]["logloss"] < cal.fitted_on["valid_before"]["logloss"]


def test_platt_is_an_unregularised_logistic_regression_on_the_logit():
    y, p = overconfident()
    cal = fit_calibration(y, p, "platt")
    ref = LogisticRegression(C=1e12, max_iter=10_000).fit(logit(p).reshape(-1, 1), y)
    assert cal.params["a"] == pytest.approx(ref.coef_[0, 0], rel=1e-3)
    assert cal.params["b"] == pytest.approx(ref.intercept_[0], rel=1e-3, abs=1e-4)
    # the data were made with logits 3x too large: the slope comes back near 1/3
    assert cal.params["a"] == pytest.approx(1 / 3, abs=0.05)


def test_temperature_minimises_the_log_loss():
    y, p = overconfident()
    t = fit_calibration(y, p, "temperature").params["temperature"]
    z = logit(p)

    def loss(temp):
        return logloss(y, 1 / (1 + np.exp(-z / temp)))

    grid = np.linspace(0.5, 6, 2000)
    assert t == pytest.approx(grid[np.argmin([loss(g) for g in grid])], abs=0.01)
    assert loss(t) <= min(loss(t * 0.99), loss(t * 1.01))


def test_platt_refuses_to_reverse_the_ranking():
    y, p = overconfident()
    with pytest.raises(DataError, match="reverse the ranking"):
        fit_calibration(y, 1 - p, "platt")
    with pytest.raises(DataError, match="both liked"):
        fit_calibration([True, True], [0.2, 0.4], "temperature")


def test_saved_beside_the_adapter_and_read_back(tmp_path):
    cal = fit_calibration(*overconfident(), "temperature", data="valid.json")
    save_calibration(tmp_path, cal)
    back = load_calibration(tmp_path)
    assert isinstance(back, Calibration) and back.params == cal.params and back.fitted_on["data"] == "valid.json"
    assert load_calibration(tmp_path / "none") is None and load_calibration(None) is None
    calibration_path(tmp_path).write_text(json.dumps({"method": "isotonic", "params": {}}))
    with pytest.raises(DataError, match="not a calibration file"):
        load_calibration(tmp_path)


# ---------------------------------------------------------------- the whole path on the tiny model

@pytest.fixture
def files(tmp_path):
    save_samples(tmp_path / "train.json", synthetic(30, seed=0))
    save_samples(tmp_path / "valid.json", synthetic(24, seed=1))
    save_samples(tmp_path / "test.json", synthetic(16, seed=2))
    return tmp_path


TRAIN = ("--model", "{model}", "--precision", "fp32", "--shots", 8, "--batch-size", 4, "--micro-batch-size", 4,
         "--epochs", 1, "--eval-every", 1, "--lr", 1e-3)


def _train(run_cli, files, model, out, *extra):
    args = [a.format(model=model) if isinstance(a, str) else a for a in TRAIN]
    code, out_text, err = run_cli("train", "--train", files / "train.json", "--valid", files / "valid.json",
                                  "--out", files / out, *args, *extra)
    assert code == 0, err
    return files / out


def test_calibrate_then_evaluate_and_predict(run_cli, files, tiny_model_dir):
    run = _train(run_cli, files, tiny_model_dir, "run")
    assert "calibrate" not in (run / "config.yaml").read_text()  # runs from before the setting stay valid
    assert not (run / "adapter" / "calibration.json").exists()
    ev = ("--data", files / "test.json", "--precision", "fp32")
    code, _, err = run_cli("evaluate", "--adapter", run / "adapter", "--out", files / "raw", *ev)
    assert code == 0, err
    raw = json.loads((files / "raw" / "metrics.json").read_text())
    assert raw["calibrated"] is False and {"uauc", "gauc", "logloss", "brier", "ece"} <= set(raw)
    assert raw["uauc"] is None and raw["uauc_note"] == f"no user ids in {files / 'test.json'}"

    code, out, err = run_cli("calibrate", "--adapter", run, "--valid", files / "valid.json", "--method", "temperature",
                             "--precision", "fp32")
    assert code == 0, err
    assert "temperature" in out and (run / "adapter" / "calibration.json").is_file()

    code, out, err = run_cli("evaluate", "--adapter", run, "--out", files / "cal", "--plot", *ev)  # a run folder will do
    assert code == 0, err
    rec = json.loads((files / "cal" / "metrics.json").read_text())
    assert rec["calibrated"] is True and rec["calibration"]["method"] == "temperature"
    assert rec["auc"] == raw["auc"]  # AUC unchanged by construction
    assert rec["uncalibrated"]["logloss"] == pytest.approx(raw["logloss"], abs=1e-9)
    assert rec["uncalibrated"]["ece"] == pytest.approx(raw["ece"], abs=1e-9)
    rows = [json.loads(line) for line in (files / "cal" / "scores.jsonl").read_text().splitlines()]
    raw_rows = [json.loads(line) for line in (files / "raw" / "scores.jsonl").read_text().splitlines()]
    assert [r["raw_score"] for r in rows] == pytest.approx([r["score"] for r in raw_rows], abs=1e-9)
    assert (files / "cal" / "reliability.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "calibrated; uncalibrated" in out
    from tallrec.data import load_samples
    from tallrec.llm.evaluation import recorded_scores

    # a method reusing the evaluation's scores (the hybrid) gets the model's own, uncalibrated ones
    reused = recorded_scores(files / "cal", load_samples(files / "test.json"), run / "adapter")
    assert reused == pytest.approx([r["score"] for r in raw_rows], abs=1e-9)

    code, _, err = run_cli("evaluate", "--adapter", run / "adapter", "--out", files / "unc", "--uncalibrated", *ev)
    assert code == 0, err
    assert json.loads((files / "unc" / "metrics.json").read_text())["calibrated"] is False

    code, _, err = run_cli("predict", "--adapter", run / "adapter", "--data", files / "test.json",
                           "--out", files / "pred.json", "--precision", "fp32")
    assert code == 0, err
    pred = json.loads((files / "pred.json").read_text())
    assert pred["calibrated"] is True and pred["metrics"]["auc"] == rec["auc"]
    assert [p["p_yes"] for p in pred["predictions"]] == pytest.approx([r["score"] for r in rows], abs=1e-6)
    assert [p["p_yes_raw"] for p in pred["predictions"]] == pytest.approx([r["raw_score"] for r in rows], abs=1e-6)


def test_calibrated_at_the_end_of_training(run_cli, files, tiny_model_dir):
    run = _train(run_cli, files, tiny_model_dir, "run", "--calibrate", "temperature")
    cal = load_calibration(run / "adapter")
    hist = json.loads((run / "history.json").read_text())
    assert cal is not None and hist["calibration"]["params"] == cal.params
    assert "calibrate: temperature" in (run / "config.yaml").read_text()
    # the calibration was fitted on the best check's validation scores: its AUC is the best one
    from tallrec.data import load_samples
    from tallrec.llm.adapters import with_adapter
    from tallrec.llm.encoding import lm_template
    from tallrec.llm.models import load_model
    from tallrec.llm.scoring import Scorer

    lm = with_adapter(load_model(str(tiny_model_dir), "fp32"), run / "adapter")
    valid = load_samples(files / "valid.json")
    scores = Scorer(lm.model, lm.tokenizer, None, lm_template(lm)).score(valid)
    labels = [bool(s.label) for s in valid]
    assert roc_auc_score(labels, scores) == pytest.approx(hist["best_valid_auc"], abs=1e-6)
    assert cal.fitted_on["valid_before"]["logloss"] == pytest.approx(logloss(labels, scores), abs=1e-5)


def test_calibrate_bad_input(run_cli, files, tmp_path):
    code, _, err = run_cli("calibrate", "--adapter", tmp_path / "nothing", "--valid", files / "valid.json")
    one_line_error(code, err, "no such run or adapter folder")
    code, _, err = run_cli("calibrate", "--adapter", tmp_path, "--valid", files / "valid.json", "--method", "isotonic")
    one_line_error(code, err, "--method 'isotonic'")
