"""LoRA tuning on the Hugging Face Trainer: stage 2 (rec-tuning) and the shared machinery for stage 1.

The Trainer gives multi-process training for free: the same code runs as one process, under
`torchrun --nproc_per_node N` (gloo on CPU, NCCL on GPUs) or `accelerate launch`.
Early stopping is on validation AUC (the paper's criterion), checked every `eval_every` optimizer
steps; the best adapter is kept on disk and is what the run returns.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import shutil
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import torch

from .config import TrainConfig, dump_config
from .cpu_training import attention_implementation, base_attention, cpu_training_engine
from .data.fewshot import draw_fewshot
from .data.samples import Sample
from .errors import ModelError, TallrecError
from .io import ensure_dir, write_json_atomic, write_text_atomic
from .metrics import auc
from .models import LoadedModel, attach_adapter, base_fingerprint, load_model, lora_config
from .prompts import Template, load_template, record_prompt, sample_prompt
from .scoring import ScoreOptions, Scorer, shard_ids

IGNORE = -100


# ---------------------------------------------------------------- tokenization

def encode_example(tokenizer, prompt: str, answer: str, cutoff: int, loss_on: str) -> dict | None:
    """Token ids of prompt + answer + eos with labels; None when it does not fit the cutoff."""
    p = tokenizer(prompt, add_special_tokens=True)["input_ids"]
    full = tokenizer(prompt + answer, add_special_tokens=True)["input_ids"]
    if tokenizer.eos_token_id is not None:
        full = full + [tokenizer.eos_token_id]
    if len(full) > cutoff:
        return None
    labels = list(full) if loss_on == "all" else [IGNORE] * len(p) + full[len(p):]
    return {"input_ids": full, "labels": labels}


def encode_sample(tokenizer, sample: Sample, cfg: TrainConfig, template: Template) -> dict:
    """A rec-tuning example; the oldest history items are dropped until it fits the cutoff."""
    s = sample
    while True:
        ex = encode_example(tokenizer, sample_prompt(s, template), s.output, cfg.cutoff, cfg.loss_on)
        if ex is not None:
            return ex
        if not s.history:
            raise TallrecError(f"sample with target {sample.target[:60]!r} exceeds cutoff {cfg.cutoff} even without history")
        s = s.drop_oldest(1)


class PadCollator:
    """Right-pads a batch (pad token, label -100) and sends no attention mask.

    Causal attention never looks to the right, so the padding after a sequence cannot change any
    of its real positions: the batch needs no padding mask, and attention takes its fast causal
    path. (Left padding would also add a spurious loss term: the last pad position "predicting"
    the first real token.)
    """

    def __init__(self, pad_id: int):
        self.pad_id = pad_id

    def __call__(self, batch: list[dict]) -> dict:
        width = max(len(b["input_ids"]) for b in batch)
        ids = torch.full((len(batch), width), self.pad_id, dtype=torch.long)
        labels = torch.full((len(batch), width), IGNORE, dtype=torch.long)
        for i, b in enumerate(batch):
            n = len(b["input_ids"])
            ids[i, :n] = torch.tensor(b["input_ids"])
            labels[i, :n] = torch.tensor(b["labels"])
        return {"input_ids": ids, "labels": labels}


class ListDataset(torch.utils.data.Dataset):
    def __init__(self, rows: list[dict]):
        self.rows = rows

    def __len__(self):
        return len(self.rows)

    def __getitem__(self, i):
        return self.rows[i]


# ---------------------------------------------------------------- adapters on disk

def save_adapter(model, path: Path, lm: LoadedModel, extra: dict | None = None) -> Path:
    """Save a LoRA adapter atomically and verify it is not empty (the authors' code silently saved
    empty adapters with newer peft)."""
    from safetensors.torch import load_file

    path = Path(path)
    ensure_dir(path.parent)
    tmp = Path(tempfile.mkdtemp(dir=path.parent, prefix=f".{path.name}."))
    try:
        model.save_pretrained(str(tmp))
        weights = tmp / "adapter_model.safetensors"
        tensors = load_file(str(weights)) if weights.exists() else {}
        if not any("lora_" in k for k in tensors):
            raise ModelError(f"{path}: saved adapter holds no LoRA weights; refusing to keep an empty adapter")
        meta = {"name": lm.name, "fingerprint": base_fingerprint(lm), **(extra or {})}
        (tmp / "tallrec-base.json").write_text(json.dumps(meta, indent=2))
        if path.exists():
            shutil.rmtree(path)
        os.replace(tmp, path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return path


def lora_b_norm(adapter_dir: Path) -> float:
    """Sum of |B| over the adapter's LoRA B matrices: zero means nothing was learned."""
    from safetensors.torch import load_file

    t = load_file(str(Path(adapter_dir) / "adapter_model.safetensors"))
    return float(sum(v.float().abs().sum() for k, v in t.items() if "lora_B" in k))


def wrap_lora(lm: LoadedModel, cfg: TrainConfig):
    """The trainable PEFT model: a fresh LoRA, or continued from `cfg.init_adapter` (stage 1)."""
    from peft import get_peft_model

    if cfg.init_adapter:
        init = Path(cfg.init_adapter)
        conf_file = init / "adapter_config.json"
        if not conf_file.exists():
            raise ModelError(f"{init}: not a LoRA adapter folder (no adapter_config.json)")
        saved = json.loads(conf_file.read_text())
        want = {"r": cfg.lora.r, "targets": sorted(cfg.lora.targets)}
        got = {"r": saved.get("r"), "targets": sorted(saved.get("target_modules") or [])}
        if want != got:
            raise ModelError(f"{init}: adapter shape {got} does not match the configured LoRA shape {want}")
        return attach_adapter(lm, init, trainable=True).model
    return get_peft_model(lm.model, lora_config(cfg.lora.r, cfg.lora.alpha, cfg.lora.dropout, tuple(cfg.lora.targets)))


# ---------------------------------------------------------------- the trainer

def _is_main() -> bool:
    import torch.distributed as dist

    return not (dist.is_available() and dist.is_initialized()) or dist.get_rank() == 0


def _barrier() -> None:
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        dist.barrier()


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
            if _is_main():
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
        if _is_main():
            save_adapter(model, path, lm, {"config": cfg.to_dict()})
        _barrier()

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
            disable_tqdm=not _is_main(),
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


# ---------------------------------------------------------------- stage 2: rec-tuning

def check_out_dir(out: Path, cfg_text: str, overwrite: bool) -> None:
    """Refuse to mix two different runs in one folder."""
    prev = out / "config.yaml"
    if prev.exists() and not overwrite and prev.read_text() != cfg_text:
        raise TallrecError(f"{out}: already holds a different run (config.yaml differs); use another --out or --overwrite")


def rec_tune(cfg: TrainConfig, pool: Sequence[Sample], valid: Sequence[Sample], out: str | os.PathLike,
             lm: LoadedModel | None = None, overwrite: bool = False, progress: bool = True) -> TrainResult:
    """Stage 2: draw K samples from `pool` with the seed, LoRA-tune, early-stop on validation AUC.

    Writes out/adapter (best adapter, loadable with plain PeftModel.from_pretrained), out/config.yaml,
    out/train_samples.json (the K samples), out/history.json (validation AUC per check).
    """
    out = ensure_dir(out)
    cfg_text = dump_config(cfg)
    check_out_dir(out, cfg_text, overwrite)
    if cfg.loss_on not in ("all", "answer"):
        raise TallrecError(f"loss_on must be 'all' or 'answer', got {cfg.loss_on!r}")
    train = draw_fewshot(pool, cfg.shots, cfg.seed, cfg.balanced)
    if not valid:
        raise TallrecError("rec-tuning needs validation samples for early stopping")
    vsub = list(valid) if not cfg.valid_size or cfg.valid_size >= len(valid) else draw_fewshot(valid, cfg.valid_size, seed=0)
    if len({bool(s.label) for s in vsub}) < 2:
        raise TallrecError("validation samples must contain both liked and not-liked samples")
    lm = lm or load_model(cfg.model, cfg.precision, load_in_8bit=cfg.load_in_8bit)
    template = load_template()
    rows = [encode_sample(lm.tokenizer, s, cfg, template) for s in train]
    write_text_atomic(out / "config.yaml", cfg_text)
    from .data.samples import samples_to_json

    if _is_main():
        write_text_atomic(out / "train_samples.json", samples_to_json(train))
    labels = [bool(s.label) for s in vsub]

    def make_validate(model):
        scorer = Scorer(model, lm.tokenizer, ScoreOptions(batch_size=cfg.eval_batch_size, cutoff=cfg.cutoff,
                                                          progress=progress and _is_main()))
        prompts = scorer.encode(vsub)  # tokenized once, scored at every check
        return lambda: auc(labels, shard_ids(scorer, prompts))

    result = fit_lora(lm, rows, cfg, out, make_validate, desc=f"rec-tune K={cfg.shots} seed={cfg.seed}")
    if _is_main():
        write_json_atomic(out / "history.json", {
            "best_valid_auc": result.best_valid_auc, "best_step": result.best_step, "steps": result.steps,
            "seconds": round(result.seconds, 1), "valid_samples": len(vsub), "train_samples": len(train),
            "checks": result.history})
    return result
