"""`tallrec plan`: will a LoRA run fit this GPU (or this host)? A memory estimate read from the
model's config and the training config, before any weight loads (llm/memory_plan.py)."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from ..core.config import packaged_configs
from ..tuning.config import TrainConfig
from . import app
from .config_flags import config_flags


@app.command()
@config_flags(TrainConfig, exclude=("init_adapter",))
def plan(
    config: Annotated[str | None, typer.Option(
        "--config", help=f"YAML settings file, or a packaged one: {', '.join(packaged_configs('rec'))} "
        "(default: TrainConfig(), as `tallrec train`).")] = None,
    gpu_memory: Annotated[str | None, typer.Option(
        "--gpu-memory", help="Memory of the card to plan for, e.g. 24GiB (default: the CUDA GPU's total "
        "memory, else the host's RAM).")] = None,
    target: Annotated[str | None, typer.Option(
        "--target", help="cuda | cpu: attention and precision as they run there (default: cuda when a GPU "
        "is visible or --gpu-memory is given). No model loads.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the plan as JSON.")] = False,
    overrides: dict = None,
):
    """Estimate the memory of `tallrec train` with the same config and flags: weights per precision,
    LoRA states, activations with and without gradient checkpointing, whether it fits, and the first
    change that makes it fit."""
    from ..core.config import load_config, resolve_config
    from ..core.errors import TallrecError
    from ..llm.memory_plan import make_plan, parse_memory

    if target not in (None, "cuda", "cpu"):
        raise TallrecError(f"--target: {target!r} is not one of cuda, cpu")
    cfg = load_config(TrainConfig, resolve_config(config, "rec"), overrides)
    p = make_plan(cfg, device=target, memory=parse_memory(gpu_memory) if gpu_memory else None)
    typer.echo(json.dumps(p.to_json(), indent=2) if as_json else render(p))


def render(p) -> str:
    from ..llm.memory_plan import K_VALUES, fix_text, gib

    s, sh, t = p.setup, p.shape, p.terms
    value = {2: "bf16/fp16", 4: "fp32"}[s.value_bytes]
    rows = [
        f"model       {p.model}: {sh.params / 1e6:,.1f} M parameters ({sh.layers} layers, hidden {sh.hidden}, "
        f"MLP {sh.intermediate}, {sh.heads}/{sh.kv_heads} heads, vocab {sh.vocab})",
        f"LoRA        {p.lora_params / 1e6:,.2f} M parameters (r {s.lora_r} on {', '.join(s.lora_targets)})",
        "weights     " + " | ".join(f"{m} {gib(b)}" for m, b in p.weights_bytes.items()),
        f"setup       {p.device}, {value} values, quantize {s.quantize}, micro batch {s.micro_batch}, "
        f"cutoff {s.seq}, gradient checkpointing {'on' if s.gradient_checkpointing else 'off'}",
        "",
        f"{'term':<22}{'memory':>12}",
        f"{'runtime':<22}{gib(t['runtime']):>12}",
        f"{'weights':<22}{gib(t['weights']):>12}",
        f"{'LoRA + grads + AdamW':<22}{gib(t['lora_states']):>12}",
        f"{'activations':<22}{gib(t['activations']):>12}   (k = {K_VALUES} values x {s.value_bytes} bytes per hidden unit)",
        f"{'logits (chunked)':<22}{gib(t['logits']):>12}",
        f"{'evaluation':<22}{gib(t['evaluation']):>12}   (eval batch {s.eval_batch}; the peak takes it or training)",
        *([f"{'loading (CPU)':<22}{gib(t['loading']):>12}   (the weights file mapped beside the weights)"]
          if t["loading"] else []),
        f"{'peak':<22}{gib(p.peak_bytes):>12}",
        "",
        f"gradient checkpointing off: {gib(p.without_checkpointing)}   on: {gib(p.with_checkpointing)}",
        f"memory      {gib(p.memory)} ({p.memory_source}): {'fits' if p.fits else 'does NOT fit'}",
    ]
    if not p.fits:
        rows.append(f"fix         {fix_text(p.fix)}" if p.fix else "fix         none: no memory lever makes it fit")
    return "\n".join(rows)
