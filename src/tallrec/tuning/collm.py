"""collm, stage 2: train CoLLM's projector on a rec-tuned run's K samples with its LoRA frozen.

Stage 1 is any text-only rec-tuned run (`tallrec train`): its adapter is loaded and merged, so it
cannot change. Stage 2 adds the two soft tokens of the `collm` prompt style (llm/soft_tokens.py)
and trains only the projector that maps each sample's leak-free collaborative signals
(collab/signals.py: MF-with-biases vectors of the latest snapshot before the target's time, and the
user's and item's like rates and counts) into them. The loss is the cross-entropy of the answer
pair (Yes, No) at the answer position; early stopping on validation AUC, on the same validation
subset the run early-stopped on. The new run folder holds the stage-1 adapter, the projector and
`collm.json` (the log, its checksum, the signal settings), so every command that loads the adapter
scores with the soft tokens with no extra flag.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch

from ..core.config import setting
from ..core.errors import TallrecError
from ..core.io import atomic_dir, check_writable, write_json_atomic
from ..core.metrics import auc
from ..data.samples import Sample, load_samples

STYLE = "collm"


@dataclass
class CollmConfig:
    """Stage 2 of collm: the projector's training (the signals' settings are collab's defaults, hist-cf's)."""

    epochs: int = setting(40, "most passes over the K samples", min=1)
    lr: float = setting(1e-3, "Adam learning rate of the projector", gt=0.0)
    batch_size: int = setting(16, "samples per optimizer step", min=1)
    patience: int = setting(8, "epochs without a better validation AUC before stopping", min=1)
    width: int = setting(128, "hidden width of each projector MLP", min=1)
    seed: int = setting(0, "seed of the projector's init and the batch order", min=0)
    zero_init: bool = setting(False, "start the projector's output layers at zero (soft tokens begin as zeros)")
    log: str | None = setting(None, "the interaction log the samples came from (default DATA_DIR/ml-100k)")


def _text_run(run: Path) -> tuple[Path, dict, list[Sample]]:
    """(adapter folder, its tallrec-base.json, the K training samples) of a rec-tuned run folder."""
    from ..llm.adapters import adapter_meta, find_adapter

    adapter = find_adapter(run)
    meta = adapter_meta(adapter)
    samples_file = adapter.parent / "train_samples.json"
    if not samples_file.is_file():
        raise TallrecError(f"{run}: no train_samples.json beside the adapter; collm trains on a run of "
                           "`tallrec train`")
    if (adapter / "collm.json").is_file():
        raise TallrecError(f"{run}: already a collm run; give the text-only rec-tuned run")
    return adapter, meta, load_samples(samples_file)


def train_collm(run: str | os.PathLike, valid: Sequence[Sample], out: str | os.PathLike,
                cfg: CollmConfig | None = None, data_dir=None, log=print) -> dict:
    """Stage 2 on the rec-tuned run `run`; writes the collm run folder `out` and returns its record."""
    from ..collab.signals import open_signals
    from ..data.fewshot import validation_subset
    from ..llm.adapters import load_base, with_adapter
    from ..llm.soft_tokens import Projector, SoftTokens
    from ..prompts.templates import load_template

    cfg = cfg or CollmConfig()
    t0 = time.time()
    adapter, meta, train = _text_run(Path(run))
    check_writable(out)
    text_cfg = meta.get("config") or {}
    vsub = validation_subset(valid, text_cfg.get("valid_size"))
    signals = open_signals(cfg.log, data_dir)
    signals.place(train, "training samples")  # every sample placed before the model loads
    signals.place(vsub, "validation samples")
    torch.manual_seed(cfg.seed)
    lm = with_adapter(load_base(meta.get("name") or text_cfg.get("model"), [adapter]), adapter)  # as it trained
    for p in lm.model.parameters():
        p.requires_grad_(False)
    template = load_template(STYLE, lm.tokenizer)
    u, i = token_dims(signals, train[:1])
    soft = SoftTokens(lm.model, lm.tokenizer, Projector(u, i, lm.model.config.hidden_size, cfg.width, cfg.zero_init), signals)
    cutoff = int(text_cfg.get("cutoff", 512))
    history, best = _fit(lm, soft, template, train, vsub, cfg, cutoff, log)
    soft.projector.load_state_dict(best["state"])
    record = {"stage": "projector (LoRA frozen)", "text_run": str(run), "best_valid_auc": best["auc"],
              "best_epoch": best["epoch"], "history": history, "config": asdict(cfg),
              "seconds": round(time.time() - t0, 1), "train samples": len(train), "validation samples": len(vsub)}
    _write_run(Path(out), adapter, meta, soft, signals, record)
    log(f"[collm] best validation AUC {best['auc']:.4f} at epoch {best['epoch']} -> {out}")
    return record


def token_dims(signals, samples) -> tuple[int, int]:
    from ..collab.signals import token_inputs

    u, i = token_inputs(signals, samples)
    return u.shape[1], i.shape[1]


def _fit(lm, soft, template, train, vsub, cfg: CollmConfig, cutoff: int, log) -> tuple[list, dict]:
    """Adam on the projector over cached prefixes (tuning/collm_prefix.py); early stopping on
    validation AUC, the untrained projector's included (epoch 0)."""
    from ..prompts.templates import answer_token_ids
    from .collm_prefix import cache_prefixes, pair_logits, probabilities

    answer = answer_token_ids(lm.tokenizer, template)
    tr = cache_prefixes(lm, soft, template, train, cutoff, "training samples")
    va = cache_prefixes(lm, soft, template, vsub, cutoff, "validation samples")
    opt = torch.optim.Adam(soft.projector.parameters(), lr=cfg.lr)
    rng = random.Random(cfg.seed)
    first = auc(va.labels, probabilities(lm, soft, answer, va))
    best = {"auc": first, "epoch": 0, "state": _state(soft.projector)}
    history, stale = [{"epoch": 0, "valid_auc": first}], 0
    log(f"[collm] epoch 0 (untrained projector): validation AUC {first:.4f}")
    target = torch.tensor([0 if y else 1 for y in tr.labels])
    for epoch in range(1, cfg.epochs + 1):
        order = list(range(len(train)))
        rng.shuffle(order)
        losses = []
        for start in range(0, len(order), cfg.batch_size):
            idx = order[start:start + cfg.batch_size]
            loss = torch.nn.functional.cross_entropy(pair_logits(lm, soft, answer, tr, idx), target[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses.append(float(loss.detach()))
        v = auc(va.labels, probabilities(lm, soft, answer, va))
        history.append({"epoch": epoch, "loss": float(np.mean(losses)), "valid_auc": v})
        log(f"[collm] epoch {epoch}: loss {np.mean(losses):.4f}, validation AUC {v:.4f}")
        if v > best["auc"]:
            best, stale = {"auc": v, "epoch": epoch, "state": _state(soft.projector)}, 0
        else:
            stale += 1
            if stale >= cfg.patience:
                break
    return history, best


def _state(module) -> dict:
    return {k: v.detach().clone() for k, v in module.state_dict().items()}


def _write_run(out: Path, adapter: Path, meta: dict, soft, signals, record: dict) -> None:
    from ..llm.soft_tokens import save_projector

    with atomic_dir(out) as tmp:
        shutil.copytree(adapter, tmp / "adapter")
        (tmp / "adapter" / "tallrec-base.json").write_text(json.dumps({**meta, "prompt": STYLE}, indent=2))
        save_projector(tmp / "adapter", soft.projector, {
            "log": str(Path(signals.log.source).resolve()), "log_sha256": signals.log.checksum(),
            "mf": asdict(signals.snapshots.settings), "smoothing": signals.smoothing})
        write_json_atomic(tmp / "train.json", record)
