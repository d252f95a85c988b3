"""Packed suffixes: many prompts that share a cached prefix scored as one sequence, no padding.

After the shared prefix, the suffixes of a batch (for ranking: each candidate's title and the
response header) are laid end to end in one row. A 4D attention mask lets each suffix token see the
whole prefix and the earlier tokens of its own suffix only, and each suffix's positions continue
after the prefix, so every suffix is computed exactly as if it ran alone after the prefix.

Why: with left padding every suffix of a batch is padded to the longest one (titles differ by 2x
or more in tokens), and the prefix cache is copied once per row of the batch. Packed, the linear
layers see only real tokens and the cache is used once. The price is attention over the masked
pairs of other suffixes, which grows with the square of the packed length: batches are kept short
(`PACK_TOKENS`).
"""

from __future__ import annotations

import torch

# Most suffix tokens per packed row. With the 4D mask, attention runs over the masked pairs too, so
# rows stay short; split attention (llm/packed_attention.py) skips them, so rows can be long.
MASK_PACK_TOKENS = 512
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


def packed_inputs(rows: list[list[int]], plen: int, device, dtype: torch.dtype, mask: bool = True):
    """input_ids (1, T), position_ids (1, T), the additive 4D mask (1, 1, T, plen + T; None with
    mask=False) and the index of each row's last token in the packed row."""
    lens = torch.tensor([len(r) for r in rows])
    seg = torch.repeat_interleave(torch.arange(len(rows)), lens)
    starts = torch.cumsum(lens, 0) - lens
    offset = torch.arange(int(lens.sum())) - torch.repeat_interleave(starts, lens)
    ids = torch.tensor([[t for r in rows for t in r]], device=device)
    positions, last = (plen + offset)[None].to(device), (starts + lens - 1).to(device)
    if not mask:
        return ids, positions, None, last
    own = (seg[:, None] == seg[None, :]) & (offset[:, None] >= offset[None, :])
    allowed = torch.cat([torch.ones(len(seg), plen, dtype=torch.bool), own], dim=1)
    additive = torch.zeros(allowed.shape, dtype=dtype).masked_fill_(~allowed, torch.finfo(dtype).min)
    return ids, positions, additive[None, None].to(device), last
