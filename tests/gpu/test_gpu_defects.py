"""Defects that only show on CUDA machines (issue 43), checked here with a faked torch.cuda."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from tallrec.core.errors import ModelError, TallrecError


def test_each_rank_sets_its_cuda_device_before_the_process_group(monkeypatch):
    """NCCL collectives run on the current device: without set_device(LOCAL_RANK) every rank used cuda:0."""
    import torch.distributed as dist

    from tallrec.core import distributed

    calls = []
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("LOCAL_RANK", "1")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "set_device", lambda d: calls.append(("set_device", d)))
    monkeypatch.setattr(dist, "is_initialized", lambda: False)
    monkeypatch.setattr(dist, "init_process_group", lambda backend, **kw: calls.append(("init", backend)))
    monkeypatch.setattr(dist, "destroy_process_group", lambda: calls.append(("destroy",)))
    with distributed.process_group() as joined:
        assert joined
    assert calls == [("set_device", 1), ("init", "nccl"), ("destroy",)]


def test_auto_precision_is_fp16_where_bf16_is_only_emulated(monkeypatch):
    """V100/T4: is_bf16_supported() says True by default (emulation); auto must pick fp16 there."""
    from tallrec.llm.models import pick_dtype

    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda including_emulation=True: including_emulation)
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda device=None: (7, 0))
    assert pick_dtype("auto", torch.device("cuda", 0)) == torch.float16
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda including_emulation=True: True)
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda device=None: (8, 0))
    assert pick_dtype("auto", torch.device("cuda", 0)) == torch.bfloat16


@pytest.mark.parametrize("world, micro, ok", [(1, 4, True), (2, 4, True), (3, 4, False), (3, 1, False), (4, 32, True)])
def test_a_process_count_that_does_not_divide_the_batch_is_refused(world, micro, ok):
    """128 over 3 processes of micro 4 gave 10 accumulation steps: 120 samples per step, silently."""
    from tallrec.tuning.trainer import accumulation_steps

    if ok:
        assert accumulation_steps(128, micro, world) * micro * world == 128
    else:
        with pytest.raises(TallrecError, match="128") as e:
            accumulation_steps(128, micro, world)
        assert "\n" not in str(e.value)


def test_the_export_hint_points_to_something_installed():
    """A wheel has no benchmarks/ folder: the hint names a module that ships with tallrec."""
    import inspect

    from tallrec.llm import models

    src = inspect.getsource(models)
    assert "benchmarks/gpu_check.py" not in src
    from tallrec.llm import export  # noqa: F401 - the shipped export `python -m tallrec.llm.export DIR`


def test_top_k_refuses_a_nan_score():
    from tallrec.recommend.records import top_k

    with pytest.raises(ModelError, match="candidate 1"):
        top_k([0.2, float("nan"), 0.9], 2)


def test_scorer_stops_on_a_nan_score_naming_the_sample(monkeypatch, tiny_model_dir):
    from tallrec.llm.models import load_model
    from tallrec.llm.scoring import ScoreOptions, Scorer

    lm = load_model(str(tiny_model_dir), "fp32", "cpu")
    scorer = Scorer(lm.model, lm.tokenizer, ScoreOptions(progress=False, batch_size=2))
    prompts = [[1, 2, 3, 4], [1, 2, 3, 5, 6], [1, 2, 3, 7]]
    real = scorer._score_batch

    def poisoned(rows, plen, cache, call):
        out = real(rows, plen, cache, call)
        return np.where([r[-1] == 6 for r in rows], np.nan, out)

    monkeypatch.setattr(scorer, "_score_batch", poisoned)
    with pytest.raises(ModelError, match="sample 1") as e:
        scorer.score_ids(prompts)
    assert "\n" not in str(e.value)


def test_gpu_check_runs_one_process_per_gpu(monkeypatch):
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[2] / "benchmarks" / "gpu_check.py"
    spec = importlib.util.spec_from_file_location("gpu_check_under_test", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 4)
    assert mod.processes("cuda") == 4
    assert mod.processes("cpu") == 1


def test_missing_lora_targets_are_one_line_naming_the_layers_there_are(tiny_model_dir):
    from tallrec.llm.models import load_model
    from tallrec.tuning.adapters import lora_targets

    lm = load_model(str(tiny_model_dir), "fp32", "cpu")
    assert lora_targets(lm.model, ("q_proj", "v_proj")) == ("q_proj", "v_proj")
    with pytest.raises(ModelError, match="qkv_proj do not exist.*q_proj") as e:
        lora_targets(lm.model, ("qkv_proj",))
    assert "\n" not in str(e.value)
