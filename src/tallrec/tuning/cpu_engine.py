"""Engine settings for LoRA training on a CPU, chosen by profiling (see BENCHMARKS.md).

- Attention: the CPU flash-attention kernel's backward pass is slow for short sequences with few
  heads (a 135M model at ~230 tokens): plain eager attention (two batched matmuls and a softmax)
  trains the same math faster. GPUs keep SDPA.
- LoRA dropout: drawing one fp32 Bernoulli sample per activation took about a tenth of a training
  step. `Int16Dropout` draws 32 random bits per two activations instead and compares 16-bit
  slices with a threshold: the same Bernoulli mask, with the drop probability rounded to a
  multiple of 1/65536 (0.05 becomes 0.0500031).
"""

from __future__ import annotations

import contextlib

import torch

from ..llm.models import attention_implementation, base_attention  # noqa: F401  (re-exported)

TRAIN_ATTENTION_CPU = "eager"


class Int16Dropout(torch.nn.Module):
    """Inverted dropout whose mask comes from 16-bit random draws (see the module docstring)."""

    def __init__(self, p: float):
        super().__init__()
        if not 0.0 <= p < 1.0:
            raise ValueError(f"dropout probability must be in [0, 1), got {p}")
        self.p = p
        self.threshold = -32768 + round(p * 65536)  # keep a value when its draw is >= threshold

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0.0:
            return x
        n = x.numel()
        bits = torch.randint(-2**31, 2**31 - 1, ((n + 1) // 2,), dtype=torch.int32, device=x.device)
        keep = bits.view(torch.int16)[:n].view(x.shape) >= self.threshold
        return x * keep * (1.0 / (1.0 - self.p))

    def extra_repr(self) -> str:
        return f"p={self.p}"


def use_int16_lora_dropout(model: torch.nn.Module) -> int:
    """Replace PEFT's LoRA dropout layers by `Int16Dropout`; returns how many were replaced."""
    replaced = 0
    for module in model.modules():
        drops = getattr(module, "lora_dropout", None)
        if not isinstance(drops, torch.nn.ModuleDict):
            continue
        for name, layer in drops.items():
            if isinstance(layer, torch.nn.Dropout):
                drops[name] = Int16Dropout(layer.p)
                replaced += 1
    return replaced


@contextlib.contextmanager
def cpu_training_engine(model: torch.nn.Module):
    """What LoRA training on a CPU runs under: `Int16Dropout` in the LoRA layers (kept afterwards;
    it only acts in training mode) and eager attention for the block."""
    use_int16_lora_dropout(model)
    with attention_implementation(model, TRAIN_ATTENTION_CPU):
        yield
