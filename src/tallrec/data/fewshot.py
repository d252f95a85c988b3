"""Few-shot sampling: K training samples drawn deterministically from a pool by a seed.

The paper rec-tunes on K = 16, 64 or 256 samples per seed. Every method (LLM and baselines) that is
given the same (pool, K, seed) sees exactly the same samples.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import replace

from ..core.errors import DataError
from .samples import Sample


def draw_fewshot(pool: Sequence[Sample], k: int | None, seed: int, balanced: bool = False) -> list[Sample]:
    """Draw `k` samples from `pool` with `seed` (all of them, shuffled, when k is None or 0).

    balanced=True takes k//2 liked and k - k//2 not-liked samples. The result is shuffled with the
    same seed, so the order is deterministic too.
    """
    labelled = [s for s in pool if s.label is not None]
    if len(labelled) < len(pool):
        raise DataError("the training pool holds samples without a label (output must be Yes./No.)")
    if k is not None and k < 0:
        raise DataError(f"shots must be positive, got {k}")
    rng = random.Random(seed)
    if not k:  # "use all samples": the authors' code crashed here
        out = list(pool)
        rng.shuffle(out)
        return out
    if k > len(pool):
        raise DataError(f"cannot draw {k} shots from a pool of {len(pool)} samples")
    if not balanced:
        return rng.sample(list(pool), k)
    pos = [s for s in pool if s.label]
    neg = [s for s in pool if not s.label]
    k_pos, k_neg = k // 2, k - k // 2
    if k_pos > len(pos) or k_neg > len(neg):
        raise DataError(
            f"cannot draw a balanced {k} shots: the pool has {len(pos)} liked and {len(neg)} not liked"
        )
    out = rng.sample(pos, k_pos) + rng.sample(neg, k_neg)
    rng.shuffle(out)
    return out


def validation_subset(valid: Sequence[Sample], size: int | None) -> list[Sample]:
    """The validation samples rec-tuning early-stops on: all of them, or a fixed draw of `size`
    (seed 0, whatever the run's seed, so every run of a grid stops on the same samples)."""
    valid = list(valid)
    return valid if not size or size >= len(valid) else draw_fewshot(valid, size, seed=0)


def permute_history(samples: Sequence[Sample], copies: int, seed: int) -> list[Sample]:
    """History-order augmentation: the samples, then `copies` rewrites of each with its history
    shuffled (seeded), so the liked and disliked lists appear in other orders with the same label.

    Only the order changes: no item, label or target is added, so it stays within the few-shot
    protocol. A history of fewer than two items has one order and is repeated as it is."""
    if copies < 0:
        raise DataError(f"augmentation copies must be 0 or more, got {copies}")
    rng = random.Random(seed)
    out = list(samples)
    for _ in range(copies):
        for s in samples:
            history = list(s.history)
            rng.shuffle(history)
            out.append(replace(s, history=tuple(history)))
    return out
