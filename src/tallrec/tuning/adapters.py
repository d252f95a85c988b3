"""Trainable LoRA adapters: build one (fresh or continued), save it atomically and never empty."""

from __future__ import annotations

import json
from pathlib import Path

import torch

from ..core.errors import ModelError
from ..core.io import atomic_dir
from ..llm.adapters import META_FILE, attach_adapter, base_fingerprint, require_adapter_dir
from ..llm.models import LoadedModel
from ..prompts.registry import DEFAULT_STYLE
from .config import TrainConfig


def save_adapter(model, path: Path, lm: LoadedModel, extra: dict | None = None, prompt: str | None = None) -> Path:
    """Save a LoRA adapter atomically (`atomic_dir`) and verify it is not empty (the authors' code
    silently saved empty adapters with newer peft).

    tallrec-base.json beside it records the base model, the prompt style it was trained with
    (`prompt`, else the `prompt` of the training config in `extra["config"]`, else the default) and
    whatever `extra` holds (the domain and history quoting of its samples, from rec-tuning).
    Loading the adapter (llm/adapters.py) reads them back.
    """
    from safetensors.torch import load_file

    with atomic_dir(path) as tmp:
        model.save_pretrained(str(tmp))
        weights = tmp / "adapter_model.safetensors"
        tensors = load_file(str(weights)) if weights.exists() else {}
        if not any("lora_" in k for k in tensors):
            raise ModelError(f"{path}: saved adapter holds no LoRA weights; refusing to keep an empty adapter")
        style = prompt or ((extra or {}).get("config") or {}).get("prompt") or DEFAULT_STYLE
        meta = {"name": lm.name, "fingerprint": base_fingerprint(lm), "prompt": style, **(extra or {})}
        (tmp / META_FILE).write_text(json.dumps(meta, indent=2))
    return Path(path)


def lora_b_norm(adapter_dir: Path) -> float:
    """Sum of |B| over the adapter's LoRA B matrices: zero means nothing was learned."""
    from safetensors.torch import load_file

    t = load_file(str(Path(adapter_dir) / "adapter_model.safetensors"))
    return float(sum(v.float().abs().sum() for k, v in t.items() if "lora_B" in k))


def check_lora_shape(adapter: Path, cfg: TrainConfig) -> None:
    """An adapter to continue (stage 1 -> rec-tuning) must have the configured LoRA shape; checked
    before any model loads, so a mismatch costs nothing."""
    saved = json.loads((require_adapter_dir(adapter) / "adapter_config.json").read_text())
    want = {"r": cfg.lora.r, "targets": sorted(cfg.lora.targets)}
    got = {"r": saved.get("r"), "targets": sorted(saved.get("target_modules") or [])}
    if want != got and {**want, "targets": sorted(fused_targets(tuple(cfg.lora.targets)))} != got:
        raise ModelError(f"{adapter}: adapter shape {got} does not match the configured LoRA shape {want}")


def wrap_lora(lm: LoadedModel, cfg: TrainConfig):
    """The trainable PEFT model: a fresh LoRA, or continued from `cfg.init_adapter` (stage 1)."""
    from peft import get_peft_model

    if cfg.init_adapter:
        check_lora_shape(Path(cfg.init_adapter), cfg)
        return attach_adapter(lm, cfg.init_adapter, trainable=True).model
    targets = lora_targets(lm.model, tuple(cfg.lora.targets))
    return get_peft_model(lm.model, lora_config(cfg.lora.r, cfg.lora.alpha, cfg.lora.dropout, targets))


FUSED = {"q_proj": "qkv_proj", "k_proj": "qkv_proj", "v_proj": "qkv_proj"}


def fused_targets(targets: tuple[str, ...]) -> tuple[str, ...]:
    """`targets` with the separate q/k/v projections replaced by the fused one (Phi-3's qkv_proj)."""
    return tuple(dict.fromkeys(FUSED.get(t, t) for t in targets))


def lora_targets(model, targets: tuple[str, ...]) -> tuple[str, ...]:
    """The LoRA target modules for this model: `targets` when all exist; on a model with a fused
    qkv_proj (Phi-3), where q_proj/v_proj do not, the fused projection instead (said once, on stdout);
    otherwise a one-line ModelError naming the linear layers there are."""
    names = {n.rsplit(".", 1)[-1] for n, m in model.named_modules() if isinstance(m, torch.nn.Linear)}
    if all(t in names for t in targets):
        return targets
    fused = fused_targets(targets)
    if fused != targets and all(t in names for t in fused):
        print(f"[train] LoRA targets {', '.join(targets)} are fused in this model: training {', '.join(fused)}")
        return fused
    missing = sorted(t for t in targets if t not in names)
    raise ModelError(f"LoRA targets {', '.join(missing)} do not exist in {type(model).__name__}; set lora.targets "
                     f"to some of: {', '.join(sorted(names - {'lm_head'}))}")


def lora_config(r: int = 8, alpha: int = 16, dropout: float = 0.05, targets: tuple[str, ...] = ("q_proj", "v_proj")):
    from peft import LoraConfig

    return LoraConfig(r=r, lora_alpha=alpha, lora_dropout=dropout, target_modules=list(targets),
                      bias="none", task_type="CAUSAL_LM")
