"""Training examples: prompt + answer token ids with labels, right-padded batches."""

from __future__ import annotations

import torch

from ..core.errors import TallrecError
from ..data.samples import Sample
from ..prompts.templates import ChatTemplate, Template, sample_prompt
from .config import TrainConfig

IGNORE = -100


# ---------------------------------------------------------------- tokenization

def encode_example(tokenizer, prompt: str, answer: str, cutoff: int, loss_on: str,
                   add_special_tokens: bool = True) -> dict | None:
    """Token ids of prompt + answer + eos with labels; None when it does not fit the cutoff.

    `add_special_tokens` is the prompt style's (False for a chat template, which writes its own)."""
    p = tokenizer(prompt, add_special_tokens=add_special_tokens)["input_ids"]
    full = tokenizer(prompt + answer, add_special_tokens=add_special_tokens)["input_ids"]
    if tokenizer.eos_token_id is not None:
        full = full + [tokenizer.eos_token_id]
    if len(full) > cutoff:
        return None
    labels = list(full) if loss_on == "all" else [IGNORE] * len(p) + full[len(p):]
    return {"input_ids": full, "labels": labels}


def encode_sample(tokenizer, sample: Sample, cfg: TrainConfig, template: Template | ChatTemplate) -> dict:
    """A rec-tuning example in the prompt style `template`; the oldest history items are dropped
    until it fits the cutoff (never the question)."""
    s = sample
    while True:
        ex = encode_example(tokenizer, sample_prompt(s, template), s.output, cfg.cutoff, cfg.loss_on,
                            template.add_special_tokens)
        if ex is not None:
            return ex
        if not s.history:
            raise TallrecError(f"sample with target {sample.target[:60]!r} exceeds cutoff {cfg.cutoff} even without history")
        s = s.drop_oldest(1)


class PadCollator:
    """Right-pads a batch (pad token, label -100) and sends no attention mask.

    Causal attention never looks to the right, so the padding after a sequence cannot change any
    of its real positions: the batch needs no padding mask, and attention takes its fast causal
    path. (Left padding would also add a spurious loss term: the last pad position "predicting"
    the first real token.)
    """

    def __init__(self, pad_id: int):
        self.pad_id = pad_id

    def __call__(self, batch: list[dict]) -> dict:
        width = max(len(b["input_ids"]) for b in batch)
        ids = torch.full((len(batch), width), self.pad_id, dtype=torch.long)
        labels = torch.full((len(batch), width), IGNORE, dtype=torch.long)
        for i, b in enumerate(batch):
            n = len(b["input_ids"])
            ids[i, :n] = torch.tensor(b["input_ids"])
            labels[i, :n] = torch.tensor(b["labels"])
        return {"input_ids": ids, "labels": labels}


class ListDataset(torch.utils.data.Dataset):
    def __init__(self, rows: list[dict]):
        self.rows = rows

    def __len__(self):
        return len(self.rows)

    def __getitem__(self, i):
        return self.rows[i]
