"""The LLM commands end to end on the tiny model, and their one-line errors."""

import json

import pytest
from helpers import synthetic

from tallrec.data import save_samples


@pytest.fixture
def files(tmp_path):
    save_samples(tmp_path / "train.json", synthetic(30, seed=0))
    save_samples(tmp_path / "valid.json", synthetic(16, seed=1))
    save_samples(tmp_path / "test.json", synthetic(12, seed=2))
    return tmp_path


def test_train_evaluate_predict(run_cli, files, tiny_model_dir, check_auc):
    code, out, err = run_cli("train", "--config", "paper", "--train", files / "train.json", "--valid", files / "valid.json",
                             "--out", files / "run", "--model", tiny_model_dir, "--precision", "fp32",
                             "--shots", 8, "--batch-size", 4, "--micro-batch-size", 4, "--epochs", 1,
                             "--eval-every", 1, "--lr", 1e-3)
    assert code == 0, err
    assert "best validation AUC" in out
    adapter = files / "run" / "adapter"
    # The base model is found from tallrec-base.json beside the adapter.
    code, out, err = run_cli("evaluate", "--adapter", adapter, "--data", files / "test.json", "--out", files / "ev",
                             "--precision", "fp32")
    assert code == 0, err
    m = json.loads((files / "ev" / "metrics.json").read_text())
    assert {"auc", "n", "positives", "model", "adapter", "data", "seed", "seconds", "versions"} <= set(m)
    assert m["n"] == 12 and m["adapter"] == str(adapter)
    auc = check_auc(files / "ev")
    code, out, err = run_cli("predict", "--adapter", adapter, "--data", files / "test.json",
                             "--out", files / "pred.json", "--precision", "fp32")
    assert code == 0, err
    preds = json.loads((files / "pred.json").read_text())["predictions"]
    assert len(preds) == 12 and all(0 < p["p_yes"] < 1 for p in preds)
    # predict scores what evaluate scored: same adapter, same samples
    scores = [json.loads(line)["score"] for line in (files / "ev" / "scores.jsonl").read_text().splitlines()]
    assert max(abs(p["p_yes"] - s) for p, s in zip(preds, scores)) < 1e-6, auc


def test_evaluate_untuned(run_cli, files, tiny_model_dir):
    code, out, err = run_cli("evaluate", "--adapter", "none", "--model", tiny_model_dir, "--data", files / "test.json",
                             "--out", files / "ev0", "--precision", "fp32")
    assert code == 0, err
    assert out.startswith("AUC ") and "on 12 samples" in out
    rec = json.loads((files / "ev0" / "metrics.json").read_text())
    assert rec["n"] == 12 and rec["adapter"] is None
    assert f"AUC {rec['auc']:.4f}" in out  # the printed figure is the recorded one


@pytest.mark.parametrize("args, message", [
    (["--adapter", "none", "--model", "/nonexistent/model"], "/nonexistent/model: no such model folder or file"),
    (["--adapter", "/nonexistent/adapter"], "no such run or adapter folder"),
    ([], "Missing option '--adapter'"),
])
def test_evaluate_bad_input(run_cli, files, args, message):
    code, out, err = run_cli("evaluate", "--data", files / "test.json", "--out", files / "x", *args)
    assert code == 1 and message in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1


def test_model_folder_that_is_not_a_causal_lm(run_cli, files, tmp_path):
    bad = tmp_path / "vit"
    bad.mkdir()
    (bad / "config.json").write_text(json.dumps({"model_type": "vit"}))
    code, _, err = run_cli("evaluate", "--adapter", "none", "--model", bad, "--data", files / "test.json", "--out", files / "x")
    assert code == 1 and "is not a causal language model" in err


def test_adapter_from_another_base_model(run_cli, files, tiny_model_dir, tmp_path):
    code, _, err = run_cli("train", "--config", "paper", "--train", files / "train.json", "--valid", files / "valid.json",
                           "--out", files / "run", "--model", tiny_model_dir, "--precision", "fp32", "--shots", 4,
                           "--batch-size", 4, "--micro-batch-size", 4, "--epochs", 1, "--eval-every", 1)
    assert code == 0, err
    meta = files / "run" / "adapter" / "tallrec-base.json"
    m = json.loads(meta.read_text())
    m["fingerprint"]["hidden_size"] = 4096
    meta.write_text(json.dumps(m))
    code, _, err = run_cli("evaluate", "--adapter", files / "run" / "adapter", "--model", tiny_model_dir,
                           "--data", files / "test.json", "--out", files / "x")
    assert code == 1 and "adapter was trained on base model" in err


def test_train_bad_input(run_cli, files, tiny_model_dir):
    common = ["--valid", files / "valid.json", "--model", tiny_model_dir, "--precision", "fp32"]
    code, _, err = run_cli("train", "--train", files / "train.json", "--out", files / "r", "--shots", 500, *common)
    assert code == 1 and "cannot draw 500 shots from a pool of 30" in err
    code, _, err = run_cli("train", "--train", files / "missing.json", "--out", files / "r", *common)
    assert code == 1 and "missing.json: no such file" in err
    cfg = files / "bad.yaml"
    cfg.write_text("learning_rate: 3\n")
    code, _, err = run_cli("train", "--train", files / "train.json", "--out", files / "r", "--config", cfg, *common)
    assert code == 1 and "unknown setting(s) learning_rate" in err
