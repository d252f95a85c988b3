"""Adapters carry the prompt style they were trained with: saved beside the weights, read back
when they load, and any other style refused with both names before scoring."""

import json

import pytest
from helpers import synthetic

from tallrec.core.errors import ModelError
from tallrec.llm.adapters import adapter_prompt, check_adapter_prompt, with_adapter
from tallrec.llm.encoding import lm_template
from tallrec.llm.evaluation import evaluate
from tallrec.llm.models import load_model
from tallrec.prompts.registry import load_template
from tallrec.tuning.adapters import save_adapter
from tallrec.tuning.config import TrainConfig


@pytest.fixture(scope="module")
def stats_adapter(tiny_model_dir, tmp_path_factory):
    from peft import get_peft_model

    from tallrec.tuning.adapters import lora_config

    lm = load_model(str(tiny_model_dir), "fp32")
    model = get_peft_model(lm.model, lora_config())
    for name, p in model.named_parameters():
        if "lora_B" in name:
            p.data.fill_(0.01)  # a non-empty adapter (peft starts B at zero)
    path = tmp_path_factory.mktemp("adapters") / "stats"
    save_adapter(model, path, lm, {"config": TrainConfig(prompt="stats").to_dict()})
    return path


def test_the_style_is_saved_and_read_back(stats_adapter, tiny_model_dir):
    assert json.loads((stats_adapter / "tallrec-base.json").read_text())["prompt"] == "stats"
    assert adapter_prompt(stats_adapter) == "stats"
    lm = with_adapter(load_model(str(tiny_model_dir), "fp32"), stats_adapter)
    assert lm.prompt == "stats"
    assert lm_template(lm) == load_template("stats")
    rec = evaluate(lm, synthetic(6, seed=3), None, data="synthetic")
    assert rec["prompt"] == "stats"


def test_another_style_is_refused_with_both_names(stats_adapter, tiny_model_dir):
    check_adapter_prompt(stats_adapter, "stats")
    check_adapter_prompt(stats_adapter, None)
    with pytest.raises(ModelError) as e:
        with_adapter(load_model(str(tiny_model_dir), "fp32"), stats_adapter, prompt="alpaca")
    assert "trained with prompt style 'stats', not 'alpaca'" in str(e.value) and "\n" not in str(e.value)


def test_adapters_saved_before_styles_read_as_alpaca(stats_adapter, tmp_path):
    import shutil

    old = tmp_path / "old"
    shutil.copytree(stats_adapter, old)
    meta = json.loads((old / "tallrec-base.json").read_text())
    meta.pop("prompt")
    meta["config"].pop("prompt")
    (old / "tallrec-base.json").write_text(json.dumps(meta))
    assert adapter_prompt(old) == "alpaca"


def test_untuned_model_takes_a_style(tiny_model_dir):
    lm = with_adapter(load_model(str(tiny_model_dir), "fp32"), None, prompt="stats")
    assert lm.prompt == "stats" and lm_template(lm) == load_template("stats")
    with pytest.raises(Exception, match="unknown prompt style 'nope'"):
        with_adapter(lm, None, prompt="nope")
