"""Issue 43: an adapter trained over a quantized base is scored over that base, unmerged, by every
command that loads it (bitsandbytes is faked: `load_model` is replaced by a recorder)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tallrec.core.errors import ModelError


class Loaded(Exception):
    """Raised by the fake load_model: the arguments it was called with."""


def fake_adapter(folder: Path, quantize: str = "8bit", precision: str = "fp16") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "adapter_config.json").write_text("{}")
    (folder / "tallrec-base.json").write_text(json.dumps(
        {"name": "some-base", "prompt": "alpaca", "config": {"quantize": quantize, "precision": precision}}))
    return folder


@pytest.fixture
def recorded(monkeypatch):
    import tallrec.llm.models as models

    def fake(name, precision="auto", device=None, quantize="none"):
        raise Loaded(name, precision, quantize)

    monkeypatch.setattr(models, "load_model", fake)
    for mod in ("tallrec.recommend.recommender", "tallrec.recommend.listwise", "tallrec.serve.engine"):
        monkeypatch.setattr(f"{mod}.load_model", fake, raising=False)


def loaded_with(call) -> tuple:
    with pytest.raises(Loaded) as e:
        call()
    return e.value.args


def test_recommender_listwise_and_serve_load_the_base_as_trained(tmp_path, recorded):
    from tallrec.recommend.listwise import ListwiseScorer
    from tallrec.recommend.recommender import Recommender
    from tallrec.serve.engine import AdapterSpec, load_engine

    run = fake_adapter(tmp_path / "run" / "adapter").parent
    want = ("some-base", "fp16", "8bit")
    assert loaded_with(lambda: Recommender.load(run)) == want
    assert loaded_with(lambda: ListwiseScorer.load(run)) == want
    assert loaded_with(lambda: load_engine([AdapterSpec(name="a", path=str(run))])) == want
    # an explicit precision wins over the recorded one; the quantization never changes
    assert loaded_with(lambda: Recommender.load(run, precision="fp32")) == ("some-base", "fp32", "8bit")


def test_evaluate_loads_the_base_as_trained(tmp_path, recorded, run_cli):
    from helpers import synthetic

    from tallrec.data.samples import samples_to_json

    data = tmp_path / "test.json"
    data.write_text(samples_to_json(synthetic(4)))
    run = fake_adapter(tmp_path / "run" / "adapter").parent
    with pytest.raises(Loaded) as e:
        run_cli("evaluate", "--adapter", run, "--data", data, "--out", tmp_path / "out")
    assert e.value.args == ("some-base", "fp16", "8bit")


def test_adapters_trained_on_different_quantizations_cannot_share_a_base(tmp_path):
    from tallrec.llm.adapters import load_base

    a, b = fake_adapter(tmp_path / "a", "8bit"), fake_adapter(tmp_path / "b", "none")
    with pytest.raises(ModelError, match="differently quantized"):
        load_base("some-base", [a, b])


def test_a_quantized_base_is_never_merged_into(tmp_path, tiny_model_dir):
    from peft import PeftModel, get_peft_model

    from tallrec.llm.adapters import with_adapter
    from tallrec.llm.models import load_model
    from tallrec.tuning.adapters import lora_config

    lm = load_model(str(tiny_model_dir), "fp32", "cpu")
    get_peft_model(lm.model, lora_config()).save_pretrained(str(tmp_path / "ad"))
    lm = load_model(str(tiny_model_dir), "fp32", "cpu")
    assert not isinstance(with_adapter(lm, tmp_path / "ad").model, PeftModel)  # merged, as before
    lm = load_model(str(tiny_model_dir), "fp32", "cpu")
    lm.model.hf_quantizer = object()  # what bitsandbytes loading leaves on the model
    assert isinstance(with_adapter(lm, tmp_path / "ad").model, PeftModel)


def test_calibration_after_a_resume_does_not_merge(monkeypatch, tmp_path):
    import tallrec.llm.adapters as adapters
    import tallrec.tuning.rec_tune as rec_tune
    from tallrec.tuning.config import TrainConfig

    seen = {}

    def fake_with_adapter(lm, adapter, merge=True, prompt=None):
        seen["merge"] = merge
        raise Loaded()

    monkeypatch.setattr(rec_tune, "load_model", lambda *a, **k: object())
    monkeypatch.setattr(adapters, "with_adapter", fake_with_adapter)
    with pytest.raises(Loaded):
        rec_tune._calibrate(TrainConfig(calibrate="platt"), tmp_path, [], None, print)
    assert seen["merge"] is False
