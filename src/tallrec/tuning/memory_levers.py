"""The memory levers of LoRA training: quantized base weights, gradient checkpointing, and a micro
batch probed to fit (`micro_batch_size: auto`). `tallrec plan` (llm/memory_plan.py) estimates what
each saves before a model loads; this module applies them to a loaded one.
"""

from __future__ import annotations

import torch

from ..core.errors import TallrecError
from ..llm.memory_plan import divisors_down
from ..llm.models import LoadedModel, is_quantized


def prepare_base(lm: LoadedModel, gradient_checkpointing: bool) -> None:
    """Ready the base model for LoRA training, in place, before the adapter is attached.

    A quantized base goes through peft's `prepare_model_for_kbit_training` (the QLoRA recipe: the
    few unquantized weights, norms and embeddings, in fp32 for stable training). Gradient
    checkpointing keeps only each decoder layer's input in the forward pass and recomputes the rest
    in the backward pass (non-reentrant, so no input needs `requires_grad`).
    """
    import inspect

    model = lm.model
    kwargs = {"use_reentrant": False}
    if is_quantized(model):
        from peft import prepare_model_for_kbit_training

        # peft 0.22 renamed the keyword (gradient_ -> activation_checkpointing_kwargs).
        params = inspect.signature(prepare_model_for_kbit_training).parameters
        key = next(k for k in ("activation_checkpointing_kwargs", "gradient_checkpointing_kwargs") if k in params)
        prepare_model_for_kbit_training(model, use_gradient_checkpointing=gradient_checkpointing, **{key: kwargs})
    elif gradient_checkpointing:
        if hasattr(model, "activation_checkpointing_enable"):  # transformers 5.x's name
            model.activation_checkpointing_enable(activation_checkpointing_kwargs=kwargs)
        else:
            model.gradient_checkpointing_enable(gradient_checkpointing_kwargs=kwargs)
    if gradient_checkpointing:
        model.config.use_cache = False


def checkpointing(model: torch.nn.Module) -> bool:
    """Whether a (PEFT-unwrapped) causal LM recomputes activations in the backward pass."""
    for name in ("is_activation_checkpointing", "is_gradient_checkpointing"):  # transformers 5.x, 4.x
        if name in dir(type(model)):
            return bool(getattr(model, name))
    return False


def find_micro_batch(model: torch.nn.Module, rows: list[dict], collate, per_process: int, start: int,
                     loss_fn) -> int:
    """The largest micro batch (a divisor of `per_process`, at most `start`) whose forward and
    backward pass on the longest rows runs without running out of memory.

    accelerate's `find_executable_batch_size` runs the probe and recognizes out-of-memory errors
    (CUDA, and the CPU allocator's); its step is ours: the next smaller divisor. The Trainer's own
    `auto_find_batch_size` is not used because it shrinks the batch by 10% a step with the gradient
    accumulation unchanged, which would change the recipe's effective batch.
    """
    from accelerate.utils import find_executable_batch_size

    sizes = divisors_down(per_process, start)
    longest = sorted(rows, key=lambda r: len(r["input_ids"]), reverse=True)
    tried = []

    def smaller() -> int:
        rest = [s for s in sizes if s < tried[-1]]
        return rest[0] if rest else 0

    @find_executable_batch_size(starting_batch_size=sizes[0], reduce_batch_size_fn=smaller)
    def probe(size: int) -> int:
        tried.append(size)
        batch = collate(longest[:size] or longest[:1])
        device = next(p.device for p in model.parameters())
        batch = {k: v.to(device) for k, v in batch.items()}
        try:
            loss, n, _ = loss_fn(model, batch)
            (loss / max(1, n)).backward()
        finally:
            model.zero_grad(set_to_none=True)
        return size

    try:
        return probe()
    except RuntimeError as e:
        if "No executable batch size" in str(e):
            raise TallrecError("micro_batch_size auto: even one sample runs out of memory; try gradient_checkpointing, "
                               "quantize 8bit/4bit or a shorter cutoff (`tallrec plan` estimates each)") from None
        raise
