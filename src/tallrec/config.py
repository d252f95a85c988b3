"""Dataclass configs: defaults in code, a YAML file over them, command-line options over both.

`load_config(TrainConfig, "configs/cpu-quick.yaml", {"lr": 3e-4})` gives the defaults, replaced by
the file's keys, replaced by the non-None overrides. Unknown keys are an error naming the file.
"""

from __future__ import annotations

import dataclasses
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, TypeVar

import yaml

from .errors import TallrecError

T = TypeVar("T")


@dataclass
class LoraSettings:
    r: int = 8
    alpha: int = 16
    dropout: float = 0.05
    targets: list[str] = field(default_factory=lambda: ["q_proj", "v_proj"])


@dataclass
class TrainConfig:
    """Rec-tuning (stage 2) and instruction tuning (stage 1). Defaults are the paper's."""

    model: str = "smollm2-135m"
    precision: str = "auto"          # auto | fp32 | bf16 | fp16
    load_in_8bit: bool = False       # GPU only, as in the paper
    shots: int | None = 64           # K few-shot samples drawn from the training pool; None/0 = all
    seed: int = 0
    balanced: bool = False           # draw K/2 liked and K/2 not-liked samples
    lora: LoraSettings = field(default_factory=LoraSettings)
    lr: float = 1e-4
    batch_size: int = 128            # effective batch (micro batches x accumulation x processes)
    micro_batch_size: int = 32
    epochs: int = 200
    warmup_steps: int = 0
    scheduler: str = "constant"     # any transformers scheduler name: constant, linear, cosine, ...
    weight_decay: float = 0.0
    cutoff: int = 512                # tokens; oldest history items are dropped to fit, never the question
    loss_on: str = "all"             # all = the paper's loss on the whole prompt; answer = answer tokens only
    eval_every: int = 10             # optimizer steps between validation AUC checks
    patience: int = 10               # checks without improvement before stopping early
    valid_size: int | None = None    # validation samples used for early stopping; None = all
    eval_batch_size: int = 16
    init_adapter: str | None = None  # continue from a stage-1 (instruction-tuned) adapter

    def to_dict(self) -> dict:
        return asdict(self)


def _build(cls: type[T], values: dict, where: str) -> T:
    names = {f.name: f for f in fields(cls)}
    unknown = sorted(set(values) - set(names))
    if unknown:
        raise TallrecError(f"{where}: unknown setting(s) {', '.join(unknown)}; known: {', '.join(names)}")
    kwargs = {}
    for k, v in values.items():
        f = names[k]
        default = f.default_factory() if f.default_factory is not dataclasses.MISSING else f.default
        if dataclasses.is_dataclass(default) and isinstance(v, dict):
            merged = {**asdict(default), **v}
            v = _build(type(default), merged, f"{where}: {k}")
        kwargs[k] = v
    return cls(**kwargs)


def load_config(cls: type[T], path: str | Path | None = None, overrides: dict[str, Any] | None = None) -> T:
    values: dict[str, Any] = {}
    if path:
        p = Path(path)
        if not p.is_file():
            raise TallrecError(f"{p}: no such config file")
        try:
            loaded = yaml.safe_load(p.read_text()) or {}
        except yaml.YAMLError as e:
            raise TallrecError(f"{p}: malformed YAML ({str(e).splitlines()[0]})") from None
        if not isinstance(loaded, dict):
            raise TallrecError(f"{p}: expected a mapping of settings")
        values.update(loaded)
    for k, v in (overrides or {}).items():
        if v is None:
            continue
        if "." in k:  # lora.r -> nested
            outer, inner = k.split(".", 1)
            values.setdefault(outer, {})
            values[outer] = {**values[outer], inner: v}
        else:
            values[k] = v
    return _build(cls, values, str(path) if path else "options")


def dump_config(cfg) -> str:
    return yaml.safe_dump(asdict(cfg), sort_keys=False)
