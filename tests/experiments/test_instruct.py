"""Stage 1 (Alpaca tuning) on the tiny model, its data checks, and chaining into rec-tuning."""

import json

import pytest
import torch

from tallrec.core.config import load_config
from tallrec.core.errors import DataError, ModelError
from tallrec.llm.models import load_model
from tallrec.prompts.templates import load_template
from tallrec.tuning.adapters import lora_b_norm
from tallrec.tuning.examples import IGNORE
from tallrec.tuning.instruct import (
    InstructConfig,
    encode_record,
    load_alpaca_records,
    tune_instruct,
)
from tallrec.tuning.rec_tune import rec_tune

from .helpers import (
    TINY_INSTRUCT,
    alpaca_records,
    error_line,
    rec_config,
    samples,
    write_alpaca,
    write_instruct_yaml,
)


def _icfg(model_dir, **over):
    return load_config(InstructConfig, None, {**TINY_INSTRUCT, "model": str(model_dir), **over})


@pytest.fixture(scope="module")
def stage1(tiny_model_dir, tmp_path_factory):
    """A stage-1 adapter trained once on the fake Alpaca records (shared by the chaining tests)."""
    out = tmp_path_factory.mktemp("stage1")
    res = tune_instruct(_icfg(tiny_model_dir), alpaca_records(), out, lm=load_model(str(tiny_model_dir), "fp32"),
                        source="fake", log=lambda m: None)
    return out, res


def test_defaults_are_the_alpaca_lora_recipe():
    cfg = InstructConfig()
    assert (cfg.lr, cfg.epochs, cfg.cutoff, cfg.batch_size, cfg.micro_batch_size) == (3e-4, 3, 256, 128, 4)
    assert (cfg.lora.r, cfg.lora.alpha, cfg.lora.dropout, cfg.lora.targets) == (8, 16, 0.05, ["q_proj", "v_proj"])
    assert cfg.loss_on == "all"


@pytest.mark.parametrize("name", ["alpaca-paper.yaml", "alpaca-cpu.yaml"])
def test_packaged_configs_load(name):
    from tallrec.core.config import packaged_config

    cfg = load_config(InstructConfig, packaged_config("instruct", name))
    assert cfg.cutoff == 256 and cfg.lora.r == 8 and cfg.loss_on == "all"


def test_real_alpaca_file_loads(shared_data):
    recs = load_alpaca_records(shared_data / "alpaca" / "alpaca_data_2k.json")
    assert len(recs) == 2000 and all(set(r) == {"instruction", "input", "output"} for r in recs)


@pytest.mark.parametrize("content, message", [
    ("", "file is empty"),
    ("[{\"instruction\": ", "malformed JSON at line 1"),
    ("{}", "expected a JSON list of Alpaca records"),
    ("[]", "contains no records"),
    ('[{"instruction": "a", "output": "b"}, 3]', "record 1: expected an object"),
    ('[{"instruction": "a", "output": "b"}, {"instruction": "a"}]', "record 1: missing field 'output'"),
    ('[{"input": "x", "output": "b"}]', "record 0: missing field 'instruction'"),
    ('[{"instruction": 5, "output": "b"}]', "record 0: field 'instruction' must be a string, got int"),
    ('[{"instruction": "a", "input": null, "output": "b"}]', "record 0: field 'input' must be a string"),
    ('[{"instruction": "  ", "output": "b"}]', "record 0: field 'instruction' is empty"),
])
def test_bad_alpaca_files(tmp_path, content, message):
    p = tmp_path / "a.json"
    p.write_text(content)
    with pytest.raises(DataError) as e:
        load_alpaca_records(p)
    assert str(p) in str(e.value) and message in str(e.value) and "\n" not in str(e.value)


def test_missing_alpaca_file(tmp_path):
    with pytest.raises(DataError, match="no such file"):
        load_alpaca_records(tmp_path / "nope.json")


def test_encoding_uses_both_template_variants_and_loss_option(tiny_model_dir):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tiny_model_dir)
    t = load_template()
    with_input, no_input = alpaca_records()[1], alpaca_records()[2]
    cfg = _icfg(tiny_model_dir)
    a = encode_record(tok, with_input, cfg)
    assert tok.decode(a["input_ids"]).startswith(t.render(with_input["instruction"], with_input["input"]))
    assert "### Input:" in tok.decode(a["input_ids"])
    b = encode_record(tok, no_input, cfg)
    assert "### Input:" not in tok.decode(b["input_ids"])
    assert tok.decode(b["input_ids"]).startswith(t.render(no_input["instruction"]))
    assert a["labels"] == a["input_ids"]  # loss on the whole sequence (train_on_inputs=True)
    ans = encode_record(tok, with_input, _icfg(tiny_model_dir, loss_on="answer"))
    n_prompt = len(tok(t.render(with_input["instruction"], with_input["input"]))["input_ids"])
    assert ans["labels"][:n_prompt] == [IGNORE] * n_prompt and ans["labels"][n_prompt:] == ans["input_ids"][n_prompt:]
    assert encode_record(tok, alpaca_records()[3], cfg) is None  # longer than the cutoff


def test_tune_instruct_skips_long_records_and_keeps_final_adapter(stage1):
    out, res = stage1
    assert res.records == 6 and res.skipped == 1 and res.used == 5
    assert res.steps == 2  # 5 records, effective batch 4
    assert lora_b_norm(res.adapter) > 0
    info = json.loads((out / "instruct.json").read_text())
    assert info["skipped_longer_than_cutoff"] == 1 and info["trained_on"] == 5 and info["steps"] == 2
    assert (out / "config.yaml").exists()


def test_limit_draws_records(tmp_path, tiny_model_dir):
    res = tune_instruct(_icfg(tiny_model_dir, limit=2), alpaca_records(), tmp_path / "s",
                        lm=load_model(str(tiny_model_dir), "fp32"), log=lambda m: None)
    assert res.used == 2 and res.steps == 1 and res.skipped == 1


def test_all_records_too_long(tmp_path, tiny_model_dir):
    long = [{**r, "output": r["output"] + " and so on" * 40} for r in alpaca_records()]
    with pytest.raises(DataError, match="all 6 records are longer than the cutoff"):
        tune_instruct(_icfg(tiny_model_dir, cutoff=64), long, tmp_path / "s",
                      lm=load_model(str(tiny_model_dir), "fp32"), source="fake.json", log=lambda m: None)


def test_stage1_adapter_continues_into_rec_tuning(stage1, tmp_path, tiny_model_dir):
    """lr 0: the rec-tuned adapter is exactly the stage-1 adapter, so training started from it."""
    from safetensors.torch import load_file

    out, res = stage1
    from dataclasses import replace

    # lr 0 is refused by the config loader; built directly it makes training a no-op.
    cfg = replace(rec_config(tiny_model_dir, shots=8, init_adapter=str(res.adapter)), lr=0.0)
    run = rec_tune(cfg, samples(40), samples(16, seed=1), tmp_path / "tallrec", progress=False,
                   lm=load_model(str(tiny_model_dir), "fp32"))
    a = load_file(str(res.adapter / "adapter_model.safetensors"))
    b = load_file(str(run.adapter / "adapter_model.safetensors"))
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_train_init_adapter_cli(stage1, run_cli, tmp_path, tiny_model_dir):
    from safetensors.torch import load_file

    from tallrec.data import save_samples

    _, res = stage1
    save_samples(tmp_path / "train.json", samples(30))
    save_samples(tmp_path / "valid.json", samples(16, seed=1))
    code, out, err = run_cli("train", "--config", "paper", "--train", tmp_path / "train.json", "--valid", tmp_path / "valid.json",
                             "--out", tmp_path / "run", "--model", tiny_model_dir, "--precision", "fp32",
                             "--shots", 8, "--batch-size", 4, "--micro-batch-size", 4, "--epochs", 1,
                             "--eval-every", 1, "--lr", 5e-3, "--init-adapter", res.adapter)
    assert code == 0, err
    a = load_file(str(res.adapter / "adapter_model.safetensors"))
    b = load_file(str(tmp_path / "run" / "adapter" / "adapter_model.safetensors"))
    assert any(not torch.equal(a[k], b[k]) for k in a)  # rec-tuning moved it on


def test_mismatched_lora_shape_names_both_shapes(stage1, run_cli, tmp_path, tiny_model_dir):
    from tallrec.data import save_samples

    _, res = stage1
    save_samples(tmp_path / "train.json", samples(30))
    save_samples(tmp_path / "valid.json", samples(16, seed=1))
    (tmp_path / "r4.yaml").write_text("lora: {r: 4}\n")
    code, out, err = run_cli("train", "--config", "paper", "--train", tmp_path / "train.json", "--valid", tmp_path / "valid.json",
                             "--out", tmp_path / "run", "--model", tiny_model_dir, "--precision", "fp32",
                             "--config", tmp_path / "r4.yaml", "--shots", 8, "--epochs", 1,
                             "--init-adapter", res.adapter)
    line = error_line(code, err)
    assert "adapter shape {'r': 8, 'targets': ['q_proj', 'v_proj']}" in err
    assert "configured LoRA shape {'r': 4, 'targets': ['q_proj', 'v_proj']}" in line
    with pytest.raises(ModelError, match="'r': 8.*'r': 4"):
        rec_tune(rec_config(tiny_model_dir, shots=8, lora={"r": 4}, init_adapter=str(res.adapter)),
                 samples(40), samples(16, seed=1), tmp_path / "run2", progress=False)


def test_tune_instruct_cli(run_cli, tmp_path, tiny_model_dir):
    data = write_alpaca(tmp_path / "alpaca.json")
    cfg = write_instruct_yaml(tmp_path / "i.yaml")
    code, out, err = run_cli("tune-instruct", "--data", data, "--out", tmp_path / "s1", "--config", cfg,
                             "--model", tiny_model_dir, "--limit", 4, "--lr", 1e-3)
    assert code == 0, err
    assert "skipped" in out and "adapter:" in out
    assert (tmp_path / "s1" / "adapter" / "adapter_config.json").exists()
    info = json.loads((tmp_path / "s1" / "instruct.json").read_text())
    assert info["trained_on"] == 4 and info["config"]["lr"] == 1e-3 and "sha256" in info["data"]


@pytest.mark.parametrize("args, message", [
    (["--data", "/nonexistent/alpaca.json"], "/nonexistent/alpaca.json: no such file"),
    (["--config", "/nonexistent/x.yaml"], "/nonexistent/x.yaml: no such config file"),
    (["--loss-on", "prompt"], "--loss-on: 'prompt' is not one of all, answer"),
    (["--limit", "0"], "--limit: must be at least 1, got 0"),
])
def test_tune_instruct_bad_input(run_cli, tmp_path, tiny_model_dir, args, message):
    data = write_alpaca(tmp_path / "alpaca.json")
    code, out, err = run_cli("tune-instruct", "--data", data, "--out", tmp_path / "s1", "--model", tiny_model_dir,
                             *args)
    assert code == 1 and message in error_line(code, err)


def test_tune_instruct_bad_record_cli(run_cli, tmp_path, tiny_model_dir):
    data = write_alpaca(tmp_path / "alpaca.json", [{"instruction": "a", "output": "b"}, {"instruction": "c"}])
    code, _, err = run_cli("tune-instruct", "--data", data, "--out", tmp_path / "s1", "--model", tiny_model_dir)
    assert code == 1 and f"{data}: record 1: missing field 'output'" in error_line(code, err)
