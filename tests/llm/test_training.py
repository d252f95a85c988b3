import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from tallrec.config import TrainConfig, load_config
from tallrec.data import save_samples
from tallrec.errors import ModelError, TallrecError
from tallrec.models import load_model
from tallrec.scoring import ScoreOptions, Scorer
from tallrec.training import lora_b_norm, rec_tune

from .helpers import synthetic

TINY = dict(shots=16, batch_size=4, micro_batch_size=4, epochs=2, eval_every=2, patience=5, valid_size=12,
            lr=5e-3, precision="fp32")


def _cfg(model_dir, **over):
    return load_config(TrainConfig, None, {**TINY, "model": str(model_dir), **over})


def _train(tmp_path, model_dir, name="run", **over):
    cfg = _cfg(model_dir, **over)
    return rec_tune(cfg, synthetic(40, seed=0), synthetic(20, seed=1), tmp_path / name, progress=False)


def test_rec_tune_saves_a_loadable_nonempty_adapter(tmp_path, tiny_model_dir):
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    res = _train(tmp_path, tiny_model_dir)
    assert res.steps == 8 and len(res.history) == 4
    assert (tmp_path / "run" / "config.yaml").exists() and (tmp_path / "run" / "history.json").exists()
    assert lora_b_norm(res.adapter) > 0  # the authors' code silently saved empty adapters
    base = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    model = PeftModel.from_pretrained(base, str(res.adapter))  # plain peft loading works
    assert any("lora_B" in n for n, _ in model.named_parameters())
    hist = json.loads((tmp_path / "run" / "history.json").read_text())
    assert hist["best_valid_auc"] == max(c["valid_auc"] for c in hist["checks"])


def test_same_seed_gives_identical_scores(tmp_path, tiny_model_dir):
    scores = []
    for name in ("a", "b"):
        res = _train(tmp_path, tiny_model_dir, name=name, epochs=1)
        lm = load_model(str(tiny_model_dir), precision="fp32", device="cpu")
        from tallrec.evaluation import with_adapter

        lm = with_adapter(lm, res.adapter)
        scores.append(Scorer(lm.model, lm.tokenizer, ScoreOptions(progress=False)).score(synthetic(10, seed=5)))
    assert np.array_equal(scores[0], scores[1])


def test_answer_only_loss_and_all_samples(tmp_path, tiny_model_dir):
    res = _train(tmp_path, tiny_model_dir, loss_on="answer", shots=0, epochs=1, eval_every=0)
    assert res.steps == 10 and lora_b_norm(res.adapter) > 0


def test_out_dir_with_another_run_is_refused(tmp_path, tiny_model_dir):
    _train(tmp_path, tiny_model_dir, epochs=1)
    with pytest.raises(TallrecError, match="already holds a different run"):
        _train(tmp_path, tiny_model_dir, epochs=1, lr=1e-3)


def test_init_adapter_with_other_shape_is_refused(tmp_path, tiny_model_dir):
    res = _train(tmp_path, tiny_model_dir, epochs=1)
    with pytest.raises(ModelError, match="does not match the configured LoRA shape"):
        _train(tmp_path, tiny_model_dir, name="next", epochs=1, init_adapter=str(res.adapter), lora={"r": 4})


def test_shots_larger_than_pool(tmp_path, tiny_model_dir):
    with pytest.raises(TallrecError, match="cannot draw 999 shots from a pool of 40"):
        _train(tmp_path, tiny_model_dir, shots=999)


def test_torchrun_two_cpu_processes(tmp_path, tiny_model_dir):
    """The same `tallrec train` command under torchrun --nproc_per_node 2 (gloo)."""
    save_samples(tmp_path / "train.json", synthetic(40, seed=0))
    save_samples(tmp_path / "valid.json", synthetic(20, seed=1))
    env = {**os.environ, "OMP_NUM_THREADS": "1", "TALLREC_CACHE_DIR": str(tmp_path / "cache")}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port", "29533",
           "-m", "tallrec", "train", "--train", tmp_path / "train.json", "--valid", tmp_path / "valid.json",
           "--out", tmp_path / "ddp", "--model", tiny_model_dir, "--precision", "fp32", "--shots", "16",
           "--batch-size", "8", "--micro-batch-size", "4", "--epochs", "2", "--eval-every", "1", "--lr", "5e-3"]
    proc = subprocess.run([str(c) for c in cmd], env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    hist = json.loads((tmp_path / "ddp" / "history.json").read_text())
    assert hist["steps"] == 4  # 8 samples per process, micro batch 4, no accumulation: 2 steps x 2 epochs
    assert lora_b_norm(tmp_path / "ddp" / "adapter") > 0


def test_answer_loss_fast_path_equals_plain_loss(tiny_model_dir):
    from transformers import AutoModelForCausalLM

    from tallrec.prompts import load_template
    from tallrec.training import PadCollator, answer_loss_sum, encode_sample

    lm = load_model(str(tiny_model_dir), precision="fp32", device="cpu")
    cfg = _cfg(tiny_model_dir, loss_on="answer")
    rows = [encode_sample(lm.tokenizer, s, cfg, load_template()) for s in synthetic(6, seed=4)]
    batch = PadCollator(lm.tokenizer.pad_token_id)(rows)
    with torch.no_grad():
        plain = lm.model(**batch).loss  # HF's loss: mean over labelled tokens, all logits computed
        fast, n, _ = answer_loss_sum(lm.model, batch)
    assert n > 0 and abs(fast.item() / n - plain.item()) < 1e-5
