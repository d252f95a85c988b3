"""LoRA training on the HF Trainer with the token loss, early stopping on validation AUC."""

from __future__ import annotations

import contextlib
import math
import os
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import torch

from ..llm.models import LoadedModel
from .adapters import save_adapter, wrap_lora
from .config import TrainConfig
from .cpu_engine import attention_implementation, base_attention, cpu_training_engine
from .distributed import barrier, is_main
from .examples import ListDataset, PadCollator


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
                self.token_loss = TokenLoss()
            loss, n, outputs = self.token_loss(model, inputs)
            if num_items_in_batch is not None:
                loss = loss / num_items_in_batch
                if self.args.average_tokens_across_devices:
                    loss = loss * self.accelerator.num_processes
            else:
                loss = loss / max(1, n)
            return (loss, outputs) if return_outputs else loss

    return TokenLossTrainer


def _make_callback(validate: Callable[[], float] | None, cfg: TrainConfig, out: Path, save: Callable[[Path], None],
                   history: list, progress_desc: str):
    from transformers import TrainerCallback

    class ValidationCallback(TrainerCallback):
        """Validation AUC every `eval_every` steps; keep the best adapter; stop after `patience` checks."""

        def __init__(self):
            self.best = -math.inf
            self.best_step = 0
            self.bad = 0
            self.t0 = time.time()

        def _check(self, state, control):
            step = state.global_step
            if validate is None:
                return
            value = validate()
            entry = {"step": step, "epoch": round(state.epoch or 0, 3), "valid_auc": value,
                     "seconds": round(time.time() - self.t0, 1)}
            losses = [h["loss"] for h in state.log_history if "loss" in h]
            if losses:
                entry["train_loss"] = losses[-1]
            history.append(entry)
            if value > self.best:
                self.best, self.best_step, self.bad = value, step, 0
                save(out / "adapter")
            else:
                self.bad += 1
                if self.bad >= cfg.patience:
                    control.should_training_stop = True
            if is_main():
                print(f"[{progress_desc}] step {step}: valid AUC {value:.4f} (best {self.best:.4f} at step {self.best_step})",
                      flush=True)

        def on_step_end(self, args, state, control, **kw):
            if cfg.eval_every and state.global_step % cfg.eval_every == 0:
                self._check(state, control)
            return control

        def on_train_end(self, args, state, control, **kw):
            if validate is not None and (not history or history[-1]["step"] != state.global_step):
                self._check(state, control)
            return control

    return ValidationCallback()


def fit_lora(lm: LoadedModel, rows: list[dict], cfg: TrainConfig, out: Path,
             make_validate: Callable[[torch.nn.Module], Callable[[], float]] | None, desc: str = "train") -> TrainResult:
    """Train a LoRA on tokenized rows with the HF Trainer; keep the best adapter in out/adapter.

    `make_validate(peft_model)` returns the validation-AUC function. Without it the final adapter is
    kept (stage 1 has no AUC to stop on).
    """
    from transformers import TrainingArguments, set_seed

    set_seed(cfg.seed)
    model = wrap_lora(lm, cfg)
    model.train()
    validate = make_validate(model) if make_validate else None
    world = int(os.environ.get("WORLD_SIZE", "1"))
    micro = max(1, min(cfg.micro_batch_size, cfg.batch_size))
    accum = max(1, cfg.batch_size // (micro * world))
    steps_per_epoch = max(1, math.ceil(len(rows) / (micro * world * accum)))
    history: list[dict] = []

    def save(path: Path):
        if is_main():
            save_adapter(model, path, lm, {"config": cfg.to_dict()})
        barrier()

    use_cpu = lm.device.type == "cpu"
    if validate is not None:
        score_attention, validate_plain = base_attention(model), validate

        def validate():  # the scorer keeps the model's own attention, not the one training uses
            with attention_implementation(model, score_attention):
                return validate_plain()

    callback = _make_callback(validate, cfg, out, save, history, desc)
    with tempfile.TemporaryDirectory(prefix="tallrec-trainer-") as scratch:
        args = TrainingArguments(
            output_dir=scratch,
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
        trainer = _trainer_class()(model=model, args=args, train_dataset=ListDataset(rows),
                          data_collator=PadCollator(lm.tokenizer.pad_token_id), callbacks=[callback])
        t0 = time.time()
        with cpu_training_engine(model) if use_cpu else contextlib.nullcontext():
            trainer.train()
        seconds = time.time() - t0
    steps = trainer.state.global_step
    if validate is None:
        save(out / "adapter")
    best = max(history, key=lambda h: h["valid_auc"]) if history else None
    model.eval()
    return TrainResult(adapter=out / "adapter", best_valid_auc=best["valid_auc"] if best else None,
                       best_step=best["step"] if best else steps, steps=steps, history=history, seconds=seconds,
                       train_losses=[h["loss"] for h in trainer.state.log_history if "loss" in h])
