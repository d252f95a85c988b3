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
    # The reference pads and repeats the shared prefix in every row, so it did more matmul work.
    assert fig["work_ratio"] > 1 and fig["reference_tokens_generated"] >= 6


def test_reference_work_equals_the_scorers_on_one_unpadded_prompt(tiny_model_dir):
    from tallrec.models import load_model

    bench = runpy.run_path(str(REPO / "benchmarks" / "score_bench.py"), run_name="bench")
    model = load_model(str(tiny_model_dir), "fp32").model
    # One prompt of 9 tokens, no shared prefix, one generated token: the same pass both ways.
    assert bench["reference_flops"](model, [(1, 9, 1)]) == bench["scorer_flops"](model, [list(range(9))], 0)
    # Each further generated token adds one token's pass with the full LM head over its cache.
    extra = bench["reference_flops"](model, [(1, 9, 2)]) - bench["reference_flops"](model, [(1, 9, 1)])
    non_emb, emb = bench["_weights"](model)
    assert extra == 2 * (non_emb + emb) + bench["_attention_flops"](model, 9, 10)


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
