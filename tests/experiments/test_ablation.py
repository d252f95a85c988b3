"""The AT / R / TALLRec ablation on the tiny model with synthetic data: cells, summary, resume, errors."""

import json

import pytest

from tallrec.core.config import load_config
from tallrec.core.errors import TallrecError
from tallrec.experiments.ablation import run_ablation
from tallrec.tuning.instruct import InstructConfig

from .helpers import (
    TINY_INSTRUCT,
    domain_data,
    error_line,
    rec_config,
    write_alpaca,
    write_data_dir,
    write_rec_yaml,
)


def _quiet(msg):
    pass


@pytest.fixture(scope="module")
def ablation_run(tiny_model_dir, tmp_path_factory):
    """One ablation: stage 1 trained here from a fake Alpaca file, K in {4, 8}, seed 0."""
    root = tmp_path_factory.mktemp("ablation")
    alpaca = write_alpaca(root / "alpaca.json")
    kw = dict(rec_config=rec_config(tiny_model_dir), alpaca=alpaca,
              instruct_config=load_config(InstructConfig, None, TINY_INSTRUCT), test_limit=10,
              data=domain_data("movie"))
    logs = []
    summary = run_ablation(root / "out", "movie", "4,8", "0", log=logs.append, **kw)
    return root / "out", summary, kw, logs


def test_cells_and_summary(ablation_run):
    out, summary, _, logs = ablation_run
    for arm in ("AT", "R", "TALLRec"):
        for k in (4, 8):
            m = json.loads((out / arm / f"k{k}-s0" / "metrics.json").read_text())
            assert m["n"] == 10 and 0 <= m["auc"] <= 1 and m["arm"] == arm and m["shots"] == k
            assert (out / arm / f"k{k}-s0" / "scores.jsonl").exists()
    # AT is evaluated once and copied; R and TALLRec train on the same draw, TALLRec from stage 1.
    at4, at8 = (json.loads((out / "AT" / f"k{k}-s0" / "metrics.json").read_text()) for k in (4, 8))
    assert at4["auc"] == at8["auc"] and at8["copied_from"].endswith("k4-s0") and at4["rec_tuned"] is False
    assert (out / "stage1" / "adapter" / "adapter_config.json").exists()
    assert json.loads((out / "stage1" / "instruct.json").read_text())["skipped_longer_than_cutoff"] == 1
    for k in (4, 8):
        r = (out / "R" / f"k{k}-s0" / "train_samples.json").read_text()
        assert r == (out / "TALLRec" / f"k{k}-s0" / "train_samples.json").read_text()
        assert "init_adapter: null" in (out / "R" / f"k{k}-s0" / "config.yaml").read_text()
        assert str(out / "stage1" / "adapter") in (out / "TALLRec" / f"k{k}-s0" / "config.yaml").read_text()
    assert set(summary["table"]) == {"AT", "R", "TALLRec"} and set(summary["table"]["R"]) == {"4", "8"}
    assert summary["table"]["AT"]["4"] == {"mean": at4["auc"], "sd": None, "seeds": 1}
    assert len(summary["cells"]) == 6
    assert json.loads((out / "summary.json").read_text()) == summary
    md = (out / "summary.md").read_text()
    assert "| arm | K=4 | K=8 |" in md and "| TALLRec |" in md
    assert json.loads((out / "ablation.json").read_text())["settings"]["domain"] == "movie"
    assert any("(1/7) stage1" in l for l in logs) and any("TALLRec k8-s0: AUC" in l for l in logs)


def test_resume_skips_finished_cells(ablation_run, monkeypatch):
    out, summary, kw, _ = ablation_run
    import tallrec.experiments.ablation as ab

    def boom(*a, **k):
        raise AssertionError("nothing should be trained again")

    monkeypatch.setattr(ab, "rec_tune", boom)
    monkeypatch.setattr(ab, "tune_instruct", boom)
    (out / "R" / "k8-s0" / "metrics.json").unlink()  # evaluation lost, training kept
    logs = []
    again = run_ablation(out, "movie", "4,8", "0", log=logs.append, **kw)
    assert sum("skipped" in l for l in logs) == 6 and any("R k8-s0: training done before" in l for l in logs)
    assert again["table"] == summary["table"]


def test_resume_with_other_settings_is_refused(ablation_run):
    out, _, kw, _ = ablation_run
    with pytest.raises(TallrecError, match="already holds an ablation with other settings .*test_limit"):
        run_ablation(out, "movie", "4", "0", log=_quiet, **{**kw, "test_limit": 11})


def test_given_adapter_with_other_shape_is_refused_before_training(ablation_run, tiny_model_dir, tmp_path):
    out, _, kw, _ = ablation_run
    with pytest.raises(TallrecError, match=r"adapter shape \{'r': 8.*configured LoRA shape \{'r': 4"):
        run_ablation(tmp_path / "x", "movie", "4", "0", rec_config=rec_config(tiny_model_dir, lora={"r": 4}),
                     instruct_adapter=out / "stage1" / "adapter", data=kw["data"], log=_quiet)
    assert not (tmp_path / "x" / "R").exists()


def test_ablation_cli_with_given_adapter(ablation_run, run_cli, tiny_model_dir, tmp_path):
    """The command on a fake data folder (MovieLens built from a fake ml-100k), stage 1 given."""
    stage1, _, _, _ = ablation_run
    data = write_data_dir(tmp_path / "data", book=False)
    cfg = write_rec_yaml(tmp_path / "rec.yaml")
    code, out, err = run_cli("ablation", "--domain", "movie", "--shots", "4", "--seeds", "1", "--out", tmp_path / "abl",
                             "--instruct-adapter", stage1 / "stage1" / "adapter", "--config", cfg,
                             "--model", tiny_model_dir, "--test-limit", 8, "--data-dir", data)
    assert code == 0, err
    assert "| arm | K=4 |" in out and "(3/3) TALLRec k4-s1" in out
    s = json.loads((tmp_path / "abl" / "summary.json").read_text())
    assert len(s["cells"]) == 3 and s["test_samples"] == 8 and s["stage1"]["adapter"].endswith("adapter")


A = ["--instruct-adapter", "/nonexistent/adapter"]  # checked after the options and the data


@pytest.mark.parametrize("args, message", [
    (["--domain", "music", *A], "--domain 'music': expected movie or book"),
    (["--domain", "movie", "--shots", "16,x", *A], "--shots '16,x': expected comma-separated whole numbers"),
    (["--domain", "movie", "--shots", "4,", *A], "--shots '4,': expected comma-separated whole numbers"),
    (["--domain", "movie", "--shots", "0", *A], "--shots: 0 is not allowed"),
    (["--domain", "movie", "--seeds", "-1", *A], "--seeds: -1 is not allowed"),
    (["--domain", "movie", "--shots", "999", *A], "--shots 999: the movie training pool has only 64 samples"),
    (["--domain", "movie", "--shots", "4", "--test-limit", "0", *A], "--test-limit must be positive"),
    (["--domain", "movie", "--shots", "4", *A], "/nonexistent/adapter: not a LoRA adapter folder"),
    (["--domain", "movie", "--shots", "4", "--alpaca", "/nonexistent/alpaca.json"], "/nonexistent/alpaca.json: no such file"),
    (["--domain", "movie", "--shots", "4"], "give exactly one of --instruct-adapter DIR"),
    (["--domain", "movie", "--config", "/nonexistent/rec.yaml", *A], "/nonexistent/rec.yaml: no such config file"),
    (["--domain", "movie", "--instruct-config", "alpaca-cpu", *A], "--instruct-config only applies with --alpaca"),
])
def test_ablation_bad_input(run_cli, tmp_path, args, message):
    data = write_data_dir(tmp_path / "data", book=False)
    code, _, err = run_cli("ablation", *args, "--out", tmp_path / "o", "--data-dir", data)
    assert message in error_line(code, err)


def test_ablation_missing_data(run_cli, tmp_path):
    code, _, err = run_cli("ablation", "--domain", "book", "--alpaca", write_alpaca(tmp_path / "a.json"),
                           "--out", tmp_path / "o", "--data-dir", tmp_path / "empty")
    assert "TALLRec book file not found" in error_line(code, err)
