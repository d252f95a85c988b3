"""Memory levers on the tiny model: quantized LoRA (bitsandbytes, on the CPU where its release has a CPU
backend), gradient checkpointing, micro_batch_size auto; and their one-line errors."""

from __future__ import annotations

import importlib.util

import pytest
import torch
from helpers import synthetic

from tallrec.core.config import load_config
from tallrec.core.errors import ModelError, TallrecError
from tallrec.llm.adapters import with_adapter
from tallrec.llm.models import load_model
from tallrec.llm.scoring import ScoreOptions, Scorer
from tallrec.tuning.adapters import lora_b_norm
from tallrec.tuning.config import PAPER_SETTINGS, TrainConfig
from tallrec.tuning.rec_tune import rec_tune

TINY = {**PAPER_SETTINGS, **dict(shots=16, batch_size=4, micro_batch_size=4, epochs=1, eval_every=2, patience=5, valid_size=12,
            lr=5e-3, precision="fp32", cutoff=128)}


def _cfg(model_dir, **over):
    return load_config(TrainConfig, None, {**TINY, "model": str(model_dir), **over})


def _train(tmp_path, model_dir, name="run", **over):
    return rec_tune(_cfg(model_dir, **over), synthetic(40, seed=0), synthetic(20, seed=1), tmp_path / name,
                    progress=False)


def bnb_cpu_reason() -> str | None:
    """Why quantized training cannot run here (None: it can): bitsandbytes missing, or a release
    without a CPU backend."""
    if importlib.util.find_spec("bitsandbytes") is None:
        return "bitsandbytes is not installed (pip install 'tallrec[quantize]')"
    import bitsandbytes as bnb

    layer = bnb.nn.Linear4bit(8, 8, compute_dtype=torch.float32, quant_type="nf4").to("cpu")
    try:
        layer(torch.randn(1, 8))
    except Exception as e:  # noqa: BLE001 - whatever the release raises without a CPU backend
        return f"bitsandbytes {bnb.__version__} has no CPU 4-bit kernels ({type(e).__name__})"
    return None


@pytest.mark.parametrize("quantize", ["8bit", "4bit"])
def test_quantized_lora_trains_and_its_adapter_loads_on_the_plain_base(tmp_path, tiny_model_dir, quantize):
    reason = bnb_cpu_reason()
    if reason:
        print(f"skipped: {reason}")
        pytest.skip(reason)
    lm = load_model(str(tiny_model_dir), "fp32", "cpu", quantize=quantize)
    import bitsandbytes as bnb

    kind = bnb.nn.Linear8bitLt if quantize == "8bit" else bnb.nn.Linear4bit
    assert isinstance(lm.model.model.layers[0].self_attn.q_proj, kind)
    res = rec_tune(_cfg(tiny_model_dir, quantize=quantize), synthetic(40, seed=0), synthetic(20, seed=1),
                   tmp_path / "q", lm=lm, progress=False)
    assert res.steps == 4 and lora_b_norm(res.adapter) > 0
    # An ordinary peft adapter: it loads on the unquantized base and changes its scores.
    plain = load_model(str(tiny_model_dir), "fp32", "cpu")
    before = Scorer(plain.model, plain.tokenizer, ScoreOptions(progress=False)).score(synthetic(6, seed=5))
    tuned = with_adapter(load_model(str(tiny_model_dir), "fp32", "cpu"), res.adapter)
    after = Scorer(tuned.model, tuned.tokenizer, ScoreOptions(progress=False)).score(synthetic(6, seed=5))
    assert not any(isinstance(m, kind) for m in tuned.model.modules())
    assert max(abs(a - b) for a, b in zip(before, after)) > 1e-6


def test_missing_bitsandbytes_is_one_line_naming_the_extra(tiny_model_dir, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "bitsandbytes", None)  # import fails as if not installed
    with pytest.raises(ModelError, match=r"quantize 4bit needs bitsandbytes: pip install 'tallrec\[quantize\]'"):
        load_model(str(tiny_model_dir), "fp32", "cpu", quantize="4bit")


def test_gguf_with_quantize_is_refused_in_one_line():
    from tallrec.llm.models import registry_gguf

    with pytest.raises(ModelError, match="a .gguf model cannot be quantized with bitsandbytes"):
        load_model(str(registry_gguf("smollm2-135m")), "fp32", "cpu", quantize="8bit")


def _loss_and_grads(model_dir, recompute: bool):
    from tallrec.tuning.adapters import wrap_lora
    from tallrec.tuning.examples import PadCollator
    from tallrec.tuning.memory_levers import checkpointing, prepare_base
    from tallrec.tuning.token_loss import TokenLoss

    torch.manual_seed(0)
    lm = load_model(str(model_dir), "fp32", "cpu")
    cfg = _cfg(model_dir, gradient_checkpointing=recompute, **{"lora.dropout": 0.0})
    prepare_base(lm, cfg.gradient_checkpointing)
    model = wrap_lora(lm, cfg)
    model.train()
    for n, p in model.named_parameters():  # LoRA B starts at zero: make every path carry gradient
        if "lora_B" in n:
            torch.nn.init.normal_(p, std=0.02)
    ids = torch.randint(5, 500, (3, 40))
    batch = PadCollator(lm.tokenizer.pad_token_id)([{"input_ids": r.tolist(), "labels": r.tolist()} for r in ids])
    loss, n, _ = TokenLoss(share_prefix=not recompute)(model, batch)
    loss.backward()
    grads = {k: p.grad.clone() for k, p in model.named_parameters() if p.grad is not None}
    return loss.item() / n, grads, checkpointing(lm.model)


def test_gradient_checkpointing_gives_the_same_loss_and_gradients(tiny_model_dir):
    plain, g_plain, on_plain = _loss_and_grads(tiny_model_dir, False)
    ckpt, g_ckpt, on_ckpt = _loss_and_grads(tiny_model_dir, True)
    assert (on_plain, on_ckpt) == (False, True)
    assert abs(plain - ckpt) < 1e-6
    assert sorted(g_plain) == sorted(g_ckpt) and len(g_plain) > 0
    for k in g_plain:
        torch.testing.assert_close(g_plain[k], g_ckpt[k], rtol=1e-4, atol=1e-6)


def test_gradient_checkpointing_run_trains(tmp_path, tiny_model_dir):
    res = _train(tmp_path, tiny_model_dir, gradient_checkpointing=True)
    assert res.steps == 4 and lora_b_norm(res.adapter) > 0


def test_micro_batch_auto_steps_down_to_a_divisor_that_fits(tmp_path, tiny_model_dir, monkeypatch, capsys):
    """An out-of-memory error above 2 rows (raised as torch raises it) makes auto pick 2 of batch 8:
    4 micro batches per step, and the run keeps its effective batch."""
    import tallrec.tuning.memory_levers as levers

    real = levers.find_micro_batch
    seen = []

    def oom_above_two(model, rows, collate, per_process, start, loss_fn):
        def loss(model, batch):
            seen.append(len(batch["input_ids"]))
            if len(batch["input_ids"]) > 2:
                raise RuntimeError("CUDA out of memory. Tried to allocate 2.00 GiB")
            return loss_fn(model, batch)

        return real(model, rows, collate, per_process, start, loss)

    import tallrec.tuning.trainer as trainer

    monkeypatch.setattr(trainer, "find_micro_batch", oom_above_two)
    res = _train(tmp_path, tiny_model_dir, batch_size=8, micro_batch_size="auto", shots=16)
    assert seen == [8, 4, 2]
    assert "micro_batch_size auto: 2 (4 micro batches per optimizer step)" in capsys.readouterr().out
    assert res.steps == 2  # 16 samples / effective batch 8


def test_micro_batch_auto_parses_and_other_words_are_refused():
    assert load_config(TrainConfig, None, {"micro_batch_size": "auto"}).micro_batch_size == "auto"
    assert load_config(TrainConfig, None, {"micro_batch_size": "16", "batch_size": 32}).micro_batch_size == 16
    with pytest.raises(TallrecError, match="'big' is not one of auto"):
        load_config(TrainConfig, None, {"micro_batch_size": "big"})
    with pytest.raises(TallrecError, match="must be at least 1"):
        load_config(TrainConfig, None, {"micro_batch_size": 0})
    with pytest.raises(TallrecError, match="micro_batch_size 3 must divide batch_size 8"):
        load_config(TrainConfig, None, {"micro_batch_size": 3, "batch_size": 8})
