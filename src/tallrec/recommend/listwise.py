"""The listwise rerank (as LlamaRec): N candidates in one prompt, ranked by one forward pass.

The prompt is prompts/listwise.py's record (the same text the listwise examples train on) in the
model's prompt style; the score of candidate i is the log-softmax, over the N index letters only,
of the letters' logits at the position right after the response header. Every letter must be one
token there in the model's tokenizer (checked once, a one-line error otherwise), so each
candidate's score is read from a single next-token distribution.

`listwise_scorer(adapter, model, precision)` has the call shape of benchmarks/recommend_bench.py's
`llm_scorer`: it returns (score(liked, disliked, candidates [{id, title}]) -> list[float], label),
the floats being each candidate's probability among the N letters (exp of the log-softmax), so they
drop into the blend (blend.py reads P(Yes)-like values through their log-odds, a monotone map).
"""

from __future__ import annotations

import math
import os
import random
from collections.abc import Sequence
from pathlib import Path

import torch

from ..core.errors import ModelError
from ..llm.encoding import lm_template
from ..prompts.listwise import LETTERS, listwise_record
from ..prompts.templates import record_prompt


def letter_token_ids(tokenizer, template, n: int = len(LETTERS)) -> list[int]:
    """Token id of each of the first `n` index letters as it follows the response header; a one-line
    ModelError when a letter is not exactly one token there (merged with the header, or split)."""
    prompt = record_prompt(listwise_record(["x"], ["y"], ["z"] * n), template)
    special = template.add_special_tokens
    base = tokenizer(prompt, add_special_tokens=special)["input_ids"]
    ids = []
    for letter in LETTERS[:n]:
        full = tokenizer(prompt + letter, add_special_tokens=special)["input_ids"]
        if full[:len(base)] != base or len(full) != len(base) + 1:
            raise ModelError(f"tokenizer {type(tokenizer).__name__}: the index letter {letter!r} is not one token "
                             "right after the response header, so the listwise rerank cannot read it from one "
                             "next-token distribution")
        ids.append(full[-1])
    if len(set(ids)) != len(ids):
        raise ModelError(f"tokenizer {type(tokenizer).__name__}: two index letters share a token")
    return ids


class ListwiseScorer:
    """Scores N candidates of a user in one forward pass of `lm` (a LoadedModel, adapter merged or not)."""

    def __init__(self, lm, domain: str = "movie"):
        self.lm, self.domain = lm, domain
        self.template = lm_template(lm)
        self.letter_ids = letter_token_ids(lm.tokenizer, self.template)

    @classmethod
    def load(cls, adapter: str | os.PathLike | None = None, model: str | None = None,
             precision: str = "auto", device: str | None = None) -> ListwiseScorer:
        """The base model (default: the adapter's, else smollm2-135m) with the adapter (a run or adapter
        folder; None: untuned) merged in, loaded as `tallrec.load` loads it."""
        from ..llm.adapters import adapter_settings, check_adapter_base, find_adapter, load_base, with_adapter
        from .recommender import base_model

        folder = find_adapter(adapter)
        lm = load_base(base_model([folder], model), [folder], precision, device)
        if folder is not None:
            check_adapter_base(folder, lm)
        return cls(with_adapter(lm, folder), domain=adapter_settings(folder).get("domain", "movie"))

    def prompt_ids(self, liked: Sequence[str], disliked: Sequence[str], titles: Sequence[str]) -> list[int]:
        prompt = record_prompt(listwise_record(liked, disliked, titles, domain=self.domain), self.template)
        return self.lm.tokenizer(prompt, add_special_tokens=self.template.add_special_tokens)["input_ids"]

    @torch.no_grad()
    def log_probs(self, liked: Sequence[str], disliked: Sequence[str], titles: Sequence[str]) -> list[float]:
        """Log-softmax over the N letters' logits at the answer position, one per title in order."""
        ids = torch.tensor([self.prompt_ids(liked, disliked, titles)], device=self.lm.device)
        logits = self.lm.model(input_ids=ids, logits_to_keep=1, use_cache=False).logits[0, -1]
        out = torch.log_softmax(logits[self.letter_ids[:len(titles)]].float(), dim=-1)
        bad = (~torch.isfinite(out)).nonzero().flatten().tolist()
        if bad:
            raise ModelError(f"listwise candidate {bad[0]} ({titles[bad[0]][:60]!r}) scored {out[bad[0]].item()}: "
                             "the model overflowed or produced NaN; try precision fp32 or bf16 instead of fp16")
        return out.tolist()


def shuffled(titles: Sequence[str], seed: int | None) -> list[int]:
    """The order the titles are listed in: as given (None), else a seeded shuffle of the positions."""
    order = list(range(len(titles)))
    if seed is not None:
        random.Random(f"{seed}:{'|'.join(titles)}").shuffle(order)
    return order


def listwise_scorer(adapter: str | None, model: str | None, precision: str, shuffle: int | None = None):
    """(score(liked, disliked, candidates [{id, title}]) -> probabilities in the candidates' order, label):
    the call shape of recommend_bench's llm_scorer. `shuffle`: list the candidates in a seeded random
    order (the order the listwise examples train on) instead of the retriever's; scores come back in
    the order given either way."""
    scorer = ListwiseScorer.load(adapter, model=model, precision=precision)
    label = f"{scorer.lm.name} listwise" + (f"+{Path(adapter).name}" if adapter else " (untuned)")

    def score(liked, disliked, candidates) -> list[float]:
        titles = [c["title"] for c in candidates]
        order = shuffled(titles, shuffle)
        lp = scorer.log_probs(liked, disliked, [titles[i] for i in order])
        out = [0.0] * len(titles)
        for slot, i in enumerate(order):
            out[i] = math.exp(lp[slot])
        return out

    return score, label
