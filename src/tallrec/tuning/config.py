"""Tuning settings: the LoRA shape and the rec-tuning / stage-1 recipes (paper defaults).

Every field is a setting of a YAML file (configs/rec/, configs/instruct/) and a command-line flag
derived from it (cli/config_flags.py): its help text and range live here, in one place, and are
checked when a config is built (core/config.py), before any model loads.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from ..core.config import setting
from ..core.defaults import DEFAULT_CUTOFF, DEFAULT_MODEL

PRECISIONS = ("auto", "fp32", "bf16", "fp16")
QUANTIZE = ("none", "8bit", "4bit")
LOSS_ON = ("all", "answer")
CALIBRATIONS = ("none", "platt", "temperature")
SCHEDULERS = ("constant", "constant_with_warmup", "linear", "cosine", "cosine_with_restarts", "polynomial",
              "inverse_sqrt")


@dataclass
class LoraSettings:
    r: int = setting(8, "LoRA rank", min=1)
    alpha: int = setting(16, "LoRA alpha (scale = alpha / r)", min=1)
    dropout: float = setting(0.05, "dropout on the LoRA branch", min=0.0, below=1.0)
    targets: list[str] = setting(("q_proj", "v_proj"), "names of the modules LoRA wraps (comma-separated "
                                 "on the command line)", nonempty=True)


@dataclass
class LoraRecipe:
    """What both stages share: the model, the LoRA shape and the optimizer."""

    model: str = setting(DEFAULT_MODEL, "registry name, HF folder or .gguf file of the base model")
    precision: str = setting("auto", "weights dtype: auto (bf16 where the hardware runs it; fp16 mixed precision "
                             "with loss scaling on GPUs without bf16; else fp32) | fp32 | bf16 | fp16",
                             choices=PRECISIONS)
    quantize: str = setting("none", "base weights through bitsandbytes: none | 8bit (the paper's LLaMA) | 4bit "
                            "(QLoRA: NF4, double quantization); needs bitsandbytes (the quantize extra)",
                            choices=QUANTIZE)
    gradient_checkpointing: bool = setting(False, "recompute each layer's activations in the backward pass: "
                                           "about a layer's worth of activations instead of all of them, ~30% slower")
    seed: int = setting(0, "seed of the sample draw, LoRA init and data order", min=0)
    lora: LoraSettings = setting(LoraSettings, "the LoRA shape")
    lr: float = setting(1e-4, "learning rate", gt=0.0)
    batch_size: int = setting(128, "effective batch (micro batches x accumulation x processes)", min=1)
    micro_batch_size: int | str = setting(32, "samples per forward pass; must divide the batch size; auto = the "
                                          "largest divisor that fits in memory (probed before training)", min=1,
                                          choices=("auto",))
    epochs: int = setting(200, "passes over the training samples (early stopping usually ends sooner)", min=1)
    warmup_steps: int = setting(0, "optimizer steps of learning-rate warmup", min=0)
    scheduler: str = setting("constant", "a transformers scheduler name: constant, linear, cosine, ...",
                             choices=SCHEDULERS)
    weight_decay: float = setting(0.0, "AdamW weight decay", min=0.0)
    cutoff: int = setting(DEFAULT_CUTOFF, "most tokens per example; the oldest history items are dropped to fit, "
                          "never the question", min=64)
    prompt: str = setting("alpaca", "prompt style (tallrec.prompts registry); saved beside the adapter")
    loss_on: str = setting("all", "all = the paper's loss on the whole prompt; answer = answer tokens only",
                           choices=LOSS_ON)
    init_adapter: str | None = setting(None, "continue from a stage-1 (instruction-tuned) adapter folder")
    checkpoint_every: int = setting(0, "optimizer steps between resumable checkpoints (0: at every "
                                    "validation check, and at the end of each epoch without validation)", min=0)

    def check(self) -> list[str]:
        """Rules across fields (each problem one phrase); ranges of single fields are in `setting`."""
        problems = []
        if self.micro_batch_size != "auto" and self.batch_size % self.micro_batch_size:
            problems.append(f"micro_batch_size {self.micro_batch_size} must divide batch_size {self.batch_size}")
        from ..prompts.registry import list_styles

        if self.prompt not in list_styles():
            problems.append(f"prompt: unknown prompt style {self.prompt!r} (known: {', '.join(list_styles())})")
        return problems

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class TrainConfig(LoraRecipe):
    """Rec-tuning (stage 2). Defaults are the quickstart's recipe (configs/rec/cpu-augment.yaml spells
    them out); the paper's are the packaged `paper` config (PAPER_SETTINGS, configs/rec/paper.yaml)."""

    lr: float = setting(1e-3, "learning rate", gt=0.0)
    batch_size: int = setting(8, "effective batch (micro batches x accumulation x processes)", min=1)
    micro_batch_size: int | str = setting(4, "samples per forward pass; must divide the batch size; auto = the "
                                          "largest divisor that fits in memory (probed before training)", min=1,
                                          choices=("auto",))
    epochs: int = setting(1, "passes over the training samples (early stopping usually ends sooner)", min=1)
    loss_on: str = setting("answer", "all = the paper's loss on the whole prompt; answer = answer tokens only",
                           choices=LOSS_ON)
    shots: int | None = setting(64, "K few-shot samples drawn from the training pool; 0 or none = all", min=0)
    balanced: bool = setting(False, "draw K/2 liked and K/2 not-liked samples")
    augment: int = setting(2, "history-order augmentation: train on the K samples plus N rewrites of each "
                           "with its history shuffled (seeded); 0 = off", min=0)
    eval_every: int = setting(8, "optimizer steps between validation AUC checks", min=1)
    patience: int = setting(2, "validation checks without improvement before stopping early", min=1)
    valid_size: int | None = setting(200, "validation samples used for early stopping; 0 or none = all", min=0)
    eval_batch_size: int = setting(16, "samples per scoring batch at validation", min=1)
    calibrate: str = setting("none", "fit a calibration of P(Yes) on the best adapter's validation scores at the "
                             "end (adapter/calibration.json; llm/calibration.py)", choices=CALIBRATIONS)

    def to_dict(self) -> dict:
        d = asdict(self)
        if d["calibrate"] == "none":  # absent at its default, so runs and grid rows from before it stay valid
            del d["calibrate"]
        return d


PAPER_SETTINGS = {"lr": 1e-4, "batch_size": 128, "micro_batch_size": 32, "epochs": 200, "loss_on": "all",
                  "augment": 0, "eval_every": 10, "patience": 10, "valid_size": None}
"""Where the paper's recipe (configs/rec/paper.yaml) differs from `TrainConfig()`. It is also what
a setting absent from an older run's config.yaml meant (those runs were recorded when these were
the defaults), so a resumed run compares against it (`absent_means`)."""


def absent_means(cls) -> dict:
    """The value each setting had when a recorded config predates it: the defaults of `cls`, with
    the paper's recipe for TrainConfig (the defaults of the releases that wrote those records)."""
    return {**asdict(cls()), **(PAPER_SETTINGS if cls is TrainConfig else {})}


@dataclass
class InstructConfig(LoraRecipe):
    """Stage 1 (Alpaca tuning). Defaults are alpaca-lora's (configs/instruct/alpaca-paper.yaml)."""

    lr: float = setting(3e-4, "learning rate", gt=0.0)
    micro_batch_size: int | str = setting(4, "records per forward pass; must divide the batch size; auto = the "
                                          "largest divisor that fits in memory", min=1, choices=("auto",))
    epochs: int = setting(3, "passes over the records (the final adapter is kept)", min=1)
    cutoff: int = setting(256, "most tokens per record; longer records are skipped (and counted)", min=64)
    warmup_steps: int = setting(100, "optimizer steps of learning-rate warmup", min=0)
    scheduler: str = setting("linear", "a transformers scheduler name (linear: the HF Trainer's default, "
                             "which alpaca-lora uses)", choices=SCHEDULERS)
    loss_on: str = setting("all", "all = alpaca-lora's train_on_inputs=True; answer = train_on_inputs=False",
                           choices=LOSS_ON)
    limit: int | None = setting(None, "train on N records, drawn with the seed from those that fit; none = all",
                                min=1)
