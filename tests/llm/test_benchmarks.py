"""The benchmark scripts run end to end on a tiny model and report what they promise (no timing asserts)."""

import json
import runpy
from pathlib import Path

import pytest
from helpers import synthetic

from tallrec.data import save_samples

REPO = Path(__file__).resolve().parents[2]


def _main(script: str):
    return runpy.run_path(str(REPO / "benchmarks" / script), run_name="bench")["main"]


@pytest.mark.integration  # a benchmark smoke run
def test_score_bench_runs_and_agrees_with_the_reference(tmp_path, tiny_model_dir):
    save_samples(tmp_path / "s.json", synthetic(6, seed=3))
    out = tmp_path / "score.json"
    _main("score_bench.py")(["--n", "6", "--model", str(tiny_model_dir), "--precision", "fp32", "--batch-size", "2",
                             "--ref-batch-size", "3", "--reps", "1", "--data", str(tmp_path / "s.json"),
                             "--json", str(out)])
    fig = json.loads(out.read_text())
    assert {"reference_samples_per_s", "tallrec_samples_per_s", "ratio", "gemm_peak_flops", "achieved_flops",
            "peak_rss_bytes"} <= fig.keys()
    assert fig["n"] == 6 and fig["max_abs_diff"] < 1e-3  # generate's first step and the scorer agree in fp32
    # The reference pads and repeats the shared prefix in every row, so it did more matmul work.
    assert fig["work_ratio"] > 1 and fig["reference_tokens_generated"] >= 6
    # The ceiling is the ratio at 100 % of the peak: no scorer that runs below the peak can pass it.
    assert fig["ratio"] <= fig["ceiling_ratio"] * (1 + 1e-9)
    assert 0 < fig["minimal_flops"] < fig["tallrec_flops"]


def test_reference_work_equals_the_scorers_on_one_unpadded_prompt(tiny_model_dir):
    from tallrec.llm.models import load_model

    bench = runpy.run_path(str(REPO / "benchmarks" / "score_bench.py"), run_name="bench")
    model = load_model(str(tiny_model_dir), "fp32").model
    # One prompt of 9 tokens, no shared prefix, one generated token: the same pass both ways.
    assert bench["reference_flops"](model, [(1, 9, 1)]) == bench["scorer_flops"](model, [list(range(9))], 0)
    # Each further generated token adds one token's pass with the full LM head over its cache.
    extra = bench["reference_flops"](model, [(1, 9, 2)]) - bench["reference_flops"](model, [(1, 9, 1)])
    non_emb, emb = bench["_weights"](model)
    assert extra == 2 * (non_emb + emb) + bench["_attention_flops"](model, 9, 10)


def test_minimal_work_counts_a_prefix_tree_and_the_last_layer_at_the_last_position(tiny_model_dir):
    from tallrec.llm.models import load_model

    bench = runpy.run_path(str(REPO / "benchmarks" / "score_bench.py"), run_name="bench")
    model = load_model(str(tiny_model_dir), "fp32").model
    non_emb, _ = bench["_weights"](model)
    last = bench["_last_layer_per_token"](model)
    layers, per_query = model.config.num_hidden_layers, 4 * model.config.hidden_size
    assert 0 < last < non_emb / layers  # q, o and the MLP of one layer: most of a layer, not all of it

    def saved_in_last_layer(depths):  # positions that are no prompt's last run only k/v in the last layer
        return sum(2 * last + per_query * d for d in depths)

    # Only the prefix all prompts share is shared: the tree saves nothing beyond the last layer.
    two = [[1, 2, 3], [1, 2, 4]]
    assert bench["minimal_flops"](model, two) == bench["scorer_flops"](model, two, 2) - saved_in_last_layer([1, 2])
    # Two prompts also share tokens 2 and 3 beyond the common prefix [1]: they run once, not twice.
    three = [[1, 2, 3, 5], [1, 2, 3, 6], [1, 7]]
    shared_twice = 2 * (2 * non_emb) + layers * per_query * (2 + 3)
    assert bench["minimal_flops"](model, three) == (bench["scorer_flops"](model, three, 1) - shared_twice
                                                   - saved_in_last_layer([1, 2, 3]))


@pytest.mark.integration  # a benchmark smoke run
def test_train_bench_runs_all_sides(tmp_path, tiny_model_dir, shared_data, monkeypatch):
    monkeypatch.setenv("TALLREC_DATA_DIR", str(shared_data))
    out = tmp_path / "train.json"
    _main("train_bench.py")(["--steps", "2", "--batch-size", "2", "--model", str(tiny_model_dir),
                             "--precision", "fp32", "--json", str(out)])
    fig = json.loads(out.read_text())
    assert len(fig["plain_losses"]) == len(fig["tallrec_losses"]) == 2
    assert fig["max_loss_diff"] < 1e-3  # fp32, same LoRA init and samples: the same trajectory


@pytest.mark.integration  # a benchmark smoke run
def test_profile_ops_prints_an_operator_table(tiny_model_dir, shared_data, monkeypatch):
    monkeypatch.setenv("TALLREC_DATA_DIR", str(shared_data))
    for what in ("score", "train"):
        table = _main("profile_ops.py")([what, "--model", str(tiny_model_dir), "--precision", "fp32", "--n", "6",
                                         "--batch-size", "3", "--micro-batch-size", "2"])
        assert "aten::mm" in table or "aten::addmm" in table
