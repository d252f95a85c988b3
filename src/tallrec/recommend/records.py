"""What ranking returns: `RankedItem` records, the same shape in Python, ranked.jsonl and HTTP."""

from __future__ import annotations

import math
from collections.abc import Sequence

from pydantic import BaseModel, Field

from ..core.errors import DataError, ModelError
from ..data.users import Item, ItemLike


class RankedItem(BaseModel):
    """One ranked candidate: the item as given, its P(Yes) and its position in the input."""

    item: ItemLike
    p_yes: float
    index: int


def top_k(scores: Sequence[float], k: int | None) -> list[int]:
    """Indices of the `k` highest scores (all when k is None), best first, ties in input order."""
    if k is not None and k < 1:
        raise DataError(f"k must be at least 1, got {k}")
    # NaN compares false with everything, so sorted() would put it (and its neighbours) anywhere.
    bad = next((i for i, s in enumerate(scores) if not math.isfinite(s)), None)
    if bad is not None:
        raise ModelError(f"candidate {bad} has score {scores[bad]}; the model produced a NaN or overflow "
                         "(try precision fp32 or bf16 instead of fp16)")
    return sorted(range(len(scores)), key=lambda i: -scores[i])[:k]


def ranked(candidates: Sequence[ItemLike], scores: Sequence[float], k: int | None) -> list[RankedItem]:
    return [RankedItem(item=candidates[i], p_yes=float(scores[i]), index=i) for i in top_k(scores, k)]


class RecommendedItem(BaseModel):
    """One item recommended from the catalogue: its final score, what the retriever and the LLM gave
    it, the stage that put it there ("retriever", "retriever+llm" or "popularity-fallback") and
    `because`: the titles of the user's history that led the retriever to it, most first (item-kNN:
    the history items similar to it; empty for the other retrievers and the popularity fallback)."""

    item: Item
    score: float
    retriever_score: float
    p_yes: float | None = None
    stage: str
    note: str = ""
    because: list[str] = Field(default_factory=list)
