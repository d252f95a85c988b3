import json
import os
import subprocess
import sys

import numpy as np
import pytest
import torch
from helpers import free_port, synthetic

from tallrec.core.config import load_config
from tallrec.core.errors import ModelError, TallrecError
from tallrec.data import save_samples
from tallrec.llm.models import load_model
from tallrec.llm.scoring import ScoreOptions, Scorer
from tallrec.tuning.adapters import lora_b_norm
from tallrec.tuning.config import PAPER_SETTINGS, TrainConfig
from tallrec.tuning.rec_tune import rec_tune

TINY = {**PAPER_SETTINGS, **dict(shots=16, batch_size=4, micro_batch_size=4, epochs=2, eval_every=2, patience=5, valid_size=12,
            lr=5e-3, precision="fp32")}


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
        from tallrec.llm.adapters import with_adapter

        lm = with_adapter(lm, res.adapter)
        scores.append(Scorer(lm.model, lm.tokenizer, ScoreOptions(progress=False)).score(synthetic(10, seed=5)))
    assert np.array_equal(scores[0], scores[1])


def test_answer_only_loss_and_all_samples(tmp_path, tiny_model_dir):
    res = _train(tmp_path, tiny_model_dir, loss_on="answer", shots=0, epochs=1, eval_every=100)
    assert res.steps == 10 and lora_b_norm(res.adapter) > 0


def test_history_order_augmentation_trains_on_the_rewrites_too(tmp_path, tiny_model_dir):
    res = _train(tmp_path, tiny_model_dir, augment=2, epochs=1, eval_every=100)
    hist = json.loads((tmp_path / "run" / "history.json").read_text())
    assert (hist["train_samples"], hist["train_examples"]) == (16, 48)
    assert res.steps == 12 and lora_b_norm(res.adapter) > 0  # 48 examples / batch 4, one epoch


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


@pytest.mark.integration
def test_torchrun_two_cpu_processes(tmp_path, tiny_model_dir):
    """The same `tallrec train` command under torchrun --nproc_per_node 2 (gloo)."""
    save_samples(tmp_path / "train.json", synthetic(40, seed=0))
    save_samples(tmp_path / "valid.json", synthetic(20, seed=1))
    env = {**os.environ, "OMP_NUM_THREADS": "1", "TALLREC_CACHE_DIR": str(tmp_path / "cache")}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port", free_port(),
           "-m", "tallrec", "train", "--config", "paper", "--train", tmp_path / "train.json", "--valid", tmp_path / "valid.json",
           "--out", tmp_path / "ddp", "--model", tiny_model_dir, "--precision", "fp32", "--shots", "16",
           "--batch-size", "8", "--micro-batch-size", "4", "--epochs", "2", "--eval-every", "1", "--lr", "5e-3"]
    proc = subprocess.run([str(c) for c in cmd], env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    hist = json.loads((tmp_path / "ddp" / "history.json").read_text())
    assert hist["steps"] == 4  # 8 samples per process, micro batch 4, no accumulation: 2 steps x 2 epochs
    assert lora_b_norm(tmp_path / "ddp" / "adapter") > 0


def _lora_batch(tiny_model_dir, loss_on, n=6, dropout=0.0):
    from peft import get_peft_model

    from tallrec.prompts.templates import load_template
    from tallrec.tuning.adapters import lora_config
    from tallrec.tuning.examples import encode_sample

    lm = load_model(str(tiny_model_dir), precision="fp32", device="cpu")
    cfg = _cfg(tiny_model_dir, loss_on=loss_on)
    rows = [encode_sample(lm.tokenizer, s, cfg, load_template()) for s in synthetic(n, seed=4)]
    torch.manual_seed(0)
    model = get_peft_model(lm.model, lora_config(dropout=dropout))
    for name, p in model.named_parameters():  # B starts at zero; make every LoRA weight matter
        if "lora_B" in name:
            torch.nn.init.normal_(p, std=0.02)
    return lm, model, rows


def _grads(model):
    g = torch.cat([p.grad.flatten() for p in model.parameters() if p.requires_grad])
    model.zero_grad()
    return g


@pytest.mark.parametrize("loss_on,share", [("all", True), ("answer", True), ("all", False)])
def test_token_loss_equals_the_models_own_loss_and_gradients(tiny_model_dir, loss_on, share):
    """tallrec's batch (right padding, no mask) + TokenLoss against HF's collator + the model's loss."""
    from transformers import DataCollatorForSeq2Seq

    from tallrec.tuning.examples import PadCollator
    from tallrec.tuning.token_loss import TokenLoss

    lm, model, rows = _lora_batch(tiny_model_dir, loss_on)
    lm.tokenizer.padding_side = "right"
    plain_batch = DataCollatorForSeq2Seq(lm.tokenizer, padding=True, label_pad_token_id=-100)([dict(r) for r in rows])
    plain = model(**plain_batch).loss
    plain.backward()
    g_plain = _grads(model)
    token_loss = TokenLoss(share_prefix=share)
    shared = []
    for _ in range(2):  # the first call also checks the head against the model's own logits
        total, n, _ = token_loss(model, PadCollator(lm.tokenizer.pad_token_id)(rows))
        (total / n).backward()
        g_fast = _grads(model)
        shared.append(token_loss.shared_columns)
        assert token_loss.fused is True
        assert abs(total.item() / n - plain.item()) < 1e-5
        assert torch.allclose(g_fast, g_plain, rtol=1e-4, atol=1e-6)
    assert shared[0] == shared[1] > 20 if share else shared == [0, 0]  # header and instruction run once
    assert n == sum(1 for r in rows for x in r["labels"][1:] if x != -100)


def test_token_loss_falls_back_when_the_model_changes_its_logits(tiny_model_dir):
    """A head whose logits are post-processed (here: doubled) fails the first-batch check."""
    from tallrec.tuning.examples import PadCollator
    from tallrec.tuning.token_loss import TokenLoss

    lm, model, rows = _lora_batch(tiny_model_dir, "all")
    model.get_base_model().lm_head.register_forward_hook(lambda m, a, out: out * 2)
    batch = PadCollator(lm.tokenizer.pad_token_id)(rows)
    token_loss = TokenLoss()
    total, n, _ = token_loss(model, batch)
    assert token_loss.fused is False
    assert abs(total.item() / n - model(**batch).loss.item()) < 1e-5


def test_right_padding_leaves_every_sequence_unchanged(tiny_model_dir):
    """No padding mask is needed: each row's logits equal those of the row run alone."""
    from tallrec.tuning.examples import PadCollator

    lm, model, rows = _lora_batch(tiny_model_dir, "all")
    batch = PadCollator(lm.tokenizer.pad_token_id)(rows)
    assert set(batch) == {"input_ids", "labels"}
    with torch.no_grad():
        together = model(input_ids=batch["input_ids"]).logits
        for i, r in enumerate(rows):
            alone = model(input_ids=torch.tensor([r["input_ids"]])).logits[0]
            assert torch.allclose(together[i, :len(r["input_ids"])], alone, atol=1e-5)


def test_int16_dropout_drops_at_the_rate_and_keeps_the_mean():
    from tallrec.tuning.cpu_engine import Int16Dropout

    torch.manual_seed(0)
    drop = Int16Dropout(0.05).train()
    x = torch.ones(1001, 999)  # odd count: the last 16-bit draw is cut off
    y = drop(x)
    assert abs((y == 0).float().mean().item() - 0.05) < 2e-3
    kept = torch.unique(y)
    assert abs(y.mean().item() - 1.0) < 5e-3 and len(kept) == 2 and kept[0] == 0 and abs(kept[1] - 1 / 0.95) < 1e-6
    assert torch.equal(drop.eval()(x), x)
    with pytest.raises(ValueError):
        Int16Dropout(1.0)


def test_cpu_training_engine_switches_attention_and_dropout_and_restores_attention(tiny_model_dir):
    from tallrec.tuning.cpu_engine import (
        Int16Dropout,
        base_attention,
        cpu_training_engine,
    )

    lm, model, _ = _lora_batch(tiny_model_dir, "all", dropout=0.05)
    before = base_attention(model)
    with cpu_training_engine(model):
        assert base_attention(model) == "eager"
    assert base_attention(model) == before
    drops = [m for m in model.modules() if isinstance(m, Int16Dropout)]
    assert len(drops) == 2 * 2 and drops[0].p == 0.05  # q_proj and v_proj in 2 layers
