"""Packed suffixes: many prompts that share a cached prefix scored as one sequence, no padding.

After the shared prefix, the suffixes of a batch (for ranking: each candidate's title and the
response header) are laid end to end in one row. Split attention (llm/packed_attention.py) lets each
suffix token see the whole prefix and the earlier tokens of its own suffix only, and each suffix's
positions continue after the prefix, so every suffix is computed exactly as if it ran alone after
the prefix.

Why: with left padding every suffix of a batch is padded to the longest one (titles differ by 2x
or more in tokens), and the prefix cache is copied once per row of the batch. Packed, the linear
layers see only real tokens and the cache is used once.
"""

from __future__ import annotations

import torch

# Most suffix tokens per packed row (split attention never computes other suffixes' pairs, so rows
# can be long).
PACK_TOKENS = 4096


def pack_batches(order: list[int], lengths: list[int], max_rows: int, max_tokens: int = PACK_TOKENS) -> list[list[int]]:
    """Cut `order` (indices into the prompts) into batches of at most `max_rows` prompts and
    `max_tokens` suffix tokens (a longer suffix gets a batch of its own)."""
    batches, cur, tokens = [], [], 0
    for i in order:
        if cur and (len(cur) >= max_rows or tokens + lengths[i] > max_tokens):
            batches.append(cur)
            cur, tokens = [], 0
        cur.append(i)
        tokens += lengths[i]
    if cur:
        batches.append(cur)
    return batches


def packed_inputs(rows: list[list[int]], plen: int, device):
    """input_ids (1, T), position_ids (1, T) and the index of each row's last token in the packed row."""
    lens = torch.tensor([len(r) for r in rows])
    starts = torch.cumsum(lens, 0) - lens
    offset = torch.arange(int(lens.sum())) - torch.repeat_interleave(starts, lens)
    ids = torch.tensor([[t for r in rows for t in r]], device=device)
    return ids, (plen + offset)[None].to(device), (starts + lens - 1).to(device)
