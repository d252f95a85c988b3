"""The benchmark scripts run end to end on a tiny model and report what they promise (no timing asserts)."""

import json
import runpy
from pathlib import Path

from tallrec.data import save_samples

from .helpers import synthetic

REPO = Path(__file__).resolve().parents[2]


def _main(script: str):
    return runpy.run_path(str(REPO / "benchmarks" / script), run_name="bench")["main"]


def test_score_bench_runs_and_agrees_with_the_reference(tmp_path, tiny_model_dir):
    save_samples(tmp_path / "s.json", synthetic(6, seed=3))
    out = tmp_path / "score.json"
    _main("score_bench.py")(["--n", "6", "--model", str(tiny_model_dir), "--precision", "fp32", "--batch-size", "2",
                             "--ref-batch-size", "3", "--reps", "1", "--data", str(tmp_path / "s.json"),
                             "--json", str(out)])
    fig = json.loads(out.read_text())
    for key in ("reference_samples_per_s", "tallrec_samples_per_s", "ratio", "gemm_peak_flops", "achieved_flops",
                "max_abs_diff", "peak_rss_bytes"):
        assert fig[key] > 0 or key == "max_abs_diff", key
    assert fig["n"] == 6 and fig["max_abs_diff"] < 1e-3  # generate's first step and the scorer agree in fp32


def test_train_bench_runs_all_sides(tmp_path, tiny_model_dir, shared_data, monkeypatch):
    monkeypatch.setenv("TALLREC_DATA_DIR", str(shared_data))
    out = tmp_path / "train.json"
    _main("train_bench.py")(["--steps", "2", "--batch-size", "2", "--model", str(tiny_model_dir),
                             "--precision", "fp32", "--json", str(out)])
    fig = json.loads(out.read_text())
    assert len(fig["plain_losses"]) == len(fig["tallrec_losses"]) == 2
    assert fig["max_loss_diff"] < 1e-3  # fp32, same LoRA init and samples: the same trajectory


def test_profile_ops_prints_an_operator_table(tiny_model_dir, shared_data, monkeypatch):
    monkeypatch.setenv("TALLREC_DATA_DIR", str(shared_data))
    for what in ("score", "train"):
        table = _main("profile_ops.py")([what, "--model", str(tiny_model_dir), "--precision", "fp32", "--n", "6",
                                         "--batch-size", "3", "--micro-batch-size", "2"])
        assert "aten::mm" in table or "aten::addmm" in table
