"""Tuning settings: the LoRA shape and the rec-tuning / stage-1 recipes (paper defaults)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field


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
    prompt: str = "alpaca"           # prompt style (prompts/styles/); saved beside the adapter
    loss_on: str = "all"             # all = the paper's loss on the whole prompt; answer = answer tokens only
    eval_every: int = 10             # optimizer steps between validation AUC checks
    patience: int = 10               # checks without improvement before stopping early
    valid_size: int | None = None    # validation samples used for early stopping; None = all
    eval_batch_size: int = 16
    init_adapter: str | None = None  # continue from a stage-1 (instruction-tuned) adapter

    def to_dict(self) -> dict:
        return asdict(self)
