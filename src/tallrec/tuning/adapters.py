"""Trainable LoRA adapters: build one (fresh or continued), save it atomically and never empty."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

from ..core.errors import ModelError
from ..core.io import ensure_dir
from ..llm.adapters import attach_adapter, base_fingerprint
from ..llm.models import LoadedModel
from ..prompts.registry import DEFAULT_STYLE
from .config import TrainConfig


def save_adapter(model, path: Path, lm: LoadedModel, extra: dict | None = None, prompt: str | None = None) -> Path:
    """Save a LoRA adapter atomically and verify it is not empty (the authors' code silently saved
    empty adapters with newer peft).

    tallrec-base.json beside it records the base model and the prompt style it was trained with:
    `prompt`, else the `prompt` of the training config in `extra["config"]`, else the default.
    Loading the adapter (llm/adapters.py) reads the style back into `LoadedModel.prompt`.
    """
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
        style = prompt or ((extra or {}).get("config") or {}).get("prompt") or DEFAULT_STYLE
        meta = {"name": lm.name, "fingerprint": base_fingerprint(lm), "prompt": style, **(extra or {})}
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


def lora_config(r: int = 8, alpha: int = 16, dropout: float = 0.05, targets: tuple[str, ...] = ("q_proj", "v_proj")):
    from peft import LoraConfig

    return LoraConfig(r=r, lora_alpha=alpha, lora_dropout=dropout, target_modules=list(targets),
                      bias="none", task_type="CAUSAL_LM")
