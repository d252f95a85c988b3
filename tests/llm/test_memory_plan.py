"""`tallrec plan`: the memory estimate read from a model's config, and `train` stopping before it loads."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
from helpers import one_line_error, synthetic

from tallrec.core.config import load_config, resolve_config
from tallrec.core.errors import TallrecError
from tallrec.llm.memory_plan import (
    GIB,
    Setup,
    estimate,
    lora_params,
    make_plan,
    parse_memory,
    read_shape,
    shape_from_config,
)
from tallrec.tuning.config import TrainConfig

LLAMA_7B = {"architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": 4096,
            "intermediate_size": 11008, "num_hidden_layers": 32, "num_attention_heads": 32,
            "num_key_value_heads": 32, "vocab_size": 32000, "tie_word_embeddings": False,
            "max_position_embeddings": 2048}


@pytest.fixture
def llama7b(tmp_path) -> Path:
    """A LLaMA-7B-shaped folder: config.json only, no weights (the plan never reads any)."""
    folder = tmp_path / "llama-7b"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps(LLAMA_7B))
    return folder


def test_llama_7b_shape_counts_its_parameters():
    shape = shape_from_config(LLAMA_7B, "llama-7b")
    assert shape.params == 6_738_415_616  # LLaMA-7B's published count
    assert lora_params(shape, 8, ("q_proj", "v_proj")) == 4_194_304  # peft's print_trainable_parameters


def test_paper_recipe_fits_24gb_with_8bit_and_checkpointing_and_not_without(llama7b):
    paper = resolve_config("paper", "rec")
    cfg = load_config(TrainConfig, paper, {"model": str(llama7b)})
    assert (cfg.batch_size, cfg.cutoff) == (128, 512)
    levers = load_config(TrainConfig, paper, {"model": str(llama7b), "quantize": "8bit",
                                              "gradient_checkpointing": True})
    fits = make_plan(levers, device="cuda", memory=parse_memory("24GiB"))
    assert fits.fits and fits.fix is None and fits.peak_bytes < 24 * GIB
    plain = make_plan(cfg, device="cuda", memory=parse_memory("24GiB"))
    assert not plain.fits and plain.peak_bytes > 24 * GIB
    assert plain.fix == {"gradient_checkpointing": True}  # the first lever of the ordered list
    assert plain.without_checkpointing == plain.peak_bytes > plain.with_checkpointing
    assert plain.weights_bytes["8bit"] < plain.weights_bytes["bf16"] / 1.7
    assert plain.weights_bytes["4bit"] < plain.weights_bytes["8bit"] / 1.5
    # 8-bit alone saves the weights but leaves the activations: still too big.
    only_8bit = make_plan(replace(cfg, quantize="8bit"), device="cuda", memory=24 * GIB)
    assert not only_8bit.fits


def test_fix_goes_down_the_levers_in_order(llama7b):
    cfg = load_config(TrainConfig, resolve_config("paper", "rec"), {"model": str(llama7b)})
    for memory, first in ((24, {"gradient_checkpointing": True}),
                          (16, {"gradient_checkpointing": True, "quantize": "8bit"}),
                          (12, {"gradient_checkpointing": True, "quantize": "4bit"})):
        assert make_plan(cfg, device="cuda", memory=memory * GIB).fix == first, memory
    small = make_plan(cfg, device="cuda", memory=6 * GIB).fix
    assert small["quantize"] == "4bit" and small["micro_batch_size"] < 32 and 128 % small["micro_batch_size"] == 0


def test_checkpointing_keeps_one_layer_and_the_layer_inputs():
    shape = shape_from_config(LLAMA_7B, "llama-7b")
    s = Setup(device="cuda", value_bytes=2, micro_batch=4, seq=512)
    full = estimate(shape, s)["activations"]
    ckpt = estimate(shape, replace(s, gradient_checkpointing=True))["activations"]
    assert full == 32 * 4 * 512 * 4096 * 17 * 2
    assert ckpt == 4 * 512 * 4096 * 17 * 2 + 32 * 4 * 512 * 4096 * 2


def test_registry_model_shape_from_gguf_metadata_equals_the_config(tiny_model_dir):
    from tallrec.llm.memory_plan import shape_from_gguf
    from tallrec.llm.models import convert_registry_model, registry_gguf

    from_gguf = shape_from_gguf(registry_gguf("smollm2-135m"), "smollm2-135m")
    from_config = read_shape(str(convert_registry_model("smollm2-135m")))
    assert from_gguf.params == from_config.params == 134_515_008
    assert replace(from_gguf, name="x", stored_bytes=0) == replace(from_config, name="x", stored_bytes=0)
    assert from_gguf.stored_bytes < from_config.stored_bytes  # Q4_1 GGUF against the fp32 conversion


@pytest.mark.parametrize("text, expected", [("24GiB", 24 * GIB), ("24GB", 24 * 10 ** 9), ("512MiB", 512 << 20),
                                            ("16g", 16 * GIB), ("1000", 1000)])
def test_parse_memory(text, expected):
    assert parse_memory(text) == expected


def test_parse_memory_refuses_nonsense():
    with pytest.raises(TallrecError, match="not a size"):
        parse_memory("lots")


def test_plan_cli_table_and_json(run_cli, llama7b):
    code, out, err = run_cli("plan", "--model", llama7b, "--config", "paper", "--gpu-memory", "24GiB")
    assert code == 0, err
    assert "6,738.4 M parameters" in out and "does NOT fit" in out and "fix         --gradient-checkpointing" in out
    for mode in ("fp32", "bf16", "fp16", "8bit", "4bit"):
        assert f"{mode} " in out
    code, out, err = run_cli("plan", "--model", llama7b, "--config", "paper", "--gpu-memory", "24GiB", "--json",
                             "--quantize", "8bit", "--gradient-checkpointing")
    assert code == 0, err
    d = json.loads(out)
    assert {"params", "weights_bytes", "peak_bytes", "fits", "fix"} <= set(d)
    assert d["params"] == 6_738_415_616 and d["fits"] is True and d["fix"] is None


def test_plan_cli_bad_model_and_memory_are_one_line(run_cli, tmp_path):
    one_line_error(*run_cli("plan", "--model", tmp_path / "nothing")[::2], "no registry model")
    one_line_error(*run_cli("plan", "--model", "smollm2-135m", "--gpu-memory", "lots")[::2], "--gpu-memory")


def test_train_stops_before_loading_when_the_plan_does_not_fit(run_cli, tmp_path, llama7b):
    """A 7B folder without weights: the plan refuses it on this host before any load is tried."""
    from tallrec.data import save_samples
    from tallrec.llm.memory_plan import device_memory

    save_samples(tmp_path / "t.json", synthetic(20, seed=0))
    save_samples(tmp_path / "v.json", synthetic(20, seed=1))
    host = device_memory("cpu")[0]
    shape = read_shape(str(llama7b))
    if shape.params * 4 < host:
        pytest.skip("this host has room for a 7B model in fp32")
    code, out, err = run_cli("train", "--train", tmp_path / "t.json", "--valid", tmp_path / "v.json",
                             "--out", tmp_path / "run", "--model", llama7b, "--precision", "fp32")
    line = one_line_error(code, err, "training needs about", "try --gradient-checkpointing", "--force")
    assert "GiB" in line and not (tmp_path / "run" / "adapter").exists()


def test_on_a_cpu_loading_holds_the_weights_file_beside_the_weights(tmp_path):
    """A folder's real weight files count; with checkpointing the load can be the peak."""
    folder = tmp_path / "m"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps({**LLAMA_7B, "dtype": "float32"}))
    shape = read_shape(str(folder))
    assert shape.stored_bytes == shape.params * 4  # no weight files: the config's dtype
    (folder / "model.safetensors").write_bytes(b"\0" * 1000)
    assert read_shape(str(folder)).stored_bytes == 1000
    s = Setup(device="cpu", value_bytes=4, micro_batch=1, seq=64, gradient_checkpointing=True)
    terms = estimate(shape, s)
    assert terms["loading"] == terms["runtime"] + shape.stored_bytes + terms["weights"] == terms["peak"]
    assert estimate(shape, replace(s, device="cuda"))["loading"] == 0
