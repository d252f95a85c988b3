"""LoRA adapters on a loaded base model: attach, check the base they were trained on."""

from __future__ import annotations

import json
import os
from pathlib import Path

from ..core.errors import ModelError
from .models import LoadedModel


def with_adapter(lm: LoadedModel, adapter: str | Path | None, merge: bool = True) -> LoadedModel:
    """The base model with a LoRA adapter, merged into the weights by default: scoring then costs
    what the base model costs (unmerged LoRA branches are slower; see BENCHMARKS.md)."""
    if not adapter:
        return lm
    tuned = attach_adapter(lm, adapter)
    if merge:
        tuned.model = tuned.model.merge_and_unload()
        tuned.model.eval()
    return tuned


def attach_adapter(lm: LoadedModel, adapter: str | os.PathLike, trainable: bool = False) -> LoadedModel:
    """Load a saved LoRA adapter onto the base model (plain `PeftModel.from_pretrained`)."""
    from peft import PeftModel

    path = require_adapter_dir(adapter)
    check_adapter_base(path, lm)
    try:
        model = PeftModel.from_pretrained(lm.model, str(path), is_trainable=trainable)
    except (RuntimeError, ValueError, KeyError) as e:
        raise ModelError(f"{path}: adapter does not fit base model {lm.name!r} ({str(e).splitlines()[0]})") from None
    model.eval()
    return LoadedModel(model=model, tokenizer=lm.tokenizer, name=lm.name, device=lm.device, dtype=lm.dtype)


def require_adapter_dir(adapter: str | os.PathLike) -> Path:
    path = Path(adapter)
    if not (path / "adapter_config.json").is_file():
        raise ModelError(f"{path}: not a LoRA adapter folder (no adapter_config.json)")
    return path


def base_fingerprint(lm: LoadedModel) -> dict:
    """What identifies a base model for adapter compatibility checks."""
    cfg = lm.model.config
    return {"model_type": cfg.model_type, "hidden_size": getattr(cfg, "hidden_size", None),
            "num_hidden_layers": getattr(cfg, "num_hidden_layers", None), "vocab_size": getattr(cfg, "vocab_size", None)}


def check_adapter_base(path: Path, lm: LoadedModel) -> None:
    """tallrec writes tallrec-base.json beside each adapter; refuse an adapter of another base model."""
    meta = path / "tallrec-base.json"
    if not meta.exists():
        return
    saved = json.loads(meta.read_text())
    want = base_fingerprint(lm)
    if saved.get("fingerprint") != want:
        raise ModelError(
            f"{path}: adapter was trained on base model {saved.get('name')!r} "
            f"({saved.get('fingerprint')}), not on {lm.name!r} ({want})"
        )
