"""LoRA tuning on the Hugging Face Trainer: stage 2 (rec-tuning) and the shared machinery for stage 1.

The Trainer gives multi-process training for free: the same code runs as one process, under
`torchrun --nproc_per_node N` (gloo on CPU, NCCL on GPUs) or `accelerate launch`.
Early stopping is on validation AUC (the paper's criterion), checked every `eval_every` optimizer
steps; the best adapter is kept on disk and is what the run returns.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence

from ..core.config import dump_config
from ..core.errors import TallrecError
from ..core.io import ensure_dir, write_json_atomic, write_text_atomic
from ..core.metrics import auc
from ..data.fewshot import draw_fewshot
from ..data.samples import Sample
from ..llm.models import LoadedModel, load_model
from ..llm.scoring import ScoreOptions, Scorer, shard_ids
from ..prompts.registry import load_style, load_template
from .config import TrainConfig
from .distributed import is_main
from .examples import encode_sample
from .trainer import TrainResult, fit_lora

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
    Training and validation prompts are in the style `cfg.prompt`, recorded beside the adapter.
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
    load_style(cfg.prompt)  # an unknown style is refused before the model loads
    lm = lm or load_model(cfg.model, cfg.precision, load_in_8bit=cfg.load_in_8bit)
    template = load_template(cfg.prompt, lm.tokenizer)
    rows = [encode_sample(lm.tokenizer, s, cfg, template) for s in train]
    write_text_atomic(out / "config.yaml", cfg_text)
    from ..data.samples import samples_to_json

    if is_main():
        write_text_atomic(out / "train_samples.json", samples_to_json(train))
    labels = [bool(s.label) for s in vsub]

    def make_validate(model):
        scorer = Scorer(model, lm.tokenizer, ScoreOptions(batch_size=cfg.eval_batch_size, cutoff=cfg.cutoff,
                                                          progress=progress and is_main()), template)
        prompts = scorer.encode(vsub)  # tokenized once, scored at every check
        return lambda: auc(labels, shard_ids(scorer, prompts))

    result = fit_lora(lm, rows, cfg, out, make_validate, desc=f"rec-tune K={cfg.shots} seed={cfg.seed}")
    if is_main():
        write_json_atomic(out / "history.json", {
            "best_valid_auc": result.best_valid_auc, "best_step": result.best_step, "steps": result.steps,
            "seconds": round(result.seconds, 1), "valid_samples": len(vsub), "train_samples": len(train),
            "checks": result.history})
    return result
