"""Prompt token ids for scoring: truncation drops the oldest history items, never the question."""

from __future__ import annotations

from collections.abc import Sequence

from ..core.errors import DataError
from ..data.samples import Sample
from ..prompts.templates import (
    DEFAULT_STYLE,
    ChatTemplate,
    Template,
    load_template,
    sample_prompt,
)


def lm_template(lm, prompt: str | None = None) -> Template | ChatTemplate:
    """The prompt renderer a loaded model scores with: `prompt`, else the style of its adapter
    (`lm.prompt`), else the default (Alpaca)."""
    return load_template(prompt or lm.prompt or DEFAULT_STYLE, lm.tokenizer)


def encode_prompt(tokenizer, sample: Sample, cutoff: int, template: Template | ChatTemplate | None = None,
                  reserve: int = 1, prefix: str = "") -> list[int]:
    """Token ids of `prefix` + a sample's prompt, at most `cutoff - reserve` long.

    When too long, the oldest history items are dropped one at a time: the question and the target
    are never cut (the authors' truncation could cut off the question), in every prompt style.
    """
    template = template or load_template()
    budget = cutoff - reserve
    s = sample
    while True:
        ids = tokenizer(prefix + sample_prompt(s, template), add_special_tokens=template.add_special_tokens)["input_ids"]
        if len(ids) <= budget:
            return ids
        if not s.history:
            raise DataError(
                f"prompt for target {sample.target[:60]!r} is {len(ids)} tokens even without history; "
                f"raise the cutoff (now {cutoff})"
            )
        s = s.drop_oldest(1)


def common_prefix(seqs: Sequence[Sequence[int]]) -> int:
    """Length of the longest token prefix shared by every sequence."""
    if not seqs:
        return 0
    first = seqs[0]
    n = min(len(s) for s in seqs)
    for seq in seqs[1:]:
        i = 0
        while i < n and seq[i] == first[i]:
            i += 1
        n = i
    return n
