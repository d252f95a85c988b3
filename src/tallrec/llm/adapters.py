"""LoRA adapters on a loaded base model: attach, check the base they were trained on, and carry
the prompt style they were trained with (`LoadedModel.prompt`)."""

from __future__ import annotations

import json
import os
from dataclasses import replace
from pathlib import Path

from ..core.errors import ModelError
from ..prompts.registry import DEFAULT_STYLE, load_style
from .models import LoadedModel, is_quantized

META_FILE = "tallrec-base.json"


def with_adapter(lm: LoadedModel, adapter: str | Path | None, merge: bool = True,
                 prompt: str | None = None) -> LoadedModel:
    """The base model with a LoRA adapter, merged into the weights by default: scoring then costs
    what the base model costs (unmerged LoRA branches are slower; see BENCHMARKS.md). Never merged
    into a bitsandbytes base: rounding the merged weights back to 8/4 bits is lossy, and the adapter
    was trained as an unmerged LoRA over exactly those quantized weights.

    `prompt` names the prompt style to score with: with an adapter it must be the one the adapter
    was trained with (None: that one); without an adapter it becomes `lm.prompt`.
    """
    if not adapter:
        if prompt is not None:
            load_style(prompt)  # an unknown name is refused here, not at the first prompt
            return replace(lm, prompt=prompt)
        return lm
    check_adapter_prompt(adapter, prompt)
    tuned = attach_adapter(lm, adapter)
    if merge and not is_quantized(lm.model):
        tuned.model = tuned.model.merge_and_unload()
        tuned.model.eval()
    from .soft_tokens import attach_collm, is_collm

    return attach_collm(tuned, adapter) if is_collm(adapter) else tuned


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
    return LoadedModel(model=model, tokenizer=lm.tokenizer, name=lm.name, device=lm.device, dtype=lm.dtype,
                       prompt=adapter_prompt(path))


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


def adapter_meta(path: str | os.PathLike) -> dict:
    """What tallrec recorded beside an adapter (base model, fingerprint, prompt style); {} if nothing."""
    meta = Path(path) / META_FILE
    if not meta.is_file():
        return {}
    try:
        return json.loads(meta.read_text())
    except json.JSONDecodeError as e:
        raise ModelError(f"{meta}: unreadable ({e})") from None


def adapter_prompt(path: str | os.PathLike) -> str:
    """The prompt style an adapter was trained with (adapters saved before styles existed: Alpaca)."""
    name = adapter_meta(path).get("prompt") or DEFAULT_STYLE
    load_style(name)  # a style this installation does not know is refused by name
    return name


def check_adapter_prompt(adapter: str | os.PathLike, prompt: str | None) -> None:
    """Refuse to score an adapter in a prompt style other than the one it was trained with."""
    if prompt is None:
        return
    load_style(prompt)
    saved = adapter_prompt(require_adapter_dir(adapter))
    if prompt != saved:
        raise ModelError(f"{adapter}: adapter was trained with prompt style {saved!r}, not {prompt!r}; "
                         f"omit --prompt to use {saved!r}")


def check_adapter_base(path: Path, lm: LoadedModel) -> None:
    """tallrec writes tallrec-base.json beside each adapter; refuse an adapter of another base model."""
    saved = adapter_meta(path)
    if not saved:
        return
    want = base_fingerprint(lm)
    if saved.get("fingerprint") != want:
        raise ModelError(
            f"{path}: adapter was trained on base model {saved.get('name')!r} "
            f"({saved.get('fingerprint')}), not on {lm.name!r} ({want})"
        )


def trained_base(folder: Path | None) -> dict:
    """The `quantize` and `precision` an adapter was trained with (its training config in
    tallrec-base.json); {} for no adapter or one that recorded none."""
    cfg = adapter_meta(folder).get("config") if folder is not None else None
    return {k: cfg[k] for k in ("quantize", "precision") if k in cfg} if isinstance(cfg, dict) else {}


def load_base(name: str, adapters, precision: str = "auto", device: str | None = None) -> LoadedModel:
    """The base model `name` loaded as `adapters` (folders or None) were trained: quantized the same
    way (an adapter is scored as an unmerged LoRA over the base it learned on), in the recorded
    precision when `precision` is auto. A quantized base that cannot load here (no bitsandbytes, no
    GPU) stops with one line saying so rather than scoring over a different base."""
    from .models import load_model

    recorded = [trained_base(Path(f)) for f in adapters if f is not None]
    quantize = {r.get("quantize") or "none" for r in recorded}
    if len(quantize) > 1:
        raise ModelError(f"adapters trained on differently quantized bases ({', '.join(sorted(quantize))}) cannot "
                         "share one base model; load them separately")
    quantize = quantize.pop() if quantize else "none"
    if precision == "auto" and recorded:
        precision = recorded[0].get("precision") or "auto"
    try:
        return load_model(name, precision, device, quantize=quantize)
    except ModelError as e:
        if quantize == "none":
            raise
        raise ModelError(f"the adapter was trained on a {quantize} (bitsandbytes) base and is scored only over "
                         f"that base, which cannot load here: {e}") from None


def find_adapter(path: str | os.PathLike | None) -> Path | None:
    """The adapter folder of a run folder (holding adapter/, what `tallrec train` writes) or of an
    adapter folder itself; None for None (the untuned model)."""
    if path is None:
        return None
    p = Path(path).expanduser()
    if (p / "adapter" / "adapter_config.json").is_file():
        return p / "adapter"
    if (p / "adapter_config.json").is_file():
        return p
    if not p.exists():
        raise ModelError(f"{p}: no such run or adapter folder")
    raise ModelError(f"{p}: not a run folder (with adapter/) or an adapter folder (with adapter_config.json)")


def adapter_settings(folder: Path | None) -> dict:
    """How to prompt with an adapter, as recorded in tallrec-base.json when it was trained: `cutoff`
    (of its training config), `domain` (the item noun) and `quote_history` (titles in quotes).
    Absent keys were not recorded (adapters from before tallrec recorded them, or not trained by
    tallrec): callers fall back to the defaults."""
    if folder is None:
        return {}
    meta = adapter_meta(folder)
    out = {k: meta[k] for k in ("domain", "quote_history") if k in meta}
    cfg = meta.get("config") or {}
    if isinstance(cfg, dict) and "cutoff" in cfg:
        out["cutoff"] = int(cfg["cutoff"])
    return out
