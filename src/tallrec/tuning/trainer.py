"""LoRA training on the HF Trainer with the token loss, early stopping on validation AUC, resumable
checkpoints in the run folder (checkpoints.py)."""

from __future__ import annotations

import contextlib
import math
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import torch

from ..core.errors import TallrecError
from ..llm.models import LoadedModel, unwrap_causal_lm
from .adapters import save_adapter, wrap_lora
from .checkpoints import checkpoint_root, read_state
from .config import TrainConfig
from .cpu_engine import attention_implementation, base_attention, cpu_training_engine
from .distributed import barrier, is_main
from .examples import ListDataset, PadCollator
from .memory_levers import checkpointing, find_micro_batch, prepare_base


@dataclass
class TrainResult:
    adapter: Path
    best_valid_auc: float | None
    best_step: int
    steps: int
    history: list[dict] = field(default_factory=list)
    seconds: float = 0.0
    train_losses: list[float] = field(default_factory=list)  # the Trainer's logged training loss


def _trainer_class():
    from transformers import Trainer

    from .token_loss import TokenLoss

    class TokenLossTrainer(Trainer):
        """The model's next-token loss (whole prompt or answer only, as the labels say), computed by
        `TokenLoss`: the LM head runs on labelled positions only and no vocabulary-wide logits
        tensor is built. Normalization follows the Trainer's own (sum over tokens / tokens in the
        whole accumulated batch)."""

        token_loss = None

        def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
            if self.token_loss is None:
                # The shared-prefix run needs the key/value cache, which checkpointed layers do not keep.
                self.token_loss = TokenLoss(share_prefix=not checkpointing(unwrap_causal_lm(model)))
            loss, n, outputs = self.token_loss(model, inputs)
            if num_items_in_batch is not None:
                loss = loss / num_items_in_batch
                if self.args.average_tokens_across_devices:
                    loss = loss * self.accelerator.num_processes
            else:
                loss = loss / max(1, n)
            return (loss, outputs) if return_outputs else loss

    return TokenLossTrainer


def _training_args(cfg, lm: LoadedModel, output_dir: Path, micro: int, accum: int, steps_per_epoch: int,
                   world: int):
    """The Trainer's arguments. Checkpoints are asked for by the callback (save_strategy "no" keeps the
    Trainer from saving on its own schedule); they go to `output_dir` (the run's checkpoints/).

    Precision: on a GPU, bf16 weights train under bf16 autocast and fp16 weights (GPUs without bf16:
    V100, T4) under fp16 autocast with loss scaling; the LoRA weights themselves are fp32 (peft).
    On a CPU the weights' dtype is the compute dtype (bf16 where native, else fp32)."""
    from transformers import TrainingArguments

    use_cpu = lm.device.type == "cpu"
    return TrainingArguments(
        output_dir=str(output_dir),
        per_device_train_batch_size=micro,
        gradient_accumulation_steps=accum,
        num_train_epochs=cfg.epochs,
        learning_rate=cfg.lr,
        lr_scheduler_type=cfg.scheduler,
        warmup_steps=cfg.warmup_steps,
        weight_decay=cfg.weight_decay,
        logging_steps=max(1, min(10, steps_per_epoch)),
        save_strategy="no",
        eval_strategy="no",
        report_to=[],
        seed=cfg.seed,
        data_seed=cfg.seed,
        use_cpu=use_cpu,
        bf16=lm.dtype == torch.bfloat16 and not use_cpu,
        fp16=lm.dtype == torch.float16 and not use_cpu,
        remove_unused_columns=False,
        dataloader_num_workers=0,
        disable_tqdm=not is_main(),
        ddp_find_unused_parameters=False,
        ddp_backend="gloo" if use_cpu and world > 1 else None,
    )


def fit_lora(lm: LoadedModel, rows: list[dict], cfg: TrainConfig, out: Path,
             make_validate: Callable[[torch.nn.Module], Callable[[], float]] | None, desc: str = "train",
             resume: Path | None = None, meta: dict | None = None) -> TrainResult:
    """Train a LoRA on tokenized rows with the HF Trainer; keep the best adapter in out/adapter.

    `make_validate(peft_model)` returns the validation-AUC function. Without it the final adapter is
    kept (stage 1 has no AUC to stop on). Resumable checkpoints go to out/checkpoints/;
    `resume` (one of them) continues that run where it stopped, early-stopping state included.
    `meta` is recorded beside the adapter (tallrec-base.json), e.g. the samples' domain and quoting.
    """
    from transformers import set_seed

    from .callback import ValidationCallback

    set_seed(cfg.seed)
    prepare_base(lm, cfg.gradient_checkpointing)
    model = wrap_lora(lm, cfg)
    model.train()
    validate = make_validate(model) if make_validate else None
    world = int(os.environ.get("WORLD_SIZE", "1"))
    use_cpu = lm.device.type == "cpu"

    def engine():
        return cpu_training_engine(model) if use_cpu else contextlib.nullcontext()

    micro = _micro_batch(model, rows, lm, cfg, world, engine)
    accum = accumulation_steps(cfg.batch_size, micro, world)
    steps_per_epoch = max(1, math.ceil(len(rows) / (micro * world * accum)))

    def save(path: Path):
        if is_main():
            save_adapter(model, path, lm, {"config": cfg.to_dict(), **(meta or {})})
        barrier()

    validate = None if validate is None else _own_attention(model, validate)
    restored = read_state(resume) if resume is not None else None
    callback = ValidationCallback(validate, cfg, out, save, desc, restored)
    args = _training_args(cfg, lm, checkpoint_root(out), micro, accum, steps_per_epoch, world)
    trainer = _trainer_class()(model=model, args=args, train_dataset=ListDataset(rows),
                               data_collator=PadCollator(lm.tokenizer.pad_token_id), callbacks=[callback])
    t0 = time.time() - (restored or {}).get("seconds", 0.0)
    with engine():
        trainer.train(resume_from_checkpoint=None if resume is None else str(resume))
    seconds = time.time() - t0
    steps = trainer.state.global_step
    if validate is None:
        save(out / "adapter")
    history = callback.history
    best = max(history, key=lambda h: h["valid_auc"]) if history else None
    model.eval()
    return TrainResult(adapter=out / "adapter", best_valid_auc=best["valid_auc"] if best else None,
                       best_step=best["step"] if best else steps, steps=steps, history=history, seconds=seconds,
                       train_losses=[h["loss"] for h in trainer.state.log_history if "loss" in h])


def accumulation_steps(batch_size: int, micro: int, world: int) -> int:
    """Micro batches per optimizer step, so that micro x processes x steps is the batch (128 in the
    recipe); a one-line error when that is impossible, instead of quietly training on a smaller one
    (128 over 3 processes of micro 4 was 10 steps: 120 samples)."""
    per_step = micro * world
    if batch_size % per_step:
        raise TallrecError(f"batch_size {batch_size} is not a multiple of micro_batch_size {micro} x {world} "
                           f"process(es); pick a process count and micro batch whose product divides {batch_size}")
    return batch_size // per_step


def _own_attention(model, validate: Callable[[], float]) -> Callable[[], float]:
    """`validate` run with the model's own attention, not the one training uses."""
    score_attention = base_attention(model)

    def run() -> float:
        with attention_implementation(model, score_attention):
            return validate()

    return run


def _micro_batch(model, rows: list[dict], lm: LoadedModel, cfg, world: int, engine) -> int:
    """The configured micro batch, or for `micro_batch_size: auto` the largest divisor of the
    per-process batch that the memory plan says fits, then probed (llm/memory_plan.py,
    memory_levers.py); printed, since it shapes the run. Several processes take the plan's number
    unprobed, so that every rank agrees on it."""
    from ..llm.memory_plan import largest_micro_batch
    from .token_loss import TokenLoss

    if cfg.micro_batch_size != "auto":
        return max(1, min(cfg.micro_batch_size, cfg.batch_size))
    per_process = max(1, cfg.batch_size // world)
    start = largest_micro_batch(lm, cfg, per_process) or 1
    if world > 1:
        micro = start
    else:
        with engine():
            micro = find_micro_batch(model, rows, PadCollator(lm.tokenizer.pad_token_id), per_process, start,
                                     TokenLoss(share_prefix=not checkpointing(lm.model)))
    if is_main():
        print(f"[train] micro_batch_size auto: {micro} ({per_process // micro} micro batches per optimizer step)")
    return micro
